package connpool

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestGetReusesMostRecentlyIdled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)

		c1, c2, c3 := mustGet(t, p, false), mustGet(t, p, false), mustGet(t, p, false)
		for _, c := range []*Conn{c1, c2, c3} {
			if c.Reused() {
				t.Errorf("new conn Reused: got true, want false")
			}
		}
		c1.Release(BackendTerms{})
		time.Sleep(time.Second)
		c2.Release(BackendTerms{})
		time.Sleep(time.Second)
		c3.Release(BackendTerms{})
		time.Sleep(time.Second)

		for i, want := range []*Conn{c3, c2, c1} {
			got := mustGet(t, p, false)
			if got != want {
				t.Fatalf("Get %d: got conn %p, want %p (LIFO)", i, got, want)
			}
			if !got.Reused() {
				t.Errorf("Get %d: Reused got false, want true", i)
			}
			if wantIdle := time.Duration(i+1) * time.Second; got.IdleFor() != wantIdle {
				t.Errorf("Get %d: IdleFor got %v, want %v", i, got.IdleFor(), wantIdle)
			}
			if got.ConnectDuration() != 0 {
				t.Errorf("Get %d: ConnectDuration got %v, want 0", i, got.ConnectDuration())
			}
		}
		if n := b.dialCount(); n != 3 {
			t.Errorf("dials: got %d, want 3", n)
		}
		st := p.Stats()
		if st.RequestsTotal != 6 || st.ReusedTotal != 3 || st.ReuseRatio != 0.5 {
			t.Errorf("requests/reused/ratio: got %d/%d/%v, want 6/3/0.5", st.RequestsTotal, st.ReusedTotal, st.ReuseRatio)
		}
	})
}

func TestWaitersFIFOExactlyOneWinner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)

		held := mustGet(t, p, false)
		const n = 4
		results := make([]<-chan asyncGet, n)
		for i := range n {
			results[i] = goGet(context.Background(), p, false)
			synctest.Wait() // queued in this order
		}
		if st := p.Stats(); st.Waiting != n {
			t.Fatalf("waiting: got %d, want %d", st.Waiting, n)
		}
		for i := range n {
			held.Release(BackendTerms{})
			synctest.Wait()
			var winner *Conn
			for j := range n {
				select {
				case r := <-results[j]:
					if j != i {
						t.Fatalf("release %d: waiter %d won, want waiter %d", i, j, i)
					}
					if r.err != nil {
						t.Fatalf("waiter %d: got error %v, want a connection", j, r.err)
					}
					winner = r.c
				default:
				}
			}
			if winner == nil {
				t.Fatalf("release %d: no waiter won, want exactly one", i)
			}
			if winner != held {
				t.Fatalf("release %d: waiter got a different conn, want the released one", i)
			}
			if st := p.Stats(); st.Waiting != n-1-i {
				t.Fatalf("after release %d waiting: got %d, want %d", i, st.Waiting, n-1-i)
			}
		}
		held.Release(BackendTerms{})
		if d := b.dialCount(); d != 1 {
			t.Errorf("dials: got %d, want 1", d)
		}
	})
}

func TestQueueTimeout(t *testing.T) {
	tests := []struct {
		name       string
		queue      time.Duration
		wantWaited time.Duration
	}{
		{name: "waits then fails", queue: 5 * time.Second, wantWaited: 5 * time.Second},
		{name: "zero fails at once", queue: 0, wantWaited: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &pipeBackend{}
				defer b.close()
				p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: tt.queue}, b.dial)
				defer p.Drain(Shutdown)
				held := mustGet(t, p, false)
				defer held.Release(BackendTerms{})

				start := time.Now()
				_, err := p.Get(context.Background(), false)
				var le *LimitError
				if !errors.As(err, &le) {
					t.Fatalf("got error %v, want *LimitError", err)
				}
				if le.Waited != tt.wantWaited || time.Since(start) != tt.wantWaited {
					t.Errorf("waited: got %v (reported %v), want %v", time.Since(start), le.Waited, tt.wantWaited)
				}
				if le.Dest != testDest {
					t.Errorf("LimitError.Dest: got %v, want %v", le.Dest, testDest)
				}
				if st := p.Stats(); st.Waiting != 0 {
					t.Errorf("waiting after timeout: got %d, want 0", st.Waiting)
				}
			})
		})
	}
}

func TestGetContextCancelledWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)
		held := mustGet(t, p, false)

		ctx, cancel := context.WithCancel(context.Background())
		res := goGet(ctx, p, false)
		synctest.Wait()
		cancel()
		r := <-res
		if !errors.Is(r.err, context.Canceled) || r.c != nil {
			t.Fatalf("got (%v, %v), want (nil, context.Canceled)", r.c, r.err)
		}
		held.Release(BackendTerms{})
		if st := p.Stats(); st.Waiting != 0 || st.Idle != 1 {
			t.Errorf("waiting/idle: got %d/%d, want 0/1 (the freed conn goes idle, not to the gone waiter)", st.Waiting, st.Idle)
		}
	})
}

