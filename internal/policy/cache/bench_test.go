package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// benchServer builds a gateway (policies under API /a, in front of a
// backend answering 1 KiB with max-age=3600) and returns its handler.
func benchServer(b *testing.B, store, policies string) http.Handler {
	b.Helper()
	body := strings.Repeat("x", 1024)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	b.Cleanup(be.Close)
	yaml := fmt.Sprintf(gatewayConfig, store, be.URL, policies)
	return weirtest.Start(b, yaml, weirtest.WithRequestLog(io.Discard)).Server
}

// serve runs b.N requests for /a/r through h, each wanting status 200 and
// X-Cache xcache ("" for none).
func serve(b *testing.B, h http.Handler, xcache string) {
	b.Helper()
	r := httptest.NewRequest("GET", "http://127.0.0.1/a/r", nil)
	w := peer.NewSink()
	h.ServeHTTP(w, r) // warm: pools, and the cache entry
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, r)
		if w.Status != 200 || w.H.Get("X-Cache") != xcache {
			b.Fatalf("got %d %q, want 200 %q", w.Status, w.H.Get("X-Cache"), xcache)
		}
	}
}

// BenchmarkProxied is a request weir forwards to the backend (no policy):
// the baseline a cache hit must beat.
func BenchmarkProxied(b *testing.B) {
	serve(b, benchServer(b, "", ""), "")
}

// BenchmarkCacheHit is a request answered from the memory storage.
func BenchmarkCacheHit(b *testing.B) {
	serve(b, benchServer(b, "", defaultPolicies), "HIT")
}

// BenchmarkCacheHitRedis is a request answered from a Redis storage (one
// round trip to a local redis-server, and decoding).
func BenchmarkCacheHitRedis(b *testing.B) {
	rs := peer.Redis(b)
	serve(b, benchServer(b, fmt.Sprintf("store: {kind: redis, address: %q}", rs.Addr), defaultPolicies), "HIT")
}

// BenchmarkCacheMiss is a request forwarded through the cache that does
// not store (request no-store): the policy's cost on a miss.
func BenchmarkCacheMiss(b *testing.B) {
	h := benchServer(b, "", defaultPolicies)
	r := httptest.NewRequest("GET", "http://127.0.0.1/a/r", nil)
	r.Header.Set("Cache-Control", "no-store")
	w := peer.NewSink()
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, r)
		if w.Status != 200 || w.H.Get("X-Cache") != "MISS" {
			b.Fatalf("got %d %q, want 200 MISS", w.Status, w.H.Get("X-Cache"))
		}
	}
}
