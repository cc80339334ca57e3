package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/h1"
	"github.com/weirgw/weir/internal/upstream"
)

// exchange is how one attempt goes on the wire, chosen by the destination's
// protocol: HTTP/1.1 today (h1Exchange), HTTP/2 streams next. It writes the
// request, reads the final response head and hands over the body to read;
// when an attempt fails it says how far it got. The replay rules, the
// caller-abort watch and the failure classification stay above it, in
// Forwarder.send, for every protocol and every caller.
type exchange interface {
	// roundTrip writes a.req on a.conn and reads the final response head
	// into a.resp. It sets a.streamed and a.sent when it takes bytes of
	// a.req.Stream.
	roundTrip(a *attempt) error
	// verdict says how far a failed attempt on a reused connection got
	// (staleVerdict has ruled out the failures that are never stale), or
	// VerdictNone when the backend did answer (a malformed response).
	verdict(a *attempt, err error) connpool.Verdict
}

// attempt is one try of a request on one pooled connection: what an
// exchange reads and fills.
type attempt struct {
	req  *Request
	ep   *upstream.Endpoint
	conn *connpool.Conn
	// timeout is response_timeout: from the request's last byte to the
	// response head; 0 = none.
	timeout time.Duration
	buf     []byte // copy buffer
	// streamed: bytes of req.Stream were taken, so it cannot be replayed.
	streamed bool
	sent     int64       // bytes taken from req.Stream
	resp     respHead    // the final response head, once roundTrip succeeded
	start    time.Time   // when the attempt got its connection
	stop     func() bool // ends the caller-abort watch on conn
	// interim receives the backend's interim (1xx) responses: the
	// client's writer when the client speaks HTTP/1.1; nil drops them.
	interim http.ResponseWriter
}

// respHead is a final response head as an exchange read it, in terms of no
// protocol in particular.
type respHead struct {
	status int
	// header holds the fields as received; copyEndToEnd drops the
	// hop-by-hop ones.
	header http.Header
	length int64     // the body's length; -1 = unknown
	body   io.Reader // the body; io.EOF at its end
	// trailer is filled once body returned io.EOF.
	trailer http.Header
	// terms are what the backend said about reusing the connection.
	terms connpool.BackendTerms
}

// staleVerdict says how far a failed attempt on a reused connection got.
// Timeouts are never stale (the backend is slow, not gone), nor is a
// failure of the request's own body source; the rest the exchange judges.
func staleVerdict(a *attempt, x exchange, err error) connpool.Verdict {
	if !a.conn.Reused() || isTimeout(err) || errors.As(err, new(clientBodyError)) {
		return connpool.VerdictNone
	}
	return x.verdict(a, err)
}

// clientBodyError marks a failure reading the request body's source (the
// client's body on the forwarding path).
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

// classifyExchange names a failure during the exchange, the response body
// included.
func classifyExchange(err error) *failure.Error {
	var pe *h1.ProtocolError
	var tl *TooLargeError
	switch {
	case errors.As(err, new(clientBodyError)):
		return failure.New(failure.ClientConnectionFailure, "client body", err)
	case isTimeout(err):
		return failure.New(failure.BackendTimeout, "no response within response_timeout", err)
	case errors.As(err, &pe), errors.Is(err, h1.ErrHeaderTooLarge):
		return failure.New(failure.BackendConnectionFailure, "malformed response", err)
	case errors.As(err, &tl):
		return failure.New(failure.BackendConnectionFailure, "response body larger than the caller takes", err)
	}
	return failure.New(failure.BackendConnectionFailure, "connection lost before a complete response", err)
}

// bodyFailure names a failure reading the response body: the caller went
// away (its abort cut the backend read), or the exchange failed.
func bodyFailure(ctx context.Context, err error) *failure.Error {
	if ctx.Err() != nil {
		return failure.New(failure.ClientConnectionFailure, "client went away during the response", ctx.Err())
	}
	return classifyExchange(err)
}
