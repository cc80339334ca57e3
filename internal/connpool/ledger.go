package connpool

import (
	"net/netip"
	"slices"
	"time"
)

// Windows of the port ledger.
const (
	// portHoldWindow is how long a closed connection's port stays held by
	// TIME_WAIT or a cloud NAT: closed_last_240s counts over it.
	portHoldWindow = 240
	// newRateWindow is the window new_per_second averages over.
	newRateWindow = 10
)

// Stats is a pool's port ledger at one moment: what it holds now, what it
// opened and closed and why, and the ports its closes still hold. Counts
// are since the pool was created.
type Stats struct {
	Dest     string `json:"dest"`    // "ip:port" or "ip:port/servername"
	Profile  string `json:"profile"` // the dial profile (Registry key); "" if none
	Draining bool   `json:"draining"`

	Active  int `json:"active"`  // handed out for an exchange
	Idle    int `json:"idle"`    // kept for reuse
	Dialing int `json:"dialing"` // dials in flight
	Waiting int `json:"waiting"` // Gets waiting (under the cap, or for their own dial)

	OpenedTotal    uint64            `json:"opened_total"`
	ClosedTotal    uint64            `json:"closed_total"`
	ClosedByReason map[string]uint64 `json:"closed_by_reason"` // every close reason name, zeros included
	// ClosedLast240s counts connections closed in the last 240 s: the
	// ports TIME_WAIT or a NAT would still hold.
	ClosedLast240s int64 `json:"closed_last_240s"`
	// NewPerSecond is connections opened over the last 10 s, per second.
	NewPerSecond float64 `json:"new_per_second"`

	RequestsTotal uint64            `json:"requests_total"` // Gets that returned a connection
	ReusedTotal   uint64            `json:"reused_total"`   // ...on a connection that served before
	ReuseRatio    float64           `json:"reuse_ratio"`    // ReusedTotal / RequestsTotal (0 if none)
	Replays       map[string]uint64 `json:"replays"`        // stale replays by verdict name, zeros included

	// LearnedIdleTimeoutMS is the backend's idle term as weir observed it:
	// the shortest idle time after which it closed a connection, or what a
	// probe found since (0 = not learned, or forgotten).
	LearnedIdleTimeoutMS int64 `json:"learned_idle_timeout_ms"`
	// AnnouncedKeepaliveMS is the backend's latest "Keep-Alive: timeout"
	// (0 = none).
	AnnouncedKeepaliveMS int64 `json:"announced_keepalive_ms"`
	MaxConnections       int   `json:"max_connections"` // the cap (0 = unlimited)
	PeakActive           int   `json:"peak_active"`     // the most connections active at once

	Sources []SourceStats `json:"sources"` // per local source IP, sorted
}

// SourceStats is the ledger of one local source IP.
type SourceStats struct {
	SourceIP       string `json:"source_ip"` // "" when the connection is not IP (tests)
	Active         int    `json:"active"`
	Idle           int    `json:"idle"`
	OpenedTotal    uint64 `json:"opened_total"`
	ClosedLast240s int64  `json:"closed_last_240s"`
}

// ledger is a pool's counters. Guarded by Pool.mu.
type ledger struct {
	epoch       time.Time // seconds for the windows count from here (monotonic)
	openedTotal uint64
	closedTotal uint64
	closedBy    [NumCloseReasons]uint64
	recentClose window
	recentOpen  window
	requests    uint64
	reused      uint64
	replays     [NumVerdicts]uint64
	peakActive  int
	sources     map[netip.Addr]*source
}

// source is the ledger of one local source IP.
type source struct {
	addr        netip.Addr
	active      int
	idle        int
	opened      uint64
	recentClose window
}

func (l *ledger) init(now time.Time) {
	l.epoch = now
	l.recentClose.init(portHoldWindow)
	l.recentOpen.init(newRateWindow)
	l.sources = make(map[netip.Addr]*source)
}

// sec is now as whole seconds since the ledger began.
func (l *ledger) sec(now time.Time) int64 { return int64(now.Sub(l.epoch) / time.Second) }

