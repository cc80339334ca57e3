package connpool

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Key identifies a pool in a Registry.
type Key struct {
	// Dest is where the pool's connections go.
	Dest Dest
	// Profile distinguishes dial setups (TLS, proxy, source addresses) to
	// one Dest: connections opened differently are never shared.
	Profile string
}

// compareKeys orders keys by Dest (address, then server name), then
// Profile.
func compareKeys(a, b Key) int {
	if c := a.Dest.Addr.Compare(b.Dest.Addr); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Dest.ServerName, b.Dest.ServerName); c != 0 {
		return c
	}
	return cmp.Compare(a.Profile, b.Profile)
}

// Registry holds the pools that outlive config reloads, keyed by identity
// and counted by reference: every target that uses a pool holds one
// reference, so a pool shared by two APIs, or by the old and the new config
// during a reload, lives until its last user lets go. Its lock is taken to
// acquire and release pools, never by a pool's request path.
type Registry struct {
	mu      sync.RWMutex
	pools   map[Key]*entry
	retired []retiredPool // drained pools, kept in Stats while their closed ports may still be held
	closed  bool
}

// RetiredVisible is how long a drained pool stays in Stats: the 240 s a NAT
// or TIME_WAIT may still hold the ports its connections used.
const RetiredVisible = 240 * time.Second

type retiredPool struct {
	k  Key
	p  *Pool
	at time.Time
}

type entry struct {
	p    *Pool
	refs int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{pools: make(map[Key]*entry)}
}

// Acquire returns the pool for k and counts one more reference to it. An
// existing pool is returned as it is: the key carries every setting that
// shapes the pool (the caller puts them in Profile), so acquiring never
// changes a pool another config still serves with, and a build that fails
// after acquiring leaves the serving pools untouched. After Close it
// returns a new, already drained pool that the registry does not hold.
func (r *Registry) Acquire(k Key, s Settings, dial DialFunc) *Pool {
	r.mu.Lock()
	if e, ok := r.pools[k]; ok {
		e.refs++
		r.mu.Unlock()
		return e.p
	}
	p := New(k.Dest, s, dial)
	p.profile = k.Profile
	if r.closed {
		r.mu.Unlock()
		p.Drain(Shutdown)
		return p
	}
	r.pools[k] = &entry{p: p, refs: 1}
	r.mu.Unlock()
	return p
}

// Release drops one reference to the pool p held under k. The last
// reference removes it from the registry and drains it with reason
// (dns_drain when its address vanished, shutdown when its config went).
func (r *Registry) Release(k Key, p *Pool, reason CloseReason) {
	r.mu.Lock()
	e, ok := r.pools[k]
	if !ok || e.p != p {
		r.mu.Unlock()
		return // already gone (Close), or a pool born drained
	}
	e.refs--
	last := e.refs <= 0
	if last {
		delete(r.pools, k)
		now := time.Now()
		r.pruneLocked(now)
		r.retired = append(r.retired, retiredPool{k: k, p: p, at: now})
	}
	r.mu.Unlock()
	if last {
		p.Drain(reason)
	}
}

// Lookup returns the pool for k, if the registry holds one.
func (r *Registry) Lookup(k Key) (*Pool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.pools[k]
	if !ok {
		return nil, false
	}
	return e.p, true
}

// pruneLocked forgets retired pools older than RetiredVisible. r.mu must
// be held.
func (r *Registry) pruneLocked(now time.Time) {
	r.retired = slices.DeleteFunc(r.retired, func(rp retiredPool) bool { return now.Sub(rp.at) > RetiredVisible })
}

// Stats returns every pool's ledger, sorted by Dest then Profile; pools
// drained in the last RetiredVisible are included (Draining set).
func (r *Registry) Stats() []Stats {
	type keyed struct {
		k Key
		p *Pool
	}
	r.mu.Lock()
	r.pruneLocked(time.Now())
	entries := make([]keyed, 0, len(r.pools)+len(r.retired))
	for k, e := range r.pools {
		entries = append(entries, keyed{k, e.p})
	}
	for _, rp := range r.retired {
		entries = append(entries, keyed{rp.k, rp.p})
	}
	r.mu.Unlock()
	slices.SortFunc(entries, func(a, b keyed) int { return compareKeys(a.k, b.k) })
	out := make([]Stats, len(entries))
	for i, e := range entries {
		out[i] = e.p.Stats()
	}
	return out
}

// Close drains every pool (reason Shutdown); pools asked for afterwards are
// born drained.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	pools := make([]*Pool, 0, len(r.pools))
	now := time.Now()
	for k, e := range r.pools {
		pools = append(pools, e.p)
		delete(r.pools, k)
		r.retired = append(r.retired, retiredPool{k: k, p: e.p, at: now})
	}
	r.mu.Unlock()
	for _, p := range pools {
		p.Drain(Shutdown)
	}
}