func TestDialFailureGoesToRequester(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := &DialError{Kind: DialRefused, Addr: "pipe", Err: syscall.ECONNREFUSED}
		b := &pipeBackend{hold: make(chan struct{}), fail: func(n int) error {
			if n == 1 {
				return refused
			}
			return nil
		}}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)

		first := goGet(context.Background(), p, false) // causes dial 1
		synctest.Wait()
		second := goGet(context.Background(), p, false) // at the cap: waits
		synctest.Wait()
		if st := p.Stats(); st.Dialing != 1 || st.Waiting != 2 {
			t.Fatalf("dialing/waiting: got %d/%d, want 1/2", st.Dialing, st.Waiting)
		}
		b.hold <- struct{}{} // dial 1 fails
		r := <-first
		var de *DialError
		if !errors.As(r.err, &de) || de.Kind != DialRefused {
			t.Fatalf("first requester: got %v, want *DialError of kind DialRefused", r.err)
		}
		synctest.Wait()
		select {
		case r := <-second:
			t.Fatalf("second requester served before its own dial: %+v", r)
		default:
		}
		b.hold <- struct{}{} // dial 2, started for the second requester, succeeds
		r = <-second
		if r.err != nil {
			t.Fatalf("second requester: got %v, want a connection", r.err)
		}
		if r.c.Reused() {
			t.Errorf("second requester Reused: got true, want false")
		}
		r.c.Release(BackendTerms{})
		if st := p.Stats(); st.OpenedTotal != 1 || st.Dialing != 0 {
			t.Errorf("opened/dialing: got %d/%d, want 1/0", st.OpenedTotal, st.Dialing)
		}
	})
}

func TestDialErrorNotTypedIsWrapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plain := errors.New("boom")
		b := &pipeBackend{fail: func(int) error { return plain }}
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)
		_, err := p.Get(context.Background(), false)
		var de *DialError
		if !errors.As(err, &de) || de.Kind != DialOther || !errors.Is(err, plain) {
			t.Fatalf("got %v, want *DialError{Kind: DialOther} wrapping the cause", err)
		}
	})
}

func TestDetachedDial(t *testing.T) {
	tests := []struct {
		name        string
		otherWaiter bool // another request waits behind the one that leaves
	}{
		{name: "completes to idle list", otherWaiter: false},
		{name: "goes to next waiter", otherWaiter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &pipeBackend{hold: make(chan struct{})}
				defer b.close()
				p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: time.Hour}, b.dial)
				defer p.Drain(Shutdown)

				ctx, cancel := context.WithCancel(context.Background())
				leaver := goGet(ctx, p, false)
				synctest.Wait()
				var other <-chan asyncGet
				if tt.otherWaiter {
					other = goGet(context.Background(), p, false)
					synctest.Wait()
				}
				cancel()
				if r := <-leaver; !errors.Is(r.err, context.Canceled) {
					t.Fatalf("leaver: got %v, want context.Canceled", r.err)
				}
				time.Sleep(time.Second) // the dial takes a while
				b.hold <- struct{}{}
				synctest.Wait()

				var c *Conn
				if tt.otherWaiter {
					r := <-other
					if r.err != nil {
						t.Fatalf("next waiter: got %v, want the dialed conn", r.err)
					}
					c = r.c
					if c.ConnectDuration() != time.Second {
						t.Errorf("ConnectDuration: got %v, want 1s", c.ConnectDuration())
					}
				} else {
					if st := p.Stats(); st.Idle != 1 || st.Dialing != 0 || st.OpenedTotal != 1 {
						t.Fatalf("idle/dialing/opened: got %d/%d/%d, want 1/0/1", st.Idle, st.Dialing, st.OpenedTotal)
					}
					c = mustGet(t, p, false)
					if c.ConnectDuration() != 0 || c.Reused() {
						t.Errorf("ConnectDuration/Reused: got %v/%v, want 0/false", c.ConnectDuration(), c.Reused())
					}
				}
				if d := b.dialCount(); d != 1 {
					t.Errorf("dials: got %d, want 1", d)
				}
				c.Release(BackendTerms{})
			})
		})
	}
}

func TestDialServesItsRequester(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
		b := &pipeBackend{gate: func(n int) <-chan struct{} { return gates[n-1] }}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 2, QueueTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)

		first := goGet(context.Background(), p, false) // dial 1
		synctest.Wait()
		second := goGet(context.Background(), p, false) // dial 2
		synctest.Wait()
		close(gates[1]) // the second request's dial completes first
		synctest.Wait()
		select {
		case r := <-first:
			t.Fatalf("first requester got the second's dial: %+v", r)
		case r := <-second:
			if r.err != nil {
				t.Fatalf("second requester: got %v, want its conn", r.err)
			}
			r.c.Release(BackendTerms{})
		default:
			t.Fatalf("second requester not served by its own dial")
		}
		close(gates[0])
		r := <-first
		if r.err != nil {
			t.Fatalf("first requester: got %v, want a conn", r.err)
		}
		r.c.Release(BackendTerms{})
	})
}

// slowClose is a connection whose Close takes until release is closed.
type slowClose struct {
	net.Conn
	release chan struct{}
}

func (c slowClose) Close() error {
	<-c.release
	return c.Conn.Close()
}

// TestClosingHoldsItsSlot: a socket being closed still counts against
// MaxConns, so a waiter dials only once it is gone.
func TestClosingHoldsItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		b := &pipeBackend{wrap: func(_ int, nc net.Conn) net.Conn { return slowClose{nc, release} }}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)

		c := mustGet(t, p, false)
		queued := goGet(context.Background(), p, false)
		synctest.Wait()
		go c.Close(Error)
		synctest.Wait()
		arrived := goGet(context.Background(), p, false) // comes while the socket closes
		synctest.Wait()
		if d := b.dialCount(); d != 1 {
			t.Fatalf("dials while the old socket is still closing: got %d, want 1", d)
		}
		close(release)
		r := <-queued
		if r.err != nil || b.dialCount() != 2 {
			t.Fatalf("queued waiter after close: got (%v, dials %d), want a conn from dial 2", r.err, b.dialCount())
		}
		r.c.Release(BackendTerms{}) // to the waiter that arrived later
		r = <-arrived
		if r.err != nil || b.dialCount() != 2 {
			t.Fatalf("later waiter: got (%v, dials %d), want the released conn", r.err, b.dialCount())
		}
		r.c.Release(BackendTerms{})
	})
}

