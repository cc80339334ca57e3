package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest"
)

// backend is a test origin whose handler is given the 1-based number of the
// request it answers.
type backend struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	last  http.Header // the headers of the last request
}

func newBackend(t *testing.T, h func(n int, w http.ResponseWriter, r *http.Request)) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(b.calls.Add(1))
		b.mu.Lock()
		b.last = r.Header.Clone()
		b.mu.Unlock()
		h(n, w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) lastHeader() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// gatewayConfig is one API /a in front of a backend, with a policies block
// and optional top-level settings (a store block).
const gatewayConfig = `
admin: {listen: "off"}
log: {requests: "off"}
%s
apis:
  - name: a
    base_path: /a
    target: {endpoints: ["%s"]}
    policies:
%s`

// defaultPolicies is one cache policy with its defaults.
const defaultPolicies = "      inbound:\n        - kind: cache\n"

// startGateway serves the config on a loopback port until the test ends
// and returns its base URL.
func startGateway(t testing.TB, src string) string { return weirtest.Start(t, src).URL }

// step is one request of a scenario and what must come of it.
type step struct {
	method, path string      // default GET /a/r
	header       http.Header // request headers
	before       func(b *backend)
	status       int               // default 200
	xcache       string            // X-Cache wanted; "-" for none
	body         *string           // body wanted, when set
	cut          bool              // the response must end in an error
	calls        int64             // backend calls wanted after this step
	respHeader   map[string]string // response headers wanted ("" = absent)
	sent         map[string]string // headers the backend must have got in its last request ("" = absent)
}

func str(s string) *string { return &s }

