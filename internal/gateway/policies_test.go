package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// policyAPI is a config with one API at /api in front of endpoint, with
// the given policies block (indented under the API) and top-level extra.
func policyAPI(endpoint, policies, extra string) string {
	return fmt.Sprintf(`%s
apis:
  - name: t
    base_path: /api
    target:
      endpoints: [%s]
    policies:
%s
  - name: free
    base_path: /free
    target:
      endpoints: [%s]
`, extra, endpoint, policies, endpoint)
}

// get sends a GET with optional "Name: value" headers and returns the
// response with its body read.
func get(t *testing.T, c *http.Client, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, body := peer.Fetch(t, c, req)
	return resp, string(body)
}

func TestRateLimitResponses(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	g := weirtest.Start(t, policyAPI(be.URL, `
      inbound:
        - kind: rate-limit-by-key
          name: per-key
          calls: 2
          period: 1h
          key: [header:X-Api-Key]
`, ""))
	c := client(4)
	for i, want := range []string{"1", "0"} {
		resp, body := get(t, c, g.URL+"/api/x", "X-Api-Key: a")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("call %d: got %d %q, want 200 ok", i, resp.StatusCode, body)
		}
		if got := resp.Header.Get("RateLimit-Remaining"); got != want {
			t.Errorf("call %d: RateLimit-Remaining got %q, want %q", i, got, want)
		}
		if got := resp.Header.Get("RateLimit-Limit"); got != "2" {
			t.Errorf("call %d: RateLimit-Limit got %q, want 2", i, got)
		}
	}
	resp, _ := get(t, c, g.URL+"/api/x", "X-Api-Key: a")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third call: got %d, want 429", resp.StatusCode)
	}
	// 2 calls per hour: the next one conforms in 30 min, the bucket is full
	// again in an hour.
	for k, want := range map[string]string{"Retry-After": "1800", "RateLimit-Limit": "2", "RateLimit-Remaining": "0", "RateLimit-Reset": "3600", "RateLimit-Policy": "2;w=3600", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("429 %s: got %q, want %q", k, got, want)
		}
	}
	// Another key has its own bucket; an API without policies has none.
	if resp, _ := get(t, c, g.URL+"/api/x", "X-Api-Key: b"); resp.StatusCode != 200 {
		t.Errorf("other key: got %d, want 200", resp.StatusCode)
	}
	for range 5 {
		if resp, _ := get(t, c, g.URL+"/free/x", "X-Api-Key: a"); resp.StatusCode != 200 {
			t.Fatalf("API without policies: got %d, want 200", resp.StatusCode)
		}
	}
	if g.Server.Snapshot().HasChain(1) {
		t.Error("API without policies has a chain, want nil (no cost)")
	}
	waitFor(t, func() bool { return len(g.RequestLog.Records(t)) == 9 })
	r := g.RequestLog.Records(t)[2]
	if r["error"] != "RateLimitExceeded" || r["status"] != float64(429) || !strings.Contains(r["detail"].(string), "per-key") {
		t.Errorf("log of the 429: got %v, want error RateLimitExceeded, status 429, detail naming per-key", r)
	}
}

func TestErrorBodyOfRejection(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	g := weirtest.Start(t, policyAPI(be.URL, `
      inbound:
        - {kind: spike-arrest, rate: 1pm}
`, ""))
	c := client(1)
	get(t, c, g.URL+"/api/x")
	req, _ := http.NewRequest("GET", g.URL+"/api/x", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reason, id := errorBody(t, resp)
	if resp.StatusCode != 429 || reason != "RateLimitExceeded" || id == "" || resp.Header.Get("Retry-After") != "60" {
		t.Errorf("got %d %q id=%q Retry-After=%q, want 429 RateLimitExceeded with an id and Retry-After 60", resp.StatusCode, reason, id, resp.Header.Get("Retry-After"))
	}
}

// TestGatewayWidePolicies: a gateway-wide limit is shared by every API, and
// runs before the API's own.
func TestGatewayWidePolicies(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	g := weirtest.Start(t, policyAPI(be.URL, `
      inbound:
        - {kind: quota-by-key, name: api-quota, calls: 100, period: day}
`, `policies:
  inbound:
    - {kind: rate-limit-by-key, name: everyone, calls: 3, period: 1h, key: []}
`))
	c := client(2)
	codes := []int{}
	for _, p := range []string{"/api/a", "/free/b", "/api/c", "/free/d", "/api/e"} {
		resp, _ := get(t, c, g.URL+p)
		codes = append(codes, resp.StatusCode)
	}
	if want := []int{200, 200, 200, 429, 429}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", codes, want)
	}
}

