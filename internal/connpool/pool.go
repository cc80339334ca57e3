package connpool

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by Get once the pool was drained or closed.
var ErrClosed = errors.New("connpool: pool closed")

// errNoConn is the cause given when a DialFunc returns neither a connection
// nor an error.
var errNoConn = errors.New("dial returned no connection")

// Pool holds the connections to one destination: idle ones (reused most
// recent first), active ones, dials in flight, and a FIFO queue of requests
// waiting under MaxConns. It is safe for concurrent use; one mutex guards it,
// and nothing on the request path takes a lock shared with other pools.
type Pool struct {
	dest    Dest
	dial    DialFunc
	profile string // Key.Profile rendered, set once by Registry before the pool is published

	// dialCtx is the parent of every dial: detached from requesters, and
	// cancelled by Drain so a shutdown does not wait for connect timeouts.
	dialCtx    context.Context
	cancelDial context.CancelFunc

	mu          sync.Mutex
	s           Settings
	closed      bool
	drainReason CloseReason
	idleHead    *Conn // the longest idle
	idleTail    *Conn // the most recently idled: Get takes it first
	idleN       int
	active      int // handed out, or being taken from the idle list
	dialing     int
	closing     int // retired, socket close in progress: still holds a slot
	waiters     waitQueue
	learned     time.Duration // the backend's idle term, as observed; 0 = none
	probing     *Conn         // the connection kept past the learned term, if any
	probeAfter  time.Time     // no probe starts before this
	announced   time.Duration // the latest Keep-Alive timeout the backend announced
	led         ledger
}

// New returns an empty pool for dest with settings s; dial opens its
// connections.
func New(dest Dest, s Settings, dial DialFunc) *Pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{dest: dest, dial: dial, s: s, dialCtx: ctx, cancelDial: cancel}
	p.led.init(time.Now())
	return p
}

// Dest returns the destination the pool connects to.
func (p *Pool) Dest() Dest { return p.dest }

// Profile returns the dial profile the pool was registered under, rendered
// (Profile.String; "" for a pool made with New directly).
func (p *Pool) Profile() string { return p.profile }

// Settings returns the pool's current limits.
func (p *Pool) Settings() Settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.s
}

// Get returns a connection ready for one exchange: the most recently idled
// live one (LIFO), else a new one if under MaxConns, else it waits in a FIFO
// queue up to QueueTimeout and then returns *LimitError. ctx cancellation
// returns ctx.Err(). fresh=true skips idle connections (used to replay after a
// stale failure). A dial runs detached from the requesting ctx (bounded by the
// DialFunc's own connect timeout): if the requester gives up, the new
// connection goes to the next waiter or to the idle list; exactly one waiter
// wins each freed/dialed connection. Dial errors (*DialError) go to the
// requester that caused the dial. After Drain/Close, Get returns ErrClosed.
func (p *Pool) Get(ctx context.Context, fresh bool) (*Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if !fresh && p.idleTail != nil {
			c := p.idleTail
			reading := c.watch == watchReading
			p.moveLocked(c, connTaking)
			c.timer.Stop()
			if reading {
				// The watcher is blocked in a read: a past deadline ends
				// it, and the reader is ours only once it has returned.
				p.mu.Unlock()
				_ = c.nc.SetReadDeadline(aLongTimeAgo)
				<-c.exited
				_ = c.nc.SetReadDeadline(time.Time{})
				p.mu.Lock()
			}
			now := time.Now()
			reason, dead := p.takenDeadLocked(c, now)
			if p.closed {
				reason, dead = p.drainReason, true
			}
			if dead {
				// The request never touched it: count it and move on.
				p.retireLocked(c, reason, now)
				p.mu.Unlock()
				p.closeConn(c.nc)
				p.mu.Lock()
				continue
			}
			p.handoutLocked(c, now, 0)
			p.mu.Unlock()
			return c, nil
		}
		var room *Conn // an idle connection to close for a slot
		switch {
		case !p.atCapLocked():
		case p.probing != nil:
			// A probe never makes a request wait: end it for the slot.
			room = p.probing
		case fresh && p.idleHead != nil:
			// A fresh connection is wanted and only idle ones hold the
			// slots: close the longest idle to make room.
			room = p.idleHead
		}
		if room == nil {
			break
		}
		p.retireLocked(room, IdleTimeout, time.Now())
		p.mu.Unlock()
		p.closeConn(room.nc)
		p.mu.Lock()
	}

	start := time.Now()
	w := &waiter{fresh: fresh, ch: make(chan getResult, 1)}
	if !p.atCapLocked() {
		// Under the cap no one older is waiting without a dial of its
		// own (slotFreedLocked keeps it so): dial for this request.
		p.waiters.push(w)
		p.startDialLocked(w)
	} else if p.s.QueueTimeout <= 0 {
		p.mu.Unlock()
		return nil, &LimitError{Dest: p.dest}
	} else {
		p.waiters.push(w)
	}
	qt := p.s.QueueTimeout
	dialing := w.dialing
	p.mu.Unlock()
	return p.wait(ctx, w, dialing, qt, start)
}