func TestGatewayCache(t *testing.T) {
	t.Parallel()
	fresh := func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "v%d", n)
	}
	withHeader := func(k, v string) func(n int, w http.ResponseWriter, r *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set(k, v)
			fmt.Fprintf(w, "v%d", n)
		}
	}
	// etagged answers 304 to If-None-Match "v1" (with an updated X-Gen) and
	// otherwise "v1" with an ETag, stale at once.
	etagged := func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("X-Gen", fmt.Sprint(n))
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Etag", `"v1"`)
		fmt.Fprint(w, "v1")
	}
	lastModified := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		handler  func(n int, w http.ResponseWriter, r *http.Request)
		policies string
		steps    []step
	}{
		{
			name:    "a fresh response is served from storage",
			handler: fresh,
			steps: []step{
				{xcache: "MISS", body: str("v1"), calls: 1, respHeader: map[string]string{"Age": ""}, sent: map[string]string{"Surrogate-Capability": `weir="Surrogate/1.0"`}},
				{xcache: "HIT", body: str("v1"), calls: 1, respHeader: map[string]string{"Age": "0", "Cache-Control": "max-age=60", "Via": "1.1 weir"}},
				{path: "/a/r?x=1", xcache: "MISS", body: str("v2"), calls: 2},
			},
		},
		{
			name:    "no-store is not stored",
			handler: withHeader("Cache-Control", "max-age=60, no-store"),
			steps:   []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", body: str("v2"), calls: 2}},
		},
		{
			name:    "private is not stored",
			handler: withHeader("Cache-Control", "max-age=60, private"),
			steps:   []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name:    "a response with an old Age is stale",
			handler: func(n int, w http.ResponseWriter, r *http.Request) { w.Header().Set("Age", "120"); fresh(n, w, r) },
			steps:   []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name:    "s-maxage beats max-age",
			handler: withHeader("Cache-Control", "max-age=60, s-maxage=0"),
			steps:   []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name:    "no freshness and no validator: not reused",
			handler: func(n int, w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "v%d", n) },
			steps:   []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name:     "default_ttl gives freshness to a response without any",
			handler:  func(n int, w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "v%d", n) },
			policies: "      inbound:\n        - {kind: cache, default_ttl: 60s}\n",
			steps:    []step{{xcache: "MISS", calls: 1}, {xcache: "HIT", body: str("v1"), calls: 1}},
		},
		{
			name:     "default_ttl does not override no-store",
			handler:  withHeader("Cache-Control", "no-store"),
			policies: "      inbound:\n        - {kind: cache, default_ttl: 60s}\n",
			steps:    []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name:    "a request with Authorization is not stored",
			handler: fresh,
			steps: []step{
				{header: http.Header{"Authorization": {"Bearer x"}}, xcache: "MISS", calls: 1},
				{xcache: "MISS", calls: 2},
				{header: http.Header{"Authorization": {"Bearer x"}}, xcache: "MISS", calls: 3},
			},
		},
		{
			name:    "public allows storing for requests with Authorization",
			handler: withHeader("Cache-Control", "max-age=60, public"),
			steps: []step{
				{header: http.Header{"Authorization": {"Bearer x"}}, xcache: "MISS", calls: 1},
				{header: http.Header{"Authorization": {"Bearer y"}}, xcache: "HIT", body: str("v1"), calls: 1},
			},
		},
		{
			name: "Vary selects the variant",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Vary", "Accept-Language")
				fmt.Fprintf(w, "%s%d", r.Header.Get("Accept-Language"), n)
			},
			steps: []step{
				{header: http.Header{"Accept-Language": {"en"}}, xcache: "MISS", body: str("en1"), calls: 1},
				{header: http.Header{"Accept-Language": {"de"}}, xcache: "MISS", body: str("de2"), calls: 2},
				{header: http.Header{"Accept-Language": {"en"}}, xcache: "HIT", body: str("en1"), calls: 2},
				{header: http.Header{"Accept-Language": {"DE"}}, xcache: "HIT", body: str("de2"), calls: 2},
				{xcache: "MISS", body: str("3"), calls: 3},
			},
		},
		{
			name:    "Vary: * never matches",
			handler: withHeader("Vary", "*"),
			steps:   []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name: "vary_by_headers keys by a header the backend does not name",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				fmt.Fprintf(w, "%s%d", r.Header.Get("X-Tenant"), n)
			},
			policies: "      inbound:\n        - {kind: cache, vary_by_headers: [x-tenant]}\n",
			steps: []step{
				{header: http.Header{"X-Tenant": {"a"}}, xcache: "MISS", body: str("a1"), calls: 1},
				{header: http.Header{"X-Tenant": {"b"}}, xcache: "MISS", body: str("b2"), calls: 2},
				{header: http.Header{"X-Tenant": {"a"}}, xcache: "HIT", body: str("a1"), calls: 2},
			},
		},
		{
			name:     "vary_by_query keys by some parameters only",
			handler:  fresh,
			policies: "      inbound:\n        - {kind: cache, vary_by_query: [page]}\n",
			steps: []step{
				{path: "/a/r?page=1&trace=1", xcache: "MISS", calls: 1},
				{path: "/a/r?trace=2&page=1", xcache: "HIT", body: str("v1"), calls: 1},
				{path: "/a/r?page=2", xcache: "MISS", calls: 2},
			},
		},
		{
			name:    "a stale response is revalidated with its ETag",
			handler: etagged,
			steps: []step{
				{xcache: "MISS", body: str("v1"), calls: 1, respHeader: map[string]string{"X-Gen": "1"}},
				{xcache: "REVALIDATED", body: str("v1"), calls: 2, respHeader: map[string]string{"X-Gen": "2", "Etag": `"v1"`}, sent: map[string]string{"If-None-Match": `"v1"`}},
				{xcache: "REVALIDATED", body: str("v1"), calls: 3, respHeader: map[string]string{"X-Gen": "3"}},
			},
		},
		{
			name: "a stale response is revalidated with its Last-Modified",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=0")
				if r.Header.Get("If-Modified-Since") == lastModified {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("Last-Modified", lastModified)
				fmt.Fprintf(w, "v%d", n)
			},
			steps: []step{
				{xcache: "MISS", body: str("v1"), calls: 1},
				{xcache: "REVALIDATED", body: str("v1"), calls: 2, sent: map[string]string{"If-Modified-Since": lastModified}},
			},
		},
		{
			name:    "the client's own conditional is answered from the revalidated response",
			handler: etagged,
			steps: []step{
				{calls: 1},
				{header: http.Header{"If-None-Match": {`"v1"`}}, status: 304, xcache: "REVALIDATED", body: str(""), calls: 2},
				{header: http.Header{"If-None-Match": {`"other"`}}, xcache: "REVALIDATED", body: str("v1"), calls: 3, sent: map[string]string{"If-None-Match": `"v1"`}},
			},
		},
		{
			name: "a conditional request on a fresh response gets a 304 from storage",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Etag", `"v1"`)
				fresh(n, w, r)
			},
			steps: []step{
				{calls: 1},
				{header: http.Header{"If-None-Match": {`W/"x", "v1"`}}, status: 304, xcache: "HIT", body: str(""), calls: 1, respHeader: map[string]string{"Etag": `"v1"`}},
			},
		},
		{
			name: "request no-cache revalidates, no-store bypasses, max-age=0 revalidates",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("Etag", `"v1"`)
				fmt.Fprint(w, "v1")
			},
			steps: []step{
				{calls: 1},
				{xcache: "HIT", calls: 1},
				{header: http.Header{"Cache-Control": {"no-cache"}}, xcache: "REVALIDATED", calls: 2},
				{header: http.Header{"Cache-Control": {"max-age=0"}}, xcache: "REVALIDATED", calls: 3},
				{header: http.Header{"Cache-Control": {"no-store"}}, xcache: "MISS", calls: 4, sent: map[string]string{"If-None-Match": ""}},
			},
		},
		{
			name:    "only-if-cached",
			handler: fresh,
			steps: []step{
				{header: http.Header{"Cache-Control": {"only-if-cached"}}, status: 504, xcache: "MISS", calls: 0},
				{calls: 1},
				{header: http.Header{"Cache-Control": {"only-if-cached"}}, xcache: "HIT", calls: 1},
			},
		},
		{
			name:     "request_directives: false keeps clients from forcing a fetch",
			handler:  fresh,
			policies: "      inbound:\n        - {kind: cache, request_directives: false}\n",
			steps: []step{
				{calls: 1},
				{header: http.Header{"Cache-Control": {"no-cache"}}, xcache: "HIT", calls: 1},
				{header: http.Header{"Pragma": {"no-cache"}}, xcache: "HIT", calls: 1},
			},
		},
		{
			name:    "a successful unsafe request invalidates the URL, a failed one does not",
			handler: func(n int, w http.ResponseWriter, r *http.Request) { fresh(n, w, r) },
			steps: []step{
				{calls: 1},
				{xcache: "HIT", calls: 1},
				{method: "POST", xcache: "-", calls: 2},
				{xcache: "MISS", body: str("v3"), calls: 3},
			},
		},
		{
			name: "a failed unsafe request does not invalidate",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Method == "DELETE" {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				fresh(n, w, r)
			},
			steps: []step{
				{calls: 1},
				{method: "DELETE", status: 500, calls: 2},
				{xcache: "HIT", body: str("v1"), calls: 2},
			},
		},
		{
			name: "Location and Content-Location are invalidated too",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Method == "PUT" {
					w.Header().Set("Location", "/a/other")
					w.Header().Set("Content-Location", "third")
					w.Header().Set("Cache-Control", "no-store")
					w.WriteHeader(http.StatusCreated)
					return
				}
				fresh(n, w, r)
			},
			steps: []step{
				{path: "/a/other", calls: 1},
				{path: "/a/third", calls: 2},
				{path: "/a/other", xcache: "HIT", calls: 2},
				{method: "PUT", status: 201, calls: 3},
				{path: "/a/other", xcache: "MISS", calls: 4},
				{path: "/a/third", xcache: "MISS", calls: 5},
			},
		},
		{
			name:    "HEAD is served from a stored GET",
			handler: fresh,
			steps: []step{
				{calls: 1},
				{method: "HEAD", xcache: "HIT", body: str(""), calls: 1, respHeader: map[string]string{"Content-Length": "2"}},
			},
		},
		{
			name:    "a byte range is served from a stored response",
			handler: fresh,
			steps: []step{
				{calls: 1},
				{header: http.Header{"Range": {"bytes=1-"}}, status: 206, xcache: "HIT", body: str("1"), calls: 1, respHeader: map[string]string{"Content-Range": "bytes 1-1/2"}},
			},
		},
		{
			name: "a response cut mid-body is not stored",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					fresh(n, w, r)
					return
				}
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 100\r\n\r\n0123456789")
				_ = buf.Flush()
				_ = conn.Close()
			},
			steps: []step{
				{cut: true, calls: 1},
				{xcache: "MISS", body: str("v2"), calls: 2},
				{xcache: "HIT", body: str("v2"), calls: 2},
			},
		},
		{
			name: "a chunked response cut mid-body is not stored",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					fresh(n, w, r)
					return
				}
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
				_ = buf.Flush()
				_ = conn.Close()
			},
			steps: []step{
				{cut: true, calls: 1},
				{xcache: "MISS", body: str("v2"), calls: 2},
			},
		},
		{
			name: "a body larger than max_entry_bytes is not stored",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				fmt.Fprint(w, strings.Repeat("x", 100))
			},
			policies: "      inbound:\n        - {kind: cache, max_entry_bytes: 99}\n",
			steps:    []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name: "a streamed body larger than max_entry_bytes is not stored",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				for range 10 {
					fmt.Fprint(w, strings.Repeat("x", 20))
					http.NewResponseController(w).Flush()
				}
			},
			policies: "      inbound:\n        - {kind: cache, max_entry_bytes: 199}\n",
			steps:    []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", body: str(strings.Repeat("x", 200)), calls: 2}},
		},
		{
			name: "stale_if_error serves a stale response when the backend answers 503",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Cache-Control", "max-age=0")
				fmt.Fprint(w, "v1")
			},
			policies: "      inbound:\n        - {kind: cache, stale_if_error: 1m}\n",
			steps:    []step{{calls: 1}, {xcache: "STALE", body: str("v1"), calls: 2}},
		},
		{
			name: "stale_if_error serves a stale response when the backend is gone",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=0")
				fmt.Fprint(w, "v1")
			},
			policies: "      inbound:\n        - {kind: cache, stale_if_error: 1m}\n",
			steps: []step{
				{calls: 1},
				{before: func(b *backend) { b.Close() }, xcache: "STALE", body: str("v1"), calls: 1},
			},
		},
		{
			name: "stale_if_error does not answer for a policy's rejection",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=0")
				fmt.Fprint(w, "v1")
			},
			policies: "      inbound:\n        - {kind: cache, stale_if_error: 1m}\n        - {kind: rate-limit-by-key, calls: 1, period: 1h}\n",
			steps:    []step{{calls: 1}, {status: 429, xcache: "-", calls: 1}},
		},
		{
			name: "without stale_if_error a 503 passes",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Cache-Control", "max-age=0")
				fmt.Fprint(w, "v1")
			},
			steps: []step{{calls: 1}, {status: 503, xcache: "MISS", calls: 2}},
		},
		{
			name: "the response's own stale-if-error counts, must-revalidate forbids",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/r" && n > 1 || n > 2 {
					w.WriteHeader(http.StatusBadGateway)
					return
				}
				if r.URL.Path == "/r" {
					w.Header().Set("Cache-Control", "max-age=0, stale-if-error=60")
				} else {
					w.Header().Set("Cache-Control", "max-age=0, must-revalidate")
				}
				fmt.Fprint(w, "v1")
			},
			steps: []step{
				{calls: 1},
				{path: "/a/strict", calls: 2},
				{xcache: "STALE", body: str("v1"), calls: 3},
				{path: "/a/strict", status: 502, calls: 4},
			},
		},
		{
			name: "Surrogate-Control speaks to weir over Cache-Control",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Surrogate-Control", "max-age=60;weir")
				withHeader("Cache-Control", "no-store")(n, w, r)
			},
			steps: []step{{calls: 1}, {xcache: "HIT", body: str("v1"), calls: 1, respHeader: map[string]string{"Surrogate-Control": "max-age=60;weir"}}},
		},
		{
			name: "surrogate_control: false",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Surrogate-Control", "max-age=60")
				withHeader("Cache-Control", "no-store")(n, w, r)
			},
			policies: "      inbound:\n        - {kind: cache, surrogate_control: false}\n",
			steps:    []step{{calls: 1, sent: map[string]string{"Surrogate-Capability": ""}}, {xcache: "MISS", calls: 2}},
		},
		{
			name:     "cache-lookup and cache-store share the lookup's key settings",
			handler:  fresh,
			policies: "      inbound:\n        - {kind: cache-lookup, vary_by_query: [page]}\n      outbound:\n        - kind: cache-store\n",
			steps: []step{
				{path: "/a/r?page=1&trace=1", xcache: "MISS", calls: 1},
				{path: "/a/r?page=1&trace=2", xcache: "HIT", body: str("v1"), calls: 1},
				{method: "POST", path: "/a/r?trace=3&page=1", calls: 2},
				{path: "/a/r?page=1", xcache: "MISS", calls: 3},
			},
		},
		{
			name:     "cache-lookup and cache-store revalidate together",
			handler:  etagged,
			policies: "      inbound:\n        - kind: cache-lookup\n      outbound:\n        - kind: cache-store\n",
			steps:    []step{{calls: 1}, {xcache: "REVALIDATED", body: str("v1"), calls: 2, respHeader: map[string]string{"X-Gen": "2"}}},
		},
		{
			name:     "cache-lookup alone stores nothing",
			handler:  fresh,
			policies: "      inbound:\n        - kind: cache-lookup\n",
			steps:    []step{{xcache: "MISS", calls: 1}, {xcache: "MISS", calls: 2}},
		},
		{
			name:     "cache-store alone stores, for a later lookup",
			handler:  fresh,
			policies: "      outbound:\n        - kind: cache-store\n",
			steps:    []step{{xcache: "-", calls: 1}, {xcache: "-", calls: 2}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t, tc.handler)
			policies := tc.policies
			if policies == "" {
				policies = defaultPolicies
			}
			base := startGateway(t, fmt.Sprintf(gatewayConfig, "", b.URL, policies))
			client := &http.Client{Timeout: 10 * time.Second}
			for i, s := range tc.steps {
				s.run(t, i+1, client, base, b)
			}
		})
	}
}

