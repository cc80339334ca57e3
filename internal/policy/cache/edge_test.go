package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest/peer"
)

func get(t *testing.T, url string, h http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, body := peer.Fetch(t, http.DefaultClient, req)
	return resp, string(body)
}

// A response that sets a session cookie is stored (default_ttl here; an
// explicit max-age does the same) and the cookie is replayed to every
// other client.
func TestSetCookieNotReplayedByDefaultTTL(t *testing.T) {
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie("user")
		user := "anonymous"
		if c != nil {
			user = c.Value
		}
		w.Header().Set("Set-Cookie", "session=secret-of-"+user)
		fmt.Fprintf(w, "hello %s", user)
	})
	base := startGateway(t, fmt.Sprintf(gatewayConfig, "", b.URL, "      inbound:\n        - {kind: cache, default_ttl: 60s}\n"))
	_, _ = get(t, base+"/a/me", http.Header{"Cookie": {"user=alice"}})
	resp, body := get(t, base+"/a/me", nil) // bob, no cookie
	t.Logf("bob got X-Cache=%q Set-Cookie=%q body=%q", resp.Header.Get("X-Cache"), resp.Header.Get("Set-Cookie"), body)
	if resp.Header.Get("Set-Cookie") == "session=secret-of-alice" {
		t.Errorf("another client received alice's Set-Cookie from the cache")
	}
}

// Chain.Writer re-evaluates the cache's `when` after the cache's own
// Inbound added If-None-Match for revalidation: the cache's wrapper is
// skipped and the backend's 304 reaches a client that sent no conditional.
func TestWhenNotReevaluatedAfterRevalidation(t *testing.T) {
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		w.Header().Set("Etag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "body-v1")
	})
	base := startGateway(t, fmt.Sprintf(gatewayConfig, "", b.URL,
		"      inbound:\n        - {kind: cache, when: {headers_absent: [If-None-Match]}}\n"))
	_, _ = get(t, base+"/a/r", nil)
	time.Sleep(2100 * time.Millisecond) // stale
	resp, body := get(t, base+"/a/r", nil)
	t.Logf("unconditional GET got %d X-Cache=%q body=%q", resp.StatusCode, resp.Header.Get("X-Cache"), body)
	if resp.StatusCode != http.StatusOK || body != "body-v1" {
		t.Errorf("unconditional GET answered %d %q, want 200 body-v1", resp.StatusCode, body)
	}
}

// stale_if_error on a backend 5xx: the stored response is written over the
// 5xx's headers, so fields only the error had (Content-Encoding, Set-Cookie)
// go out with the stale body.
func TestStaleDropsErrorHeaders(t *testing.T) {
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Cache-Control", "max-age=1")
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "plain stored body")
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Set-Cookie", "lb=drain")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte{0x1f, 0x8b, 0, 0})
	})
	base := startGateway(t, fmt.Sprintf(gatewayConfig, "", b.URL, "      inbound:\n        - {kind: cache, stale_if_error: 1m}\n"))
	_, _ = get(t, base+"/a/r", nil)
	time.Sleep(2100 * time.Millisecond)
	resp, err := http.Get(base + "/a/r") // a normal Go client (asks for gzip, decodes)
	if err != nil {
		t.Fatal(err)
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", base+"/a/r", nil)
	raw, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	raw.Body.Close()
	t.Logf("stale answer: %d X-Cache=%q Content-Encoding=%q Set-Cookie=%q; Go client body=%q err=%v",
		raw.StatusCode, raw.Header.Get("X-Cache"), raw.Header.Get("Content-Encoding"), raw.Header.Get("Set-Cookie"), body, rerr)
	if raw.Header.Get("Content-Encoding") != "" || rerr != nil {
		t.Errorf("stale response carries the 5xx's Content-Encoding; a client cannot read it")
	}
}
