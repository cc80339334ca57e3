package cache

import (
	"context"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/store"
)

// Storage holds cached responses by key. Implementations are safe for
// concurrent use; an *Entry handed to Set must not be changed afterwards,
// and one returned by Get must not be changed by the caller.
type Storage interface {
	// Get returns the entry at key, or nil when there is none (or it
	// expired).
	Get(ctx context.Context, key string) (*Entry, error)
	// Set stores e at key for ttl (> 0).
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	// Delete removes the entry at key, if any.
	Delete(ctx context.Context, key string) error
}

// MemoryStats are a memory storage's counters.
type MemoryStats struct {
	Entries   int   `json:"entries"`
	Bytes     int64 `json:"bytes"`
	MaxBytes  int64 `json:"max_bytes"`
	Evictions int64 `json:"evictions"`
}

// Memory is an in-process Storage: least recently used entries go first
// once the total bytes pass the bound. Keys are spread over independently
// locked shards, each with its own LRU list, so lookups of different keys
// rarely wait for each other; eviction compares the shards' oldest entries
// and drops the oldest of all. Entries are held as they are (no copy, no
// encoding), which makes a hit cheap.
type Memory struct {
	seed   maphash.Seed
	shards [memShards]memShard
	max    atomic.Int64
	bytes  atomic.Int64
	now    func() time.Time
}

type memShard struct {
	mu        sync.Mutex
	m         map[string]*memItem
	head      memItem // sentinel of the LRU ring: head.next is the most recent
	evictions int64
}

type memItem struct {
	key        string
	e          *Entry
	exp        int64 // unix ns
	used       int64 // unix ns of the last Get or Set
	size       int64
	prev, next *memItem
}

// memShards is the number of shards of a memory storage.
const memShards = 16

// NewMemory returns a memory storage holding at most maxBytes of entries
// (an entry larger than that is not stored). now is the clock (nil:
// time.Now).
func NewMemory(maxBytes int64, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{seed: maphash.MakeSeed(), now: now}
	m.max.Store(maxBytes)
	for i := range m.shards {
		s := &m.shards[i]
		s.m = make(map[string]*memItem)
		s.head.next, s.head.prev = &s.head, &s.head
	}
	return m
}

func (m *Memory) shard(key string) int {
	return int(maphash.String(m.seed, key) % memShards)
}

// Get implements Storage.
func (m *Memory) Get(_ context.Context, key string) (*Entry, error) {
	s := &m.shards[m.shard(key)]
	now := m.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.m[key]
	if it == nil {
		return nil, nil
	}
	if it.exp <= now {
		m.removeLocked(s, it)
		return nil, nil
	}
	it.used = now
	s.unlinkLocked(it)
	s.pushLocked(it)
	return it.e, nil
}

// Set implements Storage. An entry larger than the whole bound is not
// stored (and the old one at key is dropped).
func (m *Memory) Set(_ context.Context, key string, e *Entry, ttl time.Duration) error {
	i := m.shard(key)
	s := &m.shards[i]
	size := e.facts.size + int64(len(key))
	now := m.now()
	exp := now.Add(ttl).UnixNano()
	s.mu.Lock()
	if old := s.m[key]; old != nil {
		m.removeLocked(s, old)
	}
	limit := m.max.Load()
	if size > limit {
		s.mu.Unlock()
		return nil
	}
	it := &memItem{key: key, e: e, exp: exp, used: now.UnixNano(), size: size}
	s.m[key] = it
	m.bytes.Add(size)
	s.pushLocked(it)
	s.mu.Unlock()

	m.evict(limit, it)
	return nil
}

// evict drops the least recently used entries until the total is within
// limit, sparing keep (the entry just stored). It takes one shard lock at a
// time (no lock order to keep): it peeks at every shard's oldest entry,
// then drops the oldest of them if it is still there.
func (m *Memory) evict(limit int64, keep *memItem) {
	for m.bytes.Load() > limit {
		victim, oldest := -1, int64(0)
		for i := range m.shards {
			s := &m.shards[i]
			s.mu.Lock()
			if it := s.head.prev; it != &s.head && it != keep && (victim < 0 || it.used < oldest) {
				victim, oldest = i, it.used
			}
			s.mu.Unlock()
		}
		if victim < 0 {
			return
		}
		s := &m.shards[victim]
		s.mu.Lock()
		if it := s.head.prev; it != &s.head && it != keep && it.used == oldest {
			m.removeLocked(s, it)
			s.evictions++
		}
		s.mu.Unlock()
	}
}