// wait blocks until w is served, ctx ends, or (while w is not dialing) the
// queue timeout passes.
func (p *Pool) wait(ctx context.Context, w *waiter, dialing bool, qt time.Duration, start time.Time) (*Conn, error) {
	var timeout <-chan time.Time
	if !dialing && qt > 0 {
		t := time.NewTimer(qt)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case r := <-w.ch:
			return r.c, r.err
		case <-ctx.Done():
			p.mu.Lock()
			if w.queued {
				p.waiters.remove(w)
				p.mu.Unlock()
				return nil, ctx.Err()
			}
			p.mu.Unlock()
			// Served at the same moment: the requester is gone, so an
			// untouched connection goes back for the next one rather than
			// being closed as an error by a request that cannot use it.
			r := <-w.ch
			if r.c != nil {
				r.c.Release(BackendTerms{})
			}
			return nil, ctx.Err()
		case <-timeout:
			timeout = nil
			p.mu.Lock()
			if w.queued && !w.dialing {
				p.waiters.remove(w)
				p.mu.Unlock()
				return nil, &LimitError{Dest: p.dest, Waited: time.Since(start)}
			}
			// Served already, or its own dial is in flight (bounded by the
			// connect timeout): keep waiting for that.
			p.mu.Unlock()
		}
	}
}

// dialFor dials on behalf of w, detached from w's context.
func (p *Pool) dialFor(w *waiter, dial DialFunc) {
	start := time.Now()
	nc, err := dial(p.dialCtx)
	connect := time.Since(start)
	if err == nil && nc == nil {
		err = errNoConn
	}
	if err != nil {
		var de *DialError
		if !errors.As(err, &de) {
			err = &DialError{Kind: DialOther, Addr: p.dest.Addr.String(), Err: err}
		}
		if nc != nil {
			_ = nc.Close()
		}
	}
	var c *Conn
	if err == nil {
		c = newConn(p, nc, start)
	}

	p.mu.Lock()
	p.dialing--
	if err != nil {
		if w.queued {
			p.waiters.remove(w)
			w.ch <- getResult{err: err}
		}
		p.slotFreedLocked()
		p.mu.Unlock()
		return
	}
	now := time.Now()
	p.openedLocked(c, now)
	if p.closed {
		p.retireLocked(c, p.drainReason, now)
		p.mu.Unlock()
		p.closeConn(c.nc)
		return
	}
	target := w
	if !w.queued {
		target = p.waiters.head // any waiter can use a new connection
	}
	if target != nil {
		p.waiters.remove(target)
		p.handoutLocked(c, now, connect)
		target.ch <- getResult{c: c}
		p.mu.Unlock()
		return
	}
	// Its requester left and no one waits: keep it for the next Get.
	if reason, ok := p.idleLocked(c, now); !ok {
		p.retireLocked(c, reason, now)
		p.mu.Unlock()
		p.closeConn(c.nc)
		return
	}
	p.mu.Unlock()
}

// Update applies new limits in place (config reload): idle connections over
// the new limits are closed, idle deadlines follow the new idle timeout, and
// waiters dial if the cap grew. Learned terms and counters are kept.
func (p *Pool) Update(s Settings) {
	now := time.Now()
	p.mu.Lock()
	if p.s == s || p.closed {
		p.s = s
		p.mu.Unlock()
		return
	}
	p.s = s
	var toClose []net.Conn
	for c := p.idleHead; c != nil; {
		next := c.nextIdle
		over := s.IdleTimeout <= 0 ||
			(s.MaxIdle > 0 && p.idleN > s.MaxIdle) ||
			(s.MaxConns > 0 && p.heldLocked() > s.MaxConns)
		if over {
			p.retireLocked(c, IdleTimeout, now)
			toClose = append(toClose, c.nc)
		} else {
			c.retireAt = p.retireAtLocked(c)
			if c.watch == watchReading {
				// Under p.mu, as the watcher sets it (see watchIdle).
				_ = c.nc.SetReadDeadline(c.retireAt)
			}
		}
		c = next
	}
	if c := p.probing; c != nil {
		p.retireLocked(c, IdleTimeout, now)
		toClose = append(toClose, c.nc)
	}
	p.slotFreedLocked()
	p.mu.Unlock()
	for _, nc := range toClose {
		p.closeConn(nc)
	}
}

