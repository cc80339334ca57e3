package cache

import (
	"reflect"
	"testing"
	"time"
)

func TestParseResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lines []string
		want  responseDirectives
	}{
		{name: "none", lines: nil, want: responseDirectives{}},
		{name: "max-age", lines: []string{"max-age=60"}, want: responseDirectives{maxAge: time.Minute, hasMaxAge: true}},
		{name: "case-insensitive names", lines: []string{"MaX-AgE=60, No-Store"}, want: responseDirectives{maxAge: time.Minute, hasMaxAge: true, noStore: true}},
		{name: "quoted value", lines: []string{`max-age="60"`}, want: responseDirectives{maxAge: time.Minute, hasMaxAge: true}},
		{name: "leading zeros", lines: []string{"max-age=003600"}, want: responseDirectives{maxAge: time.Hour, hasMaxAge: true}},
		{name: "single-quoted is invalid: stale", lines: []string{"max-age='60'"}, want: responseDirectives{hasMaxAge: true}},
		{name: "trailing alpha is invalid", lines: []string{"max-age=60a"}, want: responseDirectives{hasMaxAge: true}},
		{name: "decimal is invalid", lines: []string{"max-age=60.5"}, want: responseDirectives{hasMaxAge: true}},
		{name: "space before = spoils it", lines: []string{"max-age =60"}, want: responseDirectives{hasMaxAge: true}},
		{name: "negative is invalid", lines: []string{"max-age=-1"}, want: responseDirectives{hasMaxAge: true}},
		{name: "overflow becomes 2^31 s", lines: []string{"max-age=99999999999999999999"}, want: responseDirectives{maxAge: maxDelta, hasMaxAge: true}},
		{name: "first occurrence counts, same line", lines: []string{"max-age=60, max-age=1"}, want: responseDirectives{maxAge: time.Minute, hasMaxAge: true}},
		{name: "first occurrence counts, two lines", lines: []string{"max-age=60", "max-age=1"}, want: responseDirectives{maxAge: time.Minute, hasMaxAge: true}},
		{name: "max-age inside a quoted extension is ignored", lines: []string{`ext="max-age=3600", max-age=1`}, want: responseDirectives{maxAge: time.Second, hasMaxAge: true}},
		{name: "quoted extension after", lines: []string{`max-age=1, ext="a, max-age=3600"`}, want: responseDirectives{maxAge: time.Second, hasMaxAge: true}},
		{name: "escaped quote in a value", lines: []string{`ext="a\"b, max-age=9", s-maxage=2`}, want: responseDirectives{sMaxAge: 2 * time.Second, hasSMaxAge: true}},
		{name: "s-maxage and max-age", lines: []string{"max-age=3600", "s-maxage=1"}, want: responseDirectives{maxAge: time.Hour, hasMaxAge: true, sMaxAge: time.Second, hasSMaxAge: true}},
		{name: "unqualified no-cache and private", lines: []string{"no-cache, private"}, want: responseDirectives{noCache: true, private: true}},
		{name: "qualified no-cache and private", lines: []string{`no-cache="set-cookie, X-A", private="x-b"`}, want: responseDirectives{noCacheFields: []string{"Set-Cookie", "X-A"}, privateFields: []string{"X-B"}}},
		{name: "flags", lines: []string{"public, must-revalidate, proxy-revalidate, must-understand, stale-if-error=30"},
			want: responseDirectives{public: true, mustRevalidate: true, proxyRevalidate: true, mustUnderstand: true, staleIfError: 30 * time.Second}},
		{name: "junk and empty elements", lines: []string{", ,=, foo=bar baz, max-age=5,"}, want: responseDirectives{maxAge: 5 * time.Second, hasMaxAge: true}},
		{name: "unclosed quote", lines: []string{`ext="abc, max-age=5`}, want: responseDirectives{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseResponse(tc.lines); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseResponse(%q):\ngot  %+v\nwant %+v", tc.lines, got, tc.want)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lines []string
		want  requestDirectives
	}{
		{name: "none", want: requestDirectives{}},
		{name: "unknown", lines: []string{"nothing-to-see-here"}, want: requestDirectives{}},
		{name: "no-cache no-store only-if-cached", lines: []string{"No-Cache, no-store", "only-if-cached"}, want: requestDirectives{noCache: true, noStore: true, onlyIfCached: true}},
		{name: "max-age=0", lines: []string{"max-age=0"}, want: requestDirectives{hasMaxAge: true}},
		{name: "bad max-age is ignored", lines: []string{"max-age=x"}, want: requestDirectives{}},
		{name: "max-stale without value: any", lines: []string{"max-stale"}, want: requestDirectives{maxStale: maxDelta, hasMaxStale: true}},
		{name: "max-stale and min-fresh", lines: []string{"max-stale=10, min-fresh=20"}, want: requestDirectives{maxStale: 10 * time.Second, hasMaxStale: true, minFresh: 20 * time.Second, hasMinFresh: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRequest(tc.lines); got != tc.want {
				t.Errorf("parseRequest(%q):\ngot  %+v\nwant %+v", tc.lines, got, tc.want)
			}
		})
	}
}

func TestParseSurrogate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lines []string
		want  surrogateDirectives
	}{
		{name: "untargeted", lines: []string{"max-age=60"}, want: surrogateDirectives{maxAge: time.Minute, hasMaxAge: true}},
		{name: "targeted at weir", lines: []string{"max-age=60;weir"}, want: surrogateDirectives{maxAge: time.Minute, hasMaxAge: true}},
		{name: "targeted elsewhere", lines: []string{"max-age=60;cdn, no-store;other"}, want: surrogateDirectives{}},
		{name: "malformed is ignored", lines: []string{"max-age= 60"}, want: surrogateDirectives{}},
		{name: "no-store", lines: []string{"foo, no-store"}, want: surrogateDirectives{noStore: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseSurrogate(tc.lines); got != tc.want {
				t.Errorf("parseSurrogate(%q): got %+v, want %+v", tc.lines, got, tc.want)
			}
		})
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `ext="a\"b, max-age=9", s-maxage=2`, `no-cache="a, b"`, "max-stale", "x;weir", `"`, `a="`, ",,=;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := []string{s, s}
		rd := parseResponse(lines)
		if rd.maxAge < 0 || rd.maxAge > maxDelta || rd.sMaxAge < 0 || rd.sMaxAge > maxDelta {
			t.Errorf("parseResponse(%q): durations out of range: %+v", s, rd)
		}
		q := parseRequest(lines)
		if q.maxAge < 0 || q.maxStale < 0 || q.minFresh < 0 {
			t.Errorf("parseRequest(%q): negative durations: %+v", s, q)
		}
		_ = parseSurrogate(lines)
		// The scanner always ends, whatever the input.
		sc := newScanner(lines)
		for n := 0; ; n++ {
			if _, ok := sc.next(); !ok {
				break
			}
			if n > 2*len(s)+2 {
				t.Fatalf("scanner of %q does not end", s)
			}
		}
	})
}
