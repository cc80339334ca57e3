// Package store holds the state policies share: rate-limit buckets (GCRA),
// quota counters (fixed and rolling windows), and opaque values for a
// response cache. Memory keeps it in the process, exact and sharded; Redis
// shares it between instances with one atomic Lua script per decision.
//
// Times cross the interface as time.Time chosen by the caller, so every
// instance decides on its own clock; with Redis, clock skew between
// instances is part of the error bound (see ratelimit's package doc).
package store

import (
	"context"
	"errors"
	"time"
)

// Store is state shared by policies, safe for concurrent use.
type Store interface {
	// Take runs GCRA on the bucket at key: it grants up to n (>= 1) calls
	// that conform to r at now, all or some (fewer only when fewer conform),
	// and records them.
	Take(ctx context.Context, key string, r Rate, now time.Time, n int) (Grant, error)
	// Count adds n (>= 0) to the counter at key in the window w, only if the
	// sum stays <= limit (limit < 0: no limit, always added).
	Count(ctx context.Context, key string, w Window, now time.Time, n, limit int64) (Tally, error)
	// Get returns the value at key; ok is false when there is none.
	Get(ctx context.Context, key string) (val []byte, ok bool, err error)
	// Set stores val at key for ttl (> 0). The store keeps its own copy.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Delete removes key's value, if any.
	Delete(ctx context.Context, key string) error
	// Stats returns the store's counters.
	Stats() Stats
	// Close releases the store; later calls fail with ErrClosed.
	Close() error
}

// Rate is a GCRA rate: one call per Interval, with Burst calls allowed back
// to back. Over any span d at most Burst + d/Interval calls conform.
type Rate struct {
	Interval time.Duration // > 0
	Burst    int           // >= 1
}

// Grant is the result of Take.
type Grant struct {
	// Granted is how many of the n calls asked for conform (0 = refused).
	Granted int
	// Remaining is how many more calls would conform right after this one.
	Remaining int
	// RetryAfter is, when Granted is 0, how long until one call conforms.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again (Burst calls
	// available).
	Reset time.Duration
}

// Window is a counting window: fixed when Slots is 0, rolling otherwise.
type Window struct {
	// Fixed windows: End is when the current window ends (its counter
	// expires then). The caller puts the window's identity (its start) in
	// the key, so each window has its own counter.
	End time.Time
	// Rolling windows: the count covers the last Length, kept in Slots
	// slots of Length/Slots each; a count leaves the window between Length
	// and Length+Length/Slots after it was added.
	Length time.Duration
	Slots  int
}

// Tally is the result of Count.
type Tally struct {
	// Added reports whether n was added (the sum stayed within the limit).
	Added bool
	// Count is the window's sum after the call.
	Count int64
	// RetryAfter is, when not Added, how long until n would fit; 0 when it
	// never will (n > limit).
	RetryAfter time.Duration
	// Reset is how long until the fixed window ends, or until the oldest
	// count leaves a rolling window.
	Reset time.Duration
}

// Stats are a store's counters since it was opened.
type Stats struct {
	Kind string `json:"kind"`
	// Ops and Errors count operations and the failed ones.
	Ops    uint64 `json:"ops"`
	Errors uint64 `json:"errors"`
	// Available is false while the store is known to be unreachable.
	Available bool `json:"available"`
	// Outages counts the times it became unreachable.
	Outages uint64 `json:"outages"`
	// Keys is the number of keys held (memory only).
	Keys int `json:"keys"`
	// Evictions counts keys dropped before they expired because the
	// store was full (memory only).
	Evictions uint64 `json:"evictions"`
}

// Deps are what a store needs from the process.
type Deps struct {
	// Observer receives a Redis store's events, for metrics; nil: none.
	Observer Observer
	// Log receives a Redis store's outage lines; nil: none.
	Log *Log
}

// Observer receives a store's events, for metrics. Its methods must be fast
// and safe for concurrent use.
type Observer interface {
	// StoreOp is called after every operation: op is "take", "count",
	// "get", "set" or "delete"; err is nil on success.
	StoreOp(kind, op string, d time.Duration, err error)
	// StoreAvailable is called when the store becomes unreachable (false)
	// and reachable again (true).
	StoreAvailable(kind string, up bool)
}

var (
	// ErrClosed is returned by a closed store.
	ErrClosed = errors.New("store closed")
	// ErrUnavailable is returned at once while the store is known to be
	// unreachable (it is being reconnected in the background).
	ErrUnavailable = errors.New("store unavailable")
)

// Error is a failed store operation.
type Error struct {
	Kind, Op string
	Err      error
}

func (e *Error) Error() string { return e.Kind + " store " + e.Op + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }
