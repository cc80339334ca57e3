package cache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// sink is a reusable ResponseWriter that keeps nothing but the status.
type sink struct {
	h      http.Header
	status int
}

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) WriteHeader(code int)        { s.status = code }
func (s *sink) Write(b []byte) (int, error) { return len(b), nil }

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
	cfg, err := config.Parse("b.yaml", []byte(fmt.Sprintf(gatewayConfig, store, be.URL, policies)))
	if err != nil {
		b.Fatal(err)
	}
	st := gateway.NewState()
	snap, err := gateway.Build(context.Background(), cfg, st)
	if err != nil {
		b.Fatal(err)
	}
	srv := gateway.NewServer(st, snap, telemetry.NewRequestLog(io.Discard), io.Discard)
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

// serve runs b.N requests for /a/r through h, each wanting status 200 and
// X-Cache xcache ("" for none).
func serve(b *testing.B, h http.Handler, xcache string) {
	b.Helper()
	r := httptest.NewRequest("GET", "http://127.0.0.1/a/r", nil)
	w := &sink{h: http.Header{}}
	h.ServeHTTP(w, r) // warm: pools, and the cache entry
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, r)
		if w.status != 200 || w.h.Get("X-Cache") != xcache {
			b.Fatalf("got %d %q, want 200 %q", w.status, w.h.Get("X-Cache"), xcache)
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
	w := &sink{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.status != 200 || w.h.Get("X-Cache") != "MISS" {
			b.Fatalf("got %d %q, want 200 MISS", w.status, w.h.Get("X-Cache"))
		}
	}
}
