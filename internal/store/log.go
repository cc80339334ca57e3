package store

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// clientLinger is how long a Redis client line written outside an outage
// waits before it is logged: the dial error that starts an outage reaches
// the log just before the store sees the failure and marks it down.
const clientLinger = time.Second

// Log is weir's log of its Redis stores' outages, and the logger of the
// Redis client (go-redis logs through one process-wide logger: the
// process installs it with redis.SetLogger). While Redis is down, go-redis
// logs a dial error per attempt: every reconnection probe and every
// request that raced the outage's start. Log holds those back and writes
// two lines per outage in weir's format: when a store becomes unreachable
// (with the cause) and when it is back (how long it was down, and how many
// client lines were held meanwhile). A client line outside any outage is
// written as "weir: redis client: ..." after clientLinger, unless an outage
// began meanwhile (then it is one of the outage's). Safe for concurrent use.
type Log struct {
	w io.Writer

	mu      sync.Mutex
	down    int      // stores in an outage now
	held    uint64   // client lines held back since the log began
	pending []string // client lines outside outages, waiting out clientLinger
	flushAt *time.Timer
}

// NewLog returns a log writing to w.
func NewLog(w io.Writer) *Log { return &Log{w: w} }

// Printf takes one line of the Redis client's (go-redis's logging
// interface).
func (l *Log) Printf(_ context.Context, format string, v ...any) {
	line := strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(format, v...)), "redis: ")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down > 0 {
		l.held++
		return
	}
	l.pending = append(l.pending, line)
	if l.flushAt == nil {
		l.flushAt = time.AfterFunc(clientLinger, l.flush)
	}
}

// flush writes the client lines that waited out clientLinger with no
// outage beginning.
func (l *Log) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushAt = nil
	for _, line := range l.pending {
		fmt.Fprintf(l.w, "weir: redis client: %s\n", line)
	}
	l.pending = nil
}

// outageBegan logs that the store at addr became unreachable for cause,
// and returns the mark outageEnded counts held lines from. Client lines
// waiting out clientLinger belong to this outage.
func (l *Log) outageBegan(addr string, cause error) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	mark := l.held
	l.held += uint64(len(l.pending))
	l.pending = nil
	if l.flushAt != nil {
		l.flushAt.Stop()
		l.flushAt = nil
	}
	l.down++
	fmt.Fprintf(l.w, "weir: store redis %s: unreachable (%v); policies answer their on_store_error until it is back\n", addr, cause)
	return mark
}

// outageEnded logs that the store at addr, down for d, is reachable
// again (or was closed while down), with the client lines held since mark.
func (l *Log) outageEnded(addr string, d time.Duration, mark uint64, closed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down--
	how := "reachable again"
	if closed {
		how = "closed while unreachable"
	}
	fmt.Fprintf(l.w, "weir: store redis %s: %s after %v (the Redis client logged %d errors meanwhile, held back)\n", addr, how, d.Round(time.Millisecond), l.held-mark)
}
