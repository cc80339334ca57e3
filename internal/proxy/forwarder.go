// Package proxy is weir's forwarder: it writes the outbound HTTP/1.1 request
// onto a pooled backend connection itself (hop-by-hop headers removed,
// X-Forwarded-* and Via added), streams bodies both ways, classifies every
// failure once, and replays a request on a fresh connection only when a
// stale keep-alive connection provably lost it before the backend acted.
package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/h1"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/upstream"
)

// MaxReplayBody is the largest request body kept in memory so that the
// request can be replayed after a stale-connection failure. Larger (or
// chunked) bodies are streamed and not replayable once sent.
const MaxReplayBody = 64 << 10

// maxAttempts bounds replays after stale-connection failures.
const maxAttempts = 3

// Forwarder sends requests to targets. Safe for concurrent use.
type Forwarder struct {
	exchanges sync.Pool // *exchange: per-request scratch, reused
}

// New returns a Forwarder.
func New() *Forwarder {
	return &Forwarder{exchanges: sync.Pool{New: func() any {
		ex := &exchange{head: make([]byte, 0, 2048), buf: make([]byte, MaxReplayBody), resp: h1.Response{Header: http.Header{}}}
		ex.abort = func() { _ = ex.nc.SetDeadline(aLongTimeAgo) }
		return ex
	}}}
}

// exchange is one request's scratch space.
type exchange struct {
	nc    net.Conn // the backend connection of the current attempt
	abort func()   // cuts nc (past deadline): the client went away
	// tainted: an abort callback may still run and touch nc, so the
	// exchange must not be reused.
	tainted bool
	head    []byte
	buf     []byte // copy buffer, also the replay body when it fits
	body    []byte // the kept request body (aliases buf or is nil)
	resp    h1.Response
	cw      h1.ChunkedWriter
}

// Aborted is returned when the response had already started when the
// failure happened: the caller must cut the client connection (the
// failure is in the record).
var Aborted = errors.New("response aborted after it started")

// Forward proxies r to t. rest is the request path after the API's base
// path (escaped form). On failure before the response started it returns a
// *failure.Error and writes nothing; once the response started it fills
// rec.Error and returns Aborted (or nil when only the client went away,
// which needs no abort).
func (f *Forwarder) Forward(w http.ResponseWriter, r *http.Request, t *upstream.Target, rest string, rec *telemetry.Record) error {
	ex := f.exchanges.Get().(*exchange)
	defer func() {
		if !ex.tainted {
			f.exchanges.Put(ex)
		}
	}()
	ex.body = nil

	// Keep small bodies so a stale connection can be replayed. Reading the
	// body first also answers the client's Expect: 100-continue.
	if n := r.ContentLength; n > 0 && n <= MaxReplayBody {
		if _, err := io.ReadFull(r.Body, ex.buf[:n]); err != nil {
			return clientBodyFailure(err)
		}
		ex.body = ex.buf[:n]
		rec.BytesIn = n
	}

	ctx := r.Context()
	fresh := false
	for attempt := 0; ; attempt++ {
		ep, pool := t.Pick()
		conn, err := pool.Get(ctx, fresh)
		if err != nil {
			if errors.Is(err, connpool.ErrClosed) && attempt+1 < maxAttempts {
				// Drained between Pick and Get (DNS drain, reload): nothing
				// was sent, pick again.
				continue
			}
			return classifyGet(ctx, err)
		}
		rec.Destination = conn.RemoteAddr()
		rec.Reused = conn.Reused()
		rec.ConnectDuration = conn.ConnectDuration()
		start := time.Now()
		// Cut the backend exchange when the client goes away, until the
		// response is complete. The callback is bound once per pooled
		// exchange (no closure per request).
		ex.nc = conn.NetConn()
		stop := context.AfterFunc(ctx, ex.abort)
		streamed, err := f.exchange(ctx, ex, conn, ep, t, r, rest, rec)
		if err == nil {
			return f.respond(ctx, w, ex, conn, rec, start, stop)
		}
		rec.BackendDuration += time.Since(start)
		verdict := staleVerdict(conn, err)
		if verdict != connpool.VerdictNone && ctx.Err() == nil {
			ex.close(conn, stop, connpool.StaleOnReuse)
		} else {
			ex.close(conn, stop, connpool.Error)
		}
		if cbe := (clientBodyError{}); errors.As(err, &cbe) {
			return clientBodyFailure(cbe.err)
		}
		if ctx.Err() != nil {
			return failure.New(failure.ClientConnectionFailure, "client went away waiting for the backend", ctx.Err())
		}
		if attempt+1 < maxAttempts && replayable(verdict, r, streamed) {
			pool.RecordReplay(verdict)
			rec.Verdict = verdict.String()
			fresh = true
			continue
		}
		if verdict != connpool.VerdictNone {
			rec.Verdict = verdict.String()
		}
		return classifyExchange(err)
	}
}

