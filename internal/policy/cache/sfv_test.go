package cache

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestParseDictionary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		keys []string // nil: invalid
	}{
		{[]string{"max-age=60"}, []string{"max-age"}},
		{[]string{"max-age=60, no-store"}, []string{"max-age", "no-store"}},
		{[]string{"max-age=60", "private"}, []string{"max-age", "private"}},
		{[]string{`no-cache="set-cookie, x-a";x=1, a=(1 2 "x");p, b=?0, c=:AQID:, d=1.5, e=tok/en`}, []string{"no-cache", "a", "b", "c", "d", "e"}},
		{[]string{"max-age=60, max-age=5"}, []string{"max-age"}},
		{[]string{"max-age =100"}, nil},
		{[]string{"max-age= 100"}, nil},
		{[]string{"MaX-aGe=3600"}, nil},
		{[]string{"max-age=10000, &&&&&"}, nil},
		{[]string{"max-age=60,"}, nil},
		{[]string{"max-age=1234567890123456"}, nil},
		{[]string{`a="unterminated`}, nil},
		{[]string{"a=(1 2"}, nil},
		{[]string{""}, []string{}},
	} {
		ms, ok := parseDictionary(tc.in)
		var keys []string
		for _, m := range ms {
			keys = append(keys, m.key)
		}
		if ok != (tc.keys != nil) || ok && !slices.Equal(keys, tc.keys) && len(tc.keys)+len(keys) > 0 {
			t.Errorf("%q: got %v %v, want keys %v", tc.in, keys, ok, tc.keys)
		}
	}
}