// TestCapHoldsUnderConcurrency runs 256 goroutines against MaxConns 8 on a
// real TCP backend: the sockets dialing or open never exceed 8, and every
// request completes.
func TestCapHoldsUnderConcurrency(t *testing.T) {
	const (
		maxConns   = 8
		goroutines = 256
		perG       = 4
	)
	b := newTCPBackend(t, 0)
	oc := &openCounter{inner: b.dial}
	p := New(b.dest(), Settings{IdleTimeout: time.Minute, MaxConns: maxConns, MaxRequests: 7, QueueTimeout: 20 * time.Second}, oc.dial)
	defer p.Drain(Shutdown)

	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for range perG {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				c, err := p.Get(ctx, false)
				cancel()
				if err != nil {
					errs <- err
					return
				}
				if err := exchange(c); err != nil {
					c.Close(Error)
					errs <- err
					return
				}
				c.Release(BackendTerms{})
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request failed: %v", err)
	}
	if got := done.Load(); got != goroutines*perG {
		t.Errorf("completed: got %d, want %d", got, goroutines*perG)
	}
	if got := oc.peak.Load(); got > maxConns {
		t.Errorf("peak sockets dialing or open: got %d, want <= %d", got, maxConns)
	}
	// A dial started for a waiter that a released conn served meanwhile
	// may still be completing (to the idle list).
	waitFor(t, 5*time.Second, "detached dials", func() bool { return p.Stats().Dialing == 0 })
	st := p.Stats()
	if st.PeakActive > maxConns {
		t.Errorf("peak_active: got %d, want <= %d", st.PeakActive, maxConns)
	}
	if st.RequestsTotal != goroutines*perG || st.Active != 0 || st.Waiting != 0 {
		t.Errorf("requests/active/waiting: got %d/%d/%d, want %d/0/0",
			st.RequestsTotal, st.Active, st.Waiting, goroutines*perG)
	}
	// MaxRequests 7 forces closes and re-dials along the way.
	if closed(st, MaxRequests) == 0 || st.OpenedTotal <= maxConns {
		t.Errorf("max_requests closes/opened: got %d/%d, want > 0 and > %d", closed(st, MaxRequests), st.OpenedTotal, maxConns)
	}
	if st.OpenedTotal-st.ClosedTotal != uint64(st.Idle) {
		t.Errorf("opened-closed: got %d, want idle %d", st.OpenedTotal-st.ClosedTotal, st.Idle)
	}
}

// TestWatcherInterruptStress reuses real TCP connections after idle times
// on both sides of watchDelay, so that Get often interrupts a watcher's
// read: no exchange may fail and no connection may be lost to an error.
func TestWatcherInterruptStress(t *testing.T) {
	b := newTCPBackend(t, 0)
	p := New(b.dest(), Settings{IdleTimeout: time.Minute, MaxConns: 4, QueueTimeout: 10 * time.Second}, b.dial)
	defer p.Drain(Shutdown)
	const goroutines, perG = 3, 60
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				c, err := p.Get(context.Background(), false)
				if err != nil {
					errs <- err
					return
				}
				if err := exchange(c); err != nil {
					c.Close(Error)
					errs <- err
					return
				}
				c.Release(BackendTerms{})
				time.Sleep(time.Duration((g+i)%3) * 3 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request failed: %v", err)
	}
	st := p.Stats()
	if st.ClosedTotal != 0 || st.RequestsTotal != goroutines*perG || st.OpenedTotal > 4 {
		t.Errorf("closed/requests/opened: got %d/%d/%d, want 0/%d/<=4 (%v)", st.ClosedTotal, st.RequestsTotal, st.OpenedTotal, goroutines*perG, st.ClosedByReason)
	}
}

func TestKeepAliveOffClosesEveryConn(t *testing.T) {
	b := newTCPBackend(t, 0)
	p := New(b.dest(), Settings{IdleTimeout: 0}, b.dial)
	defer p.Drain(Shutdown)
	const n = 5
	for range n {
		c := mustGet(t, p, false)
		if c.Reused() {
			t.Fatalf("Reused: got true, want false with keep-alive off")
		}
		if err := exchange(c); err != nil {
			t.Fatalf("exchange: %v", err)
		}
		c.Release(BackendTerms{})
	}
	st := p.Stats()
	if st.OpenedTotal != n || closed(st, IdleTimeout) != n || st.ClosedTotal != n || st.Idle != 0 {
		t.Errorf("opened/idle_timeout/closed/idle: got %d/%d/%d/%d, want %d/%d/%d/0",
			st.OpenedTotal, closed(st, IdleTimeout), st.ClosedTotal, st.Idle, n, n, n)
	}
	if got := b.accepted.Load(); got != n {
		t.Errorf("backend accepted: got %d, want %d", got, n)
	}
}

// TestBackendClosesIdleConn uses a real backend that closes connections
// idle for 600ms: the watcher sees the close, counts backend_close and learns
// the backend's idle term.
func TestBackendClosesIdleConn(t *testing.T) {
	b := newTCPBackend(t, 600*time.Millisecond)
	p := New(b.dest(), Settings{IdleTimeout: time.Minute}, b.dial)
	defer p.Drain(Shutdown)

	c := mustGet(t, p, false)
	if err := exchange(c); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	c.Release(BackendTerms{})
	waitFor(t, 5*time.Second, "backend_close", func() bool { return closed(p.Stats(), BackendClose) == 1 })

	st := p.Stats()
	if st.Idle != 0 || st.ClosedTotal != 1 {
		t.Errorf("idle/closed: got %d/%d, want 0/1", st.Idle, st.ClosedTotal)
	}
	if got := st.LearnedIdleTimeoutMS; got < 500 || got > 2000 {
		t.Errorf("learned_idle_timeout_ms: got %d, want within 500..2000 (backend closes after 600)", got)
	}
	// The next request gets a new, working connection.
	c = mustGet(t, p, false)
	if c.Reused() {
		t.Errorf("Reused after backend close: got true, want false")
	}
	if err := exchange(c); err != nil {
		t.Fatalf("exchange on new conn: %v", err)
	}
	c.Close(Shutdown)
}