// Drain stops the pool: Get returns ErrClosed from now on (waiters get it at
// once), idle connections are closed now with reason, active ones when
// released, and dials in flight are cancelled. Drain is idempotent; the first
// reason wins.
func (p *Pool) Drain(reason CloseReason) {
	now := time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.drainReason = reason
	for w := p.waiters.head; w != nil; w = p.waiters.head {
		p.waiters.remove(w)
		w.ch <- getResult{err: ErrClosed}
	}
	var toClose []net.Conn
	for c := p.idleHead; c != nil; c = p.idleHead {
		p.retireLocked(c, reason, now)
		toClose = append(toClose, c.nc)
	}
	if c := p.probing; c != nil {
		p.retireLocked(c, reason, now)
		toClose = append(toClose, c.nc)
	}
	p.mu.Unlock()
	p.cancelDial()
	for _, nc := range toClose {
		p.closeConn(nc)
	}
}

// RecordReplay counts a request the forwarder replayed after a stale
// failure, by how far the failed exchange got. VerdictNone is ignored.
func (p *Pool) RecordReplay(v Verdict) {
	if v == VerdictNone || v >= NumVerdicts {
		return
	}
	p.mu.Lock()
	p.led.replays[v]++
	p.mu.Unlock()
}

// totalLocked is what MaxConns bounds: dialing + active + idle (a probe
// included), and retired connections whose sockets are being closed. p.mu
// must be held.
func (p *Pool) totalLocked() int { return p.heldLocked() + p.closing }

// heldLocked is the connections dialing, active or idle (a probe
// included). p.mu must be held.
func (p *Pool) heldLocked() int { return p.dialing + p.active + p.idleCountLocked() }

// idleCountLocked is the idle connections, a probe included. p.mu must be
// held.
func (p *Pool) idleCountLocked() int {
	if p.probing != nil {
		return p.idleN + 1
	}
	return p.idleN
}

// atCapLocked reports whether no new connection may be opened. p.mu must be
// held.
func (p *Pool) atCapLocked() bool {
	return p.s.MaxConns > 0 && p.totalLocked() >= p.s.MaxConns
}

// startDialLocked starts a dial on behalf of w. p.mu must be held.
func (p *Pool) startDialLocked(w *waiter) {
	w.dialing = true
	p.dialing++
	go p.dialFor(w, p.dial)
}

// slotFreedLocked lets the oldest waiters without a dial of their own dial
// while the cap allows. p.mu must be held.
func (p *Pool) slotFreedLocked() {
	for !p.closed && !p.atCapLocked() {
		w := p.waiters.firstWaiting()
		if w == nil {
			return
		}
		p.startDialLocked(w)
	}
}

// moveLocked moves c to state to, keeping the idle list, the counters and
// the per-source ledger in step. p.mu must be held.
func (p *Pool) moveLocked(c *Conn, to connState) {
	from := c.state
	if from == to {
		return
	}
	c.state = to
	switch from {
	case connIdle:
		p.unlinkIdleLocked(c)
		p.idleN--
		c.src.idle--
	case connProbing:
		p.probing = nil
		c.src.idle--
	case connTaking, connActive:
		p.active--
		c.src.active--
	}
	switch to {
	case connIdle:
		p.linkIdleLocked(c)
		p.idleN++
		c.src.idle++
	case connProbing:
		p.probing = c
		c.src.idle++
	case connTaking, connActive:
		p.active++
		c.src.active++
		if p.active > p.led.peakActive {
			p.led.peakActive = p.active
		}
	}
}

// linkIdleLocked appends c as the most recently idled. p.mu must be held.
func (p *Pool) linkIdleLocked(c *Conn) {
	c.prevIdle, c.nextIdle = p.idleTail, nil
	if p.idleTail != nil {
		p.idleTail.nextIdle = c
	} else {
		p.idleHead = c
	}
	p.idleTail = c
}

