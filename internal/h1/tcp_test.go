package h1

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestAgainstNetHTTPServer runs several exchanges on one keep-alive
// connection to a real net/http server, writing requests with
// AppendHeaderField and ChunkedWriter and reading responses with
// ReadResponse.
func TestAgainstNetHTTPServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Request-Trailer", r.Trailer.Get("X-Sum"))
			w.Header().Set("Content-Type", "text/plain")
			w.Write(body)
		case "/stream":
			w.Header().Set("Trailer", "X-Count")
			for _, s := range []string{"one ", "two ", "three"} {
				io.WriteString(w, s)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Count", "3")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}
	}))
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	r := &Response{Header: http.Header{}}
	var cw ChunkedWriter

	send := func(method, path string, fields [][2]string, chunks []string, trailer http.Header) {
		t.Helper()
		head := []byte(method + " " + path + " HTTP/1.1\r\n")
		var ok bool
		for _, f := range append([][2]string{{"Host", "backend"}}, fields...) {
			if head, ok = AppendHeaderField(head, f[0], f[1]); !ok {
				t.Fatalf("AppendHeaderField(%q, %q) failed", f[0], f[1])
			}
		}
		head = append(head, "\r\n"...)
		bw.Write(head)
		if chunks != nil {
			cw.Reset(bw)
			for _, ch := range chunks {
				cw.Write([]byte(ch))
			}
			if err := cw.Close(trailer); err != nil {
				t.Fatal(err)
			}
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(method string) string {
		t.Helper()
		clear(r.Header)
		if err := ReadResponse(br, method, r); err != nil {
			t.Fatalf("ReadResponse: %v", err)
		}
		body, err := io.ReadAll(&r.Body)
		if err != nil || !r.Body.Complete() {
			t.Fatalf("body: %v, complete %v", err, r.Body.Complete())
		}
		return string(body)
	}

	send("POST", "/echo", [][2]string{{"Transfer-Encoding", "chunked"}, {"Trailer", "X-Sum"}},
		[]string{"hello, ", "backend"}, http.Header{"X-Sum": {"42"}})
	if body := recv("POST"); body != "hello, backend" || r.StatusCode != 200 || r.Close {
		t.Errorf("echo: got %d %q close %v, want 200 \"hello, backend\" false", r.StatusCode, body, r.Close)
	}
	if got := r.Header.Get("X-Request-Trailer"); got != "42" {
		t.Errorf("request trailer seen by the server: got %q, want \"42\"", got)
	}
	if r.ContentLength != int64(len("hello, backend")) {
		t.Errorf("echo ContentLength: got %d, want %d", r.ContentLength, len("hello, backend"))
	}

	send("GET", "/stream", nil, nil, nil)
	if body := recv("GET"); body != "one two three" || !r.Chunked || r.Close {
		t.Errorf("stream: got %q chunked %v close %v, want \"one two three\" true false", body, r.Chunked, r.Close)
	}
	if got := r.Trailer.Get("X-Count"); got != "3" {
		t.Errorf("stream trailer: got %q, want \"3\"", got)
	}

	send("HEAD", "/echo", nil, nil, nil)
	if body := recv("HEAD"); body != "" || r.StatusCode != 200 {
		t.Errorf("HEAD: got %d %q, want 200 \"\"", r.StatusCode, body)
	}

	send("GET", "/nocontent", nil, nil, nil)
	if body := recv("GET"); body != "" || r.StatusCode != 204 {
		t.Errorf("204: got %d %q, want 204 \"\"", r.StatusCode, body)
	}

	send("GET", "/close", nil, nil, nil)
	if body := recv("GET"); body != "bye" || !r.Close {
		t.Errorf("close: got %q close %v, want \"bye\" true", body, r.Close)
	}
	// The server has closed: the next read sees a clean EOF before any byte.
	if err := ReadResponse(br, "GET", r); err != io.EOF {
		t.Errorf("after close: got %v, want io.EOF", err)
	}
}

// misbehave serves one scripted connection on a loopback listener and
// returns a client connection to it. The script starts once the client has
// sent its one-byte "request" (so the connection is established on both
// sides); the server has read everything, so its close is a FIN, not a
// reset, unless the script asks for one.
func misbehave(t *testing.T, script func(c *net.TCPConn)) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return
		}
		script(c.(*net.TCPConn))
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte{'?'}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMisbehavingBackend(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
	tests := []struct {
		name     string
		script   func(c *net.TCPConn)
		headErr  func(error) bool
		body     string
		bodyErr  func(error) bool
		complete bool
	}{
		{
			name:    "closes before responding",
			script:  func(c *net.TCPConn) {},
			headErr: func(err error) bool { return err == io.EOF },
		},
		{
			name:    "closes mid-head",
			script:  func(c *net.TCPConn) { io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-") },
			headErr: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		},
		{
			name:    "closes mid-body",
			script:  func(c *net.TCPConn) { io.WriteString(c, head+"only ten b") },
			body:    "only ten b",
			bodyErr: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		},
		{
			name: "resets mid-body",
			script: func(c *net.TCPConn) {
				io.WriteString(c, head+"partial")
				c.SetLinger(0)
			},
			bodyErr: func(err error) bool { return err != nil && err != io.EOF },
		},
		{
			name: "one byte per write",
			script: func(c *net.TCPConn) {
				msg := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Slow: yes\r\n\r\n" +
					"4\r\nslow\r\n5\r\n drip\r\n0\r\nX-Done: 1\r\n\r\n"
				for i := range len(msg) {
					if _, err := c.Write([]byte{msg[i]}); err != nil {
						return
					}
				}
			},
			body:     "slow drip",
			complete: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := misbehave(t, tt.script)
			r := &Response{Header: http.Header{}}
			err := ReadResponse(bufio.NewReader(c), "GET", r)
			if tt.headErr != nil {
				if !tt.headErr(err) {
					t.Errorf("head: got %v, want the expected error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			var body strings.Builder
			_, err = io.Copy(&body, &r.Body)
			if tt.bodyErr == nil && err != nil || tt.bodyErr != nil && !tt.bodyErr(err) {
				t.Errorf("body error: got %v", err)
			}
			if tt.body != "" && body.String() != tt.body {
				t.Errorf("body: got %q, want %q", body.String(), tt.body)
			}
			if r.Body.Complete() != tt.complete {
				t.Errorf("Complete: got %v, want %v", r.Body.Complete(), tt.complete)
			}
		})
	}
}
