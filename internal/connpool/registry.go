package connpool

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Key identifies a pool in a Registry: everything that shapes the pool and
// its connections. It is compared field by field, never through a rendered
// string: every field is a plain value (a slice, map or function in it does
// not build), so two equal configs give equal keys and a reload keeps its
// pools and their connections.
type Key struct {
	// Dest is where the pool's connections go.
	Dest Dest
	// Settings are the pool's limits: a config with other limits gets a pool
	// of its own, so acquiring never changes a pool that another config
	// still serves with.
	Settings Settings
	// Profile is how the connections are opened: connections opened
	// differently are never shared.
	Profile Profile
}

// Profile describes how a pool's connections are opened beyond their Dest,
// as the caller (upstream) resolved it from config. The zero Profile is a
// pool with no described dial setup.
type Profile struct {
	Endpoint       string        // the endpoint served, "scheme://host[:port]"
	Protocol       string        // the wire protocol spoken on the connections ("http/1.1")
	Proxy          string        // the egress proxy's URL; "" = direct
	SourceAddrs    string        // the local source IPs, comma-separated; "" = the kernel picks
	ConnectTimeout time.Duration // the dial's deadline
	TLS            TLSProfile
}

// TLSProfile is the TLS part of a Profile: the configured files and
// overrides (the effective server name is Dest.ServerName).
type TLSProfile struct {
	ServerName         string // the configured SNI override; "" = the endpoint's host
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool
}

// String renders p for /pools ("" for the zero Profile): the endpoint, then
// what is set of the rest.
func (p Profile) String() string {
	if p == (Profile{}) {
		return ""
	}
	b := make([]byte, 0, 64)
	b = append(b, p.Endpoint...)
	for _, f := range [...]struct{ name, v string }{
		{"protocol", p.Protocol}, {"proxy", p.Proxy}, {"source", p.SourceAddrs},
		{"sni", p.TLS.ServerName}, {"ca", p.TLS.CAFile}, {"cert", p.TLS.CertFile}, {"key", p.TLS.KeyFile},
	} {
		if f.v != "" {
			b = append(append(append(append(b, ' '), f.name...), '='), f.v...)
		}
	}
	if p.TLS.InsecureSkipVerify {
		b = append(b, " insecure"...)
	}
	if p.ConnectTimeout != 0 {
		b = append(append(b, " connect="...), p.ConnectTimeout.String()...)
	}
	return string(b)
}

// compareKeys orders keys by Dest (address, then server name), then
// profile, then settings: a total order, so Stats lists pools in the same
// order every time.
func compareKeys(a, b Key) int {
	return cmp.Or(
		a.Dest.Addr.Compare(b.Dest.Addr),
		cmp.Compare(a.Dest.ServerName, b.Dest.ServerName),
		compareProfiles(a.Profile, b.Profile),
		compareSettings(a.Settings, b.Settings),
	)
}

func compareProfiles(a, b Profile) int {
	return cmp.Or(
		cmp.Compare(a.Endpoint, b.Endpoint),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Proxy, b.Proxy),
		cmp.Compare(a.SourceAddrs, b.SourceAddrs),
		cmp.Compare(a.ConnectTimeout, b.ConnectTimeout),
		cmp.Compare(a.TLS.ServerName, b.TLS.ServerName),
		cmp.Compare(a.TLS.CAFile, b.TLS.CAFile),
		cmp.Compare(a.TLS.CertFile, b.TLS.CertFile),
		cmp.Compare(a.TLS.KeyFile, b.TLS.KeyFile),
		compareBools(a.TLS.InsecureSkipVerify, b.TLS.InsecureSkipVerify),
	)
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func compareSettings(a, b Settings) int {
	return cmp.Or(
		cmp.Compare(a.IdleTimeout, b.IdleTimeout),
		cmp.Compare(a.MaxConns, b.MaxConns),
		cmp.Compare(a.MaxIdle, b.MaxIdle),
		cmp.Compare(a.QueueTimeout, b.QueueTimeout),
		cmp.Compare(a.MaxRequests, b.MaxRequests),
		cmp.Compare(a.MaxLifetime, b.MaxLifetime),
	)
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

// Acquire returns the pool for k and counts one more reference to it; a
// new pool gets k.Settings and dials with dial. An existing pool is
// returned as it is: the key carries every setting that shapes the pool, so
// acquiring never changes a pool another config still serves with, and a
// build that fails after acquiring leaves the serving pools untouched.
// After Close it returns a new, already drained pool that the registry does
// not hold.
func (r *Registry) Acquire(k Key, dial DialFunc) *Pool {
	r.mu.Lock()
	if e, ok := r.pools[k]; ok {
		e.refs++
		r.mu.Unlock()
		return e.p
	}
	p := New(k.Dest, k.Settings, dial)
	p.profile = k.Profile.String()
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

// Stats returns every pool's ledger, sorted by key (compareKeys); pools
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
