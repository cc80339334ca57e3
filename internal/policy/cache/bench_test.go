package cache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
// X-Cache xcache ("" for none). It reports the CPU time per request
// (cpu-ns/op) of this process (weir, and the in-process backend that
// answers a miss) and of rs, the redis-server answering a Redis hit, when
// given: what a request costs the machine, wherever it is spent.
func serve(b *testing.B, h http.Handler, xcache string, rs *peer.RedisServer) {
	b.Helper()
	r := httptest.NewRequest("GET", "http://127.0.0.1/a/r", nil)
	w := peer.NewSink()
	h.ServeHTTP(w, r) // warm: pools, and the cache entry
	b.ReportAllocs()
	cpu := startCPU(b, rs)
	b.ResetTimer()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, r)
		if w.Status != 200 || w.H.Get("X-Cache") != xcache {
			b.Fatalf("got %d %q, want 200 %q", w.Status, w.H.Get("X-Cache"), xcache)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu()/time.Nanosecond)/float64(b.N), "cpu-ns/op")
}

// startCPU starts measuring the CPU time of this process and of rs (nil:
// none); the function it returns gives the time used since.
func startCPU(b *testing.B, rs *peer.RedisServer) func() time.Duration {
	b.Helper()
	var rc *redis.Client
	if rs != nil {
		rc = redis.NewClient(&redis.Options{Addr: rs.Addr})
		b.Cleanup(func() { _ = rc.Close() })
	}
	used := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		d := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if rc != nil {
			info, err := rc.Info(context.Background(), "cpu").Result()
			if err != nil {
				b.Fatal(err)
			}
			for _, line := range strings.Split(info, "\n") {
				k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
				if k == "used_cpu_sys" || k == "used_cpu_user" {
					secs, _ := strconv.ParseFloat(v, 64)
					d += time.Duration(secs * float64(time.Second))
				}
			}
		}
		return d
	}
	start := used()
	return func() time.Duration { return used() - start }
}

// BenchmarkProxied is a request weir forwards to the backend (no policy):
// the baseline a cache hit must beat.
func BenchmarkProxied(b *testing.B) {
	serve(b, benchServer(b, "", ""), "", nil)
}

// BenchmarkCacheHit is a request answered from the memory storage.
func BenchmarkCacheHit(b *testing.B) {
	serve(b, benchServer(b, "", defaultPolicies), "HIT", nil)
}

// BenchmarkCacheHitRedis is a request answered from a Redis storage: from
// its in-memory front, as a hot entry is.
func BenchmarkCacheHitRedis(b *testing.B) {
	rs := peer.Redis(b)
	serve(b, benchServer(b, fmt.Sprintf("store: {kind: redis, address: %q}", rs.Addr), defaultPolicies), "HIT", rs)
}

// BenchmarkCacheHitRedisNoFront is a Redis hit without the front
// (cache_front_bytes: 0): one round trip to a local redis-server, and
// decoding; more CPU than BenchmarkProxied's whole backend round trip.
func BenchmarkCacheHitRedisNoFront(b *testing.B) {
	rs := peer.Redis(b)
	serve(b, benchServer(b, fmt.Sprintf("store: {kind: redis, address: %q, cache_front_bytes: 0}", rs.Addr), defaultPolicies), "HIT", rs)
}

// BenchmarkCacheMiss is a request forwarded through the cache that does
// not store (request no-store): the policy's cost on a miss.
func BenchmarkCacheMiss(b *testing.B) {
	h := benchServer(b, "", defaultPolicies)
	r := httptest.NewRequest("GET", "http://127.0.0.1/a/r", nil)
	r.Header.Set("Cache-Control", "no-store")
	w := peer.NewSink()
	b.ReportAllocs()
	cpu := startCPU(b, nil)
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, r)
		if w.Status != 200 || w.H.Get("X-Cache") != "MISS" {
			b.Fatalf("got %d %q, want 200 MISS", w.Status, w.H.Get("X-Cache"))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu()/time.Nanosecond)/float64(b.N), "cpu-ns/op")
}
