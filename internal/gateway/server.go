package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/proxy"
	"github.com/weirgw/weir/internal/telemetry"
)

// Server serves client traffic through the current snapshot.
type Server struct {
	state    *State
	log      *telemetry.RequestLog
	errLog   io.Writer
	fwd      *proxy.Forwarder
	snap     atomic.Pointer[Snapshot]
	draining atomic.Bool
	http     *http.Server
	reloadMu sync.Mutex // serialises Swap
	retiring retirement // swapped-out snapshots waiting for their requests (retirement.go)
	records  sync.Pool  // *telemetry.Record
}

// NewServer returns a server for snap. reqLog receives one JSON line per
// request; errLog receives panics and internal errors.
func NewServer(st *State, snap *Snapshot, reqLog *telemetry.RequestLog, errLog io.Writer) *Server {
	s := &Server{state: st, log: reqLog, errLog: errLog, fwd: proxy.New()}
	s.records.New = func() any { return new(telemetry.Record) }
	s.snap.Store(snap)
	snap.start()
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
	}
	return s
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Snapshot returns the serving snapshot.
func (s *Server) Snapshot() *Snapshot { return s.snap.Load() }

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Swap makes next the serving snapshot. Requests already routed finish on
// the old one; once the last of them has (or its drain_timeout passed), the
// old snapshot's pool references are released, so pools next does not use
// are drained and the ones it shares keep their connections.
func (s *Server) Swap(next *Snapshot) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	next.start()
	old := s.snap.Swap(next)
	s.retireLocked(old)
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes every backend connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	err := s.http.Shutdown(ctx)
	s.retiring.shutdown()
	s.snap.Load().stop()
	s.state.Registry.Close()
	return err
}

// ServeHTTP handles one client request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Records are pooled: one would otherwise escape to the heap per request.
	rec := s.records.Get().(*telemetry.Record)
	rec.Start = time.Now()
	rec.RequestID = r.Header.Get("X-Request-Id")
	if !telemetry.ValidRequestID(rec.RequestID) {
		rec.RequestID = telemetry.NewRequestID()
	}
	rec.Method = r.Method
	rec.Path = r.URL.Path
	rec.ClientIP = clientIP(r.RemoteAddr)
	defer s.finish(w, rec)

	if hasDotSegment(r.URL.Path) {
		s.fail(w, rec, failure.New(failure.BadRequest, "dot-segment in path", nil))
		return
	}
	snap := s.acquire()
	defer snap.release()
	idx, rest, ok := snap.routes.Match(r.Host, r.URL.EscapedPath())
	if !ok {
		s.fail(w, rec, failure.New(failure.RouteNotFound, "", nil))
		return
	}
	a := snap.apis[idx]
	rec.API = a.name
	rec.Metrics = a.metrics
	if a.chain != nil {
		s.serveChain(w, r, a, rest, rec) // policies.go
		return
	}
	if fe := forwardFailure(s.fwd.Forward(w, r, a.target, rest, rec)); fe != nil {
		s.fail(w, rec, fe)
	}
}

// forwardFailure turns the forwarder's error into the failure to answer
// with (nil on success). A response that already started is cut instead:
// the client must see a truncated response, not a complete wrong one.
func forwardFailure(err error) *failure.Error {
	if err == nil {
		return nil
	}
	if errors.Is(err, proxy.Aborted) {
		panic(http.ErrAbortHandler)
	}
	var fe *failure.Error
	if errors.As(err, &fe) {
		return fe
	}
	return failure.New(failure.InternalError, "unclassified", err)
}

// finish recovers a panic, then logs the request once.
func (s *Server) finish(w http.ResponseWriter, rec *telemetry.Record) {
	p := recover()
	if p != nil && p != http.ErrAbortHandler {
		fmt.Fprintf(s.errLog, "panic serving request %s: %v\n%s", rec.RequestID, p, debug.Stack())
		if rec.Status == 0 {
			s.fail(w, rec, failure.New(failure.InternalError, "panic", nil))
		} else {
			rec.Error = string(failure.InternalError)
		}
	}
	rec.Duration = time.Since(rec.Start)
	s.log.Write(rec)
	s.state.Metrics.Observe(rec)
	rec.Reset()
	s.records.Put(rec)
	if p == http.ErrAbortHandler {
		panic(p)
	}
}

// Status maps a failure reason to the status a client gets: the one place
// where that mapping lives, read from failure's table. A reason without a
// row is a bug (failure's tests check every reason the code uses): it is
// answered as an InternalError, 500.
func Status(r failure.Reason) int {
	if info, ok := failure.Lookup(r); ok {
		return info.Status
	}
	return http.StatusInternalServerError
}

// fail records a failure and writes the client's error response: a small
// JSON body with the reason and the request id, never a Go error string.
func (s *Server) fail(w http.ResponseWriter, rec *telemetry.Record, fe *failure.Error) {
	if _, known := failure.Lookup(fe.Reason); !known {
		// Not silently: the client, log and metrics see InternalError, and
		// stderr names the reason without a row.
		fmt.Fprintf(s.errLog, "weir: bug: failure reason %q has no row in the failure table (request %s)\n", fe.Reason, rec.RequestID)
		fe = failure.New(failure.InternalError, "reason without a row", fe)
	}
	rec.Error = string(fe.Reason)
	rec.Detail = fe.Error()
	rec.Status = Status(fe.Reason)
	if fe.Reason == failure.ClientConnectionFailure {
		// Nobody to answer; and returning would let net/http send an empty
		// 200 to a client that is in fact still there (a half-close).
		panic(http.ErrAbortHandler)
	}
	h := w.Header()
	clear(h)
	for k, vs := range fe.Header { // Retry-After, RateLimit-* on a 429
		h[k] = vs
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", rec.RequestID)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(rec.Status)
	b := make([]byte, 0, 96)
	b = append(b, `{"error":`...)
	b = telemetry.AppendJSONString(b, string(fe.Reason))
	b = append(b, `,"request_id":`...)
	b = telemetry.AppendJSONString(b, rec.RequestID)
	b = append(b, "}\n"...)
	n, _ := w.Write(b)
	rec.BytesOut = int64(n)
}

// clientIP derives the client's address from the connection's RemoteAddr
// (no allocation for ip:port). The gateway owns it, like the request id: both are
// facts about the client's side, taken once into the record, where the
// forwarder (X-Forwarded-For) and policies (rate-limit keys) read them.
func clientIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// hasDotSegment reports "." or ".." path segments, which backends may
// resolve to a path outside the API's base path.
func hasDotSegment(p string) bool {
	for p != "" {
		i := strings.IndexByte(p, '/')
		var seg string
		if i < 0 {
			seg, p = p, ""
		} else {
			seg, p = p[:i], p[i+1:]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// Pools returns the port ledger of every pool (admin.Source).
func (s *Server) Pools() []connpool.Stats { return s.state.Registry.Stats() }

// Ready reports whether the server takes traffic (admin.Source).
func (s *Server) Ready() bool { return !s.draining.Load() }
