package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// checkPattern fails unless b is the /bytes pattern from offset 0.
func checkPattern(t *testing.T, b []byte) {
	t.Helper()
	for i, c := range b {
		if want := byte('a' + i%26); c != want {
			t.Fatalf("byte %d: got %q, want %q", i, c, want)
		}
	}
}

func decodeJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return m
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		method  string
		path    string
		header  http.Header
		body    string
		status  int
		check   func(t *testing.T, resp *http.Response, body []byte)
		got1xx  []int // interim statuses the client must see
		noBody  bool
		chunked bool
	}{
		{
			name: "hello at root", method: "GET", path: "/", status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if got := decodeJSON(t, body)["path"]; got != "/" {
					t.Errorf("path: got %v, want /", got)
				}
			},
		},
		{
			name: "hello under a prefix", method: "GET", path: "/v1/anything/else", status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if got := decodeJSON(t, body)["path"]; got != "/v1/anything/else" {
					t.Errorf("path: got %v, want /v1/anything/else", got)
				}
			},
		},
		{
			name: "hello at prefix with trailing slash", method: "GET", path: "/v1/", status: 200,
		},
		{
			name: "echo GET", method: "GET", path: "/echo?x=1&y=2",
			header: http.Header{"X-Test": {"a", "b"}}, status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var e Echo
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatal(err)
				}
				if e.Method != "GET" || e.Path != "/echo" || e.Query != "x=1&y=2" || e.Proto != "HTTP/1.1" || e.Body != "" {
					t.Errorf("got %+v, want GET /echo x=1&y=2 HTTP/1.1 with no body", e)
				}
				if got := strings.Join(e.Headers["X-Test"], ","); got != "a,b" {
					t.Errorf("X-Test: got %q, want a,b", got)
				}
				if e.Host != strings.TrimPrefix(srv.URL, "http://") {
					t.Errorf("host: got %q, want %q", e.Host, strings.TrimPrefix(srv.URL, "http://"))
				}
				if host, _, err := net.SplitHostPort(e.RemoteAddr); err != nil || host != "127.0.0.1" {
					t.Errorf("remote_addr: got %q, want 127.0.0.1:port", e.RemoteAddr)
				}
			},
		},
		{
			name: "echo POST under a prefix with trailing slash", method: "POST", path: "/v1/echo/", body: "hello body", status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var e Echo
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatal(err)
				}
				if e.Method != "POST" || e.Path != "/v1/echo/" || e.Body != "hello body" {
					t.Errorf("got %+v, want POST /v1/echo/ with body", e)
				}
			},
		},
		{
			name: "echo body at the cap", method: "PUT", path: "/echo", body: strings.Repeat("x", MaxEchoBody), status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var e Echo
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatal(err)
				}
				if len(e.Body) != MaxEchoBody {
					t.Errorf("body length: got %d, want %d", len(e.Body), MaxEchoBody)
				}
			},
		},
		{name: "echo body over the cap", method: "POST", path: "/echo", body: strings.Repeat("x", MaxEchoBody+1), status: 413},
		{
			name: "status 200", method: "GET", path: "/status/200", status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if got := decodeJSON(t, body)["status"]; got != 200.0 {
					t.Errorf("status field: got %v, want 200", got)
				}
			},
		},
		{name: "status 404 under a prefix", method: "GET", path: "/v1/status/404", status: 404},
		{name: "status 503", method: "DELETE", path: "/status/503", status: 503},
		{name: "status 599", method: "GET", path: "/status/599", status: 599},
		{name: "status 204 has no body", method: "GET", path: "/status/204", status: 204, noBody: true},
		{name: "status 304 has no body", method: "GET", path: "/status/304", status: 304, noBody: true},
		{name: "status 103 is interim then 200", method: "GET", path: "/status/103", status: 200, got1xx: []int{103}},
		{name: "status 101 refused", method: "GET", path: "/status/101", status: 400},
		{name: "status 99", method: "GET", path: "/status/99", status: 400},
		{name: "status 600", method: "GET", path: "/status/600", status: 400},
		{name: "status not a number", method: "GET", path: "/status/abc", status: 400},
		{name: "status without code is hello", method: "GET", path: "/v1/status", status: 200},
		{
			name: "delay 0", method: "GET", path: "/v1/delay?ms=0", status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if got := decodeJSON(t, body)["delay_ms"]; got != 0.0 {
					t.Errorf("delay_ms: got %v, want 0", got)
				}
			},
		},
		{name: "delay over the cap", method: "GET", path: "/delay?ms=60001", status: 400},
		{name: "delay negative", method: "GET", path: "/delay?ms=-1", status: 400},
		{name: "delay missing ms", method: "GET", path: "/delay", status: 400},
		{
			name: "bytes with length", method: "GET", path: "/v1/bytes?n=100000", status: 200,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				if resp.ContentLength != 100000 {
					t.Errorf("Content-Length: got %d, want 100000", resp.ContentLength)
				}
				if len(body) != 100000 {
					t.Errorf("body length: got %d, want 100000", len(body))
				}
				checkPattern(t, body)
			},
		},
		{
			name: "bytes zero", method: "GET", path: "/bytes?n=0", status: 200, noBody: true,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				if resp.ContentLength != 0 || len(body) != 0 {
					t.Errorf("got Content-Length %d and %d bytes, want 0 and 0", resp.ContentLength, len(body))
				}
			},
		},
		{
			name: "bytes chunked", method: "GET", path: "/bytes?n=70000&chunked=1", status: 200, chunked: true,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				if len(body) != 70000 {
					t.Errorf("body length: got %d, want 70000", len(body))
				}
				checkPattern(t, body)
			},
		},
		{name: "bytes small chunked", method: "GET", path: "/bytes?n=10&chunked=1", status: 200, chunked: true},
		{name: "bytes over the cap", method: "GET", path: "/bytes?n=" + strconv.Itoa(MaxBytes+1), status: 400},
		{name: "bytes not a number", method: "GET", path: "/bytes?n=ten", status: 400},
		{
			name: "close", method: "GET", path: "/v1/close", status: 200,
			check: func(t *testing.T, resp *http.Response, _ []byte) {
				if !resp.Close {
					t.Errorf("Close: got false, want true (Connection: close)")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got1xx []int
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
				got1xx = append(got1xx, code)
				return nil
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			resp, body := peer.Fetch(t, srv.Client(), req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d (body %q)", resp.StatusCode, tt.status, body)
			}
			if tt.noBody {
				if len(body) != 0 {
					t.Errorf("body: got %q, want none", body)
				}
			} else if len(body) == 0 {
				t.Errorf("body: got none, want some")
			}
			if got := strings.Join(resp.TransferEncoding, ","); (got == "chunked") != tt.chunked {
				t.Errorf("Transfer-Encoding: got %q, want chunked=%v", got, tt.chunked)
			}
			if tt.chunked && resp.ContentLength != -1 {
				t.Errorf("Content-Length: got %d, want none (-1)", resp.ContentLength)
			}
			if tt.status == 400 || tt.status == 413 {
				// The demo's own refusals explain themselves.
				if _, ok := decodeJSON(t, body)["error"]; !ok {
					t.Errorf("error body %q has no error field", body)
				}
			}
			if !slices.Equal(got1xx, tt.got1xx) {
				t.Errorf("interim responses: got %v, want %v", got1xx, tt.got1xx)
			}
			if tt.check != nil {
				tt.check(t, resp, body)
			}
		})
	}
}

