package peer

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Conns counts a backend's connections.
type Conns struct {
	Opened atomic.Int64 // accepted so far
	Open   atomic.Int64 // open now
	Peak   atomic.Int64 // the most open at once
}

// Track is an http.Server ConnState hook.
func (c *Conns) Track(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.Opened.Add(1)
		n := c.Open.Add(1)
		for {
			p := c.Peak.Load()
			if n <= p || c.Peak.CompareAndSwap(p, n) {
				break
			}
		}
	case http.StateClosed, http.StateHijacked:
		c.Open.Add(-1)
	}
}

// Backend is an httptest server whose connections are counted.
type Backend struct {
	*httptest.Server
	Conns Conns
}

// HTTP starts a Backend with h on 127.0.0.1; tune, if not nil, adjusts
// its http.Server first (IdleTimeout does the common case). It is closed
// when the test ends.
func HTTP(t testing.TB, h http.HandlerFunc, tune func(*http.Server)) *Backend {
	t.Helper()
	return HTTPOn(t, nil, h, tune)
}

// HTTPOn is HTTP on a listener the caller opened (nil: a new one on
// 127.0.0.1).
func HTTPOn(t testing.TB, ln net.Listener, h http.HandlerFunc, tune func(*http.Server)) *Backend {
	t.Helper()
	b := &Backend{Server: httptest.NewUnstartedServer(h)}
	if ln != nil {
		_ = b.Listener.Close()
		b.Listener = ln
	}
	b.Config.ConnState = b.Conns.Track
	if tune != nil {
		tune(b.Config)
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// OK is a handler that reads the request body and answers "ok".
func OK(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = io.WriteString(w, "ok")
}

// IdleTimeout is an HTTP tune: the backend closes keep-alive
// connections idle longer than d, which is shorter than weir's when the
// test wants the stale keep-alive race.
func IdleTimeout(d time.Duration) func(*http.Server) {
	return func(s *http.Server) { s.IdleTimeout = d }
}

// okResponse is the raw answer of the scripted backends below.
const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// Stale answers the first request on each connection, keeps the connection
// open, and closes it when the second request arrives, without answering:
// the stale keep-alive race, every time.
func Stale(t testing.TB) *Server {
	t.Helper()
	return Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, okResponse)
		_, _ = http.ReadRequest(br) // then close unanswered
	})
}

// CloseAfter answers n requests on each connection and then closes it
// without saying so (no Connection: close), as a backend with a request
// cap per connection or a restart does. served counts the requests
// answered.
func CloseAfter(t testing.TB, n int) (s *Server, served *atomic.Int64) {
	t.Helper()
	served = &atomic.Int64{}
	return Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for range n {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			served.Add(1)
			_, _ = io.WriteString(c, okResponse)
		}
	}), served
}

// Hang accepts connections, reads what arrives and never answers, until
// the client or the end of the test closes them.
func Hang(t testing.TB) *Server {
	t.Helper()
	return Serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
}

// ResetBeforeResponse reads a request head and resets the connection
// before any response byte.
func ResetBeforeResponse(t testing.TB) *Server {
	t.Helper()
	return answer(t, "", true)
}

// ResetMidBody sends a response head announcing 100 bytes and 7 of them,
// then resets the connection.
func ResetMidBody(t testing.TB) *Server {
	t.Helper()
	return answer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", true)
}

// Garbage answers a request with bytes that are not HTTP, and closes.
func Garbage(t testing.TB) *Server {
	t.Helper()
	return answer(t, "NOT HTTP\r\n\r\n", false)
}

// answer reads a request head, writes raw, then closes the connection:
// with a reset when rst is set (raw leaves first), else with a FIN.
func answer(t testing.TB, raw string, rst bool) *Server {
	t.Helper()
	return Serve(t, func(c net.Conn) {
		ReadHead(c)
		if raw != "" {
			_, _ = io.WriteString(c, raw)
			if rst {
				time.Sleep(50 * time.Millisecond) // the bytes leave before the reset
			}
		}
		if rst {
			_ = c.(*net.TCPConn).SetLinger(0) // Serve's close is then a reset
		}
	})
}

// ReadHead consumes a request head from c (up to the empty line).
func ReadHead(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			return
		}
	}
}