// clear drops every entry.
func (m *Memory) clear() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for _, it := range s.m {
			m.removeLocked(s, it)
		}
		s.mu.Unlock()
	}
}

// SetMax changes the bound, evicting at once down to a smaller one.
func (m *Memory) SetMax(maxBytes int64) {
	m.max.Store(maxBytes)
	m.evict(maxBytes, nil)
}

// Delete implements Storage.
func (m *Memory) Delete(_ context.Context, key string) error {
	s := &m.shards[m.shard(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.m[key]; it != nil {
		m.removeLocked(s, it)
	}
	return nil
}

// Stats returns the storage's counters.
func (m *Memory) Stats() MemoryStats {
	st := MemoryStats{MaxBytes: m.max.Load(), Bytes: m.bytes.Load()}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		st.Entries += len(s.m)
		st.Evictions += s.evictions
		s.mu.Unlock()
	}
	return st
}

// removeLocked drops it from shard s (s.mu held).
func (m *Memory) removeLocked(s *memShard, it *memItem) {
	s.unlinkLocked(it)
	delete(s.m, it.key)
	m.bytes.Add(-it.size)
}

// unlinkLocked takes it out of the LRU ring (s.mu held).
func (s *memShard) unlinkLocked(it *memItem) {
	it.prev.next, it.next.prev = it.next, it.prev
}

// pushLocked makes it the most recently used (s.mu held).
func (s *memShard) pushLocked(it *memItem) {
	it.prev, it.next = &s.head, s.head.next
	s.head.next.prev = it
	s.head.next = it
}

// Shared is a Storage over a store.Store's values (Redis: shared by every
// instance that uses it). Entries are encoded on Set and decoded on Get.
type Shared struct {
	st store.Store
}

// NewShared returns a storage keeping entries in st.
func NewShared(st store.Store) *Shared { return &Shared{st: st} }

// errCorrupt is returned for a stored value that does not decode (written
// by another version, or damaged); the caller treats it as a miss.
var errCorrupt = errors.New("cache: stored entry does not decode")

// Get implements Storage. A value that does not decode is deleted and
// reported as errCorrupt.
func (s *Shared) Get(ctx context.Context, key string) (*Entry, error) {
	b, ok, err := s.st.Get(ctx, key)
	if err != nil || !ok {
		return nil, err
	}
	e, err := decodeEntry(b)
	if err != nil {
		_ = s.st.Delete(ctx, key)
		return nil, errCorrupt
	}
	return e, nil
}

// Set implements Storage.
func (s *Shared) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	return s.st.Set(ctx, key, appendEntry(nil, e), ttl)
}

// Delete implements Storage.
func (s *Shared) Delete(ctx context.Context, key string) error { return s.st.Delete(ctx, key) }

// frontTTL is the longest an entry stays in a Fronted storage's memory: the
// bound on serving an entry another instance changed or deleted, should its
// message be lost.
const frontTTL = 2 * time.Second

// frontChannel is the store channel on which instances announce the keys
// they changed or deleted.
const frontChannel = "cache-invalidations"

// Fronted is a Shared storage with a small Memory in front of it for hot
// entries: a hit on the front costs no round trip to the store. Entries
// live in the front at most frontTTL. An instance that sets or deletes a
// key publishes it, and every other instance drops the key from its front
// when the message arrives (milliseconds); while the subscription is down,
// the front is emptied and bypassed, so a lost message costs at most
// frontTTL of an old entry.
type Fronted struct {
	back  *Shared
	front *Memory
	pub   store.Broadcaster
	id    string // this front's, so that it skips its own messages
	live  atomic.Bool
	// gen counts invalidations; an entry read from the store while one
	// arrived is not put in the front (it may be the one invalidated).
	gen  atomic.Uint64
	stop func()
}

// NewFronted returns a storage over st (which relays invalidations) with a
// front of at most frontBytes; now is the front's clock (nil: time.Now).
// Close stops its subscription.
func NewFronted(st store.Store, b store.Broadcaster, frontBytes int64, now func() time.Time) *Fronted {
	f := &Fronted{back: NewShared(st), front: NewMemory(frontBytes, now), pub: b, id: strconv.FormatUint(rand.Uint64(), 36)}
	f.stop = b.Subscribe(frontChannel, (*frontListener)(f))
	return f
}

