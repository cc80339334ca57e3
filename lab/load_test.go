package lab

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		ctype  string
		body   string
		want   string
	}{
		{"ok", 200, "text/plain", "hi", ""},
		{"no content", 204, "", "", ""},
		{"weir error body", 504, "application/json", `{"error":"BackendTimeout","request_id":"x"}`, "BackendTimeout"},
		{"json with charset", 502, "application/json; charset=utf-8", `{"error":"BackendConnectionFailure"}`, "BackendConnectionFailure"},
		{"html error page", 502, "text/html", "<html>Bad Gateway</html>", "HTTP 502"},
		{"json without error", 503, "application/json", `{"message":"no"}`, "HTTP 503"},
		{"broken json", 503, "application/json", `{"error":`, "HTTP 503"},
		{"overlong reason", 500, "application/json", `{"error":"` + strings.Repeat("x", 65) + `"}`, "HTTP 500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.status, tt.ctype, []byte(tt.body)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		n, c    int
		timeout time.Duration
		wantOK  int
		reason  string // the one failure reason expected, for every request
	}{
		{"all ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, 200, 8, 5 * time.Second, 200, ""},
		{"weir errors", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(504)
			io.WriteString(w, `{"error":"BackendTimeout","request_id":"r"}`)
		}, 50, 4, 5 * time.Second, 0, "BackendTimeout"},
		{"error pages", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", 502) }, 30, 3, 5 * time.Second, 0, "HTTP 502"},
		{"hangs", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, 6, 3, 100 * time.Millisecond, 0, ReasonClientTimeout},
		{"cuts the connection", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, 10, 2, 5 * time.Second, 0, ReasonClientError},
		{"dies mid-body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "short")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, 10, 2, 5 * time.Second, 0, ReasonClientError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			res, err := Load(t.Context(), LoadSpec{URL: srv.URL, Requests: tt.n, Concurrency: tt.c, Duration: time.Minute, Timeout: tt.timeout}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != tt.n || res.OK != tt.wantOK {
				t.Errorf("got sent %d ok %d, want sent %d ok %d", res.Sent, res.OK, tt.n, tt.wantOK)
			}
			if tt.reason != "" && (res.Failed[tt.reason] != tt.n || len(res.Failed) != 1) {
				t.Errorf("got failures %v, want %s %d", res.Failed, tt.reason, tt.n)
			}
			if res.FailedTotal()+res.OK != res.Sent {
				t.Errorf("got ok %d + failed %d != sent %d", res.OK, res.FailedTotal(), res.Sent)
			}
		})
	}
}

// TestLoadBoundedByDuration: a burst far larger than can be sent stops at
// its duration.
func TestLoadBoundedByDuration(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	const huge = 1 << 30
	res, err := Load(t.Context(), LoadSpec{URL: srv.URL, Requests: huge, Concurrency: 4, Duration: 200 * time.Millisecond, Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent >= huge || res.Sent == 0 || int64(res.Sent) != served.Load() {
		t.Errorf("got sent %d, served %d; want 0 < sent < %d and every sent request served", res.Sent, served.Load(), huge)
	}
}

func TestLoadReady(t *testing.T) {
	// Nothing listens: the wait gives up at the context's end.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = Load(ctx, LoadSpec{URL: "http://" + addr + "/", Requests: 1, Concurrency: 1, Duration: time.Second, Timeout: time.Second, Ready: addr}, nil)
	if err == nil {
		t.Error("got nil error waiting for a closed port, want one")
	}
}

func TestLoadSpecInvalid(t *testing.T) {
	ok := LoadSpec{URL: "http://127.0.0.1:1/", Requests: 1, Concurrency: 1, Duration: time.Second, Timeout: time.Second}
	for _, tt := range []struct {
		name string
		edit func(*LoadSpec)
	}{
		{"no url", func(s *LoadSpec) { s.URL = "" }},
		{"no requests", func(s *LoadSpec) { s.Requests = 0 }},
		{"no concurrency", func(s *LoadSpec) { s.Concurrency = 0 }},
		{"unbounded duration", func(s *LoadSpec) { s.Duration = 0 }},
		{"unbounded request", func(s *LoadSpec) { s.Timeout = 0 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			if _, err := Load(t.Context(), s, nil); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pools" {
			io.WriteString(w, `{"pools":[]}`)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	body, err := Get(t.Context(), srv.URL+"/pools")
	if err != nil || string(body) != `{"pools":[]}` {
		t.Errorf("GET /pools: got %q, %v; want the body", body, err)
	}
	if _, err := Get(t.Context(), srv.URL+"/nope"); err == nil {
		t.Error("GET /nope: got nil error for a 404, want one")
	}
}
