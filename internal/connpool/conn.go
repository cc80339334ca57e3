package connpool

import (
	"bufio"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// bufSize is the size of a connection's read and write buffers.
const bufSize = 4096

// watchDelay is how long a released connection sits idle before its
// watcher starts reading. A connection reused sooner (a busy pool) never
// pays for starting and interrupting a watcher read, which keeps Get and
// Release free of allocations and goroutine hand-offs; a backend close in
// that short window is the same race any reuse has, and the forwarder's
// stale verdicts cover it.
const watchDelay = 2 * time.Millisecond

// aLongTimeAgo is a read deadline in the past: it ends a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// connState is where a connection is in its life. Guarded by Pool.mu.
type connState uint8

const (
	connNew     connState = iota // dialed, not yet placed
	connIdle                     // on the idle list
	connTaking                   // taken by Get, its watcher being stopped
	connActive                   // handed out for an exchange
	connProbing                  // idle past the learned term, out of reach of Get (Pool.probing)
	connClosed                   // retired and counted
)

// watchState is what an idle connection's watcher is doing. Guarded by
// Pool.mu.
type watchState uint8

const (
	watchOff     watchState = iota // not idle, or retired
	watchArmed                     // idle; the watcher starts after watchDelay
	watchReading                   // the watcher is blocked reading 1 byte
)

// watchSeen is what the watcher's read found.
type watchSeen uint8

const (
	seenNothing      watchSeen = iota // no read finished
	seenTimeout                       // the deadline passed (retire, or Get stopped it)
	seenBackendClose                  // EOF or reset: the backend closed it
	seenBytes                         // unexpected bytes on an idle connection
	seenError                         // any other read error
)

// Conn is one pooled connection, handed out by Get for one exchange and
// given back with Release or Close. The Conn and its buffers live as long as
// the connection. A Conn must not be used after Release or Close.
type Conn struct {
	// R reads from the connection (counts bytes).
	R *bufio.Reader
	// W writes to the connection (counts bytes).
	W *bufio.Writer

	pool    *Pool
	nc      net.Conn
	cr      countingReader
	cw      countingWriter
	local   netip.AddrPort
	remote  netip.AddrPort
	created time.Time
	jitter  float64       // fraction of MaxLifetime cut from this connection's life
	timer   *time.Timer   // starts the watcher after watchDelay
	exited  chan struct{} // the watcher's read ended after Get took the connection

	// Guarded by pool.mu.
	src       *source
	state     connState
	watch     watchState
	seen      watchSeen
	seenAt    time.Time
	requests  int           // exchanges handed out
	reqLimit  int           // the backend's Keep-Alive max as an absolute count; 0 = none
	announced time.Duration // the backend's latest Keep-Alive timeout on this connection
	idleSince time.Time     // when it went idle (Release, or dial with no taker)
	quietFrom time.Time     // when the backend last sent a byte: its idle clock runs from about here
	retireAt  time.Time
	prevIdle  *Conn
	nextIdle  *Conn

	// Set at hand-out for the holder.
	reused     bool
	idleFor    time.Duration
	connectDur time.Duration
}

// BackendTerms are what the backend's response said about reusing the
// connection.
type BackendTerms struct {
	Close       bool          // Connection: close, HTTP/1.0 without keep-alive, or close-delimited body
	IdleTimeout time.Duration // from "Keep-Alive: timeout=N" (0 = not given)
	MaxRequests int           // from "Keep-Alive: max=M" (remaining requests; 0 = not given)
}

func newConn(p *Pool, nc net.Conn, created time.Time) *Conn {
	c := &Conn{
		pool:    p,
		nc:      nc,
		local:   addrPortOf(nc.LocalAddr()),
		remote:  addrPortOf(nc.RemoteAddr()),
		created: created,
		jitter:  rand.Float64() * 0.1,
		exited:  make(chan struct{}, 1),
	}
	c.cr.nc, c.cw.nc = nc, nc
	c.R = bufio.NewReaderSize(&c.cr, bufSize)
	c.W = bufio.NewWriterSize(&c.cw, bufSize)
	c.timer = time.AfterFunc(time.Hour, c.watchIdle)
	c.timer.Stop()
	return c
}

// addrPortOf returns a's IP (IPv4 unmapped) and port, or the zero value for
// addresses that are not IP (in-memory pipes).
func addrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case nil:
		return ap
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return netip.AddrPort{}
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// NetConn returns the underlying connection, for deadlines. Read and write
// through R and W, not through it.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Reused reports whether the connection served an exchange before this one.
func (c *Conn) Reused() bool { return c.reused }

// IdleFor is how long the connection sat idle before this Get (0 if new or
// handed straight from a Release).
func (c *Conn) IdleFor() time.Duration { return c.idleFor }

// ConnectDuration is the dial time if the connection was opened for this
// Get, else 0.
func (c *Conn) ConnectDuration() time.Duration { return c.connectDur }

// LocalAddr is the connection's source IP and port (zero if not IP).
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// RemoteAddr is the connection's peer IP and port (zero if not IP).
func (c *Conn) RemoteAddr() netip.AddrPort { return c.remote }

// BytesRead is how many response bytes came from the socket since this Get
// (for stale verdicts: 0 means the backend sent nothing).
func (c *Conn) BytesRead() int64 { return c.cr.n }

// BytesWritten is how many request bytes were flushed to the socket since
// this Get.
func (c *Conn) BytesWritten() int64 { return c.cw.n }

// Release ends a completed exchange (response fully read); the pool keeps
// the connection for reuse per the backend's terms and its own settings, or
// closes it: keep-alive off -> idle_timeout, terms.Close -> backend_close,
// max requests or the backend's max -> max_requests, lifetime ->
// max_lifetime, over MaxIdle -> idle_timeout, pool draining -> its drain
// reason. A kept connection goes to the oldest waiter, else to the idle list.
func (c *Conn) Release(terms BackendTerms) {
	p := c.pool
	now := time.Now()
	p.mu.Lock()
	if c.state != connActive {
		p.mu.Unlock()
		return
	}
	// The next holder (or the watcher) starts without the last one's
	// deadlines.
	_ = c.nc.SetDeadline(time.Time{})
	closeIt := p.releaseLocked(c, terms, now)
	p.mu.Unlock()
	if closeIt {
		p.closeConn(c.nc)
	}
}

// Close closes the connection now (I/O error, stale reuse, client gone),
// counting reason.
func (c *Conn) Close(reason CloseReason) {
	p := c.pool
	p.mu.Lock()
	if c.state != connActive {
		p.mu.Unlock()
		return
	}
	p.retireLocked(c, reason, time.Now())
	p.mu.Unlock()
	p.closeConn(c.nc)
}

// watchIdle runs (from c.timer) while c sits idle: it blocks reading one
// byte until c must retire, and retires it early if the backend closes it or
// sends anything. Get stops it with a past read deadline and waits on
// c.exited. The byte, if any, is read through c.R so it stays buffered.
func (c *Conn) watchIdle() {
	p := c.pool
	p.mu.Lock()
	for {
		if c.state != connIdle && c.state != connProbing || c.watch != watchArmed {
			p.mu.Unlock()
			return
		}
		c.watch = watchReading
		// Set under p.mu: a Get that takes c later is sure to see
		// watchReading and to override this deadline.
		_ = c.nc.SetReadDeadline(c.retireAt)
		p.mu.Unlock()

		_, err := c.R.Peek(1)
		seen := classifyWatch(err)
		now := time.Now()

		p.mu.Lock()
		c.watch = watchOff
		switch c.state {
		case connTaking:
			c.seen, c.seenAt = seen, now
			p.mu.Unlock()
			c.exited <- struct{}{}
			return
		case connIdle, connProbing:
		default: // retired meanwhile (drain, eviction)
			p.mu.Unlock()
			return
		}
		if seen == seenTimeout && now.Before(c.retireAt) {
			// Update moved the deadline later: read on.
			c.watch = watchArmed
			continue
		}
		if c.state == connIdle && seen == seenTimeout {
			if until, ok := p.probeUntilLocked(c, now); ok {
				// Past the learned term: keep c, out of reach of
				// requests, to see whether the backend still closes it.
				p.moveLocked(c, connProbing)
				c.retireAt = until
				c.watch = watchArmed
				continue
			}
		}
		var reason CloseReason
		switch {
		case c.state == connProbing:
			reason = p.probeEndLocked(c, seen, now)
		case seen == seenTimeout:
			reason = p.timeoutReasonLocked(c, now)
		case seen == seenBackendClose:
			p.learnLocked(now.Sub(c.quietFrom), now)
			reason = BackendClose
		default:
			reason = Error
		}
		p.retireLocked(c, reason, now)
		p.mu.Unlock()
		p.closeConn(c.nc)
		return
	}
}

// classifyWatch names the outcome of the idle watcher's read.
func classifyWatch(err error) watchSeen {
	var ne net.Error
	switch {
	case err == nil:
		return seenBytes
	case errors.Is(err, os.ErrDeadlineExceeded):
		return seenTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED):
		return seenBackendClose
	case errors.As(err, &ne) && ne.Timeout():
		return seenTimeout
	}
	return seenError
}

// countingReader counts the bytes read from the connection and notes when
// the last ones came.
type countingReader struct {
	nc   net.Conn
	n    int64
	last time.Time // when a read last returned bytes
}

func (r *countingReader) Read(b []byte) (int, error) {
	n, err := r.nc.Read(b)
	if n > 0 {
		r.n += int64(n)
		r.last = time.Now()
	}
	return n, err
}

// countingWriter counts the bytes written to the connection.
type countingWriter struct {
	nc net.Conn
	n  int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.nc.Write(b)
	w.n += int64(n)
	return n, err
}