// TestCloseClosesConnection checks on the wire that the server closes the
// connection after /close, and keeps it open after other routes.
func TestCloseClosesConnection(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name       string
		path       string
		wantClosed bool
	}{
		{name: "close", path: "/v1/close", wantClosed: true},
		{name: "hello keeps the connection", path: "/v1/", wantClosed: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			// Two pipelined requests: the second is answered only if the
			// connection stays open.
			req := "GET " + tt.path + " HTTP/1.1\r\nHost: demo\r\n\r\n"
			if _, err := io.WriteString(conn, req+req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			// A closed connection ends before the second response starts.
			_, err = http.ReadResponse(br, nil)
			if closed := errors.Is(err, io.ErrUnexpectedEOF); closed != tt.wantClosed {
				t.Errorf("second response error: got %v, want closed=%v", err, tt.wantClosed)
			}
		})
	}
}

// TestDelay uses fake time: the answer comes exactly when the delay has
// passed, and never if the client goes away first.
func TestDelay(t *testing.T) {
	tests := []struct {
		name       string
		ms         int
		cancelAt   time.Duration // 0: never
		wantStatus int           // 0: no answer written
		wantAfter  time.Duration
	}{
		{name: "waits then answers", ms: 1500, wantStatus: 200, wantAfter: 1500 * time.Millisecond},
		{name: "waits the cap", ms: MaxDelay, wantStatus: 200, wantAfter: MaxDelay * time.Millisecond},
		{name: "client goes away", ms: 5000, cancelAt: 100 * time.Millisecond, wantStatus: 0, wantAfter: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				req := httptest.NewRequestWithContext(ctx, "GET", "/v1/delay?ms="+strconv.Itoa(tt.ms), nil)
				rec := httptest.NewRecorder()
				start := time.Now()
				var took time.Duration
				done := make(chan struct{})
				go func() {
					Handler().ServeHTTP(rec, req)
					took = time.Since(start)
					close(done)
				}()
				if tt.cancelAt > 0 {
					time.Sleep(tt.cancelAt)
					cancel()
				}
				<-done
				if took != tt.wantAfter {
					t.Errorf("returned after %v, want %v", took, tt.wantAfter)
				}
				if tt.wantStatus == 0 {
					if rec.Body.Len() != 0 {
						t.Errorf("body: got %q, want none", rec.Body)
					}
					return
				}
				if rec.Code != tt.wantStatus {
					t.Errorf("status: got %d, want %d", rec.Code, tt.wantStatus)
				}
			})
		})
	}
}

