package cache

import (
	"net/http"
	"testing"
	"time"
)

// t0 is the tests' fixed "now" at which responses arrive.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func date(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }

func TestFreshness(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		status   int
		header   http.Header
		ttl      time.Duration // the store policy's default_ttl
		noHeur   bool          // heuristic off
		noSurr   bool          // surrogate control off
		lifetime time.Duration
		age      time.Duration // initial age
	}{
		{name: "nothing", status: 200, header: http.Header{}, lifetime: 0},
		{name: "max-age", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}}, lifetime: time.Minute},
		{name: "s-maxage over max-age", status: 200, header: http.Header{"Cache-Control": {"max-age=3600, s-maxage=5"}}, lifetime: 5 * time.Second},
		{name: "max-age over Expires", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Date": {date(0)}, "Expires": {date(time.Hour)}}, lifetime: time.Minute},
		{name: "Expires minus Date", status: 200, header: http.Header{"Date": {date(-10 * time.Second)}, "Expires": {date(50 * time.Second)}}, lifetime: time.Minute, age: 10 * time.Second},
		{name: "invalid Expires is expired", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"0"}}, lifetime: 0},
		{name: "Expires before Date", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {date(-time.Hour)}}, lifetime: 0},
		{name: "Expires without Date uses the response time", status: 200, header: http.Header{"Expires": {date(time.Minute)}}, lifetime: time.Minute},
		{name: "heuristic: 10% since Last-Modified", status: 200, header: http.Header{"Date": {date(0)}, "Last-Modified": {date(-100 * time.Second)}}, lifetime: 10 * time.Second},
		{name: "heuristic is capped at a day", status: 200, header: http.Header{"Date": {date(0)}, "Last-Modified": {date(-365 * 24 * time.Hour)}}, lifetime: 24 * time.Hour},
		{name: "no heuristic for a 201", status: 201, header: http.Header{"Date": {date(0)}, "Last-Modified": {date(-100 * time.Second)}}, lifetime: 0},
		{name: "heuristic for a 599 with public", status: 599, header: http.Header{"Cache-Control": {"public"}, "Date": {date(0)}, "Last-Modified": {date(-100 * time.Second)}}, lifetime: 10 * time.Second},
		{name: "heuristic off", status: 200, noHeur: true, header: http.Header{"Date": {date(0)}, "Last-Modified": {date(-100 * time.Second)}}, lifetime: 0},
		{name: "default_ttl over the heuristic", status: 200, ttl: time.Hour, header: http.Header{"Date": {date(0)}, "Last-Modified": {date(-100 * time.Second)}}, lifetime: time.Hour},
		{name: "default_ttl not over explicit freshness", status: 200, ttl: time.Hour, header: http.Header{"Cache-Control": {"max-age=1"}}, lifetime: time.Second},
		{name: "default_ttl not for a 500", status: 500, ttl: time.Hour, header: http.Header{}, lifetime: 0},
		{name: "surrogate max-age over Cache-Control", status: 200, header: http.Header{"Cache-Control": {"max-age=1"}, "Surrogate-Control": {"max-age=60"}}, lifetime: time.Minute},
		{name: "surrogate control off", status: 200, noSurr: true, header: http.Header{"Cache-Control": {"max-age=1"}, "Surrogate-Control": {"max-age=60"}}, lifetime: time.Second},
		{name: "overflowing Expires is capped", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"Fri, 31 Dec 9999 23:59:59 GMT"}}, lifetime: maxDelta},
		{name: "Age counts", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"30"}}, lifetime: time.Minute, age: 30 * time.Second},
		{name: "apparent age from Date", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Date": {date(-20 * time.Second)}, "Age": {"5"}}, lifetime: time.Minute, age: 20 * time.Second},
		// Age: the first value of the first line; one that is not a
		// number is ignored (newer HTTP caching tests, age-parse-*).
		{name: "non-numeric Age ignored", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"abc"}}, lifetime: time.Minute},
		{name: "negative Age ignored", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"-7200"}}, lifetime: time.Minute},
		{name: "fractional Age ignored", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"7200.0"}}, lifetime: time.Minute},
		{name: "a list in Age: its first value", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"0, 7200"}}, lifetime: time.Minute},
		{name: "a list in Age: old first", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"7200, 0"}}, lifetime: time.Minute, age: 2 * time.Hour},
		{name: "two Age lines: the first", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"0", "7200"}}, lifetime: time.Minute},
		{name: "two Age lines: old first", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"7200", "0"}}, lifetime: time.Minute, age: 2 * time.Hour},
		{name: "duplicated Age", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"0, 0"}}, lifetime: time.Minute},
		{name: "Age with a parameter", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"7200;foo=bar"}}, lifetime: time.Minute, age: 2 * time.Hour},
		{name: "Age past 2^31 s", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"2147483649"}}, lifetime: time.Minute, age: maxDelta},
		// Expires that is not one valid HTTP-date: already expired.
		{name: "Expires: extra spaces", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"Thu, 18  Aug  2050 02:01:18 GMT"}}, lifetime: 0},
		{name: "Expires: one-digit hour", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"Thu, 18 Aug 2050 2:01:18 GMT"}}, lifetime: 0},
		{name: "Expires: two lines", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {date(time.Hour), date(time.Hour)}}, lifetime: 0},
		{name: "Expires: UTC", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"Thu, 18 Aug 2050 02:01:18 UTC"}}, lifetime: 0},
		{name: "Expires: RFC 850", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"Sunday, 01-Mar-26 12:01:00 GMT"}}, lifetime: time.Minute},
		{name: "Expires: asctime", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"Sun Mar  1 12:01:00 2026"}}, lifetime: time.Minute},
		{name: "Expires: names in upper case", status: 200, header: http.Header{"Date": {date(0)}, "Expires": {"SUN, 01 MAR 2026 12:01:00 GMT"}}, lifetime: time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Entry{Status: tc.status, Header: tc.header, RequestTime: t0, ResponseTime: t0, DefaultTTL: tc.ttl, Heuristic: !tc.noHeur, Surrogate: !tc.noSurr}
			e.analyze()
			if e.facts.lifetime != tc.lifetime {
				t.Errorf("lifetime: got %s, want %s", e.facts.lifetime, tc.lifetime)
			}
			if got := e.age(t0); got != tc.age {
				t.Errorf("age at arrival: got %s, want %s", got, tc.age)
			}
		})
	}
}

