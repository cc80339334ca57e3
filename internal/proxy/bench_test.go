package proxy

import (
	"context"
	"net/http"
	"testing"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/upstream"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// benchBodySize is the response body the benchmark backends send.
const benchBodySize = 1024

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
	t := benchTarget(b, peer.Canned(b, benchBodySize))
	f := New()
	b.ReportAllocs()
	b.SetBytes(benchBodySize)
	peer.RunParallel(b, benchBodySize, func(w *peer.Sink, r *http.Request) error {
		rec := telemetry.Record{RequestID: "0123456789abcdef0123456789abcdef", ClientIP: "192.0.2.1"}
		return f.Forward(w, r, t, "/bytes", &rec)
	})
}

// BenchmarkAppendRequestHead measures writing a typical outbound head into
// a reused buffer.
func BenchmarkAppendRequestHead(b *testing.B) {
	r := peer.Request(b, context.Background())
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("Connection", "keep-alive")
	ep := &upstream.Endpoint{Scheme: "http", Host: "backend:8080", Path: "/v1"}
	c := &call{}
	c.fromClient(r, "/bytes", &telemetry.Record{RequestID: "0123456789abcdef0123456789abcdef", ClientIP: "192.0.2.1"})
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRequestHead(buf[:0], &c.req, ep)
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