func TestQuotaBytes(t *testing.T) {
	be := peer.HTTP(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 600))
	}, nil)
	g := weirtest.Start(t, policyAPI(be.URL, `
      inbound:
        - {kind: quota-by-key, name: bytes, bytes: 1KB, period: month, key: [query:user]}
`, ""))
	c := client(1)
	codes := []int{}
	for range 3 {
		resp, _ := get(t, c, g.URL+"/api/x?user=ann")
		codes = append(codes, resp.StatusCode)
	}
	// 600 bytes, then 1200 (over 1000: the crossing response is not cut),
	// then refused. Another user is untouched; so is an escaped spelling of
	// the same parameter... which is the same user.
	if want := []int{200, 200, 429}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", codes, want)
	}
	if resp, _ := get(t, c, g.URL+"/api/x?user=%61nn"); resp.StatusCode != 429 {
		t.Errorf("escaped spelling of the same key: got %d, want 429", resp.StatusCode)
	}
	if resp, _ := get(t, c, g.URL+"/api/x?user=bob"); resp.StatusCode != 200 {
		t.Errorf("other key: got %d, want 200", resp.StatusCode)
	}
}

// TestPoliciesReloadKeepsCounters: a reload with the same store and policy
// names keeps the counts.
func TestPoliciesReloadKeepsCounters(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	yaml := policyAPI(be.URL, `
      inbound:
        - {kind: rate-limit-by-key, name: rl, calls: 2, period: 1h}
`, "")
	g := weirtest.Start(t, yaml)
	c := client(1)
	get(t, c, g.URL+"/api/x")
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Server.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	codes := []int{}
	for range 2 {
		resp, _ := get(t, c, g.URL+"/api/x")
		codes = append(codes, resp.StatusCode)
	}
	if want := []int{200, 429}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("after reload: got %v, want %v (the count survived)", codes, want)
	}
}

// redisGateways starts n gateways (each its own State, so its own Redis
// client, as separate instances would be) sharing one Redis.
func redisGateways(t *testing.T, n int, policies string) ([]*weirtest.Instance, *peer.RedisServer) {
	t.Helper()
	rs := peer.Redis(t)
	be := peer.HTTP(t, peer.OK, nil)
	yaml := policyAPI(be.URL, policies, fmt.Sprintf("store: {kind: redis, address: %q, timeout: 200ms}", rs.Addr))
	var gws []*weirtest.Instance
	for range n {
		gws = append(gws, weirtest.Start(t, yaml))
	}
	return gws, rs
}