// close closes conn with reason and ends the client-abort watch; an abort
// that already fired may still touch ex.nc, so ex is then not reused.
func (ex *exchange) close(conn *connpool.Conn, stop func() bool, reason connpool.CloseReason) {
	if !stop() {
		ex.tainted = true
	}
	conn.Close(reason)
}

// exchange writes the request and reads the final response head into
// ex.resp. It reports whether any streamed (unkept) body bytes were consumed
// from the client, which rules a replay out.
func (f *Forwarder) exchange(ctx context.Context, ex *exchange, conn *connpool.Conn, ep *upstream.Endpoint, t *upstream.Target, r *http.Request, rest string, rec *telemetry.Record) (streamed bool, err error) {
	nc := conn.NetConn()
	ex.head = appendRequestHead(ex.head[:0], r, ep, rest, rec.RequestID, rec.ClientIP)
	if _, err := conn.W.Write(ex.head); err != nil {
		return false, err
	}
	switch {
	case ex.body != nil:
		_, err = conn.W.Write(ex.body)
	case r.ContentLength > 0:
		var n int64
		n, err = copyClientBody(conn.W, io.LimitReader(r.Body, r.ContentLength), ex.buf)
		streamed, rec.BytesIn = n > 0, n
		if err == nil && n < r.ContentLength {
			err = clientBodyError{io.ErrUnexpectedEOF}
		}
	case r.ContentLength < 0:
		ex.cw.Reset(conn.W)
		var n int64
		n, err = copyClientBody(&ex.cw, r.Body, ex.buf)
		streamed, rec.BytesIn = n > 0, n
		if err == nil {
			err = ex.cw.Close(r.Trailer)
		}
	}
	if err == nil {
		err = conn.W.Flush()
	}
	rt := t.Settings().ResponseTimeout
	if err != nil {
		// A backend that refuses an upload (413, 401) may answer and close
		// before reading it all: forward its answer rather than a 502.
		if errors.As(err, new(clientBodyError)) || !readEarlyResponse(ex, conn, r.Method) {
			return streamed, err
		}
		return streamed, nil
	}
	// response_timeout runs from the request's last byte to the response
	// head: an upload of any length is not held against it.
	if rt > 0 {
		_ = nc.SetReadDeadline(time.Now().Add(rt))
	}
	if err := readHead(ex, conn, r.Method); err != nil {
		return streamed, err
	}
	_ = nc.SetReadDeadline(time.Time{})
	if ctx.Err() != nil {
		// The client left as the head arrived; the abort may have set its
		// deadline before the line above cleared it.
		return streamed, context.Cause(ctx)
	}
	return streamed, nil
}

// readHead reads the final response head into ex.resp, skipping interim
// responses (100 Continue: weir answers Expect itself; 103 and others are
// not forwarded).
func readHead(ex *exchange, conn *connpool.Conn, method string) error {
	clear(ex.resp.Header)
	ex.resp.Reset()
	for {
		if err := h1.ReadResponse(conn.R, method, &ex.resp); err != nil {
			return err
		}
		if ex.resp.StatusCode >= 200 || ex.resp.StatusCode == http.StatusSwitchingProtocols {
			return nil
		}
		clear(ex.resp.Header)
		ex.resp.Reset()
	}
}

// earlyResponseWait bounds the wait for the answer of a backend that
// stopped reading the request body.
const earlyResponseWait = time.Second