func TestAgeGrowsWithResidentTime(t *testing.T) {
	t.Parallel()
	e := &Entry{Status: 200, Header: http.Header{"Age": {"10"}}, RequestTime: t0.Add(-2 * time.Second), ResponseTime: t0}
	e.analyze()
	// corrected age = Age + response delay = 12 s; plus 30 s resident.
	if got, want := e.age(t0.Add(30*time.Second)), 42*time.Second; got != want {
		t.Errorf("age: got %s, want %s", got, want)
	}
	if got, want := ageHeader(42500*time.Millisecond), "42"; got != want {
		t.Errorf("ageHeader: got %q, want %q", got, want)
	}
}

func TestUsable(t *testing.T) {
	t.Parallel()
	fresh := func(h http.Header) *Entry {
		e := &Entry{Status: 200, Header: h, RequestTime: t0, ResponseTime: t0}
		e.analyze()
		return e
	}
	maxAge60 := fresh(http.Header{"Cache-Control": {"max-age=60"}})
	mustReval := fresh(http.Header{"Cache-Control": {"max-age=60, must-revalidate"}})
	noCache := fresh(http.Header{"Cache-Control": {"max-age=60, no-cache"}})
	for _, tc := range []struct {
		name string
		e    *Entry
		req  string
		at   time.Duration
		want bool
	}{
		{name: "fresh", e: maxAge60, at: 59 * time.Second, want: true},
		{name: "stale at its lifetime", e: maxAge60, at: 60 * time.Second, want: false},
		{name: "response no-cache", e: noCache, at: 0, want: false},
		{name: "request no-cache", e: maxAge60, req: "no-cache", at: 0, want: false},
		{name: "request max-age=0", e: maxAge60, req: "max-age=0", at: time.Second, want: false},
		{name: "request max-age above the age", e: maxAge60, req: "max-age=10", at: 5 * time.Second, want: true},
		{name: "min-fresh not met", e: maxAge60, req: "min-fresh=30", at: 40 * time.Second, want: false},
		{name: "min-fresh met", e: maxAge60, req: "min-fresh=30", at: 20 * time.Second, want: true},
		{name: "max-stale allows", e: maxAge60, req: "max-stale=30", at: 80 * time.Second, want: true},
		{name: "max-stale too short", e: maxAge60, req: "max-stale=10", at: 80 * time.Second, want: false},
		{name: "must-revalidate beats max-stale", e: mustReval, req: "max-stale", at: 80 * time.Second, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd requestDirectives
			if tc.req != "" {
				rd = parseRequest([]string{tc.req})
			}
			if got := usable(tc.e, rd, tc.e.age(t0.Add(tc.at))); got != tc.want {
				t.Errorf("usable: got %v, want %v", got, tc.want)
			}
		})
	}
}