// unlinkIdleLocked removes c from the idle list. p.mu must be held.
func (p *Pool) unlinkIdleLocked(c *Conn) {
	if c.prevIdle != nil {
		c.prevIdle.nextIdle = c.nextIdle
	} else {
		p.idleHead = c.nextIdle
	}
	if c.nextIdle != nil {
		c.nextIdle.prevIdle = c.prevIdle
	} else {
		p.idleTail = c.prevIdle
	}
	c.prevIdle, c.nextIdle = nil, nil
}

// openedLocked records a newly dialed connection. p.mu must be held.
func (p *Pool) openedLocked(c *Conn, now time.Time) {
	c.src = p.led.source(c.local.Addr())
	p.led.opened(c.src, now)
}

// retireLocked closes the books on c with reason (counted once per
// connection); the caller must then call closeConn(c.nc) without p.mu,
// which frees c's slot once the socket is closed. p.mu must be held.
func (p *Pool) retireLocked(c *Conn, reason CloseReason, now time.Time) {
	if c.state == connClosed {
		return
	}
	p.moveLocked(c, connClosed)
	c.watch = watchOff
	c.timer.Stop()
	if reason >= NumCloseReasons {
		reason = Error
	}
	p.led.closed(c.src, reason, now)
	p.closing++
}

// closeConn closes a retired connection's socket and only then frees its
// slot, so that the sockets open never exceed MaxConns even for a moment.
// p.mu must not be held.
func (p *Pool) closeConn(nc net.Conn) {
	_ = nc.Close()
	p.mu.Lock()
	p.closing--
	p.slotFreedLocked()
	p.mu.Unlock()
}

// handoutLocked hands c out for one exchange. p.mu must be held.
func (p *Pool) handoutLocked(c *Conn, now time.Time, connect time.Duration) {
	c.reused = c.requests > 0
	c.idleFor = 0
	if c.state == connTaking || c.state == connIdle {
		c.idleFor = now.Sub(c.idleSince)
	}
	c.connectDur = connect
	c.requests++
	c.cr.n, c.cw.n = 0, 0
	c.seen = seenNothing
	p.moveLocked(c, connActive)
	p.led.requests++
	if c.reused {
		p.led.reused++
	}
}

// idleLocked puts c on the idle list and arms its watcher, or reports why
// it may not idle. p.mu must be held.
func (p *Pool) idleLocked(c *Conn, now time.Time) (CloseReason, bool) {
	if p.s.IdleTimeout <= 0 {
		return IdleTimeout, false
	}
	if p.s.MaxIdle > 0 && p.idleN >= p.s.MaxIdle {
		return IdleTimeout, false
	}
	if p.expiredLocked(c, now) {
		return MaxLifetime, false
	}
	c.idleSince = now
	// The backend's idle clock started when it finished the response, which
	// is nearer the last byte read than this release (the forwarder may
	// have spent a while writing to its client).
	c.quietFrom = now
	if last := c.cr.last; !last.IsZero() && last.Before(now) && !last.Before(c.created) {
		c.quietFrom = last
	}
	c.retireAt = p.retireAtLocked(c)
	if !now.Before(c.retireAt) {
		return p.timeoutReasonLocked(c, now), false
	}
	p.moveLocked(c, connIdle)
	c.watch = watchArmed
	c.seen = seenNothing
	c.timer.Reset(watchDelay)
	return 0, true
}