// TestRedisSharedLimit: two instances share one limit. 3x the limit is sent
// across both, concurrently; the allowed count is within the documented
// bound: at most calls + elapsed*calls/period (GCRA; calls taken in batches
// come from the same bucket), and with batch B at least calls - 2*(B-1)
// (leased calls left unspent are lost).
func TestRedisSharedLimit(t *testing.T) {
	const calls = 30
	for _, batch := range []int{1, 5} {
		t.Run("batch "+fmt.Sprint(batch), func(t *testing.T) {
			gws, _ := redisGateways(t, 2, fmt.Sprintf(`
      inbound:
        - {kind: rate-limit-by-key, name: shared, calls: %d, period: 1m, key: [header:X-Api-Key], batch: %d}
`, calls, batch))
			c := client(8)
			// A connection the client dialed but did not use would hold the
			// gateway's Shutdown for 5 s (net/http's grace for StateNew).
			t.Cleanup(c.CloseIdleConnections)
			start := time.Now()
			var mu sync.Mutex
			codes := map[int]int{}
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 3 * calls / 6 {
						resp, _ := get(t, c, gws[(w+i)%2].URL+"/api/x", "X-Api-Key: k")
						mu.Lock()
						codes[resp.StatusCode]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			lo, hi := calls-2*(batch-1), calls+int(elapsed*calls/time.Minute)+1
			if codes[200] < lo || codes[200] > hi || codes[200]+codes[429] != 3*calls {
				t.Errorf("got %v over %v, want %d..%d allowed and the rest 429", codes, elapsed, lo, hi)
			}
		})
	}
}

// TestRedisRestart: Redis stops mid-run and comes back. While it is down,
// on_store_error decides (allow lets calls through, deny answers 503
// StoreUnavailable) and nothing crashes; once it is back, each instance
// reconnects by itself and the limits apply again.
func TestRedisRestart(t *testing.T) {
	gws, rs := redisGateways(t, 2, `
      inbound:
        - {kind: rate-limit-by-key, name: open, calls: 2, period: 1h, key: [header:X-Open], when: {headers_present: [X-Open]}}
        - {kind: rate-limit-by-key, name: closed, calls: 1000, period: 1h, key: [header:X-Closed], on_store_error: deny, when: {headers_present: [X-Closed]}}
`)
	c := client(4)
	codes := func(g *weirtest.Instance, hdr string, n int) []int {
		var out []int
		for range n {
			resp, _ := get(t, c, g.URL+"/api/x", hdr)
			out = append(out, resp.StatusCode)
		}
		return out
	}
	if got := codes(gws[0], "X-Open: a", 1); fmt.Sprint(got) != "[200]" {
		t.Fatalf("before: got %v", got)
	}
	if got := codes(gws[1], "X-Open: a", 2); fmt.Sprint(got) != "[200 429]" {
		t.Fatalf("before, second instance: got %v, want [200 429] (shared limit)", got)
	}

	rs.Stop()
	// allow: over the limit, yet let through while the store is away.
	for i, g := range gws {
		if got := codes(g, "X-Open: a", 3); fmt.Sprint(got) != "[200 200 200]" {
			t.Errorf("instance %d, Redis down, on_store_error allow: got %v, want all 200", i, got)
		}
		resp, body := get(t, c, g.URL+"/api/x", "X-Closed: z")
		if resp.StatusCode != 503 || !strings.Contains(body, "StoreUnavailable") {
			t.Errorf("instance %d, Redis down, on_store_error deny: got %d %s, want 503 StoreUnavailable", i, resp.StatusCode, body)
		}
	}
	for _, g := range gws {
		st := g.State.Stores.Stats()
		if len(st) != 1 || st[0].Available || st[0].Outages == 0 {
			t.Errorf("store stats while down: got %+v, want unavailable with an outage", st)
		}
	}

	rs.Start() // empty: Redis here keeps nothing on disk
	for i, g := range gws {
		waitFor(t, func() bool { return g.State.Stores.Stats()[0].Available })
		if got := codes(g, "X-Closed: z", 1); fmt.Sprint(got) != "[200]" {
			t.Errorf("instance %d after restart, deny policy: got %v, want [200]", i, got)
		}
	}
	if got := append(codes(gws[0], "X-Open: b", 2), codes(gws[1], "X-Open: b", 1)...); fmt.Sprint(got) != "[200 200 429]" {
		t.Errorf("after restart: got %v, want [200 200 429] (shared limit again)", got)
	}
}

func TestStoreMetrics(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	g := weirtest.Start(t, policyAPI(be.URL, `
      inbound:
        - {kind: rate-limit-by-key, calls: 1, period: 1h}
`, ""))
	c := client(1)
	get(t, c, g.URL+"/api/x")
	get(t, c, g.URL+"/api/x")
	rr := httptest.NewRecorder()
	g.State.Metrics.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	body := rr.Body.String()
	for _, want := range []string{
		`weir_store_operations_total{kind="memory"} 2`,
		`weir_store_available{kind="memory"} 1`,
		`weir_store_keys{kind="memory"} 1`,
		`weir_http_requests_total{api="t",reason="RateLimitExceeded",status_class="4xx"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