func (s step) run(t *testing.T, i int, client *http.Client, base string, b *backend) {
	t.Helper()
	method, path := s.method, s.path
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/a/r"
	}
	if s.before != nil {
		s.before(b)
	}
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range s.header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil && s.cut {
		// Cut before weir flushed anything: the client sees no response.
		if got := b.calls.Load(); got != s.calls {
			t.Errorf("step %d: backend calls got %d, want %d", i, got, s.calls)
		}
		return
	}
	if err != nil {
		t.Fatalf("step %d: %s %s: %v", i, method, path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if s.cut {
		if err == nil {
			t.Errorf("step %d: body read: got no error, want a cut response", i)
		}
	} else if err != nil {
		t.Errorf("step %d: body read: %v", i, err)
	}
	want := s.status
	if want == 0 {
		want = 200
	}
	if resp.StatusCode != want {
		t.Errorf("step %d: %s %s: status got %d, want %d", i, method, path, resp.StatusCode, want)
	}
	switch got := resp.Header.Get("X-Cache"); {
	case s.xcache == "-" && got != "":
		t.Errorf("step %d: X-Cache got %q, want none", i, got)
	case s.xcache != "" && s.xcache != "-" && got != s.xcache:
		t.Errorf("step %d: X-Cache got %q, want %q", i, got, s.xcache)
	}
	if s.body != nil && string(body) != *s.body {
		t.Errorf("step %d: body got %q, want %q", i, body, *s.body)
	}
	for k, v := range s.respHeader {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("step %d: response header %s got %q, want %q", i, k, got, v)
		}
	}
	if got := b.calls.Load(); got != s.calls {
		t.Errorf("step %d: backend calls got %d, want %d", i, got, s.calls)
	}
	for k, v := range s.sent {
		if got := b.lastHeader().Get(k); got != v {
			t.Errorf("step %d: backend got %s %q, want %q", i, k, got, v)
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("step %d: no X-Request-Id", i)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "v%d", n)
	})
	g := weirtest.Start(t, fmt.Sprintf(gatewayConfig, "", b.URL, defaultPolicies))
	base := g.URL
	client := &http.Client{Timeout: 10 * time.Second}
	for _, s := range []step{{calls: 1}, {xcache: "HIT", calls: 1}, {xcache: "HIT", calls: 1}, {method: "POST", calls: 2}, {xcache: "MISS", calls: 3}} {
		s.run(t, 0, client, base, b)
	}
	want := map[string]float64{
		`weir_cache_responses_total{api="a",result="hit"}`:         2,
		`weir_cache_responses_total{api="a",result="miss"}`:        2,
		`weir_cache_responses_total{api="a",result="revalidated"}`: 0,
		`weir_cache_stored_total{api="a"}`:                         2,
		`weir_cache_invalidations_total{api="a"}`:                  1,
		`weir_cache_storage_errors_total{api="a"}`:                 0,
		`weir_cache_memory_entries{}`:                              1,
	}
	mfs, err := g.State.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "weir_cache_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	if got["weir_cache_memory_bytes{}"] <= 0 {
		t.Errorf("weir_cache_memory_bytes: got %v, want > 0", got["weir_cache_memory_bytes{}"])
	}
}

// TestSurvivesReload: cached responses live in the gateway's state, so a
// reload (even one that resizes the memory storage) keeps them.
func TestSurvivesReload(t *testing.T) {
	t.Parallel()
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "v%d", n)
	})
	yaml := func(store string) string { return fmt.Sprintf(gatewayConfig, store, b.URL, defaultPolicies) }
	g := weirtest.Start(t, yaml(""))
	client := &http.Client{Timeout: 10 * time.Second}
	step{xcache: "MISS", calls: 1}.run(t, 1, client, g.URL, b)
	g.Reload(t, yaml("store: {cache_max_bytes: 32MiB}"))
	step{xcache: "HIT", body: str("v1"), calls: 1}.run(t, 2, client, g.URL, b)
	if got := g.State.Caches.Memory().Stats().MaxBytes; got != 32<<20 {
		t.Errorf("memory bound after reload: got %d, want %d", got, 32<<20)
	}
}