// TestLearnedIdleTerm checks exact learning (the minimum seen) and the
// margin with fake time.
func TestLearnedIdleTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)

		// The backend closes conns idle for 5s, then for 3s: weir keeps
		// the shorter term.
		for i, idle := range []time.Duration{5 * time.Second, 3 * time.Second} {
			mustGet(t, p, false).Release(BackendTerms{})
			time.Sleep(idle)
			_ = b.server(i + 1).Close()
			synctest.Wait()
			st := p.Stats()
			if closed(st, BackendClose) != uint64(i+1) || st.LearnedIdleTimeoutMS != idle.Milliseconds() {
				t.Fatalf("close %d backend_close/learned: got %d/%d, want %d/%d",
					i, closed(st, BackendClose), st.LearnedIdleTimeoutMS, i+1, idle.Milliseconds())
			}
		}

		// From now on weir retires idle conns 10% before the learned term.
		mustGet(t, p, false).Release(BackendTerms{})
		time.Sleep(2700*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 1 {
			t.Fatalf("idle just before 2.7s: got %d, want 1", st.Idle)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		st := p.Stats()
		if st.Idle != 0 || closed(st, IdleTimeout) != 1 || closed(st, BackendClose) != 2 {
			t.Errorf("idle/idle_timeout/backend_close at 2.7s: got %d/%d/%d, want 0/1/2",
				st.Idle, closed(st, IdleTimeout), closed(st, BackendClose))
		}
	})
}

func TestShortIdleCloseNotLearned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)
		mustGet(t, p, false).Release(BackendTerms{})
		time.Sleep(minLearnedIdle / 2)
		_ = b.server(1).Close() // e.g. the backend shutting down
		synctest.Wait()
		st := p.Stats()
		if closed(st, BackendClose) != 1 || st.LearnedIdleTimeoutMS != 0 {
			t.Errorf("backend_close/learned: got %d/%d, want 1/0", closed(st, BackendClose), st.LearnedIdleTimeoutMS)
		}
	})
}

// learnTerm has the backend close pool p's connection number n after it
// sat idle for idle: p learns that term.
func learnTerm(t *testing.T, p *Pool, b *pipeBackend, n int, idle time.Duration) {
	t.Helper()
	mustGet(t, p, false).Release(BackendTerms{})
	time.Sleep(idle)
	_ = b.server(n).Close()
	synctest.Wait()
	if got := p.Stats().LearnedIdleTimeoutMS; got != idle.Milliseconds() {
		t.Fatalf("learned after a close at %v: got %dms, want %dms", idle, got, idle.Milliseconds())
	}
}

// probeDue returns a pool with settings s (inside a synctest bubble) whose
// backend was seen closing an idle connection after 3s, probeInterval ago:
// the next connection the term retires becomes a probe.
func probeDue(t *testing.T, s Settings) (*Pool, *pipeBackend) {
	t.Helper()
	b := &pipeBackend{}
	t.Cleanup(b.close)
	p := New(testDest, s, b.dial)
	t.Cleanup(func() { p.Drain(Shutdown) })
	learnTerm(t, p, b, 1, 3*time.Second)
	time.Sleep(probeInterval)
	return p, b
}

// TestLearnedIdleTermRecovers: the backend closed idle connections after
// 3s, then a deploy made it keep them longer than weir does. Once the
// learned term has stood for probeInterval, the connection it retires is
// kept as a probe (never handed out) up to twice the term; each probe that
// survives raises the term, until it reaches weir's own keepalive_timeout
// and is forgotten: idle connections are reused again for their full 60s.
// Before, the term could only go down, and weir kept churning
// connections every 2.7s for good.
func TestLearnedIdleTermRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := probeDue(t, Settings{IdleTimeout: time.Minute})

		// The backend closes nothing any more. Each probe runs to twice the
		// term, which then rises to it; a request meanwhile never gets the
		// probe.
		for i, want := range []time.Duration{6 * time.Second, 12 * time.Second, 24 * time.Second, 48 * time.Second} {
			probe := mustGet(t, p, false)
			probe.Release(BackendTerms{})
			learned := time.Duration(p.Stats().LearnedIdleTimeoutMS) * time.Millisecond
			time.Sleep(learned - margin(learned))
			synctest.Wait()
			if st := p.Stats(); st.Idle != 1 || closed(st, IdleTimeout) != uint64(i) {
				t.Fatalf("probe %d at the learned term: idle/idle_timeout got %d/%d, want 1/%d (kept as the probe)", i+1, st.Idle, closed(st, IdleTimeout), i)
			}
			c := mustGet(t, p, false)
			if c == probe || c.Reused() {
				t.Fatalf("probe %d: a request got the probe (reused=%v), want a new connection", i+1, c.Reused())
			}
			c.Close(Shutdown)
			time.Sleep(2*learned - (learned - margin(learned)))
			synctest.Wait()
			if got := time.Duration(p.Stats().LearnedIdleTimeoutMS) * time.Millisecond; got != want {
				t.Fatalf("probe %d survived: learned got %v, want %v", i+1, got, want)
			}
		}
		// The last probe reaches weir's own 60s: the term is forgotten.
		mustGet(t, p, false).Release(BackendTerms{})
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := p.Stats().LearnedIdleTimeoutMS; got != 0 {
			t.Fatalf("after a probe reached keepalive_timeout: learned got %dms, want 0 (forgotten)", got)
		}
		c := mustGet(t, p, false)
		c.Release(BackendTerms{})
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if got := mustGet(t, p, false); got != c || !got.Reused() {
			t.Errorf("a connection idle 50s: got another (reused=%v), want it reused", got.Reused())
		}
	})
}

