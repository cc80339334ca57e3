package dialer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// safety bounds how long a test server waits on a client that misbehaves;
// a correct dialer never gets near it.
const safety = 5 * time.Second

// server is a peer.Server (a handler per connection on 127.0.0.1, all
// closed when the test ends) as a destination.
type server struct{ *peer.Server }

func serve(t testing.TB, handle func(net.Conn)) server { return server{peer.Serve(t, handle)} }

// dest is a plain destination for the listener.
func (s server) dest() connpool.Dest { return connpool.Dest{Addr: s.Addr()} }

// echo copies everything it reads back to the writer.
func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// silent accepts and never says anything. It reports on closed whether the
// client closed the connection (true) or left it open until safety (false).
func silent(closed chan<- bool) func(net.Conn) {
	return func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(safety))
		_, err := io.Copy(io.Discard, c)
		select {
		case closed <- err == nil:
		default:
		}
	}
}

// proxyMode is how the test proxy answers a CONNECT.
type proxyMode int

const (
	proxyTunnel    proxyMode = iota // 200, then splice to the target
	proxyRefuse                     // 407
	proxyExtra                      // 200 followed by bytes in the same write
	proxySilent                     // read the CONNECT, answer nothing
	proxyMalformed                  // not an HTTP response
	proxyHangUp                     // close without an answer
)

// proxy is a small CONNECT proxy that only tunnels to loopback targets.
type proxy struct {
	server
	mode      proxyMode
	connects  atomic.Int32
	mu        sync.Mutex
	targets   []string // CONNECT targets, in order
	auth      []string // Proxy-Authorization values, in order
	closed    chan bool
	connected chan struct{} // one send per CONNECT received, when there is room
}

func newProxy(t *testing.T, mode proxyMode) *proxy {
	p := &proxy{mode: mode, closed: make(chan bool, 1), connected: make(chan struct{}, 8)}
	p.server = serve(t, p.handle)
	return p
}

func (p *proxy) handle(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(safety))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.connects.Add(1)
	p.mu.Lock()
	p.targets = append(p.targets, req.Host)
	p.auth = append(p.auth, req.Header.Get("Proxy-Authorization"))
	p.mu.Unlock()
	select {
	case p.connected <- struct{}{}:
	default:
	}
	switch p.mode {
	case proxyRefuse:
		_, _ = io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n")
		return
	case proxyExtra:
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nsurprise")
		_, _ = io.Copy(io.Discard, br)
		return
	case proxySilent:
		silent(p.closed)(c)
		return
	case proxyMalformed:
		_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
		return
	case proxyHangUp:
		return
	}
	ap, err := netip.ParseAddrPort(req.Host)
	if err != nil || !ap.Addr().IsLoopback() { // never leave this machine
		_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", ap.String(), safety)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer func() { _ = up.Close() }()
	_ = c.SetReadDeadline(time.Time{})
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, br)
		_ = up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}

// dialKind dials with f and returns the DialError's kind, failing the test
// if the dial succeeded or returned anything but a *connpool.DialError.
func dialKind(t *testing.T, ctx context.Context, f connpool.DialFunc) (connpool.DialKind, *connpool.DialError) {
	t.Helper()
	c, err := f(ctx)
	if err == nil {
		_ = c.Close()
		t.Fatal("dial succeeded, want an error")
	}
	if c != nil {
		t.Errorf("got conn %v with error, want nil", c)
	}
	de, ok := errors.AsType[*connpool.DialError](err)
	if !ok {
		t.Fatalf("got %T %v, want *connpool.DialError", err, err)
	}
	return de.Kind, de
}

// get sends one HTTP/1.1 request on c and returns the response body; it is
// also the exchange that hands a TLS 1.3 client its session ticket.
func get(t *testing.T, c net.Conn, path string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(safety))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: weir.test\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// kindName renders a DialKind for failure messages.
func kindName(k connpool.DialKind) string {
	switch k {
	case connpool.DialRefused:
		return "DialRefused"
	case connpool.DialTimeout:
		return "DialTimeout"
	case connpool.DialNoPorts:
		return "DialNoPorts"
	case connpool.DialTLS:
		return "DialTLS"
	case connpool.DialProxy:
		return "DialProxy"
	case connpool.DialOther:
		return "DialOther"
	}
	return fmt.Sprintf("DialKind(%d)", k)
}
