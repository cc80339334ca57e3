// Package failure holds weir's stable failure reasons, the table that says
// what each one means (its status, whose fault it is, what to do), and the
// typed error that carries one. A failure is classified once, where the fact
// is known; the gateway answers it with the status the table gives.
package failure

import "net/http"

// Reason is a stable failure name that appears in logs, metrics and error
// bodies. Every reason has one row in the table (reason.go).
type Reason string

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