// TestProbeConfirmsTerm: a backend that still closes after 3s closes the
// probe too; the term stays, the next probe waits probeInterval, and no
// request ever got a connection past the term.
func TestProbeConfirmsTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, b := probeDue(t, Settings{IdleTimeout: time.Minute})

		mustGet(t, p, false).Release(BackendTerms{}) // dial 2: the probe
		time.Sleep(3 * time.Second)
		_ = b.server(2).Close()
		synctest.Wait()
		st := p.Stats()
		if st.LearnedIdleTimeoutMS != 3000 || closed(st, BackendClose) != 2 || st.Idle != 0 {
			t.Fatalf("probe closed at 3s: learned/backend_close/idle got %d/%d/%d, want 3000/2/0", st.LearnedIdleTimeoutMS, closed(st, BackendClose), st.Idle)
		}
		// Within probeInterval of that, the term retires connections again.
		mustGet(t, p, false).Release(BackendTerms{})
		time.Sleep(2700 * time.Millisecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 0 || closed(st, IdleTimeout) != 1 {
			t.Errorf("at 2.7s after a confirming probe: idle/idle_timeout got %d/%d, want 0/1", st.Idle, closed(st, IdleTimeout))
		}
	})
}

// TestProbeYieldsToWaiter: under max_connections 1 the probe holds the
// only slot; a request does not wait for it: the probe ends at once and
// the request gets a new connection.
func TestProbeYieldsToWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := probeDue(t, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: 5 * time.Second})
		probe := mustGet(t, p, false)
		probe.Release(BackendTerms{})
		time.Sleep(2700 * time.Millisecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 1 {
			t.Fatalf("idle: got %d, want 1 (the probe)", st.Idle)
		}
		start := time.Now()
		c := mustGet(t, p, false)
		if c == probe || time.Since(start) != 0 {
			t.Fatalf("got the probe or waited %v: want a new connection at once", time.Since(start))
		}
		if st := p.Stats(); closed(st, IdleTimeout) != 1 || st.Active != 1 || st.Idle != 0 {
			t.Errorf("idle_timeout/active/idle: got %d/%d/%d, want 1/1/0", closed(st, IdleTimeout), st.Active, st.Idle)
		}
		c.Release(BackendTerms{})
	})
}

// finOnInterrupt turns the read interrupted by Get into io.EOF: the backend's
// close arrived just as Get took the connection.
type finOnInterrupt struct{ net.Conn }

func (c finOnInterrupt) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, io.EOF
	}
	return n, err
}

func TestGetSkipsConnClosedAsTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		b.wrap = func(n int, nc net.Conn) net.Conn {
			if n == 1 {
				return finOnInterrupt{nc}
			}
			return nc
		}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)

		first := mustGet(t, p, false)
		first.Release(BackendTerms{})
		time.Sleep(time.Second) // the watcher is reading
		synctest.Wait()

		c := mustGet(t, p, false)
		if c == first || c.Reused() {
			t.Fatalf("got the conn the backend closed (reused=%v), want a new one", c.Reused())
		}
		st := p.Stats()
		if closed(st, BackendClose) != 1 || st.LearnedIdleTimeoutMS != 1000 || b.dialCount() != 2 {
			t.Errorf("backend_close/learned/dials: got %d/%d/%d, want 1/1000/2",
				closed(st, BackendClose), st.LearnedIdleTimeoutMS, b.dialCount())
		}
		c.Release(BackendTerms{})
	})
}

func TestGetInterruptsWatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)

		c := mustGet(t, p, false)
		c.Release(BackendTerms{})
		time.Sleep(10 * time.Second) // the watcher is blocked reading
		synctest.Wait()
		got := mustGet(t, p, false)
		if got != c || got.IdleFor() != 10*time.Second {
			t.Fatalf("got conn %p idle %v, want %p idle 10s", got, got.IdleFor(), c)
		}
		// The connection works after the interrupted read: no deadline
		// left behind, no byte lost.
		srv := b.server(1)
		go func() {
			buf := make([]byte, 5)
			if _, err := srv.Read(buf); err == nil {
				_, _ = srv.Write([]byte("pong\n"))
			}
		}()
		if err := exchange(got); err != nil {
			t.Fatalf("exchange after interrupted watcher: %v", err)
		}
		if got.BytesWritten() != 5 || got.BytesRead() != 5 {
			t.Errorf("bytes written/read: got %d/%d, want 5/5", got.BytesWritten(), got.BytesRead())
		}
		got.Release(BackendTerms{})
		if st := p.Stats(); st.ClosedTotal != 0 || st.Idle != 1 {
			t.Errorf("closed/idle: got %d/%d, want 0/1", st.ClosedTotal, st.Idle)
		}
	})
}

func TestUnexpectedBytesWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)
		mustGet(t, p, false).Release(BackendTerms{})
		time.Sleep(time.Second)
		go func() { _, _ = b.server(1).Write([]byte("x")) }()
		synctest.Wait()
		st := p.Stats()
		if st.Idle != 0 || closed(st, Error) != 1 {
			t.Errorf("idle/error: got %d/%d, want 0/1", st.Idle, closed(st, Error))
		}
	})
}

