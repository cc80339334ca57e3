package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/telemetry"
)

// echoBackend answers every request with what it received: method,
// request-target, body and the fields weir adds as a forwarder, as
// "name: value" lines.
func echoBackend(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("backend reading body: %v", err)
		}
		if n, err := strconv.Atoi(r.URL.Query().Get("size")); err == nil {
			if r.URL.Query().Has("chunked") {
				w.(http.Flusher).Flush() // no Content-Length: chunked
			}
			_, _ = io.WriteString(w, strings.Repeat("b", n))
			return
		}
		w.Header().Set("X-Backend", "echo")
		w.Header().Set("Keep-Alive", "timeout=60") // hop-by-hop: not handed over
		fmt.Fprintf(w, "request: %s %s\nbody: %s\n", r.Method, r.RequestURI, body)
		for _, k := range []string{"X-Callout", "X-Forwarded-For", "Via", "X-Request-Id"} {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(r.Header[k], ","))
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// Do sends a request described without *http.Request over the target's
// pool and reads the answer into memory; the second call reuses the
// connection.
func TestDoReusesPool(t *testing.T) {
	tg := benchTarget(t, echoBackend(t)+"/v1")
	pool := tg.Endpoints()[0].Pools()[0]
	f := New()
	req := &Request{
		Method: "POST", Path: "/check", RawQuery: "a=1",
		Header: http.Header{"X-Callout": {"yes"}, "Connection": {"close"}},
		Body:   []byte("payload"),
	}
	want := "request: POST /v1/check?a=1\nbody: payload\nX-Callout: yes\nX-Forwarded-For: \nVia: \nX-Request-Id: \n"
	for i, wantReused := range []bool{false, true} {
		var rec telemetry.Record
		resp, err := f.Do(context.Background(), tg, req, 1<<10, &rec)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if resp.StatusCode != 200 || string(resp.Body) != want {
			t.Errorf("call %d: got %d %q, want 200 %q", i, resp.StatusCode, resp.Body, want)
		}
		if got := resp.Header.Get("X-Backend"); got != "echo" {
			t.Errorf("call %d: X-Backend: got %q, want echo", i, got)
		}
		if got := resp.Header["Keep-Alive"]; got != nil {
			t.Errorf("call %d: Keep-Alive: got %q, want it dropped (hop-by-hop)", i, got)
		}
		if rec.Reused != wantReused || rec.Status != 200 || rec.BytesIn != int64(len(req.Body)) || !rec.Destination.IsValid() {
			t.Errorf("call %d: record reused/status/bytes in/destination: got %v/%d/%d/%v, want %v/200/%d/the backend",
				i, rec.Reused, rec.Status, rec.BytesIn, rec.Destination, wantReused, len(req.Body))
		}
	}
	st := pool.Stats()
	if st.OpenedTotal != 1 || st.RequestsTotal != 2 || st.ReusedTotal != 1 || st.Idle != 1 {
		t.Errorf("pool opened/requests/reused/idle: got %d/%d/%d/%d, want 1/2/1/1", st.OpenedTotal, st.RequestsTotal, st.ReusedTotal, st.Idle)
	}
}

// A body over the caller's bound fails the call, whether its length is
// known up front or not, and the connection is not reused.
func TestDoBodyBound(t *testing.T) {
	tg := benchTarget(t, echoBackend(t))
	pool := tg.Endpoints()[0].Pools()[0]
	f := New()
	tests := []struct {
		name    string
		query   string
		max     int64
		wantErr bool
	}{
		{"at the bound", "size=100", 100, false},
		{"over, length known", "size=101", 100, true},
		{"chunked at the bound", "size=100&chunked", 100, false},
		{"chunked over", "size=101&chunked", 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := pool.Stats().ClosedByReason["error"]
			var rec telemetry.Record
			resp, err := f.Do(context.Background(), tg, &Request{Method: "GET", RawQuery: tt.query}, tt.max, &rec)
			if !tt.wantErr {
				if err != nil || len(resp.Body) != int(tt.max) {
					t.Fatalf("got %v, want %d bytes", err, tt.max)
				}
				return
			}
			var fe *failure.Error
			var tl *TooLargeError
			if !errors.As(err, &fe) || fe.Reason != failure.BackendConnectionFailure || !errors.As(err, &tl) || tl.Limit != tt.max {
				t.Fatalf("got %v, want BackendConnectionFailure with a TooLargeError of limit %d", err, tt.max)
			}
			if got := pool.Stats().ClosedByReason["error"] - before; got != 1 {
				t.Errorf("connections closed with error: got %d, want 1", got)
			}
		})
	}
}

// staleBackend answers requests on 127.0.0.1 but drops its first
// connection once it has read the second request on it, without a byte of
// answer: the stale keep-alive race, made certain. Later connections are
// answered throughout.
func staleBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for first := true; ; first = false {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func(drop bool) {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if drop && n == 2 {
						return
					}
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}(first)
		}
	}()
	return "http://" + ln.Addr().String()
}

// A request written on a reused connection that the backend dropped
// without answering is replayed on a fresh one when repeating it is safe,
// by the same gate as the forwarder's.
func TestDoReplaysStaleConnection(t *testing.T) {
	tests := []struct {
		name   string
		req    Request
		replay bool
	}{
		{"GET", Request{Method: "GET"}, true},
		{"POST", Request{Method: "POST", Body: []byte("x")}, false},
		{"POST with an Idempotency-Key", Request{Method: "POST", Body: []byte("x"), Header: http.Header{"Idempotency-Key": {"k1"}}}, true},
		{"POST streamed", Request{Method: "POST", Stream: strings.NewReader("x"), StreamLength: 1, Header: http.Header{"Idempotency-Key": {"k1"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := benchTarget(t, staleBackend(t))
			pool := tg.Endpoints()[0].Pools()[0]
			f := New()
			if _, err := f.Do(context.Background(), tg, &Request{Method: "GET"}, 16, &telemetry.Record{}); err != nil {
				t.Fatal(err)
			}
			var rec telemetry.Record
			resp, err := f.Do(context.Background(), tg, &tt.req, 16, &rec)
			st := pool.Stats()
			if rec.Verdict != "no_response" || st.ClosedByReason["stale_on_reuse"] != 1 {
				t.Errorf("verdict/stale_on_reuse: got %q/%d, want no_response/1", rec.Verdict, st.ClosedByReason["stale_on_reuse"])
			}
			if !tt.replay {
				var fe *failure.Error
				if !errors.As(err, &fe) || fe.Reason != failure.BackendConnectionFailure {
					t.Fatalf("got %v, want BackendConnectionFailure", err)
				}
				if n := st.Replays["no_response"]; n != 0 {
					t.Errorf("replays: got %d, want 0", n)
				}
				return
			}
			if err != nil || string(resp.Body) != "ok" {
				t.Fatalf("got %v, want the replay's answer", err)
			}
			if n := st.Replays["no_response"]; n != 1 || st.OpenedTotal != 2 {
				t.Errorf("replays/opened: got %d/%d, want 1/2", n, st.OpenedTotal)
			}
			if rec.Reused {
				t.Errorf("record: got the reused connection, want the fresh one of the replay")
			}
		})
	}
}
