package peer

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

const get = "GET / HTTP/1.1\r\nHost: peer.test\r\n\r\n"

// exchange dials s, writes req, half-closes (so a reader of the whole
// stream stops), and returns every byte the server sent and how the
// stream ended (nil: a clean EOF).
func exchange(t *testing.T, s *Server, req string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	// A server that resets at once may already have torn the connection
	// down (ENOTCONN): the read below still tells how the stream ended.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil && !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestFaults: each scripted backend misbehaves the way its name says, on
// the wire.
func TestFaults(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, tt := range []struct {
		name      string
		start     func(t testing.TB) *Server
		req       string
		want      string
		wantReset bool
	}{
		{name: "reset before the response", start: ResetBeforeResponse, req: get, wantReset: true},
		{name: "reset mid-body", start: ResetMidBody, req: get, want: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", wantReset: true},
		{name: "garbage", start: Garbage, req: get, want: "NOT HTTP\r\n\r\n"},
		{name: "hang answers nothing", start: Hang, req: get},
		{name: "stale: the second request is not answered", start: Stale, req: get + get, want: ok},
		{name: "close after 2", start: func(t testing.TB) *Server { s, _ := CloseAfter(t, 2); return s }, req: get + get + get, want: ok + ok},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := exchange(t, tt.start(t), tt.req)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if reset := errors.Is(err, syscall.ECONNRESET); reset != tt.wantReset || (err != nil && !reset) {
				t.Errorf("end of stream: got %v, want reset %v", err, tt.wantReset)
			}
		})
	}
}

func TestCloseAfterCounts(t *testing.T) {
	s, served := CloseAfter(t, 2)
	for range 2 {
		exchange(t, s, get+get+get)
	}
	if n := served.Load(); n != 4 || s.Accepted() != 2 {
		t.Errorf("got %d served on %d connections, want 4 on 2", n, s.Accepted())
	}
}

// TestCanned: pipelined heads, split anywhere, each get the canned answer.
func TestCanned(t *testing.T) {
	url := Canned(t, 5)
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, part := range []string{get[:10], get[10:] + get[:len(get)-1], get[len(get)-1:]} {
		if _, err := io.WriteString(c, part); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(c)
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "aaaaa" || err != nil {
			t.Errorf("response %d: got %d %q %v, want 200 aaaaa", i, resp.StatusCode, b, err)
		}
	}
}

// TestHTTPCountsConns: a client with keep-alive off opens a connection
// per request, and the backend counts them.
func TestHTTPCountsConns(t *testing.T) {
	be := HTTP(t, OK, nil)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 3 {
		resp, body := Fetch(t, c, mustRequest(t, be.URL))
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, body)
		}
	}
	// Each connection is counted when the server takes it, before it
	// answers; its close is counted later, on the server's own time.
	if n := be.Conns.Opened.Load(); n != 3 {
		t.Errorf("opened: got %d, want 3", n)
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
