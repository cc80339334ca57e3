package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startBackend serves a Backend on n ports for the test's duration.
func startBackend(t *testing.T, n int) *Backend {
	t.Helper()
	b, err := NewBackend(n)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: got %v, want nil after the context ended", err)
		}
	})
	return b
}

// exchange writes raw to a new connection to addr and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) ([]*http.Response, []string, *bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resps []*http.Response
	var bodies []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading response %d: %v", len(resps)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading body %d: %v", len(resps)+1, err)
		}
		resps = append(resps, resp)
		bodies = append(bodies, string(body))
	}
	return resps, bodies, br, c
}

func TestBackendAnswers(t *testing.T) {
	b := startBackend(t, 2)
	addrs := b.Addrs()

	// Two requests on one keep-alive connection, the first with a chunked
	// body; then one that asks the backend to close.
	raw := "POST /bench?size=3 HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" +
		"GET /bench?size=30&max_age=60 HTTP/1.1\r\nHost: b\r\n\r\n" +
		"GET /bench?size=0&close=1 HTTP/1.1\r\nHost: b\r\n\r\n"
	resps, bodies, br, _ := exchange(t, addrs[0], raw, 3)
	if got, want := bodies[0], "abc"; got != want {
		t.Errorf("body 1: got %q, want %q", got, want)
	}
	if got, want := bodies[1], "abcdefghijklmnopqrstuvwxyzabcd"; got != want {
		t.Errorf("body 2: got %q, want %q", got, want)
	}
	if got, want := resps[1].Header.Get("Cache-Control"), "public, max-age=60"; got != want {
		t.Errorf("Cache-Control: got %q, want %q", got, want)
	}
	if resps[0].Header.Get("Cache-Control") != "" || resps[0].Header.Get("Date") == "" {
		t.Errorf("response 1 headers %v: want a Date and no Cache-Control", resps[0].Header)
	}
	if !resps[2].Close || bodies[2] != "" {
		t.Errorf("response 3: got close %v, body %q; want Connection: close and no body", resps[2].Close, bodies[2])
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after Connection: close, got %d bytes and %v, want io.EOF", n, err)
	}

	// A 1 MiB response (bigger than the buffered first write) and a
	// delayed one on the second port.
	_, bodies, _, _ = exchange(t, addrs[1], "GET /?size=1048577&delay=30 HTTP/1.1\r\n\r\n", 1)
	if len(bodies[0]) != 1<<20+1 {
		t.Errorf("got a %d-byte body, want 1 MiB + 1", len(bodies[0]))
	}
	for i := range len(bodies[0]) {
		if got, want := bodies[0][i], 'a'+byte(i%26); got != want {
			t.Errorf("body byte %d: got %q, want %q", i, got, want)
			break
		}
	}

	// A bad request gets its status and a close.
	resps, _, _, _ = exchange(t, addrs[1], "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 1)
	if resps[0].StatusCode != http.StatusBadRequest || !resps[0].Close {
		t.Errorf("bad request: got %d (close %v), want 400 and close", resps[0].StatusCode, resps[0].Close)
	}

	got := b.Counts()
	want := map[string]Counts{addrs[0]: {Accepts: 1, Requests: 3}, addrs[1]: {Accepts: 2, Requests: 1}}
	for addr, w := range want {
		if got[addr] != w {
			t.Errorf("counts of %s: got %+v, want %+v", addr, got[addr], w)
		}
	}
}

func TestServeBackend(t *testing.T) {
	info := filepath.Join(t.TempDir(), "backend.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeBackend(ctx, 2, info) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeBackend: got %v, want nil after the context ended", err)
		}
	}()
	var bi BackendInfo
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(info)
		if err == nil {
			if err := json.Unmarshal(b, &bi); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no info file after 5s: %v", err)
		}
	}
	if len(bi.Listen) != 2 {
		t.Fatalf("got listen addresses %v, want 2", bi.Listen)
	}
	exchange(t, bi.Listen[1], "GET /?size=1 HTTP/1.1\r\n\r\nGET /?size=1 HTTP/1.1\r\n\r\n", 2)
	counts, err := FetchCounts(ctx, bi.Control)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := counts[bi.Listen[1]], (Counts{Accepts: 1, Requests: 2}); got != want {
		t.Errorf("counts of the second port: got %+v, want %+v", got, want)
	}
	if got := counts[bi.Listen[0]]; got != (Counts{}) {
		t.Errorf("counts of the first port: got %+v, want none", got)
	}
	if !strings.HasPrefix(bi.Control, "127.0.0.1:") {
		t.Errorf("control address %q: want loopback", bi.Control)
	}
}
