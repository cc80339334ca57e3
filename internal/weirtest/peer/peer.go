// Package peer runs, for tests, what weir talks to on either side, on
// loopback: backends that misbehave on purpose (a stale keep-alive
// connection, an idle close shorter than weir's, a close after N requests,
// a reset before or in the middle of a response, garbage, silence), raw
// TCP servers scripted per connection (Serve), TLS certificate files and
// backends, a real redis-server; on the client side Fetch, and for
// benchmarks a canned backend with a request, a response writer and a
// parallel loop that allocate nothing per request.
//
// It imports no weir package, so the tests of every package can use it,
// including the internal tests of the packages the gateway is built from.
// The whole-instance rig (package weirtest) sits above the gateway and
// builds on this one.
package peer

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a TCP server on a loopback address that runs a handler for
// each connection it accepts.
type Server struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// Serve runs handle for every connection accepted on a new 127.0.0.1
// listener, and closes the connection when handle returns. When the test
// ends it closes the listener and every open connection and waits for the
// handlers: a handler must return once its connection is closed.
func Serve(t testing.TB, handle func(net.Conn)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ServeListener(t, ln, handle)
}

// ServeListener is Serve on a listener the caller opened (one of Pair's,
// say); the server owns it from then on.
func ServeListener(t testing.TB, ln net.Listener, handle func(net.Conn)) *Server {
	s := &Server{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					_ = c.Close()
				}()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// Addr is the listener's address.
func (s *Server) Addr() netip.AddrPort { return s.ln.Addr().(*net.TCPAddr).AddrPort() }

// URL is "http://" and the listener's address, for an endpoint.
func (s *Server) URL() string { return "http://" + s.Addr().String() }

// Accepted is the number of connections accepted so far.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// FreeAddr returns a 127.0.0.1 address that was free a moment ago: a dial
// to it is refused, and a process started next may listen on it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// Pair listens on 127.0.0.1 and 127.0.0.2 with the same port, as one name
// resolving to two addresses would have them, and closes both listeners
// when the test ends.
func Pair(t testing.TB) (port int, one, two net.Listener) {
	t.Helper()
	for range 20 {
		ln1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln1.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
		if err != nil {
			_ = ln1.Close() // the port is taken on 127.0.0.2: try another
			continue
		}
		t.Cleanup(func() { _ = ln1.Close(); _ = ln2.Close() })
		return port, ln1, ln2
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return 0, nil, nil
}
