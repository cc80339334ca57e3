package proxy

import (
	"io"
	"net/http"

	"github.com/weirgw/weir/internal/connpool"
)

// Request is an outbound request in weir's own terms rather than an
// *http.Request: what every caller of the one outbound client sends. The
// target forwarder fills it from the client's request; a service callout
// or a token fetch builds it from a template. The endpoint the request goes
// to supplies Host and the base path.
type Request struct {
	// Method is the request method ("GET").
	Method string
	// Path is the request path below the endpoint's base path, in escaped
	// form ("/users/7"); "" is the base path itself.
	Path string
	// RawQuery is the query without '?', in escaped form; "" for none.
	RawQuery string
	// Header holds the fields to send; nil for none. Hop-by-hop fields,
	// fields named in Connection, Content-Length and Expect are not sent:
	// weir frames the body itself.
	Header http.Header
	// Body is a body held in memory, sent with its length. A request with
	// one can be replayed after a stale-connection failure. nil = none, or
	// Stream.
	Body []byte
	// Stream is a body read while it is sent, used when Body is nil: once a
	// byte of it was taken, the request is no longer replayable. nil = none.
	Stream io.Reader
	// StreamLength is Stream's length: > 0 is sent as Content-Length (a
	// shorter Stream fails the request), -1 means unknown (sent chunked),
	// 0 no body.
	StreamLength int64
	// Trailer points at the fields sent after a chunked Stream. It is read
	// once the Stream has ended, so a source that learns its trailer as it
	// is read (a server request's body) fills it in time. nil = none.
	Trailer *http.Header
	// Forwarded is set when weir forwards the request for a client; nil for
	// weir's own requests.
	Forwarded *Forwarded
}

// Forwarded is what weir adds to a request it forwards for a client:
// X-Forwarded-For (the client's own list extended), X-Forwarded-Proto,
// X-Forwarded-Host and X-Request-Id (the client's copies replaced), and Via
// (extended with "1.1 weir").
type Forwarded struct {
	// ClientIP is appended to X-Forwarded-For; "" appends nothing.
	ClientIP string
	// TLS reports a client that came over TLS (X-Forwarded-Proto: https).
	TLS bool
	// Host is the Host the client asked for.
	Host string
	// RequestID is sent as X-Request-Id.
	RequestID string
}

// length is the body's length as framed: len(Body), else StreamLength.
func (r *Request) length() int64 {
	if r.Body != nil {
		return int64(len(r.Body))
	}
	return r.StreamLength
}

// replayable is the replay gate: a request that never reached the backend
// may always be replayed; one that was written but got no response byte
// only when repeating it is safe (an idempotent method, or an
// Idempotency-Key). Either way the body must still be at hand (streamed:
// bytes of a Stream were taken).
func replayable(v connpool.Verdict, r *Request, streamed bool) bool {
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
