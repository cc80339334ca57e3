package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest/peer"
)

// TestSharedOverRedis runs two weir instances on one redis-server: a
// response one stores is a hit on the other, an invalidation on one is seen
// by the other, and while Redis is down both keep serving (from the
// backend) until it is back.
func TestSharedOverRedis(t *testing.T) {
	t.Parallel()
	rs := peer.Redis(t)
	b := newBackend(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept")
		fmt.Fprintf(w, "v%d", n)
	})
	cfg := fmt.Sprintf(gatewayConfig, fmt.Sprintf("store: {kind: redis, address: %q, timeout: 1s}", rs.Addr), b.URL, defaultPolicies)
	one, two := startGateway(t, cfg), startGateway(t, cfg)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(base, method, accept string) (xcache, body string) {
		t.Helper()
		req, err := http.NewRequest(method, base+"/a/r", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		bb, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("X-Cache"), string(bb)
	}
	for i, s := range []struct {
		base, method, accept string
		xcache, body         string
		// settle: another instance just invalidated; this one's front may
		// hold the old entry until the message arrives (milliseconds; at
		// most 2s), so hits on it are skipped first.
		settle bool
	}{
		{one, "GET", "a", "MISS", "v1", false},
		{two, "GET", "a", "HIT", "v1", false},
		{two, "GET", "b", "MISS", "v2", false}, // another variant
		{one, "GET", "b", "HIT", "v2", false},
		{one, "GET", "a", "HIT", "v1", false},
		{two, "DELETE", "a", "", "v3", false}, // invalidates every variant
		{one, "GET", "a", "MISS", "v4", true},
		{two, "GET", "b", "MISS", "v5", false},
	} {
		x, body := get(s.base, s.method, s.accept)
		for deadline := time.Now().Add(2 * time.Second); s.settle && x == "HIT" && body == "v1" && time.Now().Before(deadline); {
			x, body = get(s.base, s.method, s.accept)
		}
		if x != s.xcache || body != s.body {
			t.Errorf("step %d: %s on instance %v: got %q %q, want %q %q", i+1, s.method, s.base == two, x, body, s.xcache, s.body)
		}
	}

	// Redis down: requests still pass to the backend, nothing is stored.
	rs.Stop()
	for i := range 3 {
		if x, body := get(one, "GET", "c"); x != "MISS" || body == "" {
			t.Errorf("redis down, request %d: got %q %q, want a MISS from the backend", i+1, x, body)
		}
	}
	// Back up: the store reconnects by itself (probing with backoff up to
	// 1s); within a bounded wait a stored response is shared again.
	rs.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(one, "GET", "d")
		if x, again := get(two, "GET", "d"); x == "HIT" && again == body {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("after Redis came back, no response was shared within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