func TestParseTargeted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		ok   bool
		want responseDirectives
	}{
		{"max-age=3600", true, responseDirectives{maxAge: time.Hour, hasMaxAge: true}},
		{"foobar, max-age=3600", true, responseDirectives{maxAge: time.Hour, hasMaxAge: true}},
		{"max-age=99999999999", true, responseDirectives{maxAge: maxDelta, hasMaxAge: true}},
		{"no-store", true, responseDirectives{noStore: true}},
		{"private", true, responseDirectives{private: true}},
		{`no-cache="Set-Cookie"`, true, responseDirectives{noCacheFields: []string{"Set-Cookie"}}},
		{"no-store=?0, max-age=5", true, responseDirectives{maxAge: 5 * time.Second, hasMaxAge: true}},
		{`max-age="10000"`, false, responseDirectives{}},
		{"max-age=-1", false, responseDirectives{}},
		{"max-age=1.5", false, responseDirectives{}},
		{"no-store=1", false, responseDirectives{}},
		{"", false, responseDirectives{}},
	} {
		got, ok := parseTargeted([]string{tc.in})
		if ok != tc.ok || got.maxAge != tc.want.maxAge || got.hasMaxAge != tc.want.hasMaxAge || got.noStore != tc.want.noStore ||
			got.private != tc.want.private || !slices.Equal(got.noCacheFields, tc.want.noCacheFields) {
			t.Errorf("%q: got %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestTargetedFields: a valid targeted field replaces Cache-Control and
// Expires (RFC 9213, the HTTP caching tests' cdn-* cases); an invalid one
// is ignored; the first of the target list present and valid wins.
func TestTargetedFields(t *testing.T) {
	t.Parallel()
	targets := []string{"Weir-Cache-Control", "Cdn-Cache-Control"}
	p := &Policy{targets: targets, heuristic: true, surrogate: true}
	for _, tc := range []struct {
		name     string
		h        http.Header
		storable bool
		lifetime time.Duration
		noCache  bool
	}{
		{"cdn max-age", http.Header{"Cdn-Cache-Control": {"max-age=3600"}}, true, time.Hour, false},
		{"cdn over a short max-age", http.Header{"Cache-Control": {"max-age=1"}, "Cdn-Cache-Control": {"max-age=3600"}}, true, time.Hour, false},
		{"a short cdn over a long max-age", http.Header{"Cache-Control": {"max-age=3600"}, "Cdn-Cache-Control": {"max-age=1"}}, true, time.Second, false},
		{"cdn over Cache-Control no-store", http.Header{"Cache-Control": {"no-store"}, "Cdn-Cache-Control": {"max-age=10000"}}, true, 10000 * time.Second, false},
		{"cdn no-store over Cache-Control", http.Header{"Cache-Control": {"max-age=10000"}, "Cdn-Cache-Control": {"no-store"}, "Expires": {date(time.Hour)}, "Date": {date(0)}}, false, 0, false},
		{"cdn private", http.Header{"Cdn-Cache-Control": {"private"}, "Cache-Control": {"max-age=10000"}}, false, 0, false},
		{"cdn no-cache", http.Header{"Cdn-Cache-Control": {"no-cache"}, "Cache-Control": {"max-age=10000"}}, true, 0, true},
		{"cdn max-age ignores a past Expires", http.Header{"Cdn-Cache-Control": {"max-age=3600"}, "Expires": {date(-time.Hour)}, "Date": {date(0)}}, true, time.Hour, false},
		{"cdn max-age=0 ignores a future Expires", http.Header{"Cdn-Cache-Control": {"max-age=0"}, "Expires": {date(time.Hour)}, "Date": {date(0)}}, true, 0, false},
		{"an invalid cdn field is ignored", http.Header{"Cdn-Cache-Control": {"max-age=10000, &&&&&"}, "Cache-Control": {"no-store"}}, false, 0, false},
		{"a cdn field of the wrong type is ignored", http.Header{"Cdn-Cache-Control": {`max-age="10000"`}, "Cache-Control": {"max-age=5"}}, true, 5 * time.Second, false},
		{"weir's own first", http.Header{"Weir-Cache-Control": {"max-age=60"}, "Cdn-Cache-Control": {"max-age=3600"}}, true, time.Minute, false},
		{"an invalid weir field falls to cdn", http.Header{"Weir-Cache-Control": {"max-age =60"}, "Cdn-Cache-Control": {"max-age=3600"}}, true, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, targeted := directivesFor(tc.h, targets)
			r, _ := http.NewRequest("GET", "/", nil)
			if got := p.storable(r, 200, tc.h, cc, targeted); got != tc.storable {
				t.Errorf("storable: got %v, want %v", got, tc.storable)
			}
			e := &Entry{Status: 200, Header: tc.h, RequestTime: t0, ResponseTime: t0, Heuristic: true, Surrogate: true, Targeted: targeted}
			e.analyze()
			if e.facts.lifetime != tc.lifetime || e.facts.noCache != tc.noCache {
				t.Errorf("lifetime/no-cache: got %v/%v, want %v/%v", e.facts.lifetime, e.facts.noCache, tc.lifetime, tc.noCache)
			}
		})
	}
	// With an empty target list, targeted fields are nobody's business.
	if _, targeted := directivesFor(http.Header{"Cdn-Cache-Control": {"max-age=60"}}, nil); targeted != "" {
		t.Errorf("no targets: got %q, want none", targeted)
	}
}

// FuzzParseDictionary: the parser never panics, and what it accepts it
// accepts again when the members are written back in order.
func FuzzParseDictionary(f *testing.F) {
	for _, s := range []string{"max-age=60, no-store", `no-cache="a, b";x=1`, "a=(1 2 \"x\");p, b=?0, c=:AQID:, d=1.5, e=tok/en", "max-age =1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, ok := parseDictionary([]string{s})
		if !ok {
			return
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m.key] || m.key == "" {
				t.Fatalf("%q: key %q repeated or empty in %+v", s, m.key, ms)
			}
			seen[m.key] = true
		}
		if _, ok := parseTargeted([]string{s}); ok && len(ms) == 0 {
			t.Fatalf("%q: an empty dictionary taken as a targeted field", s)
		}
	})
}
