package lab

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest/peer"
)

// startProxy serves the proxy on a loopback port until the test ends.
func startProxy(t *testing.T) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeProxy(ctx, ln, time.Second) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeProxy: got %v, want nil after cancel", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return ln.Addr().String(), stop
}

// connect sends "CONNECT target" to the proxy and returns the connection
// and the status line of the answer.
func connect(t *testing.T, proxy, target, method string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the proxy's answer: %v", err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
	}
	return c, br, strings.TrimSpace(line)
}

func TestProxyTunnels(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "through "+r.URL.Path)
	}))
	defer backend.Close()
	proxy, _ := startProxy(t)
	target := strings.TrimPrefix(backend.URL, "http://")

	c, br, status := connect(t, proxy, target, "CONNECT")
	if status != "HTTP/1.1 200 Connection established" {
		t.Fatalf("got %q, want 200", status)
	}
	// Two requests on one tunnel: the tunnel is one kept-alive connection.
	for _, p := range []string{"/a", "/b"} {
		if _, err := io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "through "+p {
			t.Errorf("got %q, want %q", body, "through "+p)
		}
	}
}

func TestProxyRefuses(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	proxy, _ := startProxy(t)
	for _, tt := range []struct {
		name, method, target, want string
	}{
		{"not CONNECT", "GET", "http://example.invalid/", "HTTP/1.1 405 Method Not Allowed"},
		{"nothing listens", "CONNECT", closedAddr, "HTTP/1.1 502 Bad Gateway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, status := connect(t, proxy, tt.target, tt.method)
			if status != tt.want {
				t.Errorf("got %q, want %q", status, tt.want)
			}
		})
	}
}

// TestProxyStopClosesTunnels: cancelling the proxy ends open tunnels.
func TestProxyStopClosesTunnels(t *testing.T) {
	backend := peer.Hang(t)
	proxy, stop := startProxy(t)
	c, br, status := connect(t, proxy, backend.Addr().String(), "CONNECT")
	if !strings.Contains(status, " 200 ") {
		t.Fatalf("got %q, want 200", status)
	}
	stop()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("read on a tunnel after the proxy stopped: got %v, want EOF", err)
	}
}
