package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// These benchmarks put weir side by side with net/http/httputil's
// ReverseProxy, in one process, against the same loopback backend:
//
//   - BenchmarkProxy: the whole path, client -> front server -> proxy ->
//     backend, over real keep-alive connections. Its allocs/op include the
//     client, both servers and the backend.
//   - BenchmarkHandler: the proxy handler's ServeHTTP called directly with a
//     pre-built request and a minimal ResponseWriter, against a backend
//     that allocates nothing per request, so allocs/op are the proxy's own.
//
// Both proxies get the same settings where they have one: keep-alive to the
// backend with plenty of idle connections, a 3 s connect timeout, a 55 s
// response-header timeout (weir's defaults). "reverseproxy-bufpool" adds
// the usual ReverseProxy tuning, a BufferPool. Each sub-benchmark also
// reports cpu-ns/op, the process CPU time (all threads, user + system) per
// request, read from /proc/self/stat: the fairest figure on a small, noisy
// machine.
//
// Run: go test -run '^$' -bench . -benchmem ./internal/gateway/

const (
	// benchBodySize is the response body the benchmark backends send.
	benchBodySize = 1024
	// benchParallelism multiplies GOMAXPROCS into the number of concurrent
	// clients of BenchmarkProxy (16 on 2 cores).
	benchParallelism = 8
	// benchIdle is the idle connection budget of clients and proxies:
	// comfortably above the number of concurrent requests.
	benchIdle = 256
)

// netHTTPBackend is a keep-alive net/http server answering every request
// with a 1 KiB body.
func netHTTPBackend(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	body := bytes.Repeat([]byte{'a'}, benchBodySize)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(benchBodySize))
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	go labelled("backend", func() { _ = srv.Serve(ln) })
	tb.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// labelled runs f with the profiler label party=party, which every
// goroutine f starts inherits (a server's connections, a client's
// transport), so a CPU profile can be split by party:
//
//	go test -run '^$' -bench 'Proxy/weir$' -cpuprofile cpu.out ./internal/gateway/
//	go tool pprof -tagfocus party=proxy -top cpu.out
func labelled(party string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("party", party), func(context.Context) { f() })
}

// benchWeir builds a weir Server for one API (/api -> backend) with the
// default transport settings. logw receives the request log (nil: none).
func benchWeir(tb testing.TB, backend string, logw io.Writer) *gateway.Server {
	tb.Helper()
	return weirtest.Start(tb, weirtest.API("", backend), weirtest.WithRequestLog(logw)).Server
}

// benchReverseProxy is httputil.ReverseProxy doing what weir does for the
// benchmark's API: strip /api, send to backend, set X-Forwarded-*, keep
// connections alive with a pool as large as the client's. pooled gives it
// a BufferPool, so it stops allocating a 32 KiB copy buffer per request.
func benchReverseProxy(tb testing.TB, backend string, pooled bool) *httputil.ReverseProxy {
	tb.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		tb.Fatal(err)
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		MaxIdleConns:          benchIdle,
		MaxIdleConnsPerHost:   benchIdle,
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: 55 * time.Second,
		// Send the client's Accept-Encoding as it is, as weir does.
		DisableCompression: true,
	}
	tb.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/api")
			pr.Out.URL.RawPath = ""
			pr.SetXForwarded()
		},
		Transport: tr,
	}
	if pooled {
		rp.BufferPool = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	}
	return rp
}

// bufferPool is an httputil.BufferPool over a sync.Pool.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte  { return *bp.p.Get().(*[]byte) }
func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

// processCPU returns the CPU time (user + system, all threads) this process
// has used, from /proc/self/stat; ok is false where that is not available.
// Its resolution is one clock tick (10 ms), fine over a benchmark run.
func processCPU() (d time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(ut+st) * tick, true
}

