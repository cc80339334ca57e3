// Package demo is weir's built-in demo backend: a small HTTP server with
// routes that echo the request, answer a chosen status, wait, stream bytes
// or close the connection, so the gateway can be tried (and tested) without
// any other service.
//
// Routes are matched on the last path segment(s), so they work the same
// under any prefix: the example config maps /hello to
// http://127.0.0.1:9000/v1, and /hello/echo arrives here as /v1/echo.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits of the routes.
const (
	// MaxEchoBody is the largest request body /echo reads; more is 413.
	MaxEchoBody = 1 << 20
	// MaxDelay is the longest wait /delay accepts, in milliseconds.
	MaxDelay = 60000
	// MaxBytes is the largest body /bytes produces.
	MaxBytes = 100 << 20
	// IdleTimeout is how long the server keeps an idle keep-alive
	// connection: longer than weir's default keepalive_timeout (60s), so the
	// gateway, not the backend, closes idle connections.
	IdleTimeout = 120 * time.Second
	// shutdownGrace bounds how long in-flight requests may finish after the
	// context is done before their connections are closed.
	shutdownGrace = 10 * time.Second
)

// pattern is the repeating content of /bytes bodies: the byte at offset i is
// 'a'+i%26, so any client can check what it received.
const pattern = "abcdefghijklmnopqrstuvwxyz"

// Handler returns the demo backend's routes:
//
//   - .../echo (any method): the request as JSON (see Echo); a body over
//     MaxEchoBody is 413.
//   - .../status/N: answers status N (100..599 except 101, else 400); a 1xx
//     is sent as an interim response followed by a final 200.
//   - .../delay?ms=N: waits N ms (0..MaxDelay), then 200; stops if the
//     client goes away.
//   - .../bytes?n=N: N bytes (0..MaxBytes), byte i being 'a'+i%26, with
//     Content-Length; &chunked=1 streams them chunked instead.
//   - .../close: 200 with Connection: close; the server closes after it.
//   - anything else: a short JSON hello with the path.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

// ListenAndServe serves Handler on addr until ctx is done, then shuts down
// gracefully: in-flight requests get up to 10s to finish. It logs its
// address and server errors to logw (nil discards). It returns nil after a
// shutdown caused by ctx, or the error that stopped it.
func ListenAndServe(ctx context.Context, addr string, logw io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serveListener(ctx, ln, logw, shutdownGrace)
}

// serveListener serves on ln until ctx is done, then gives in-flight
// requests grace to finish before closing their connections.
func serveListener(ctx context.Context, ln net.Listener, logw io.Writer, grace time.Duration) error {
	if logw == nil {
		logw = io.Discard
	}
	logger := log.New(logw, "demo-backend: ", log.LstdFlags)
	srv := &http.Server{
		Handler:           Handler(),
		IdleTimeout:       IdleTimeout,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	logger.Printf("listening on %s", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Requests still running after the grace (a long /delay): closing
		// their connections cancels them.
		logger.Printf("shutdown grace of %s passed; closing remaining connections", grace)
		err = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	logger.Printf("stopped")
	return err
}

// serve routes on the last path segment(s); anything unknown is the hello
// route.
func serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	segs := strings.Split(p, "/")
	last := segs[len(segs)-1]
	if len(segs) >= 2 && segs[len(segs)-2] == "status" {
		status(w, r, last)
		return
	}
	switch last {
	case "echo":
		echo(w, r)
	case "delay":
		delay(w, r)
	case "bytes":
		byteStream(w, r)
	case "close":
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusOK, map[string]any{"path": r.URL.Path, "message": "this connection closes after the response"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"path": r.URL.Path, "message": "hello from the weir demo backend"})
	}
}

// Echo is the body /echo answers: what the backend received.
type Echo struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Query      string              `json:"query"`
	Headers    map[string][]string `json:"headers"`
	Body       string              `json:"body"`
	Host       string              `json:"host"`
	RemoteAddr string              `json:"remote_addr"`
	Proto      string              `json:"proto"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEchoBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxEchoBody))
			return
		}
		// A broken body (bad chunking, early EOF); if the client went
		// away, this answer goes nowhere, which is fine.
		writeError(w, http.StatusBadRequest, "reading body failed")
		return
	}
	headers := r.Header.Clone()
	if headers == nil {
		headers = http.Header{}
	}
	writeJSON(w, http.StatusOK, Echo{
		Method:     r.Method,
		Path:       r.URL.Path,
		Query:      r.URL.RawQuery,
		Headers:    headers,
		Body:       string(body),
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Proto:      r.Proto,
	})
}

func status(w http.ResponseWriter, r *http.Request, arg string) {
	code, err := strconv.Atoi(arg)
	if err != nil || code < 100 || code > 599 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status must be an integer in 100..599, got %q", arg))
		return
	}
	if code == http.StatusSwitchingProtocols {
		// 101 is only meaningful as the answer to an Upgrade, which this
		// backend does not speak; net/http would treat it as final and the
		// connection would be left in an undefined state.
		writeError(w, http.StatusBadRequest, "status 101 needs a protocol upgrade, which the demo backend does not offer")
		return
	}
	if code < 200 {
		// A 1xx is never a final response: send it as an interim response
		// (the case a gateway must pass through or drop), then a final 200.
		w.WriteHeader(code)
		writeJSON(w, http.StatusOK, map[string]any{"path": r.URL.Path, "informational": code})
		return
	}
	writeJSON(w, code, map[string]any{"path": r.URL.Path, "status": code})
}

func delay(w http.ResponseWriter, r *http.Request) {
	ms, ok := intParam(w, r, "ms", MaxDelay)
	if !ok {
		return
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		writeJSON(w, http.StatusOK, map[string]any{"path": r.URL.Path, "delay_ms": ms})
	case <-r.Context().Done():
		// The client went away: nobody to answer.
	}
}

func byteStream(w http.ResponseWriter, r *http.Request) {
	n, ok := intParam(w, r, "n", MaxBytes)
	if !ok {
		return
	}
	chunked := r.URL.Query().Get("chunked") == "1"
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/octet-stream")
	if chunked {
		// Flushing the header before any body makes net/http send the body
		// chunked, even when it is small.
		w.WriteHeader(http.StatusOK)
		rc.Flush()
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return
	}
	// Whole repetitions of the pattern, so every write starts at a
	// pattern boundary and offset i always holds 'a'+i%26.
	buf := []byte(strings.Repeat(pattern, 32<<10/len(pattern)))
	for n > 0 {
		k := min(n, len(buf))
		if _, err := w.Write(buf[:k]); err != nil {
			return // the client went away
		}
		n -= k
		if chunked {
			rc.Flush()
		}
	}
}

// intParam reads the query parameter name as an integer in 0..limit,
// answering 400 (and returning false) when it is missing or out of range.
func intParam(w http.ResponseWriter, r *http.Request, name string, limit int) (int, bool) {
	s := r.URL.Query().Get(name)
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > limit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("query parameter %s must be an integer in 0..%d, got %q", name, limit, s))
		return 0, false
	}
	return v, true
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": msg, "status": code})
}

// writeJSON answers code with v as JSON, leaving the body out where HTTP
// forbids one (204, 304).
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types reach here; they always marshal.
		panic(err)
	}
	b = append(b, '\n')
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}