func TestKeepAliveHintRespected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)

		// "Keep-Alive: timeout=1": weir retires it at 750ms (margin floor 250ms).
		mustGet(t, p, false).Release(BackendTerms{IdleTimeout: time.Second})
		time.Sleep(750*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 1 {
			t.Fatalf("idle before 750ms: got %d, want 1", st.Idle)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		st := p.Stats()
		if st.Idle != 0 || closed(st, IdleTimeout) != 1 || st.AnnouncedKeepaliveMS != 1000 {
			t.Errorf("idle/idle_timeout/announced at 750ms: got %d/%d/%d, want 0/1/1000",
				st.Idle, closed(st, IdleTimeout), st.AnnouncedKeepaliveMS)
		}

		// A hint within the margin means no keep-alive at all.
		mustGet(t, p, false).Release(BackendTerms{IdleTimeout: 50 * time.Millisecond})
		if st := p.Stats(); st.Idle != 0 || closed(st, IdleTimeout) != 2 {
			t.Errorf("idle/idle_timeout after a 50ms hint: got %d/%d, want 0/2", st.Idle, closed(st, IdleTimeout))
		}
	})
}

func TestReleaseCloses(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
		terms    []BackendTerms // one per exchange, until the conn closes
		want     CloseReason
	}{
		{name: "max_requests", settings: Settings{IdleTimeout: time.Minute, MaxRequests: 3},
			terms: []BackendTerms{{}, {}, {}}, want: MaxRequests},
		{name: "backend keep-alive max", settings: Settings{IdleTimeout: time.Minute},
			terms: []BackendTerms{{MaxRequests: 1}, {}}, want: MaxRequests},
		{name: "backend max tighter than ours", settings: Settings{IdleTimeout: time.Minute, MaxRequests: 10},
			terms: []BackendTerms{{MaxRequests: 2}, {MaxRequests: 5}, {}}, want: MaxRequests},
		{name: "connection close", settings: Settings{IdleTimeout: time.Minute},
			terms: []BackendTerms{{}, {Close: true}}, want: BackendClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &pipeBackend{}
				defer b.close()
				p := New(testDest, tt.settings, b.dial)
				defer p.Drain(Shutdown)
				for i, terms := range tt.terms {
					c := mustGet(t, p, false)
					if c.Reused() != (i > 0) {
						t.Fatalf("exchange %d Reused: got %v, want %v", i, c.Reused(), i > 0)
					}
					c.Release(terms)
					st := p.Stats()
					last := i == len(tt.terms)-1
					if wantClosed := map[bool]uint64{false: 0, true: 1}[last]; st.ClosedTotal != wantClosed {
						t.Fatalf("after exchange %d closed: got %d, want %d", i, st.ClosedTotal, wantClosed)
					}
					if last && closed(st, tt.want) != 1 {
						t.Errorf("close reason: got %v, want 1 %s", st.ClosedByReason, tt.want)
					}
				}
				if d := b.dialCount(); d != 1 {
					t.Errorf("dials: got %d, want 1", d)
				}
			})
		})
	}
}

func TestReleaseWithLeftoverBytesCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)
		c := mustGet(t, p, false)
		go func() { _, _ = b.server(1).Write([]byte("pong\nextra")) }()
		if _, err := c.R.ReadString('\n'); err != nil {
			t.Fatalf("read: %v", err)
		}
		if c.R.Buffered() == 0 {
			// net.Pipe delivers the whole write in one read.
			t.Fatalf("buffered: got 0, want leftover bytes")
		}
		c.Release(BackendTerms{})
		if st := p.Stats(); closed(st, Error) != 1 || st.Idle != 0 {
			t.Errorf("error/idle: got %d/%d, want 1/0", closed(st, Error), st.Idle)
		}
	})
}

func TestMaxLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		const life = 10 * time.Second
		p := New(testDest, Settings{IdleTimeout: time.Hour, MaxLifetime: life}, b.dial)
		defer p.Drain(Shutdown)

		// Idle: the watcher retires it within (90%, 100%] of its life.
		mustGet(t, p, false).Release(BackendTerms{})
		time.Sleep(life * 9 / 10)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 1 {
			t.Fatalf("idle at 90%% of lifetime: got %d, want 1", st.Idle)
		}
		time.Sleep(life / 10)
		synctest.Wait()
		st := p.Stats()
		if st.Idle != 0 || closed(st, MaxLifetime) != 1 {
			t.Fatalf("idle/max_lifetime at lifetime: got %d/%d, want 0/1", st.Idle, closed(st, MaxLifetime))
		}

		// Active past its lifetime: closed at release.
		c := mustGet(t, p, false)
		time.Sleep(life)
		c.Release(BackendTerms{})
		st = p.Stats()
		if st.Idle != 0 || closed(st, MaxLifetime) != 2 {
			t.Errorf("idle/max_lifetime after release: got %d/%d, want 0/2", st.Idle, closed(st, MaxLifetime))
		}
	})
}

func TestLifetimeJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		const life = 100 * time.Second
		p := New(testDest, Settings{IdleTimeout: time.Hour, MaxLifetime: life}, b.dial)
		defer p.Drain(Shutdown)
		conns := make([]*Conn, 20)
		for i := range conns {
			conns[i] = mustGet(t, p, false)
		}
		expiries := make(map[time.Time]bool)
		p.mu.Lock()
		for _, c := range conns {
			exp := p.expiryLocked(c)
			if d := exp.Sub(c.created); d <= life*9/10 || d > life {
				t.Errorf("lifetime: got %v, want within (90s, 100s]", d)
			}
			expiries[exp] = true
		}
		p.mu.Unlock()
		if len(expiries) < 2 {
			t.Errorf("distinct expiries: got %d, want jitter to spread them", len(expiries))
		}
		for _, c := range conns {
			c.Release(BackendTerms{})
		}
	})
}

