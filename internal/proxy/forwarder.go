// Package proxy is weir's one outbound client and its forwarder. Every
// request weir sends to another service runs the same way: pick a
// destination of the target, take a connection from its pool, run one
// attempt through the exchange of the destination's protocol (HTTP/1.1:
// weir writes the request itself, hop-by-hop headers removed, X-Forwarded-*
// and Via added for a client), replay it on a fresh connection only when a
// stale keep-alive connection provably lost it before the backend acted,
// and classify every failure once. Forward streams the response to a
// client; Do reads it into memory for weir's own requests.
package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/h1"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/upstream"
)

// MaxReplayBody is the largest client request body kept in memory so that
// the request can be replayed after a stale-connection failure. Larger (or
// chunked) bodies are streamed and not replayable once sent.
const MaxReplayBody = 64 << 10

// maxAttempts bounds replays after stale-connection failures.
const maxAttempts = 3

// Forwarder is weir's outbound client: it sends requests to targets over
// their pools. Safe for concurrent use.
type Forwarder struct {
	calls sync.Pool // *call: per-request scratch, reused
}

// New returns a Forwarder.
func New() *Forwarder {
	return &Forwarder{calls: sync.Pool{New: func() any {
		c := &call{buf: make([]byte, MaxReplayBody)}
		c.h1 = h1Exchange{head: make([]byte, 0, 2048), resp: h1.Response{Header: http.Header{}, Trailer: http.Header{}}}
		c.a.buf = c.buf
		c.abort = func() { _ = c.nc.SetDeadline(aLongTimeAgo) }
		return c
	}}}
}

// call is one request's scratch space: the outbound request, its attempt,
// each protocol's exchange state and the buffers, pooled so that a request
// allocates none of it.
type call struct {
	req   Request
	fwd   Forwarded // req.Forwarded points here on the forwarding path
	a     attempt
	h1    h1Exchange
	nc    net.Conn // the current attempt's connection, for abort
	abort func()   // cuts nc (past deadline): the caller went away
	// tainted: an abort callback may still run and touch nc, so the call
	// must not be reused.
	tainted bool
	buf     []byte // the kept client body, then the copy buffer
}

func (f *Forwarder) get() *call { return f.calls.Get().(*call) }

// put returns c to the pool unless an abort may still touch it; what it
// refers to of the finished request is dropped first.
func (f *Forwarder) put(c *call) {
	if c.tainted {
		return
	}
	c.req, c.fwd = Request{}, Forwarded{}
	c.a.req, c.a.ep, c.a.conn, c.a.resp, c.a.stop, c.a.interim = nil, nil, nil, respHead{}, nil, nil
	c.nc = nil
	f.calls.Put(c)
}

// exchangeFor returns the call's exchange for protocol p.
func (c *call) exchangeFor(p upstream.Protocol) exchange {
	switch p {
	case upstream.HTTP1:
		return &c.h1
	}
	return nil
}