// source returns the entry for a, creating it.
func (l *ledger) source(a netip.Addr) *source {
	s := l.sources[a]
	if s == nil {
		s = &source{addr: a}
		s.recentClose.init(portHoldWindow)
		l.sources[a] = s
	}
	return s
}

func (l *ledger) opened(s *source, now time.Time) {
	l.openedTotal++
	s.opened++
	l.recentOpen.add(l.sec(now), 1)
}

func (l *ledger) closed(s *source, reason CloseReason, now time.Time) {
	sec := l.sec(now)
	l.closedTotal++
	l.closedBy[reason]++
	l.recentClose.add(sec, 1)
	s.recentClose.add(sec, 1)
}

// window counts events over the last len(buckets) seconds in per-second
// buckets with a running total: O(1) per event, amortised O(1) to advance.
type window struct {
	buckets []int64
	head    int64 // the latest second accounted for
	total   int64
}

func (w *window) init(seconds int) { w.buckets = make([]int64, seconds) }

// advance drops the buckets that fell out of the window by second sec.
func (w *window) advance(sec int64) {
	if sec <= w.head {
		return
	}
	n := int64(len(w.buckets))
	if sec-w.head >= n {
		clear(w.buckets)
		w.total = 0
	} else {
		for s := w.head + 1; s <= sec; s++ {
			i := s % n
			w.total -= w.buckets[i]
			w.buckets[i] = 0
		}
	}
	w.head = sec
}

func (w *window) add(sec, k int64) {
	w.advance(sec)
	if sec <= w.head-int64(len(w.buckets)) {
		return // older than the window (a stale clock reading)
	}
	w.buckets[sec%int64(len(w.buckets))] += k
	w.total += k
}

// sum is the count over the window ending at second sec.
func (w *window) sum(sec int64) int64 {
	w.advance(sec)
	return w.total
}

// Stats returns the pool's port ledger now.
func (p *Pool) Stats() Stats {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	l := &p.led
	sec := l.sec(now)
	st := Stats{
		Dest:                 p.dest.String(),
		Profile:              p.profile,
		Draining:             p.closed,
		Active:               p.active,
		Idle:                 p.idleCountLocked(),
		Dialing:              p.dialing,
		Waiting:              p.waiters.n,
		OpenedTotal:          l.openedTotal,
		ClosedTotal:          l.closedTotal,
		ClosedByReason:       make(map[string]uint64, NumCloseReasons),
		ClosedLast240s:       l.recentClose.sum(sec),
		NewPerSecond:         float64(l.recentOpen.sum(sec)) / newRateWindow,
		RequestsTotal:        l.requests,
		ReusedTotal:          l.reused,
		Replays:              make(map[string]uint64, NumVerdicts-1),
		LearnedIdleTimeoutMS: p.learned.Milliseconds(),
		AnnouncedKeepaliveMS: p.announced.Milliseconds(),
		MaxConnections:       p.s.MaxConns,
		PeakActive:           l.peakActive,
		Sources:              make([]SourceStats, 0, len(l.sources)),
	}
	for r := range NumCloseReasons {
		st.ClosedByReason[r.String()] = l.closedBy[r]
	}
	for v := VerdictNone + 1; v < NumVerdicts; v++ {
		st.Replays[v.String()] = l.replays[v]
	}
	if l.requests > 0 {
		st.ReuseRatio = float64(l.reused) / float64(l.requests)
	}
	srcs := make([]*source, 0, len(l.sources))
	for _, s := range l.sources {
		srcs = append(srcs, s)
	}
	slices.SortFunc(srcs, func(a, b *source) int { return a.addr.Compare(b.addr) })
	for _, s := range srcs {
		ip := ""
		if s.addr.IsValid() {
			ip = s.addr.String()
		}
		st.Sources = append(st.Sources, SourceStats{
			SourceIP:       ip,
			Active:         s.active,
			Idle:           s.idle,
			OpenedTotal:    s.opened,
			ClosedLast240s: s.recentClose.sum(sec),
		})
	}
	return st
}