func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 2, QueueTimeout: time.Hour}, b.dial)

		idle, active := mustGet(t, p, false), mustGet(t, p, false)
		idle.Release(BackendTerms{})
		time.Sleep(time.Second)                       // the idle conn's watcher is reading
		fresh := goGet(context.Background(), p, true) // at the cap: evicts the idle conn
		synctest.Wait()
		r := <-fresh
		if r.err != nil {
			t.Fatalf("fresh Get: %v", r.err)
		}
		waiter := goGet(context.Background(), p, false)
		synctest.Wait()

		p.Drain(DNSDrain)
		if r := <-waiter; !errors.Is(r.err, ErrClosed) {
			t.Errorf("waiter: got %v, want ErrClosed", r.err)
		}
		if _, err := p.Get(context.Background(), false); !errors.Is(err, ErrClosed) {
			t.Errorf("Get after Drain: got %v, want ErrClosed", err)
		}
		active.Release(BackendTerms{})
		r.c.Close(StaleOnReuse)
		st := p.Stats()
		if !st.Draining || closed(st, DNSDrain) != 1 || closed(st, IdleTimeout) != 1 || closed(st, StaleOnReuse) != 1 {
			t.Errorf("draining/dns_drain/idle_timeout/stale: got %v/%d/%d/%d, want true/1/1/1",
				st.Draining, closed(st, DNSDrain), closed(st, IdleTimeout), closed(st, StaleOnReuse))
		}
		if st.Active != 0 || st.Idle != 0 || st.OpenedTotal != st.ClosedTotal {
			t.Errorf("active/idle/opened/closed: got %d/%d/%d/%d, want 0/0/n/n", st.Active, st.Idle, st.OpenedTotal, st.ClosedTotal)
		}
		p.Drain(Shutdown) // idempotent: the first reason stays
		if st := p.Stats(); closed(st, Shutdown) != 0 {
			t.Errorf("shutdown after second Drain: got %d, want 0", closed(st, Shutdown))
		}
	})
}

func TestDrainClosesIdleNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		conns := []*Conn{mustGet(t, p, false), mustGet(t, p, false), mustGet(t, p, false)}
		for _, c := range conns {
			c.Release(BackendTerms{})
		}
		time.Sleep(time.Second) // watchers reading
		p.Drain(DNSDrain)
		st := p.Stats()
		if st.Idle != 0 || closed(st, DNSDrain) != 3 || st.ClosedTotal != 3 {
			t.Errorf("idle/dns_drain/closed: got %d/%d/%d, want 0/3/3", st.Idle, closed(st, DNSDrain), st.ClosedTotal)
		}
		for i := range conns {
			// The backend sees each socket closed.
			if _, err := b.server(i + 1).Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Errorf("server %d read: got %v, want io.EOF", i+1, err)
			}
		}
	})
}

func TestDrainCancelsDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{hold: make(chan struct{})} // never released: only cancellation ends the dial
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		res := goGet(context.Background(), p, false)
		synctest.Wait()
		p.Drain(Shutdown)
		if r := <-res; !errors.Is(r.err, ErrClosed) {
			t.Errorf("requester: got %v, want ErrClosed", r.err)
		}
		synctest.Wait()
		if st := p.Stats(); st.Dialing != 0 || st.OpenedTotal != 0 {
			t.Errorf("dialing/opened: got %d/%d, want 0/0", st.Dialing, st.OpenedTotal)
		}
	})
}

func TestFreshSkipsIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)
		old := mustGet(t, p, false)
		old.Release(BackendTerms{})
		c := mustGet(t, p, true)
		if c == old || c.Reused() {
			t.Fatalf("fresh Get returned an idle conn")
		}
		if st := p.Stats(); st.Idle != 1 || st.Active != 1 {
			t.Errorf("idle/active: got %d/%d, want 1/1", st.Idle, st.Active)
		}
		c.Release(BackendTerms{})
	})
}

func TestFreshWaiterGetsSlotOfReleasedConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)
		held := mustGet(t, p, false)
		fresh := goGet(context.Background(), p, true)
		synctest.Wait()
		start := time.Now()
		held.Release(BackendTerms{})
		r := <-fresh
		if waited := time.Since(start); waited != 0 {
			t.Errorf("fresh waiter served after %v, want at once", waited)
		}
		if r.err != nil || r.c == held || r.c.Reused() {
			t.Fatalf("fresh waiter: got (%p reused=%v, %v), want a new conn", r.c, r.c != nil && r.c.Reused(), r.err)
		}
		r.c.Release(BackendTerms{})
		if st := p.Stats(); st.OpenedTotal != 2 || closed(st, IdleTimeout) != 1 {
			t.Errorf("opened/idle_timeout: got %d/%d, want 2/1", st.OpenedTotal, closed(st, IdleTimeout))
		}
	})
}

func TestUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 1, QueueTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)

		// The cap grows: the waiter dials at once.
		held := mustGet(t, p, false)
		res := goGet(context.Background(), p, false)
		synctest.Wait()
		p.Update(Settings{IdleTimeout: time.Minute, MaxConns: 3, QueueTimeout: time.Hour})
		r := <-res
		if r.err != nil || r.c == held {
			t.Fatalf("waiter after cap grew: got (%p, %v), want a new conn", r.c, r.err)
		}
		third := mustGet(t, p, false)
		held.Release(BackendTerms{})
		r.c.Release(BackendTerms{})
		third.Release(BackendTerms{})
		time.Sleep(time.Second)
		synctest.Wait()

		// MaxIdle shrinks: the longest idle go; the idle timeout shortens:
		// the rest retire on the new deadline.
		p.Update(Settings{IdleTimeout: 5 * time.Second, MaxConns: 3, MaxIdle: 1})
		st := p.Stats()
		if st.Idle != 1 || closed(st, IdleTimeout) != 2 || st.MaxConnections != 3 {
			t.Fatalf("idle/idle_timeout/max_connections: got %d/%d/%d, want 1/2/3", st.Idle, closed(st, IdleTimeout), st.MaxConnections)
		}
		time.Sleep(4*time.Second - time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 1 {
			t.Fatalf("idle before the new deadline: got %d, want 1", st.Idle)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 0 || closed(st, IdleTimeout) != 3 {
			t.Errorf("idle/idle_timeout at the new deadline: got %d/%d, want 0/3", st.Idle, closed(st, IdleTimeout))
		}
	})
}

func TestReleaseAndCloseCountOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)
		c := mustGet(t, p, false)
		c.Close(Error)
		c.Close(Error)
		c.Release(BackendTerms{})
		st := p.Stats()
		if st.ClosedTotal != 1 || closed(st, Error) != 1 || st.Idle != 0 || st.Active != 0 {
			t.Errorf("closed/error/idle/active: got %d/%d/%d/%d, want 1/1/0/0", st.ClosedTotal, closed(st, Error), st.Idle, st.Active)
		}
	})
}

func TestGetCancelledContext(t *testing.T) {
	p := New(testDest, Settings{}, func(context.Context) (net.Conn, error) {
		t.Error("dialed for a cancelled request")
		return nil, errors.New("unreachable")
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Get(ctx, false); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestBackendIdleBudget(t *testing.T) {
	tests := []struct {
		name               string
		announced, learned time.Duration
		want               time.Duration
		wantOK             bool
	}{
		{name: "nothing known", wantOK: false},
		{name: "announced 10% margin", announced: 5 * time.Second, want: 4500 * time.Millisecond, wantOK: true},
		{name: "announced 250ms floor", announced: 300 * time.Millisecond, want: 50 * time.Millisecond, wantOK: true},
		{name: "learned only", learned: 3 * time.Second, want: 2700 * time.Millisecond, wantOK: true},
		{name: "learned floor", learned: 2 * time.Second, want: 1750 * time.Millisecond, wantOK: true},
		{name: "learned tighter", announced: 5 * time.Second, learned: 3 * time.Second, want: 2700 * time.Millisecond, wantOK: true},
		{name: "announced tighter", announced: time.Second, learned: 2 * time.Second, want: 750 * time.Millisecond, wantOK: true},
		{name: "announced within margin", announced: 40 * time.Millisecond, want: -210 * time.Millisecond, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := backendIdleBudget(tt.announced, tt.learned)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got (%v, %v), want (%v, %v)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestBackendIdleClockFromLastByte: the backend's terms count from when its
// last byte came, not from the (later) release.
func TestBackendIdleClockFromLastByte(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute}, b.dial)
		defer p.Drain(Shutdown)
		c := mustGet(t, p, false)
		srv := b.server(1)
		go func() {
			buf := make([]byte, 5)
			if _, err := srv.Read(buf); err == nil {
				_, _ = srv.Write([]byte("pong\n"))
			}
		}()
		if err := exchange(c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // the forwarder is slow to release
		c.Release(BackendTerms{IdleTimeout: 2 * time.Second})
		// Retires 1750ms after the response came: 1450ms after the release.
		time.Sleep(1450*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 1 {
			t.Fatalf("idle before 1750ms after the response: got %d, want 1", st.Idle)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 0 || closed(st, IdleTimeout) != 1 {
			t.Errorf("idle/idle_timeout at 1750ms after the response: got %d/%d, want 0/1", st.Idle, closed(st, IdleTimeout))
		}

		// Weir's own idle timeout still counts from the release.
		p.Update(Settings{IdleTimeout: time.Second})
		c = mustGet(t, p, false)
		srv = b.server(2)
		go func() {
			buf := make([]byte, 5)
			if _, err := srv.Read(buf); err == nil {
				_, _ = srv.Write([]byte("pong\n"))
			}
		}()
		if err := exchange(c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		c.Release(BackendTerms{})
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 1 {
			t.Fatalf("idle before 1s after the release: got %d, want 1", st.Idle)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if st := p.Stats(); st.Idle != 0 || closed(st, IdleTimeout) != 2 {
			t.Errorf("idle/idle_timeout 1s after the release: got %d/%d, want 0/2", st.Idle, closed(st, IdleTimeout))
		}
	})
}

// BenchmarkGetRelease measures the idle-reuse path on a real TCP
// connection: Get takes the idle connection, Release returns it.
func BenchmarkGetRelease(b *testing.B) {
	be := newTCPBackend(b, 0)
	p := New(be.dest(), Settings{IdleTimeout: time.Minute, MaxConns: 8}, be.dial)
	defer p.Drain(Shutdown)
	mustGet(b, p, false).Release(BackendTerms{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := p.Get(ctx, false)
		if err != nil {
			b.Fatal(err)
		}
		c.Release(BackendTerms{})
	}
	if st := p.Stats(); st.OpenedTotal != 1 {
		b.Errorf("opened: got %d, want 1", st.OpenedTotal)
	}
}

// BenchmarkGetReleaseParallel measures contention on one pool's lock.
func BenchmarkGetReleaseParallel(b *testing.B) {
	be := newTCPBackend(b, 0)
	p := New(be.dest(), Settings{IdleTimeout: time.Minute}, be.dial)
	defer p.Drain(Shutdown)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := p.Get(ctx, false)
			if err != nil {
				b.Error(err)
				return
			}
			c.Release(BackendTerms{})
		}
	})
}

// BenchmarkGetReleaseExchange is a full ping/pong exchange per reuse.
func BenchmarkGetReleaseExchange(b *testing.B) {
	be := newTCPBackend(b, 0)
	p := New(be.dest(), Settings{IdleTimeout: time.Minute}, be.dial)
	defer p.Drain(Shutdown)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := p.Get(ctx, false)
		if err != nil {
			b.Fatal(err)
		}
		if err := exchange(c); err != nil {
			b.Fatal(err)
		}
		c.Release(BackendTerms{})
	}
}
