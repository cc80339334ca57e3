package cache

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/weirgw/weir/internal/config"
)

func TestPrimaryKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		a, b         string // request targets
		varyQuery    []string
		sameKey      bool
		hostA, hostB string
	}{
		{name: "same URL", a: "/p?x=1", b: "/p?x=1", sameKey: true},
		{name: "query differs", a: "/p?x=1", b: "/p?x=2", sameKey: false},
		{name: "query vs none", a: "/p", b: "/p?", sameKey: true},
		{name: "path differs", a: "/p", b: "/q", sameKey: false},
		{name: "escaped slash differs", a: "/a%2Fb", b: "/a/b", sameKey: false},
		{name: "host case is ignored", a: "/p", b: "/p", hostA: "Example.COM", hostB: "example.com", sameKey: true},
		{name: "host port is ignored", a: "/p", b: "/p", hostA: "example.com:8080", hostB: "example.com", sameKey: true},
		{name: "IPv6 host port is ignored", a: "/p", b: "/p", hostA: "[::1]:8080", hostB: "[::1]", sameKey: true},
		{name: "IPv6 hosts differ", a: "/p", b: "/p", hostA: "[::1]", hostB: "[::2]", sameKey: false},
		{name: "hosts differ", a: "/p", b: "/p", hostA: "a.example", hostB: "b.example", sameKey: false},
		{name: "vary_by_query ignores other parameters", a: "/p?page=2&trace=1", b: "/p?trace=9&page=2", varyQuery: []string{"page"}, sameKey: true},
		{name: "vary_by_query keeps its parameters", a: "/p?page=2", b: "/p?page=3", varyQuery: []string{"page"}, sameKey: false},
		{name: "vary_by_query: [] ignores the query", a: "/p?page=2", b: "/p?x=y", varyQuery: []string{}, sameKey: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra, rb := httptest.NewRequest("GET", tc.a, nil), httptest.NewRequest("GET", tc.b, nil)
			if tc.hostA != "" {
				ra.Host, rb.Host = tc.hostA, tc.hostB
			}
			ka, kb := requestKey("api", ra, tc.varyQuery), requestKey("api", rb, tc.varyQuery)
			if (ka == kb) != tc.sameKey {
				t.Errorf("keys %q and %q: equal got %v, want %v", ka, kb, ka == kb, tc.sameKey)
			}
			if other := requestKey("other", ra, tc.varyQuery); other == ka {
				t.Errorf("APIs share key %q", ka)
			}
		})
	}
}