// Get implements Storage.
func (f *Fronted) Get(ctx context.Context, key string) (*Entry, error) {
	live := f.live.Load()
	if live {
		if e, _ := f.front.Get(ctx, key); e != nil {
			return e, nil
		}
	}
	gen := f.gen.Load()
	e, err := f.back.Get(ctx, key)
	if e != nil && live && f.gen.Load() == gen {
		_ = f.front.Set(ctx, key, e, frontTTL)
	}
	return e, err
}

// Set implements Storage: the store first, then the news.
func (f *Fronted) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	f.front.Delete(ctx, key)
	if err := f.back.Set(ctx, key, e, ttl); err != nil {
		return err
	}
	f.announce(ctx, key)
	if f.live.Load() {
		_ = f.front.Set(ctx, key, e, min(ttl, frontTTL))
	}
	return nil
}

// Delete implements Storage.
func (f *Fronted) Delete(ctx context.Context, key string) error {
	f.front.Delete(ctx, key)
	err := f.back.Delete(ctx, key)
	f.announce(ctx, key)
	return err
}

// announce tells the other instances to drop key from their fronts.
func (f *Fronted) announce(ctx context.Context, key string) {
	_ = f.pub.Publish(ctx, frontChannel, f.id+" "+key)
}

// Stats returns the front's counters.
func (f *Fronted) Stats() MemoryStats { return f.front.Stats() }

// Close stops the subscription; the storage then reads the store only.
func (f *Fronted) Close() { f.stop() }

// frontListener is a Fronted as the subscriber of the invalidations.
type frontListener Fronted

// Message drops the key another instance changed or deleted.
func (l *frontListener) Message(payload string) {
	id, key, ok := strings.Cut(payload, " ")
	if !ok || id == l.id {
		return
	}
	l.gen.Add(1)
	_ = l.front.Delete(context.Background(), key)
}

// Subscribed empties the front whenever messages may have been missed, and
// bypasses it while they are.
func (l *frontListener) Subscribed(ok bool) {
	l.live.Store(false)
	l.gen.Add(1)
	l.front.clear()
	l.live.Store(ok)
}

// Storages picks the storage of cached responses for a store's settings,
// and keeps the memory one across reloads (resized when cache_max_bytes
// changes): cached responses outlive reloads like counters do. Safe for
// concurrent use.
type Storages struct {
	mu      sync.Mutex
	mem     *Memory
	fronted *Fronted    // the redis store's storage, kept while its store is
	backing store.Store // the store fronted is over
	now     func() time.Time
	metrics *Metrics
}

// NewStorages returns an empty set, with metrics that report its memory
// storage; now is the memory storage's clock (nil: time.Now).
func NewStorages(now func() time.Time) *Storages {
	g := &Storages{now: now}
	g.metrics = NewMetrics(g.Memory)
	return g
}

// Metrics returns the counters every policy built with Deps shares.
func (g *Storages) Metrics() *Metrics {
	if g == nil {
		return nil
	}
	return g.metrics
}

// Deps returns what a cache policy needs under store settings s whose
// open store is st: the storage For returns, and the shared metrics.
func (g *Storages) Deps(s config.Store, st store.Store) Deps {
	return Deps{Storage: g.For(s, st), Metrics: g.Metrics()}
}

// For returns the storage for store settings s whose open store is st: for
// redis, a Fronted one over st (kept across reloads that keep the store)
// when cache_front_bytes allows and st relays messages, else a Shared one;
// the process's Memory otherwise.
func (g *Storages) For(s config.Store, st store.Store) Storage {
	if g == nil {
		g = &Storages{} // nothing to keep: a fresh memory storage
	}
	if s.Kind == config.StoreRedis {
		b, ok := st.(store.Broadcaster)
		if !ok || s.CacheFrontBytes <= 0 {
			return NewShared(st)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		switch {
		case g.fronted == nil || g.backing != st:
			if g.fronted != nil {
				g.fronted.Close() // its store's last snapshot reads through
			}
			g.fronted, g.backing = NewFronted(st, b, s.CacheFrontBytes, g.now), st
		case g.fronted.front.max.Load() != s.CacheFrontBytes:
			g.fronted.front.SetMax(s.CacheFrontBytes)
		}
		return g.fronted
	}
	limit := s.CacheMaxBytes
	if limit <= 0 {
		limit = config.DefaultCacheMaxBytes
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mem == nil {
		g.mem = NewMemory(limit, g.now)
	} else if g.mem.max.Load() != limit {
		g.mem.SetMax(limit)
	}
	return g.mem
}

// Memory returns the memory storage, nil until For made one.
func (g *Storages) Memory() *Memory {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mem
}