// retireAtLocked is when idle c must retire: weir's idle timeout from when
// it went idle; the backend's announced and learned idle terms, less a
// margin, from when the backend last sent; and c's lifetime; whichever
// comes first. p.mu must be held.
func (p *Pool) retireAtLocked(c *Conn) time.Time {
	at := c.idleSince.Add(p.s.IdleTimeout)
	if d, ok := backendIdleBudget(c.announced, p.learned); ok {
		at = minTime(at, c.quietFrom.Add(d))
	}
	if exp := p.expiryLocked(c); !exp.IsZero() {
		at = minTime(at, exp)
	}
	return at
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// backendIdleBudget is how long a connection may stay idle after the
// backend last sent, given the backend's announced and learned idle terms
// (0 = unknown); ok is false when neither is known.
func backendIdleBudget(announced, learned time.Duration) (d time.Duration, ok bool) {
	if announced > 0 {
		d, ok = announced-margin(announced), true
	}
	if learned > 0 {
		if l := learned - margin(learned); !ok || l < d {
			d, ok = l, true
		}
	}
	return d, ok
}

// margin is how far below a backend's idle term weir retires a connection,
// so that weir, not the backend, closes it: max(10%, 250ms). The floor
// absorbs the time between taking an idle connection and the request
// reaching the backend, which on a loaded host (goroutine scheduling, GC)
// reaches tens of milliseconds: a smaller one let the backend's close race
// non-replayable requests under CPU contention.
func margin(term time.Duration) time.Duration {
	return max(term/10, 250*time.Millisecond)
}

// minLearnedIdle is the shortest idle term weir learns: twice the margin
// floor, so a learned term always leaves room to reuse. A close seen sooner
// is counted but not learned: a backend shutting down or restarting closes
// connections that were idle for any time, and learning that would turn
// keep-alive off for the destination for good.
const minLearnedIdle = 2 * 250 * time.Millisecond

// probeInterval is how long a learned idle term stands before weir checks
// it again with a probe (probeUntilLocked), and again after each probe the
// backend closed.
const probeInterval = 5 * time.Minute

// learnLocked records that the backend closed a connection after it sat
// idle for d, at now: the term only goes down here; probes let it go up.
// p.mu must be held.
func (p *Pool) learnLocked(d time.Duration, now time.Time) {
	if d < minLearnedIdle {
		return
	}
	if p.learned == 0 || d < p.learned {
		p.learned = d
		p.probeAfter = now.Add(probeInterval)
	}
}

// probeUntilLocked decides whether idle c, whose deadline passed at now,
// becomes the pool's probe instead of retiring, and until when. The
// learned term only ever goes down by itself (weir retires connections
// before the backend can show a longer one), so when it has stood for
// probeInterval, the next connection it retires is kept instead, out of
// reach of requests: up to twice the term (bounded by weir's own
// keepalive_timeout, the announced term and the lifetime). Only when the
// learned term is what retires c, and one probe at a time. p.mu must be
// held.
func (p *Pool) probeUntilLocked(c *Conn, now time.Time) (time.Time, bool) {
	if p.learned <= 0 || p.probing != nil || p.closed || p.s.IdleTimeout <= 0 || now.Before(p.probeAfter) {
		return time.Time{}, false
	}
	learnedAt := c.quietFrom.Add(p.learned - margin(p.learned))
	own := c.idleSince.Add(p.s.IdleTimeout)
	if now.Before(learnedAt) || !learnedAt.Before(own) {
		return time.Time{}, false
	}
	until := minTime(own, c.quietFrom.Add(2*p.learned))
	if c.announced > 0 {
		if c.announced <= p.learned {
			return time.Time{}, false // the backend said so itself
		}
		until = minTime(until, c.quietFrom.Add(c.announced-margin(c.announced)))
	}
	if exp := p.expiryLocked(c); !exp.IsZero() {
		until = minTime(until, exp)
	}
	return until, until.After(now)
}

// probeEndLocked learns from the probe c what its read saw at now, and
// returns its close reason. Closed by the backend: the idle time then is
// the term, up or down. Still open at its deadline: the term is at least
// that long (the next probe may start at once and go further), or, once
// weir's own keepalive_timeout was reached, no shorter than weir's own and
// forgotten. p.mu must be held.
func (p *Pool) probeEndLocked(c *Conn, seen watchSeen, now time.Time) CloseReason {
	idle := now.Sub(c.quietFrom)
	p.probeAfter = now.Add(probeInterval)
	switch seen {
	case seenBackendClose:
		if idle >= minLearnedIdle {
			p.learned = idle
		}
		return BackendClose
	case seenTimeout:
		switch {
		case !now.Before(c.idleSince.Add(p.s.IdleTimeout)):
			p.learned = 0
		case idle > p.learned:
			p.learned = idle
			p.probeAfter = now
		}
		return IdleTimeout
	}
	return Error
}

// expiryLocked is c's jittered end of life (zero = none). p.mu must be held.
func (p *Pool) expiryLocked(c *Conn) time.Time {
	if p.s.MaxLifetime <= 0 {
		return time.Time{}
	}
	life := time.Duration(float64(p.s.MaxLifetime) * (1 - c.jitter))
	return c.created.Add(life)
}

// expiredLocked reports whether c outlived its lifetime. p.mu must be held.
func (p *Pool) expiredLocked(c *Conn, now time.Time) bool {
	exp := p.expiryLocked(c)
	return !exp.IsZero() && !now.Before(exp)
}

// timeoutReasonLocked names why an idle deadline passed. p.mu must be held.
func (p *Pool) timeoutReasonLocked(c *Conn, now time.Time) CloseReason {
	if p.expiredLocked(c, now) {
		return MaxLifetime
	}
	return IdleTimeout
}

// takenDeadLocked reports whether c, just taken from the idle list with its
// watcher stopped, must be closed instead of handed out. p.mu must be held.
func (p *Pool) takenDeadLocked(c *Conn, now time.Time) (CloseReason, bool) {
	switch c.seen {
	case seenBackendClose:
		p.learnLocked(c.seenAt.Sub(c.quietFrom), c.seenAt)
		return BackendClose, true
	case seenBytes, seenError:
		return Error, true
	}
	if c.R.Buffered() > 0 {
		return Error, true
	}
	if !now.Before(c.retireAt) {
		return p.timeoutReasonLocked(c, now), true
	}
	if p.s.IdleTimeout <= 0 {
		return IdleTimeout, true
	}
	return 0, false
}

// releaseLocked decides what happens to c after a completed exchange. p.mu
// must be held; it returns true if the caller must closeConn(c.nc).
func (p *Pool) releaseLocked(c *Conn, terms BackendTerms, now time.Time) bool {
	if terms.IdleTimeout > 0 {
		c.announced = terms.IdleTimeout
		p.announced = terms.IdleTimeout
	}
	if terms.MaxRequests > 0 {
		if lim := c.requests + terms.MaxRequests; c.reqLimit == 0 || lim < c.reqLimit {
			c.reqLimit = lim
		}
	}
	reason, keep := p.keepLocked(c, terms, now)
	if keep {
		if w := p.waiters.firstNonFresh(); w != nil {
			// Straight to the oldest waiter that may reuse it.
			p.waiters.remove(w)
			p.handoutLocked(c, now, 0)
			w.ch <- getResult{c: c}
			return false
		}
		if p.waiters.firstWaiting() != nil {
			// Only waiters that need a fresh connection, at the cap: this
			// one's slot serves them better.
			reason, keep = IdleTimeout, false
		} else {
			reason, keep = p.idleLocked(c, now)
		}
	}
	if !keep {
		p.retireLocked(c, reason, now)
		return true
	}
	return false
}

// keepLocked reports whether c may serve another exchange after one that
// ended with terms, or why not. p.mu must be held.
func (p *Pool) keepLocked(c *Conn, terms BackendTerms, now time.Time) (CloseReason, bool) {
	switch {
	case p.closed:
		return p.drainReason, false
	case c.R.Buffered() > 0 || c.W.Buffered() > 0 || c.W.Flush() != nil:
		// Bytes beyond the response, an unflushed request, or a failed
		// write: the connection is out of step with the protocol.
		return Error, false
	case p.s.IdleTimeout <= 0:
		return IdleTimeout, false
	case terms.Close:
		return BackendClose, false
	case p.s.MaxRequests > 0 && c.requests >= p.s.MaxRequests,
		c.reqLimit > 0 && c.requests >= c.reqLimit:
		return MaxRequests, false
	case p.expiredLocked(c, now):
		return MaxLifetime, false
	case p.s.MaxConns > 0 && p.heldLocked() > p.s.MaxConns:
		// The cap shrank on reload.
		return IdleTimeout, false
	}
	return 0, true
}

// getResult is what a waiter is served: a connection or an error.
type getResult struct {
	c   *Conn
	err error
}

// waiter is one Get waiting for a connection.
type waiter struct {
	prev, next *waiter
	queued     bool
	fresh      bool // needs a connection that never served an exchange
	dialing    bool // a dial started for it is in flight
	ch         chan getResult
}

// waitQueue is the FIFO of waiters, oldest first. Guarded by Pool.mu.
type waitQueue struct {
	head, tail *waiter
	n          int
}

func (q *waitQueue) push(w *waiter) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

func (q *waitQueue) remove(w *waiter) {
	if !w.queued {
		return
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
}

// firstNonFresh is the oldest waiter that may take a reused connection.
func (q *waitQueue) firstNonFresh() *waiter {
	for w := q.head; w != nil; w = w.next {
		if !w.fresh {
			return w
		}
	}
	return nil
}

// firstWaiting is the oldest waiter without a dial of its own in flight.
func (q *waitQueue) firstWaiting() *waiter {
	for w := q.head; w != nil; w = w.next {
		if !w.dialing {
			return w
		}
	}
	return nil
}