func TestVary(t *testing.T) {
	t.Parallel()
	if got, want := parseVary([]string{"accept-language, Foo", "foo"}, []string{"X-Tenant"}), []string{"Accept-Language", "Foo", "X-Tenant"}; !reflect.DeepEqual(got, want) {
		t.Errorf("parseVary: got %q, want %q", got, want)
	}
	if got, want := parseVary([]string{"Foo, *"}, nil), []string{"*"}; !reflect.DeepEqual(got, want) {
		t.Errorf("parseVary with *: got %q, want %q", got, want)
	}
	if got := parseVary([]string{" , "}, nil); got != nil {
		t.Errorf("parseVary of nothing: got %q, want nil", got)
	}

	for _, tc := range []struct {
		name         string
		header       string
		stored, sent []string // field lines; nil = absent
		match        bool
	}{
		{name: "equal", header: "Foo", stored: []string{"1"}, sent: []string{"1"}, match: true},
		{name: "different", header: "Foo", stored: []string{"1"}, sent: []string{"2"}, match: false},
		{name: "both absent", header: "Foo", match: true},
		{name: "absent vs present", header: "Foo", stored: []string{"1"}, match: false},
		{name: "absent vs empty", header: "Foo", sent: []string{""}, match: false},
		{name: "lines combined", header: "Foo", stored: []string{"1, 2"}, sent: []string{"1", "2"}, match: true},
		{name: "whitespace around elements", header: "Foo", stored: []string{"1,2"}, sent: []string{" 1, 2 "}, match: true},
		{name: "Accept-Language case", header: "Accept-Language", stored: []string{"en, de"}, sent: []string{"eN, De"}, match: true},
		{name: "Accept-Language order matters", header: "Accept-Language", stored: []string{"en, de"}, sent: []string{"de, en"}, match: false},
		{name: "case matters for others", header: "Foo", stored: []string{"a"}, sent: []string{"A"}, match: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stored := httptest.NewRequest("GET", "/", nil)
			sent := httptest.NewRequest("GET", "/", nil)
			if tc.stored != nil {
				stored.Header[tc.header] = tc.stored
			}
			if tc.sent != nil {
				sent.Header[tc.header] = tc.sent
			}
			vary := []string{tc.header}
			if got := matchVary(sent, vary, varyValues(stored, vary)); got != tc.match {
				t.Errorf("matchVary: got %v, want %v", got, tc.match)
			}
		})
	}
	if matchVary(httptest.NewRequest("GET", "/", nil), []string{"*"}, []string{""}) {
		t.Error("Vary: * matched")
	}
	k1 := variantKey("k", 1, []string{"Foo"}, []string{"1"})
	for _, other := range []string{variantKey("k", 2, []string{"Foo"}, []string{"1"}), variantKey("k", 1, []string{"Foo"}, []string{"2"}), variantKey("k", 1, []string{"Bar"}, []string{"1"})} {
		if other == k1 {
			t.Errorf("variant keys collide: %q", k1)
		}
	}
}

func TestEtagListMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		list []string
		etag string
		want bool
	}{
		{[]string{`"a"`}, `"a"`, true},
		{[]string{`"b"`}, `"a"`, false},
		{[]string{`"x", "a", "y"`}, `"a"`, true},
		{[]string{`"x"`, `W/"a"`}, `"a"`, true},
		{[]string{`"a"`}, `W/"a"`, true},
		{[]string{`*`}, `"a"`, true},
		{[]string{`a`}, `"a"`, true},
		{[]string{`"a,b"`}, `"a,b"`, true},
		{[]string{`"a,b"`}, `"a"`, false},
		{[]string{`W/`, `,,`}, `"a"`, false},
	} {
		if got := etagListMatch(tc.list, tc.etag); got != tc.want {
			t.Errorf("etagListMatch(%q, %q): got %v, want %v", tc.list, tc.etag, got, tc.want)
		}
	}
}

func TestRangeOf(t *testing.T) {
	t.Parallel()
	e := &Entry{Status: 200, Header: http.Header{"Etag": {`"v1"`}, "Last-Modified": {date(0)}}, Body: []byte("0123456789")}
	e.analyze()
	for _, tc := range []struct {
		name       string
		rng, ifRng string
		start, end int
		ok         bool
	}{
		{name: "no range", ok: false},
		{name: "first bytes", rng: "bytes=0-1", start: 0, end: 1, ok: true},
		{name: "open end", rng: "bytes=5-", start: 5, end: 9, ok: true},
		{name: "suffix", rng: "bytes=-3", start: 7, end: 9, ok: true},
		{name: "end past the size", rng: "bytes=8-100", start: 8, end: 9, ok: true},
		{name: "start past the size", rng: "bytes=10-", ok: false},
		{name: "several ranges", rng: "bytes=0-1,3-4", ok: false},
		{name: "other unit", rng: "items=0-1", ok: false},
		{name: "reversed", rng: "bytes=5-1", ok: false},
		{name: "If-Range matching etag", rng: "bytes=0-0", ifRng: `"v1"`, start: 0, end: 0, ok: true},
		{name: "If-Range matching date", rng: "bytes=0-0", ifRng: date(0), start: 0, end: 0, ok: true},
		{name: "If-Range not matching", rng: "bytes=0-0", ifRng: `"v0"`, ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.rng != "" {
				r.Header.Set("Range", tc.rng)
			}
			if tc.ifRng != "" {
				r.Header.Set("If-Range", tc.ifRng)
			}
			start, end, ok := rangeOf(r, e)
			if ok != tc.ok || ok && (start != tc.start || end != tc.end) {
				t.Errorf("rangeOf: got %d-%d %v, want %d-%d %v", start, end, ok, tc.start, tc.end, tc.ok)
			}
		})
	}
}

