package store

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// shardCount is the number of independently locked parts of a memory store:
// requests for different keys rarely wait for each other.
const shardCount = 64

// DefaultSweepInterval is how often a memory store drops expired keys when
// MemoryOptions.SweepInterval is 0.
const DefaultSweepInterval = 10 * time.Second

// MemoryOptions configure a memory store.
type MemoryOptions struct {
	// MaxKeys bounds the keys held (0: 1,000,000). When a shard is full, a
	// new key evicts an expired key, or else the soonest-expiring of a
	// small sample: eviction forgets a count, which can only let more
	// requests through.
	MaxKeys int
	// SweepInterval is how often expired keys are dropped (0: 10s).
	SweepInterval time.Duration
}

// Memory is an in-process store: exact, since every decision happens under
// the lock of the key's shard.
type Memory struct {
	seed     maphash.Seed
	perShard int
	shards   [shardCount]shard
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

type shard struct {
	mu        sync.Mutex
	m         map[string]*entry
	closed    bool
	ops       uint64
	evictions uint64
}

// entry is one key's state. exp is when it is dead (unix ns): a GCRA bucket
// once full again, a window once over, a value once its ttl passed.
type entry struct {
	exp  int64
	n    int64 // GCRA: tat (unix ns); fixed window: the count
	roll *rolling
	val  []byte
}

// NewMemory returns a memory store; Close stops its sweeper.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1_000_000
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	m := &Memory{
		seed:     maphash.MakeSeed(),
		perShard: max(1, (o.MaxKeys+shardCount-1)/shardCount),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*entry)
	}
	go m.sweeper(o.SweepInterval)
	return m
}

func (m *Memory) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%shardCount]
}

// lookupLocked returns key's live entry in s, creating (and, when full,
// making room for) it when create is set. s.mu is held.
func (m *Memory) lookupLocked(s *shard, key string, now int64, create bool) *entry {
	e := s.m[key]
	if e != nil && e.exp <= now {
		delete(s.m, key)
		e = nil
	}
	if e != nil || !create {
		return e
	}
	if len(s.m) >= m.perShard {
		s.evictLocked(now)
	}
	e = &entry{}
	s.m[key] = e
	return e
}

// evictLocked makes room for one key in s: it drops the expired keys of a
// sample (map iteration order is random), or else the one expiring soonest.
// s.mu is held.
func (s *shard) evictLocked(now int64) {
	const sample = 8
	var victim string
	soonest, seen, dropped := int64(0), 0, false
	for k, e := range s.m {
		if e.exp <= now {
			delete(s.m, k)
			dropped = true
		} else if victim == "" || e.exp < soonest {
			victim, soonest = k, e.exp
		}
		if seen++; seen >= sample {
			break
		}
	}
	if !dropped && victim != "" {
		delete(s.m, victim)
		s.evictions++
	}
}

// Take implements Store.
func (m *Memory) Take(_ context.Context, key string, r Rate, now time.Time, n int) (Grant, error) {
	t := now.UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Grant{}, &Error{Kind: "memory", Op: "take", Err: ErrClosed}
	}
	s.ops++
	e := s.m[key]
	tat := int64(0)
	if e != nil {
		tat = e.n
	}
	// An expired bucket's tat is in the past, which gcra reads as full: the
	// entry is reused as it is.
	tat, g := gcra(tat, t, r, n)
	if g.Granted > 0 {
		if e == nil {
			e = m.lookupLocked(s, key, t, true)
		}
		e.n, e.exp = tat, tat
	}
	return g, nil
}

// Count implements Store.
func (m *Memory) Count(_ context.Context, key string, w Window, now time.Time, n, limit int64) (Tally, error) {
	t := now.UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Tally{}, &Error{Kind: "memory", Op: "count", Err: ErrClosed}
	}
	s.ops++
	if w.Slots > 0 {
		return m.countRollingLocked(s, key, w, t, n, limit), nil
	}
	end := w.End.UnixNano()
	reset := time.Duration(end - t)
	e := m.lookupLocked(s, key, t, false)
	var c int64
	if e != nil {
		c = e.n
	}
	if limit >= 0 && c+n > limit {
		tl := Tally{Count: c, Reset: reset}
		if n <= limit {
			tl.RetryAfter = reset
		}
		return tl, nil
	}
	if n > 0 {
		if e == nil {
			e = m.lookupLocked(s, key, t, true)
		}
		e.n += n
		e.exp = end
		c = e.n
	}
	return Tally{Added: true, Count: c, Reset: reset}, nil
}

// countRollingLocked is Count for a rolling window. s.mu is held.
func (m *Memory) countRollingLocked(s *shard, key string, w Window, t, n, limit int64) Tally {
	slot, cur := slotsOf(w, t)
	e := m.lookupLocked(s, key, t, n > 0)
	if e == nil {
		// Nothing counted: a read, or nothing to add.
		if limit >= 0 && n > limit {
			return Tally{}
		}
		return Tally{Added: true}
	}
	// Slots+1 slots: a call then stays counted for at least the window's
	// length (and at most one slot more), never less, wherever in its slot
	// it came.
	size := w.Slots + 1
	if e.roll == nil || len(e.roll.ring) != size {
		e.roll = &rolling{last: cur, ring: make([]int64, size)}
	}
	e.roll.advance(cur)
	tl := e.roll.count(cur, slot, t, n, limit)
	if tl.Added && n > 0 {
		e.exp = (cur + int64(size)) * slot
	}
	if e.exp == 0 {
		// A new entry that took nothing: let it go at once.
		delete(s.m, key)
	}
	return tl
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, &Error{Kind: "memory", Op: "get", Err: ErrClosed}
	}
	s.ops++
	e := m.lookupLocked(s, key, time.Now().UnixNano(), false)
	if e == nil || e.val == nil {
		return nil, false, nil
	}
	return e.val, true, nil
}

// Set implements Store. Values are immutable once set: Get returns the
// stored slice, which callers must not change.
func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	v := append(make([]byte, 0, len(val)), val...)
	now := time.Now().UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &Error{Kind: "memory", Op: "set", Err: ErrClosed}
	}
	s.ops++
	e := m.lookupLocked(s, key, now, true)
	*e = entry{exp: now + int64(ttl), val: v}
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string) error {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &Error{Kind: "memory", Op: "delete", Err: ErrClosed}
	}
	s.ops++
	delete(s.m, key)
	return nil
}

// Stats implements Store.
func (m *Memory) Stats() Stats {
	st := Stats{Kind: "memory", Available: true}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		st.Ops += s.ops
		st.Evictions += s.evictions
		st.Keys += len(s.m)
		s.mu.Unlock()
	}
	return st
}

// Close implements Store: it stops the sweeper and drops every key.
func (m *Memory) Close() error {
	m.once.Do(func() {
		close(m.stop)
		<-m.done
		for i := range m.shards {
			s := &m.shards[i]
			s.mu.Lock()
			s.closed = true
			s.m = nil
			s.mu.Unlock()
		}
	})
	return nil
}

// Sweep drops every expired key now; the sweeper calls it periodically.
func (m *Memory) Sweep() {
	now := time.Now().UnixNano()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.exp <= now {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

func (m *Memory) sweeper(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.Sweep()
		}
	}
}