func TestListenAndServe(t *testing.T) {
	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if err := ListenAndServe(t.Context(), ln.Addr().String(), nil); err == nil {
			t.Errorf("got nil error, want one for an address in use")
		}
	})
	t.Run("serves until the context is done", func(t *testing.T) {
		// Reserve a free port, then serve on it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithCancel(t.Context())
		var logs weirtest.Buffer
		errc := make(chan error, 1)
		go func() { errc <- ListenAndServe(ctx, addr, &logs) }()
		resp := getWhenUp(t, "http://"+addr+"/v1/echo", errc)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status: got %d, want 200", resp.StatusCode)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("got %v, want nil after the context is done", err)
		}
		if !strings.Contains(logs.String(), "listening on "+addr) {
			t.Errorf("log: got %q, want it to say where it listens", logs.String())
		}
		if _, err := net.Dial("tcp", addr); err == nil {
			t.Errorf("dial after shutdown: got a connection, want refused")
		}
	})
}

// getWhenUp retries GET url until the server accepts, bounded in count.
func getWhenUp(t *testing.T, url string, errc <-chan error) *http.Response {
	t.Helper()
	for range 500 {
		select {
		case err := <-errc:
			t.Fatalf("server stopped: %v", err)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			return resp
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("server at %s never answered", url)
	return nil
}

// TestShutdown checks that shutdown lets an in-flight response finish
// within the grace, and cuts it once the grace has passed.
func TestShutdown(t *testing.T) {
	tests := []struct {
		name         string
		grace        time.Duration
		n            int
		wantComplete bool
	}{
		{name: "in-flight response completes", grace: time.Minute, n: 4 << 20, wantComplete: true},
		// More than loopback socket buffers hold, so the handler is still
		// writing when the grace passes.
		{name: "grace passed cuts the response", grace: time.Nanosecond, n: MaxBytes, wantComplete: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- serveListener(ctx, ln, nil, tt.grace) }()

			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			// Response headers in hand means the handler is running; it
			// then blocks writing because nobody reads yet.
			resp, err := client.Get("http://" + ln.Addr().String() + "/bytes?chunked=1&n=" + strconv.Itoa(tt.n))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			cancel()
			if tt.wantComplete {
				body, err := io.ReadAll(resp.Body)
				if err != nil || len(body) != tt.n {
					t.Fatalf("got %d bytes and error %v, want %d bytes and nil", len(body), err, tt.n)
				}
				checkPattern(t, body)
				if err := <-errc; err != nil {
					t.Errorf("serve: got %v, want nil", err)
				}
				return
			}
			// The server returns only once it has closed the connection.
			if err := <-errc; err != nil {
				t.Errorf("serve: got %v, want nil", err)
			}
			got, err := io.Copy(io.Discard, resp.Body)
			if err == nil || got >= int64(tt.n) {
				t.Errorf("got %d bytes and error %v, want a cut response", got, err)
			}
		})
	}
}

func BenchmarkEcho(b *testing.B) {
	h := Handler()
	req := httptest.NewRequest("POST", "/v1/echo?x=1", nil)
	req.Header.Set("X-Request-Id", "bench")
	body := strings.Repeat("x", 512)
	b.ReportAllocs()
	for b.Loop() {
		req.Body = io.NopCloser(strings.NewReader(body))
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func BenchmarkBytes(b *testing.B) {
	srv := httptest.NewServer(Handler())
	b.Cleanup(srv.Close)
	client := srv.Client()
	const n = 1 << 20
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(srv.URL + "/bytes?n=" + strconv.Itoa(n))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
