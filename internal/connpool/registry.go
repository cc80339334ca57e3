package connpool

import (
	"cmp"
	"slices"
	"sync"
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

// Registry holds the pools that outlive config reloads, keyed by identity.
// Its lock is taken to find, create and sweep pools, never by a pool's
// request path.
type Registry struct {
	mu     sync.RWMutex
	pools  map[Key]*Pool
	closed bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{pools: make(map[Key]*Pool)}
}

// Pool returns the pool for k, creating it with s and dial; an existing pool
// gets Update(s) and keeps its dial function. After Close it returns a new,
// already drained pool.
func (r *Registry) Pool(k Key, s Settings, dial DialFunc) *Pool {
	r.mu.RLock()
	p, ok := r.pools[k]
	r.mu.RUnlock()
	if ok {
		p.Update(s)
		return p
	}

	r.mu.Lock()
	if p, ok := r.pools[k]; ok {
		r.mu.Unlock()
		p.Update(s)
		return p
	}
	p = New(k.Dest, s, dial)
	p.profile = k.Profile
	if r.closed {
		r.mu.Unlock()
		p.Drain(Shutdown)
		return p
	}
	r.pools[k] = p
	r.mu.Unlock()
	return p
}

// Lookup returns the pool for k, if the registry holds one.
func (r *Registry) Lookup(k Key) (*Pool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.pools[k]
	return p, ok
}

// Retain drains (reason Shutdown) and drops every pool whose key is not in
// live: the sweep after a reload.
func (r *Registry) Retain(live map[Key]bool) {
	var dead []*Pool
	r.mu.Lock()
	for k, p := range r.pools {
		if !live[k] {
			delete(r.pools, k)
			dead = append(dead, p)
		}
	}
	r.mu.Unlock()
	for _, p := range dead {
		p.Drain(Shutdown)
	}
}

// Stats returns every pool's ledger, sorted by Dest then Profile.
func (r *Registry) Stats() []Stats {
	type entry struct {
		k Key
		p *Pool
	}
	r.mu.RLock()
	entries := make([]entry, 0, len(r.pools))
	for k, p := range r.pools {
		entries = append(entries, entry{k, p})
	}
	r.mu.RUnlock()
	slices.SortFunc(entries, func(a, b entry) int { return compareKeys(a.k, b.k) })
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
	for _, p := range r.pools {
		pools = append(pools, p)
	}
	r.mu.Unlock()
	for _, p := range pools {
		p.Drain(Shutdown)
	}
}
