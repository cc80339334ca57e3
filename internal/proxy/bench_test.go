package proxy

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/upstream"
)

// benchBodySize is the response body the benchmark backends send.
const benchBodySize = 1024

// cannedBackend serves every request head it reads on 127.0.0.1 with a
// canned 200 response carrying a 1 KiB body. It allocates per connection
// only, never per request, so a benchmark's allocs/op are the proxy's own.
// It reads heads only: requests must not have bodies.
func cannedBackend(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: " +
		strconv.Itoa(benchBodySize) + "\r\n\r\n")
	resp = append(resp, bytes.Repeat([]byte{'a'}, benchBodySize)...)
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveCanned(c, resp)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// serveCanned answers each "\r\n\r\n"-terminated head read from c with resp.
func serveCanned(c net.Conn, resp []byte) {
	defer c.Close()
	buf := make([]byte, 4096)
	const end = "\r\n\r\n"
	matched := 0 // bytes of end matched so far, across reads
	for {
		n, err := c.Read(buf)
		heads := 0
		for _, ch := range buf[:n] {
			switch {
			case ch == end[matched]:
				matched++
			case ch == end[0]:
				matched = 1
			default:
				matched = 0
			}
			if matched == len(end) {
				heads++
				matched = 0
			}
		}
		for ; heads > 0; heads-- {
			if _, werr := c.Write(resp); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// discardWriter is a minimal http.ResponseWriter: it keeps the header map
// across requests (cleared by the caller) and counts body bytes.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// reset prepares w for the next request.
func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// benchRequest is a typical GET as the net/http server hands it to a
// handler: a cancellable context and a few common fields.
func benchRequest(tb testing.TB, ctx context.Context) *http.Request {
	tb.Helper()
	r, err := http.NewRequestWithContext(ctx, "GET", "http://gw.example/api/bytes?n=1024", nil)
	if err != nil {
		tb.Fatal(err)
	}
	r.RemoteAddr = "192.0.2.1:40000"
	r.RequestURI = "/api/bytes?n=1024"
	r.Header.Set("User-Agent", "bench/1.0")
	r.Header.Set("Accept", "*/*")
	r.Header.Set("Accept-Encoding", "gzip")
	r.Header.Set("Authorization", "Bearer 0123456789abcdef")
	return r
}

// benchTarget builds a target for url with the default transport settings.
func benchTarget(tb testing.TB, url string) *upstream.Target {
	tb.Helper()
	cfg, err := config.Parse("bench.yaml", []byte("apis:\n  - name: b\n    base_path: /api\n    target:\n      endpoints: ["+url+"]\n"))
	if err != nil {
		tb.Fatal(err)
	}
	reg := connpool.NewRegistry()
	t, err := upstream.New(context.Background(), cfg.APIs[0].Target, upstream.Deps{Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(reg.Close)
	return t
}

// BenchmarkForward measures Forwarder.Forward alone (no routing, no request
// log) for a GET with a 1 KiB response over a pooled loopback connection.
// The backend allocates nothing per request, so allocs/op are the
// forwarder's.
func BenchmarkForward(b *testing.B) {
	t := benchTarget(b, cannedBackend(b))
	f := New()
	b.ReportAllocs()
	b.SetBytes(benchBodySize)
	b.RunParallel(func(pb *testing.PB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := benchRequest(b, ctx)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			w.reset()
			rec := telemetry.Record{RequestID: "0123456789abcdef0123456789abcdef"}
			if err := f.Forward(w, r, t, "/bytes", &rec); err != nil {
				b.Error(err)
				return
			}
			if w.status != http.StatusOK || w.n != benchBodySize {
				b.Errorf("got %d with %d bytes, want 200 with %d", w.status, w.n, benchBodySize)
				return
			}
		}
	})
}

// BenchmarkAppendRequestHead measures writing a typical outbound head into
// a reused buffer.
func BenchmarkAppendRequestHead(b *testing.B) {
	r := benchRequest(b, context.Background())
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("Connection", "keep-alive")
	ep := &upstream.Endpoint{Scheme: "http", Host: "backend:8080", Path: "/v1"}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRequestHead(buf[:0], r, ep, "/bytes", "0123456789abcdef0123456789abcdef")
	}
}

// BenchmarkCopyResponseHeader measures moving a typical response head into
// the client's header map.
func BenchmarkCopyResponseHeader(b *testing.B) {
	src := http.Header{
		"Content-Type":   {"application/json"},
		"Content-Length": {"1024"},
		"Date":           {"Mon, 02 Jan 2006 15:04:05 GMT"},
		"Keep-Alive":     {"timeout=5"},
		"Cache-Control":  {"no-cache"},
	}
	dst := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		clear(dst)
		copyResponseHeader(dst, src)
	}
}
