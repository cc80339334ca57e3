// Package failure holds weir's stable failure reasons and the typed error
// that carries one. A failure is classified once, where the fact is known,
// and mapped to an HTTP status in one place (gateway).
package failure

import "net/http"

// Reason is a stable failure name that appears in logs, metrics and error
// bodies.
type Reason string

// Reasons.
const (
	None                     Reason = ""
	BackendConnectionFailure Reason = "BackendConnectionFailure" // dial refused/reset, connection lost before a complete response
	BackendTimeout           Reason = "BackendTimeout"           // connect or response deadline passed
	ConnectionLimitReached   Reason = "ConnectionLimitReached"   // waited too long under the destination's cap
	ClientConnectionFailure  Reason = "ClientConnectionFailure"  // the client went away
	RouteNotFound            Reason = "RouteNotFound"            // no API matches
	BadRequest               Reason = "BadRequest"               // malformed client request
	InternalError            Reason = "InternalError"            // a bug: a recovered panic
	RateLimitExceeded        Reason = "RateLimitExceeded"        // a rate-limit-by-key or spike-arrest policy said no
	QuotaExceeded            Reason = "QuotaExceeded"            // a quota-by-key policy's calls or bytes are used up
	StoreUnavailable         Reason = "StoreUnavailable"         // a policy with on_store_error: deny could not reach its store
)

// Error is a classified failure.
type Error struct {
	Reason Reason
	// Detail is a short, safe description for logs (never sent to clients).
	Detail string
	// Err is the underlying error, for logs.
	Err error
	// Header holds headers for the error response (Retry-After and
	// RateLimit-* on a 429); nil for none. The gateway adds them to its own.
	Header http.Header
}

func (e *Error) Error() string {
	s := string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error.
func New(r Reason, detail string, err error) *Error {
	return &Error{Reason: r, Detail: detail, Err: err}
}
