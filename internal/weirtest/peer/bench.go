package peer

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// Canned serves every request head it reads with a canned 200 response
// carrying a body of size bytes. It allocates per connection only, never
// per request, so a benchmark's allocs/op are the proxy's own. It reads
// heads only: requests must not have bodies. It returns the backend's URL.
func Canned(tb testing.TB, size int) string {
	tb.Helper()
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: " +
		strconv.Itoa(size) + "\r\n\r\n")
	resp = append(resp, bytes.Repeat([]byte{'a'}, size)...)
	return Serve(tb, func(c net.Conn) { serveCanned(c, resp) }).URL()
}

// serveCanned answers each "\r\n\r\n"-terminated head read from c with resp.
func serveCanned(c net.Conn, resp []byte) {
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

// Sink is a minimal http.ResponseWriter for benchmarks: it keeps its
// header map across requests (Reset clears it) and keeps nothing of the
// body but its length.
type Sink struct {
	H      http.Header
	Status int // the status written, 0 before WriteHeader
	N      int // body bytes written
}

// NewSink returns a Sink with an empty header map.
func NewSink() *Sink { return &Sink{H: http.Header{}} }

// Header returns the header map.
func (s *Sink) Header() http.Header { return s.H }

// WriteHeader records code.
func (s *Sink) WriteHeader(code int) { s.Status = code }

// Write counts p.
func (s *Sink) Write(p []byte) (int, error) { s.N += len(p); return len(p), nil }

// Reset prepares s for the next request.
func (s *Sink) Reset() {
	clear(s.H)
	s.Status, s.N = 0, 0
}

// Request is a typical GET as the net/http server hands it to a handler:
// a cancellable context (ctx), a client address and a few common header
// fields, for /api/bytes?n=1024 on host gw.example.
func Request(tb testing.TB, ctx context.Context) *http.Request {
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

// RunParallel runs b.N requests through serve from b.RunParallel's
// goroutines, each with its own Request (its context cancelled when the
// goroutine ends) and Sink, and fails the benchmark at the first error or
// answer other than 200 with a body of size bytes.
func RunParallel(b *testing.B, size int, serve func(w *Sink, r *http.Request) error) {
	b.RunParallel(func(pb *testing.PB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := Request(b, ctx)
		w := NewSink()
		for pb.Next() {
			w.Reset()
			if err := serve(w, r); err != nil {
				b.Error(err)
				return
			}
			if w.Status != http.StatusOK || w.N != size {
				b.Errorf("got %d with %d bytes, want 200 with %d", w.Status, w.N, size)
				return
			}
		}
	})
}
