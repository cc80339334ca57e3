package connpool

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testDest is the destination of pools whose connections are in-memory
// pipes.
var testDest = Dest{Addr: netip.MustParseAddrPort("127.0.0.1:9")}

// pipeBackend dials in-memory pipes (usable inside a synctest bubble) and
// keeps the server ends so a test can misbehave on them.
type pipeBackend struct {
	mu      sync.Mutex
	dials   int
	servers []net.Conn
	// hold, if set, makes each dial wait for a receive from it (or for the
	// dial context to end).
	hold chan struct{}
	// gate, if set, returns a channel dial number n (from 1) waits on
	// (nil: no wait).
	gate func(n int) <-chan struct{}
	// fail, if set, is asked whether dial number n (from 1) fails.
	fail func(n int) error
	// wrap, if set, wraps each client end.
	wrap func(n int, nc net.Conn) net.Conn
}

func (b *pipeBackend) dial(ctx context.Context) (net.Conn, error) {
	b.mu.Lock()
	b.dials++
	n, gate, fail, wrap := b.dials, b.gate, b.fail, b.wrap
	var hold <-chan struct{} = b.hold
	b.mu.Unlock()
	if gate != nil {
		hold = gate(n)
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, &DialError{Kind: DialTimeout, Addr: "pipe", Err: ctx.Err()}
		}
	}
	if fail != nil {
		if err := fail(n); err != nil {
			return nil, err
		}
	}
	client, server := net.Pipe()
	b.mu.Lock()
	b.servers = append(b.servers, server)
	b.mu.Unlock()
	if wrap != nil {
		return wrap(n, client), nil
	}
	return client, nil
}

// server returns the server end of dial number n (from 1).
func (b *pipeBackend) server(n int) net.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.servers[n-1]
}

func (b *pipeBackend) dialCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dials
}

// close closes every server end.
func (b *pipeBackend) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.servers {
		_ = s.Close()
	}
}

// tcpBackend is a real TCP server on 127.0.0.1 speaking a line protocol:
// "ping\n" -> "pong\n". With idleClose > 0 it closes a connection that sat
// idle that long, like a backend with a short keep-alive timeout.
type tcpBackend struct {
	ln         net.Listener
	idleClose  time.Duration
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]bool
	accepted   atomic.Int64
	idleClosed atomic.Int64
}

func newTCPBackend(t testing.TB, idleClose time.Duration) *tcpBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	b := &tcpBackend{ln: ln, idleClose: idleClose, conns: make(map[net.Conn]bool)}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *tcpBackend) accept() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.accepted.Add(1)
		b.mu.Lock()
		b.conns[nc] = true
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(nc)
	}
}

func (b *tcpBackend) serve(nc net.Conn) {
	defer b.wg.Done()
	defer func() {
		_ = nc.Close()
		b.mu.Lock()
		delete(b.conns, nc)
		b.mu.Unlock()
	}()
	br := bufio.NewReader(nc)
	pong := []byte("pong\n")
	for {
		if b.idleClose > 0 {
			_ = nc.SetReadDeadline(time.Now().Add(b.idleClose))
		}
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				b.idleClosed.Add(1)
			}
			return
		}
		if string(line) != "ping\n" {
			return
		}
		if _, err := nc.Write(pong); err != nil {
			return
		}
	}
}

func (b *tcpBackend) addr() netip.AddrPort {
	return b.ln.Addr().(*net.TCPAddr).AddrPort()
}

func (b *tcpBackend) dest() Dest { return Dest{Addr: b.addr()} }

// dialFrom returns a DialFunc to b binding the given local IP (nil: any).
func (b *tcpBackend) dialFrom(local net.IP) DialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		if local != nil {
			d.LocalAddr = &net.TCPAddr{IP: local}
		}
		nc, err := d.DialContext(ctx, "tcp", b.ln.Addr().String())
		if err != nil {
			return nil, &DialError{Kind: DialOther, Addr: b.ln.Addr().String(), Err: err}
		}
		return nc, nil
	}
}

func (b *tcpBackend) dial(ctx context.Context) (net.Conn, error) { return b.dialFrom(nil)(ctx) }

func (b *tcpBackend) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	for nc := range b.conns {
		_ = nc.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// errBadReply is a reply other than "pong\n".
var errBadReply = errors.New("unexpected reply")

// exchange runs one ping/pong exchange on c (without allocating).
func exchange(c *Conn) error {
	if _, err := c.W.WriteString("ping\n"); err != nil {
		return err
	}
	if err := c.W.Flush(); err != nil {
		return err
	}
	line, err := c.R.ReadSlice('\n')
	if err != nil {
		return err
	}
	if string(line) != "pong\n" {
		return errBadReply
	}
	return nil
}

// openCounter wraps a DialFunc and tracks how many sockets are dialing or
// open at once, from the dial's start to the socket's Close.
type openCounter struct {
	inner DialFunc
	open  atomic.Int64
	peak  atomic.Int64
}

func (o *openCounter) dial(ctx context.Context) (net.Conn, error) {
	n := o.open.Add(1)
	for {
		p := o.peak.Load()
		if n <= p || o.peak.CompareAndSwap(p, n) {
			break
		}
	}
	nc, err := o.inner(ctx)
	if err != nil {
		o.open.Add(-1)
		return nil, err
	}
	return &countedConn{Conn: nc, o: o}, nil
}

type countedConn struct {
	net.Conn
	once sync.Once
	o    *openCounter
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.o.open.Add(-1) })
	return c.Conn.Close()
}

// waitFor polls cond (for events on real sockets, which synctest cannot
// fake) until it holds or the bound passes.
func waitFor(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", bound, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustGet gets a connection or fails the test.
func mustGet(t testing.TB, p *Pool, fresh bool) *Conn {
	t.Helper()
	c, err := p.Get(context.Background(), fresh)
	if err != nil {
		t.Fatalf("Get: got error %v, want a connection", err)
	}
	return c
}

// getResultAsync runs Get in a goroutine and delivers its outcome.
type asyncGet struct {
	c   *Conn
	err error
}

func goGet(ctx context.Context, p *Pool, fresh bool) <-chan asyncGet {
	ch := make(chan asyncGet, 1)
	go func() {
		c, err := p.Get(ctx, fresh)
		ch <- asyncGet{c, err}
	}()
	return ch
}

// closed returns the close count of reason in s.
func closed(s Stats, r CloseReason) uint64 { return s.ClosedByReason[r.String()] }