// readEarlyResponse tries to read the response of a backend that failed the
// request body's write; the connection must close after it.
func readEarlyResponse(ex *exchange, conn *connpool.Conn, method string) bool {
	if conn.BytesWritten() == 0 {
		return false // nothing reached the backend: no answer to wait for
	}
	_ = conn.NetConn().SetReadDeadline(time.Now().Add(earlyResponseWait))
	if err := readHead(ex, conn, method); err != nil {
		return false
	}
	_ = conn.NetConn().SetReadDeadline(time.Time{})
	ex.resp.Close = true
	return true
}

// clientBodyError marks a failure reading the client's request body.
type clientBodyError struct{ err error }

func (e clientBodyError) Error() string { return "reading client body: " + e.err.Error() }
func (e clientBodyError) Unwrap() error { return e.err }

// clientBodyFailure names a failure reading the client's body: the client
// went away (a network error, or the body ended early) or sent a malformed
// one (400).
func clientBodyFailure(err error) *failure.Error {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) {
		return failure.New(failure.ClientConnectionFailure, "reading request body", err)
	}
	return failure.New(failure.BadRequest, "malformed request body", err)
}

// copyClientBody copies the client's body to dst, telling client read
// errors apart from backend write errors. n counts what was taken from the
// client, written or not: once it is above zero the body cannot be replayed.
func copyClientBody(dst io.Writer, src io.Reader, buf []byte) (n int64, err error) {
	for {
		m, rerr := src.Read(buf)
		if m > 0 {
			n += int64(m)
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, clientBodyError{rerr}
		}
	}
}

// respond writes the backend's response to the client and releases or
// closes the connection; stop ends the client-abort watch.
func (f *Forwarder) respond(ctx context.Context, w http.ResponseWriter, ex *exchange, conn *connpool.Conn, rec *telemetry.Record, start time.Time, stop func() bool) error {
	resp := &ex.resp
	if resp.StatusCode == http.StatusSwitchingProtocols {
		ex.close(conn, stop, connpool.Error)
		return failure.New(failure.BackendConnectionFailure, "backend switched protocols without an upgrade request", nil)
	}
	if te := resp.Header["Transfer-Encoding"]; len(te) > 0 && compressedTransfer(te) {
		// Transfer-Encoding is hop-by-hop: forwarding a gzip-coded body
		// without it would hand the client bytes it cannot read. Codings
		// weir does not know are passed through as they came.
		ex.close(conn, stop, connpool.Error)
		return failure.New(failure.BackendConnectionFailure, "unsupported transfer coding "+strings.Join(te, ", "), nil)
	}
	hdr := w.Header()
	copyResponseHeader(hdr, resp.Header)
	hdr.Set("X-Request-Id", rec.RequestID)
	if resp.ContentLength < 0 {
		delete(hdr, "Content-Length")
	}
	w.WriteHeader(resp.StatusCode)
	rec.Status = resp.StatusCode

	// Stream the body; flush every chunk when the length is unknown
	// (server-sent events, long polls).
	flusher, _ := w.(http.Flusher)
	stream := resp.ContentLength < 0 && flusher != nil
	for {
		n, rerr := resp.Body.Read(ex.buf)
		if n > 0 {
			if _, werr := w.Write(ex.buf[:n]); werr != nil {
				ex.close(conn, stop, connpool.Error)
				rec.Error = string(failure.ClientConnectionFailure)
				rec.BackendDuration += time.Since(start)
				return nil
			}
			rec.BytesOut += int64(n)
			if stream {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			ex.close(conn, stop, connpool.Error)
			rec.BackendDuration += time.Since(start)
			if ctx.Err() != nil {
				// The client left mid-body (a long poll, a stream): the
				// abort cut the backend read. Nobody to answer.
				rec.Error = string(failure.ClientConnectionFailure)
				return nil
			}
			fe := classifyExchange(rerr)
			rec.Error, rec.Detail = string(fe.Reason), fe.Error()
			return Aborted
		}
	}
	rec.BackendDuration += time.Since(start)
	for k, vs := range resp.Trailer {
		if !forbiddenTrailer(k) {
			hdr[http.TrailerPrefix+k] = vs
		}
	}
	if !stop() {
		// The client left just as the response completed: the abort may
		// still touch the connection, which must not be reused.
		ex.tainted = true
		conn.Close(connpool.Error)
		return nil
	}
	conn.Release(connpool.BackendTerms{Close: resp.Close, IdleTimeout: resp.KeepAliveTimeout, MaxRequests: resp.KeepAliveMax})
	return nil
}

// staleVerdict says how far a failed exchange on a reused connection got.
// Timeouts are never stale: the backend is slow, not gone.
func staleVerdict(conn *connpool.Conn, err error) connpool.Verdict {
	var pe *h1.ProtocolError
	if !conn.Reused() || isTimeout(err) || errors.As(err, new(clientBodyError)) || errors.As(err, &pe) {
		return connpool.VerdictNone
	}
	switch {
	case conn.BytesRead() > 0:
		return connpool.VerdictPartialResponse
	case conn.BytesWritten() == 0:
		return connpool.VerdictNothingWritten
	default:
		return connpool.VerdictNoResponse
	}
}

// replayable: a request that never reached the backend may always be
// replayed; one that was written but got no response byte only when
// repeating it is safe (idempotent method or an Idempotency-Key). Either
// way the body must still be at hand.
func replayable(v connpool.Verdict, r *http.Request, streamed bool) bool {
	if streamed {
		return false
	}
	switch v {
	case connpool.VerdictNothingWritten:
		return true
	case connpool.VerdictNoResponse:
		return idempotent(r.Method) || r.Header.Get("Idempotency-Key") != ""
	}
	return false
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// classifyGet names a failure to obtain a connection.
func classifyGet(ctx context.Context, err error) *failure.Error {
	var de *connpool.DialError
	var le *connpool.LimitError
	switch {
	case errors.As(err, &le):
		return failure.New(failure.ConnectionLimitReached, "waited "+le.Waited.String()+" for a connection to "+le.Dest.String(), err)
	case errors.As(err, &de):
		switch de.Kind {
		case connpool.DialTimeout:
			return failure.New(failure.BackendTimeout, "connect timeout", err)
		case connpool.DialNoPorts:
			return failure.New(failure.BackendConnectionFailure, "local ports exhausted (EADDRNOTAVAIL)", err)
		case connpool.DialRefused:
			return failure.New(failure.BackendConnectionFailure, "connection refused", err)
		case connpool.DialTLS:
			return failure.New(failure.BackendConnectionFailure, "TLS handshake failed", err)
		case connpool.DialProxy:
			return failure.New(failure.BackendConnectionFailure, "egress proxy refused the tunnel", err)
		}
		return failure.New(failure.BackendConnectionFailure, "connect failed", err)
	case ctx.Err() != nil:
		return failure.New(failure.ClientConnectionFailure, "client went away waiting for a connection", err)
	}
	return failure.New(failure.BackendConnectionFailure, "no connection", err)
}

// classifyExchange names a failure during the exchange.
func classifyExchange(err error) *failure.Error {
	var pe *h1.ProtocolError
	switch {
	case errors.As(err, new(clientBodyError)):
		return failure.New(failure.ClientConnectionFailure, "client body", err)
	case isTimeout(err):
		return failure.New(failure.BackendTimeout, "no response within response_timeout", err)
	case errors.As(err, &pe), errors.Is(err, h1.ErrHeaderTooLarge):
		return failure.New(failure.BackendConnectionFailure, "malformed response", err)
	}
	return failure.New(failure.BackendConnectionFailure, "connection lost before a complete response", err)
}

var aLongTimeAgo = time.Unix(1, 0)

// appendRequestHead appends the outbound request line and headers. clientIP
// is the client's address as the gateway derived it (the request record's
// ClientIP), appended to X-Forwarded-For.
func appendRequestHead(b []byte, r *http.Request, ep *upstream.Endpoint, rest, requestID, clientIP string) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	if ep.AbsoluteForm {
		b = append(b, "http://"...)
		b = append(b, ep.Host...)
	}
	b = appendJoinPath(b, ep.Path, rest)
	if r.URL.RawQuery != "" {
		b = append(b, '?')
		b = append(b, r.URL.RawQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, ep.Host...)
	b = append(b, "\r\n"...)

	conn := r.Header["Connection"]
	var xff []string
	for k, vs := range r.Header {
		if hopByHop(k) || h1.HasToken(conn, k) {
			if k == "Te" && h1.HasToken(vs, "trailers") {
				// RFC 9110 10.1.4: whoever sends TE names it in Connection.
				b = append(b, "TE: trailers\r\nConnection: TE\r\n"...)
			}
			continue
		}
		switch k {
		case "X-Forwarded-For":
			xff = vs
			continue
		case "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-Id", "Content-Length", "Expect", "Via":
			continue
		}
		for _, v := range vs {
			var ok bool
			if b, ok = h1.AppendHeaderField(b, k, v); !ok {
				// The server already rejects CR/LF; a NUL is dropped here.
				continue
			}
		}
	}
	b = append(b, "X-Forwarded-For: "...)
	for _, v := range xff {
		b = append(b, v...)
		b = append(b, ", "...)
	}
	b = append(b, clientIP...)
	b = append(b, "\r\nX-Forwarded-Proto: "...)
	if r.TLS != nil {
		b = append(b, "https"...)
	} else {
		b = append(b, "http"...)
	}
	b = append(b, "\r\nX-Forwarded-Host: "...)
	b = append(b, r.Host...)
	b = append(b, "\r\nVia: "...)
	for _, v := range r.Header["Via"] {
		b = append(b, v...)
		b = append(b, ", "...)
	}
	b = append(b, "1.1 weir\r\nX-Request-Id: "...)
	b = append(b, requestID...)
	b = append(b, "\r\n"...)
	switch {
	case r.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	case r.ContentLength < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	return append(b, "\r\n"...)
}

// hopByHop reports the headers that apply to one connection only
// (RFC 9110 7.6.1), plus Proxy-* credentials meant for weir.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// appendJoinPath appends the request-target path: the endpoint's base path
// joined with the rest of the client's path (after the API's base path),
// without doubling or losing the slash between them. Rewriting the
// request-target is the forwarder's job; route only matches.
func appendJoinPath(dst []byte, base, rest string) []byte {
	switch {
	case rest == "":
		if base == "" {
			return append(dst, '/')
		}
		return append(dst, base...)
	case base == "" || base == "/":
		return append(dst, rest...)
	case base[len(base)-1] == '/' && rest[0] == '/':
		return append(append(dst, base...), rest[1:]...)
	default:
		return append(append(dst, base...), rest...)
	}
}

// copyResponseHeader moves the backend's end-to-end headers into dst,
// appending weir to Via.
func copyResponseHeader(dst, src http.Header) {
	conn := src["Connection"]
	for k, vs := range src {
		if hopByHop(k) && k != "Trailer" || h1.HasToken(conn, k) {
			continue
		}
		dst[k] = vs
	}
	if via := dst["Via"]; len(via) > 0 {
		dst["Via"] = append(via, "1.1 weir")
	} else {
		dst["Via"] = []string{"1.1 weir"}
	}
}

// compressedTransfer reports whether a Transfer-Encoding header lists a
// registered coding that transforms the bytes (gzip, deflate, compress).
func compressedTransfer(vs []string) bool {
	for _, v := range vs {
		for len(v) > 0 {
			var tok string
			tok, v = h1.NextToken(v)
			for _, c := range [...]string{"gzip", "x-gzip", "deflate", "compress", "x-compress"} {
				if h1.EqualFold(tok, c) {
					return true
				}
			}
		}
	}
	return false
}

// forbiddenTrailer reports fields that must not be sent as trailers
// (RFC 9110 6.5.1): framing, routing, and the like.
func forbiddenTrailer(k string) bool {
	switch k {
	case "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding", "Host",
		"Trailer", "Te", "Connection", "Keep-Alive", "Upgrade", "Authorization", "Set-Cookie", "Cache-Control", "Expires", "Date":
		return true
	}
	return false
}