// send runs c.req to t: pick, pool get, attempt, replay gate, classify.
// On success c.a holds the connection with the response head read, for the
// caller to take the body from and then release. On failure the connection
// is closed and the failure classified. rec receives what the attempts
// learned: destination, reuse, durations, request bytes, verdict.
func (f *Forwarder) send(ctx context.Context, c *call, t *upstream.Target, rec *telemetry.Record) *failure.Error {
	s := t.Settings()
	x := c.exchangeFor(s.Protocol)
	if x == nil {
		return failure.New(failure.InternalError, "no exchange for protocol "+s.Protocol.String(), nil)
	}
	a := &c.a
	a.req, a.timeout = &c.req, s.ResponseTimeout
	if c.req.Body != nil {
		rec.BytesIn = int64(len(c.req.Body))
	}
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
		a.ep, a.conn, a.streamed, a.sent = ep, conn, false, 0
		a.start = time.Now()
		// Cut the exchange when the caller goes away, until the response
		// is complete. The callback is bound once per pooled call (no
		// closure per request).
		c.nc = conn.NetConn()
		a.stop = context.AfterFunc(ctx, c.abort)
		err = x.roundTrip(a)
		if a.streamed {
			rec.BytesIn = a.sent
		}
		if err == nil && ctx.Err() != nil {
			// The caller left as the head arrived; the abort may have cut
			// the connection after the exchange last used it.
			err = context.Cause(ctx)
		}
		if err == nil {
			return nil
		}
		rec.BackendDuration += time.Since(a.start)
		verdict := staleVerdict(a, x, err)
		if verdict != connpool.VerdictNone && ctx.Err() == nil {
			c.close(connpool.StaleOnReuse)
		} else {
			c.close(connpool.Error)
		}
		if cbe := (clientBodyError{}); errors.As(err, &cbe) {
			return clientBodyFailure(cbe.err)
		}
		if ctx.Err() != nil {
			return failure.New(failure.ClientConnectionFailure, "client went away waiting for the backend", ctx.Err())
		}
		if attempt+1 < maxAttempts && replayable(verdict, &c.req, a.streamed) {
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

// close closes the attempt's connection with reason and ends the abort
// watch; an abort that already fired may still touch c.nc, so c is then
// not reused.
func (c *call) close(reason connpool.CloseReason) {
	if !c.a.stop() {
		c.tainted = true
	}
	c.a.conn.Close(reason)
}

// release ends a completed exchange: the connection goes back to its pool
// on the backend's terms. When the caller left just as the response
// completed, the abort may still touch the connection, which is closed
// instead.
func (c *call) release() {
	if !c.a.stop() {
		c.tainted = true
		c.a.conn.Close(connpool.Error)
		return
	}
	c.a.conn.Release(c.a.resp.terms)
}

// copyBody moves the response body to dst through c.buf, flushing after
// each piece when fl is not nil, and counts it in rec. When either side
// fails, dst (werr) or the backend (rerr), it closes the connection; the
// caller names the failure.
func (c *call) copyBody(dst io.Writer, fl http.Flusher, rec *telemetry.Record) (werr, rerr error) {
	body := c.a.resp.body
	for {
		n, err := body.Read(c.buf)
		if n > 0 {
			if _, werr = dst.Write(c.buf[:n]); werr != nil {
				break
			}
			rec.BytesOut += int64(n)
			if fl != nil {
				fl.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	rec.BackendDuration += time.Since(c.a.start)
	if werr != nil || rerr != nil {
		c.close(connpool.Error)
	}
	return werr, rerr
}

// Aborted is returned when the response had already started when the
// failure happened: the caller must cut the client connection (the
// failure is in the record).
var Aborted = errors.New("response aborted after it started")

// Forward proxies the client's request r to t and streams the response to
// w. rest is the request path after the API's base path (escaped form);
// the client's address and the request id come from rec (the gateway
// derives them). On failure before the response started it returns a
// *failure.Error and writes nothing; once the response started it fills
// rec.Error and returns Aborted (or nil when only the client went away,
// which needs no abort).
func (f *Forwarder) Forward(w http.ResponseWriter, r *http.Request, t *upstream.Target, rest string, rec *telemetry.Record) error {
	c := f.get()
	defer f.put(c)
	c.fromClient(r, rest, rec)
	if r.ProtoAtLeast(1, 1) {
		c.a.interim = w // RFC 9110 15.2: no 1xx to an HTTP/1.0 client
	}
	if err := c.keepBody(); err != nil {
		return clientBodyFailure(err)
	}
	ctx := r.Context()
	if fe := f.send(ctx, c, t, rec); fe != nil {
		return fe
	}
	return c.respond(ctx, w, rec)
}

// fromClient describes the client's request r as c.req: the rest of its
// path, its query and fields, its body as a Stream, and what weir adds as
// a forwarder.
func (c *call) fromClient(r *http.Request, rest string, rec *telemetry.Record) {
	c.fwd = Forwarded{ClientIP: rec.ClientIP, TLS: r.TLS != nil, Host: r.Host, RequestID: rec.RequestID}
	c.req = Request{Method: r.Method, Path: rest, RawQuery: r.URL.RawQuery, Header: r.Header, Trailer: &r.Trailer, Forwarded: &c.fwd}
	if r.ContentLength != 0 {
		c.req.Stream, c.req.StreamLength = r.Body, r.ContentLength
	}
}

// keepBody reads a Stream of known length up to MaxReplayBody into memory,
// so that the request can be replayed after a stale-connection failure.
// Reading it first also answers the client's Expect: 100-continue.
func (c *call) keepBody() error {
	n := c.req.StreamLength
	if c.req.Stream == nil || n <= 0 || n > MaxReplayBody {
		return nil
	}
	if _, err := io.ReadFull(c.req.Stream, c.buf[:n]); err != nil {
		return err
	}
	c.req.Body, c.req.Stream, c.req.StreamLength = c.buf[:n], nil, 0
	return nil
}

// respond writes the backend's response to the client and releases or
// closes the connection.
func (c *call) respond(ctx context.Context, w http.ResponseWriter, rec *telemetry.Record) error {
	resp := &c.a.resp
	hdr := w.Header()
	copyResponseHeader(hdr, resp.header)
	hdr.Set("X-Request-Id", rec.RequestID)
	if resp.length < 0 {
		delete(hdr, "Content-Length")
	}
	w.WriteHeader(resp.status)
	rec.Status = resp.status

	// Stream the body; flush every piece when the length is unknown
	// (server-sent events, long polls).
	var fl http.Flusher
	if resp.length < 0 {
		fl, _ = w.(http.Flusher)
	}
	switch werr, rerr := c.copyBody(w, fl, rec); {
	case werr != nil:
		rec.Error = string(failure.ClientConnectionFailure)
		return nil
	case rerr != nil:
		fe := bodyFailure(ctx, rerr)
		if fe.Reason == failure.ClientConnectionFailure {
			// The client left mid-body (a long poll, a stream): the
			// abort cut the backend read. Nobody to answer.
			rec.Error = string(fe.Reason)
			return nil
		}
		rec.Error, rec.Detail = string(fe.Reason), fe.Error()
		return Aborted
	}
	for k, vs := range resp.trailer {
		if !forbiddenTrailer(k) {
			hdr[http.TrailerPrefix+k] = vs
		}
	}
	c.release()
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

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

// forwardInterim writes an interim response to the client: its end-to-end
// fields are sent with it, then taken out of w's header again, which the
// final response reuses (fields policies set there stay as they are).
func forwardInterim(w http.ResponseWriter, status int, src http.Header) {
	h := w.Header()
	var buf [8]string
	added := buf[:0]
	conn := src["Connection"]
	for k, vs := range src {
		if _, set := h[k]; set || hopByHop(k) || h1.HasToken(conn, k) {
			continue
		}
		h[k] = vs
		added = append(added, k)
	}
	w.WriteHeader(status)
	for _, k := range added {
		delete(h, k)
	}
}

// copyEndToEnd copies the backend's end-to-end headers into dst: hop-by-hop
// fields and those named in Connection are dropped (Trailer is kept: it
// announces the trailer fields).
func copyEndToEnd(dst, src http.Header) {
	conn := src["Connection"]
	for k, vs := range src {
		if hopByHop(k) && k != "Trailer" || h1.HasToken(conn, k) {
			continue
		}
		dst[k] = vs
	}
}

// copyResponseHeader moves the backend's end-to-end headers into dst,
// appending weir to Via.
func copyResponseHeader(dst, src http.Header) {
	copyEndToEnd(dst, src)
	if via := dst["Via"]; len(via) > 0 {
		dst["Via"] = append(via, "1.1 weir")
	} else {
		dst["Via"] = []string{"1.1 weir"}
	}
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