// measureCPU runs f and reports the process CPU time per op as
// "cpu-ns/op": on a small, noisy machine the fairest figure, since it does
// not depend on how much of the wall time the scheduler gave us.
func measureCPU(b *testing.B, f func()) {
	before, ok := processCPU()
	f()
	after, ok2 := processCPU()
	if ok && ok2 && b.N > 0 {
		b.ReportMetric(float64(after-before)/float64(b.N), "cpu-ns/op")
	}
}

// frontServer serves h on a loopback listener with the http.Server settings
// weir's NewServer uses, and returns its base URL.
func frontServer(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	go labelled("proxy", func() { _ = srv.Serve(ln) })
	tb.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// serveWeir runs srv on a loopback listener and returns its base URL.
func serveWeir(tb testing.TB, srv *gateway.Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go labelled("proxy", func() { _ = srv.Serve(ln) })
	return "http://" + ln.Addr().String()
}

// BenchmarkProxy measures whole requests through each proxy: a keep-alive
// client, the proxy behind a net/http server, and a net/http backend, all
// in this process over loopback. ns/op is wall time per request with
// GOMAXPROCS*8 concurrent clients; B/op and allocs/op cover every party.
func BenchmarkProxy(b *testing.B) {
	backend := netHTTPBackend(b)
	proxies := []struct {
		name  string
		front func(b *testing.B) string
	}{
		{"weir", func(b *testing.B) string { return serveWeir(b, benchWeir(b, backend, io.Discard)) }},
		{"reverseproxy", func(b *testing.B) string { return frontServer(b, benchReverseProxy(b, backend, false)) }},
		{"reverseproxy-bufpool", func(b *testing.B) string { return frontServer(b, benchReverseProxy(b, backend, true)) }},
	}
	for _, p := range proxies {
		b.Run(p.name, func(b *testing.B) {
			url := p.front(b) + "/api/bytes"
			tr := &http.Transport{MaxIdleConns: benchIdle, MaxIdleConnsPerHost: benchIdle, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			b.ReportAllocs()
			b.SetBytes(benchBodySize)
			b.SetParallelism(benchParallelism)
			b.ResetTimer()
			measureCPU(b, func() {
				b.RunParallel(func(pb *testing.PB) {
					pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("party", "client")))
					buf := make([]byte, 2*benchBodySize)
					for pb.Next() {
						resp, err := client.Get(url)
						if err != nil {
							b.Error(err)
							return
						}
						n, _ := io.ReadFull(resp.Body, buf)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK || n != benchBodySize {
							b.Errorf("got %d with %d bytes, want 200 with %d", resp.StatusCode, n, benchBodySize)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkHandler measures each proxy's ServeHTTP alone: the request is
// built once per goroutine (as the net/http server would hand it over, with
// a cancellable context) and the response goes to a minimal writer. The
// backend allocates nothing per request, so B/op and allocs/op compare the
// proxies themselves. "weir" writes its JSON request log to io.Discard
// (encoding included); "weir-nolog" has no request log.
func BenchmarkHandler(b *testing.B) {
	backend := peer.Canned(b, benchBodySize)
	proxies := []struct {
		name    string
		handler func(b *testing.B) http.Handler
	}{
		{"weir", func(b *testing.B) http.Handler { return benchWeir(b, backend, io.Discard) }},
		{"weir-nolog", func(b *testing.B) http.Handler { return benchWeir(b, backend, nil) }},
		{"reverseproxy", func(b *testing.B) http.Handler { return benchReverseProxy(b, backend, false) }},
		{"reverseproxy-bufpool", func(b *testing.B) http.Handler { return benchReverseProxy(b, backend, true) }},
	}
	for _, p := range proxies {
		b.Run(p.name, func(b *testing.B) {
			h := p.handler(b)
			b.ReportAllocs()
			b.SetBytes(benchBodySize)
			b.ResetTimer()
			measureCPU(b, func() {
				peer.RunParallel(b, benchBodySize, func(w *peer.Sink, r *http.Request) error {
					h.ServeHTTP(w, r)
					return nil
				})
			})
		})
	}
}
