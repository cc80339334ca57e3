// Package connpool holds weir's backend connections: one Pool per
// destination (IP, port, TLS server name) with keep-alive, caps and a FIFO
// queue of waiters, idle watching that learns the backend's own idle term,
// the port ledger and counted close reasons. It imports no other weir
// package.
package connpool

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// CloseReason names why a connection was closed. The names are stable: they
// appear in /pools, metrics and logs.
type CloseReason uint8

// Close reasons.
const (
	IdleTimeout  CloseReason = iota // idle longer than weir's keep-alive or the backend's learned/announced term
	BackendClose                    // the backend closed it (Connection: close, HTTP/1.0, or closed while idle)
	MaxRequests                     // max_requests_per_connection reached (or the backend's Keep-Alive max)
	MaxLifetime                     // max_connection_lifetime reached
	StaleOnReuse                    // a reused connection failed before a complete response
	Error                           // an I/O or protocol error, or the client went away mid-exchange
	DNSDrain                        // its address disappeared from DNS
	Shutdown                        // the pool was closed (shutdown, reload that removed it)
	NumCloseReasons
)

var closeReasonNames = [NumCloseReasons]string{
	"idle_timeout", "backend_close", "max_requests", "max_lifetime",
	"stale_on_reuse", "error", "dns_drain", "shutdown",
}

// String returns the stable name of r.
func (r CloseReason) String() string {
	if r < NumCloseReasons {
		return closeReasonNames[r]
	}
	return "unknown"
}

// Dest is one destination: the unit of pooling and port accounting.
type Dest struct {
	// Addr is the IP and port connections go to: the backend's, or the
	// egress proxy's for plain HTTP sent in absolute form.
	Addr netip.AddrPort
	// ServerName is the TLS server name; empty for plain HTTP.
	ServerName string
}

// String renders d as "ip:port" or "ip:port/servername".
func (d Dest) String() string {
	if d.ServerName == "" {
		return d.Addr.String()
	}
	return d.Addr.String() + "/" + d.ServerName
}

// Settings are a pool's limits; see config.Transport for meanings.
type Settings struct {
	IdleTimeout  time.Duration // 0 = keep-alive off: every connection closes after one exchange
	MaxConns     int           // 0 = unlimited
	MaxIdle      int           // 0 = no own cap
	QueueTimeout time.Duration // 0 = fail at once at the cap
	MaxRequests  int           // 0 = unlimited
	MaxLifetime  time.Duration // 0 = unlimited; jittered up to 10% per connection
}

// DialFunc opens one connection to the pool's destination (TCP, TLS, proxy
// tunnel: whatever the destination needs). The context carries the connect
// deadline. It returns a *DialError on failure.
type DialFunc func(ctx context.Context) (net.Conn, error)

// DialKind classifies a dial failure where it is known.
type DialKind uint8

// Dial failure kinds.
const (
	DialRefused DialKind = iota // connection refused or reset during connect
	DialTimeout                 // connect (or TLS, or CONNECT) deadline passed
	DialNoPorts                 // the local ephemeral ports ran out (EADDRNOTAVAIL)
	DialTLS                     // TLS handshake failed (certificate, protocol)
	DialProxy                   // the egress proxy refused the CONNECT
	DialOther                   // anything else (unreachable network, ...)
)

// DialError is a failed dial, classified.
type DialError struct {
	Kind DialKind
	Addr string // what was dialed
	Err  error
}

func (e *DialError) Error() string { return "dial " + e.Addr + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// LimitError is returned by Get when a request waited QueueTimeout for a
// connection under MaxConns.
type LimitError struct {
	Dest   Dest
	Waited time.Duration
}

func (e *LimitError) Error() string {
	return "connection limit reached for " + e.Dest.String() + " after waiting " + e.Waited.String()
}

// Verdict says how far an exchange on a reused connection got before it
// failed; it decides whether replaying the request is safe.
type Verdict uint8

// Verdicts.
const (
	VerdictNone            Verdict = iota // no failure (or a fresh connection)
	VerdictNothingWritten                 // the connection was found dead before the request was written: always replayable
	VerdictNoResponse                     // written, no response byte: replayable only when idempotent
	VerdictPartialResponse                // some response bytes came: never replayable
	NumVerdicts
)

var verdictNames = [NumVerdicts]string{"", "nothing_written", "no_response", "partial_response"}

// String returns the stable name of v ("" for VerdictNone).
func (v Verdict) String() string {
	if v < NumVerdicts {
		return verdictNames[v]
	}
	return "unknown"
}
