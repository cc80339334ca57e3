// The HTTP caching test suite's cases newer than the pinned npm release
// (0.4.5, the newest the registry serves), kept as weir's own: interim
// responses, targeted cache-control fields through a gateway. Age and
// Expires parsing are in entry_test.go, the parsers' own tests in
// httpdate_test.go and sfv_test.go.
package cache_test

import (
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"testing"

	"github.com/weirgw/weir/internal/weirtest/peer"
)

// TestInterimPassesThrough: a backend's 103 Early Hints reaches the client
// before the final response, with its own fields; the final response is
// stored without them, and a hit later comes with no interim response
// (the newer HTTP caching tests' interim-*). Before, weir dropped every
// interim response.
func TestInterimPassesThrough(t *testing.T) {
	t.Parallel()
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</styles.css>; rel=preload; as=style")
		w.Header().Set("X-My-Header", "test")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Del("X-My-Header")
		w.Header().Set("Cache-Control", "max-age=100000")
		fmt.Fprintf(w, "v%d", n)
	})
	base := startGateway(t, fmt.Sprintf(gatewayConfig, "", b.URL, defaultPolicies))
	type interim struct {
		code int
		link string
		mine string
	}
	get := func() (got []interim, resp *http.Response, body string) {
		t.Helper()
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, interim{code, h.Get("Link"), h.Get("X-My-Header")})
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", base+"/a/r", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, bb := peer.Fetch(t, http.DefaultClient, req)
		return got, resp, string(bb)
	}

	hints, resp, body := get()
	want := interim{http.StatusEarlyHints, "</styles.css>; rel=preload; as=style", "test"}
	if len(hints) != 1 || hints[0] != want {
		t.Errorf("first request: interim responses %+v, want [%+v]", hints, want)
	}
	if x := resp.Header.Get("X-Cache"); x != "MISS" || body != "v1" || resp.Header.Get("X-My-Header") != "" || resp.Header.Get("Link") != "" {
		t.Errorf("first request: got %s %q, X-My-Header %q, Link %q; want MISS v1 without the interim fields", x, body, resp.Header.Get("X-My-Header"), resp.Header.Get("Link"))
	}
	hints, resp, body = get()
	if len(hints) != 0 || resp.Header.Get("X-Cache") != "HIT" || body != "v1" || resp.Header.Get("X-My-Header") != "" {
		t.Errorf("second request: interim %+v, got %s %q X-My-Header %q; want none, HIT v1 without the interim fields", hints, resp.Header.Get("X-Cache"), body, resp.Header.Get("X-My-Header"))
	}
	if n := b.calls.Load(); n != 1 {
		t.Errorf("backend calls: got %d, want 1", n)
	}
}

// TestTargetedFieldsThroughGateway: Weir-Cache-Control is obeyed over
// Cache-Control and never reaches the client, on a miss or a hit;
// CDN-Cache-Control passes on (RFC 9213 lets a cache that used it forward
// it to CDNs in front).
func TestTargetedFieldsThroughGateway(t *testing.T) {
	t.Parallel()
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Weir-Cache-Control", "max-age=60")
		w.Header().Set("CDN-Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", n)
	})
	base := startGateway(t, fmt.Sprintf(gatewayConfig, "", b.URL, defaultPolicies))
	for i, want := range []string{"MISS", "HIT"} {
		req, err := http.NewRequest("GET", base+"/a/r", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := peer.Fetch(t, http.DefaultClient, req)
		h := resp.Header
		if h.Get("X-Cache") != want || h.Get("Weir-Cache-Control") != "" || h.Get("CDN-Cache-Control") != "max-age=600" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("request %d: got X-Cache %q, Weir-Cache-Control %q, CDN-Cache-Control %q, Cache-Control %q; want %s, none, max-age=600, no-store",
				i+1, h.Get("X-Cache"), h.Get("Weir-Cache-Control"), h.Get("CDN-Cache-Control"), h.Get("Cache-Control"), want)
		}
	}
	if n := b.calls.Load(); n != 1 {
		t.Errorf("backend calls: got %d, want 1 (stored under Weir-Cache-Control)", n)
	}
}