func TestStorable(t *testing.T) {
	t.Parallel()
	p, err := New(config.Policy{Name: "c", Kind: config.KindCache, Cache: &config.Cache{RequestDirectives: true, SurrogateControl: true}}, Deps{Storage: NewMemory(1<<20, nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		status int
		resp   http.Header
		req    http.Header
		want   bool
	}{
		{name: "200 with max-age", status: 200, resp: http.Header{"Cache-Control": {"max-age=60"}}, want: true},
		{name: "200 with nothing: heuristically cacheable", status: 200, resp: http.Header{}, want: true},
		{name: "201 with nothing", status: 201, resp: http.Header{}, want: false},
		{name: "599 with max-age", status: 599, resp: http.Header{"Cache-Control": {"max-age=60"}}, want: true},
		{name: "599 with must-understand", status: 599, resp: http.Header{"Cache-Control": {"max-age=60, must-understand"}}, want: false},
		{name: "404 with must-understand", status: 404, resp: http.Header{"Cache-Control": {"max-age=60, must-understand"}}, want: true},
		{name: "206", status: 206, resp: http.Header{"Cache-Control": {"max-age=60"}}, want: false},
		{name: "304", status: 304, resp: http.Header{"Cache-Control": {"max-age=60"}}, want: false},
		{name: "no-store", status: 200, resp: http.Header{"Cache-Control": {"max-age=60, no-store"}}, want: false},
		{name: "private", status: 200, resp: http.Header{"Cache-Control": {"max-age=60, private"}}, want: false},
		{name: "qualified private stores the rest", status: 200, resp: http.Header{"Cache-Control": {`max-age=60, private="Set-Cookie"`}}, want: true},
		{name: "surrogate max-age beats no-store", status: 200, resp: http.Header{"Cache-Control": {"no-store"}, "Surrogate-Control": {"max-age=60"}}, want: true},
		{name: "surrogate no-store", status: 200, resp: http.Header{"Cache-Control": {"max-age=60"}, "Surrogate-Control": {"no-store"}}, want: false},
		{name: "Vary: *", status: 200, resp: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"*"}}, want: false},
		{name: "request no-store", status: 200, resp: http.Header{"Cache-Control": {"max-age=60"}}, req: http.Header{"Cache-Control": {"no-store"}}, want: false},
		{name: "Authorization", status: 200, resp: http.Header{"Cache-Control": {"max-age=60"}}, req: http.Header{"Authorization": {"x"}}, want: false},
		{name: "Authorization with public", status: 200, resp: http.Header{"Cache-Control": {"max-age=60, public"}}, req: http.Header{"Authorization": {"x"}}, want: true},
		{name: "Authorization with s-maxage", status: 200, resp: http.Header{"Cache-Control": {"s-maxage=60"}}, req: http.Header{"Authorization": {"x"}}, want: true},
		{name: "Authorization with must-revalidate", status: 200, resp: http.Header{"Cache-Control": {"max-age=60, must-revalidate"}}, req: http.Header{"Authorization": {"x"}}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, vs := range tc.req {
				r.Header[k] = vs
			}
			cc, targeted := directivesFor(tc.resp, p.targets)
			if got := p.storable(r, tc.status, tc.resp, cc, targeted); got != tc.want {
				t.Errorf("storable: got %v, want %v", got, tc.want)
			}
		})
	}
}
