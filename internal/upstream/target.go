// Package upstream is a target at run time: its endpoints, the destinations
// each resolves to (one connection pool per address), picking among them,
// and periodic re-resolution that drains addresses that disappeared.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/dialer"
)

// Resolver looks up a host's addresses; *net.Resolver satisfies it. Tests
// pass their own to control DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// maxDrainJitter bounds the random delay before a vanished address's pool
// is drained. The bound is min(maxDrainJitter, resolve_interval): the drain
// is spread so a DNS change does not close every connection at once, yet it
// ends before the next re-resolution.
const maxDrainJitter = 2 * time.Second

// resolveTimeout bounds one host name lookup.
const resolveTimeout = 5 * time.Second

// ErrNoAddresses is the cause in a *ResolveError when a lookup succeeded but
// returned no address.
var ErrNoAddresses = errors.New("no addresses")

// ResolveError is a host name (an endpoint's, or its egress proxy's) that
// could not be resolved.
type ResolveError struct {
	Host string
	Err  error // the resolver's error, or ErrNoAddresses
}

func (e *ResolveError) Error() string {
	return "resolve " + strconv.Quote(e.Host) + ": " + e.Err.Error()
}

func (e *ResolveError) Unwrap() error { return e.Err }

// Deps are what a Target needs from the process.
type Deps struct {
	Registry *connpool.Registry
	Resolver Resolver // nil = net.DefaultResolver
}

// Protocol is the wire protocol weir speaks to a target's destinations.
type Protocol uint8

// Protocols.
const (
	// HTTP1 is HTTP/1.1: one exchange at a time on a pooled connection.
	HTTP1 Protocol = iota
)

// String returns the protocol's ALPN name ("http/1.1").
func (p Protocol) String() string {
	if p == HTTP1 {
		return "http/1.1"
	}
	return "unknown"
}

// Settings are a target's transport settings resolved for run time: built
// once by New from config.Transport, so the request path never reads a
// config struct. See config.Transport for each setting's default and zero.
type Settings struct {
	// Protocol is spoken to every destination (HTTP1; HTTP/2 comes next).
	Protocol Protocol
	// ConnectTimeout bounds a dial (TCP, TLS, CONNECT); > 0.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the time from the request's last byte to the
	// response head; 0 = no deadline.
	ResponseTimeout time.Duration
	// ResolveInterval is how often host names are re-resolved; 0 = once.
	ResolveInterval time.Duration
	// Pool are the limits of each destination's pool.
	Pool connpool.Settings
}

// newSettings resolves a config transport's run-time settings.
func newSettings(tr config.Transport) Settings {
	return Settings{
		Protocol:        HTTP1,
		ConnectTimeout:  tr.ConnectTimeout,
		ResponseTimeout: tr.ResponseTimeout,
		ResolveInterval: tr.ResolveInterval,
		Pool: connpool.Settings{
			IdleTimeout:  tr.KeepaliveTimeout,
			MaxConns:     tr.MaxConnections,
			MaxIdle:      tr.MaxIdle,
			QueueTimeout: tr.QueueTimeout,
			MaxRequests:  tr.MaxRequestsPerConnection,
			MaxLifetime:  tr.MaxConnectionLifetime,
		},
	}
}

// Target is one API's backend at run time. Safe for concurrent use.
type Target struct {
	settings  Settings
	endpoints []*Endpoint
	next      atomic.Uint32
	ctx       context.Context // cancelled by Stop: ends re-resolution and lookups in flight
	cancel    context.CancelFunc
	started   atomic.Bool
}

// Endpoint is one backend URL and its destinations.
type Endpoint struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is the value sent as the Host header (the URL's host[:port]).
	Host string
	// Path is the URL's base path (escaped form), "" for none.
	Path string
	// AbsoluteForm is set when plain HTTP goes through an egress proxy: the
	// request target must be the absolute URL.
	AbsoluteForm bool

	hostname string
	port     uint16
	sni      string           // TLS server name
	proxy    *url.URL         // egress proxy, nil = direct
	viaProxy bool             // destinations are the proxy's address, not the backend's
	profile  connpool.Profile // with Dest and the pool settings, its pools' registry keys
	dial     *dialer.Dialer
	settings connpool.Settings
	deps     Deps
	jitter   time.Duration // bound of the drain delay, min(maxDrainJitter, resolve_interval); 0 = drain at once

	mu       sync.Mutex                     // serialises re-resolution; guards draining and stopped
	draining map[*connpool.Pool]*time.Timer // drains scheduled for vanished addresses
	stopped  bool                           // Stop was called: schedule no more drains
	pools    atomic.Pointer[[]*connpool.Pool]
	next     atomic.Uint32
}

// New builds a target: endpoints parsed, host names resolved (a failure to
// resolve fails the build, so a bad config never replaces a good one), pools
// taken from the registry. Call Start to begin re-resolution.
func New(ctx context.Context, spec config.Target, deps Deps) (*Target, error) {
	if deps.Resolver == nil {
		deps.Resolver = net.DefaultResolver
	}
	if len(spec.Endpoints) == 0 {
		return nil, errors.New("target has no endpoints")
	}
	tr := spec.Transport
	d, _, err := newDialer(tr, nil)
	if err != nil {
		return nil, err
	}
	t := &Target{settings: newSettings(tr)}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for _, raw := range spec.Endpoints {
		ep, err := newEndpoint(raw, tr, t.settings, d, deps)
		if err == nil {
			if err = ep.resolve(ctx); err != nil {
				err = fmt.Errorf("endpoint %q: %w", raw, err)
			}
		}
		if err != nil {
			t.Stop() // release what the endpoints before it acquired
			return nil, err
		}
		t.endpoints = append(t.endpoints, ep)
	}
	return t, nil
}

// newDialer builds the dialer for a target's connections; tc is nil for
// plain HTTP.
func newDialer(tr config.Transport, tc *tls.Config) (*dialer.Dialer, *url.URL, error) {
	spec := dialer.Spec{ConnectTimeout: tr.ConnectTimeout, TLS: tc}
	for _, s := range tr.SourceAddresses {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, nil, fmt.Errorf("source address %q: %w", s, err)
		}
		spec.SourceAddrs = append(spec.SourceAddrs, a)
	}
	if tr.EgressProxy != "" {
		u, err := url.Parse(tr.EgressProxy)
		if err != nil {
			return nil, nil, fmt.Errorf("egress_proxy %q: %w", tr.EgressProxy, err)
		}
		spec.Proxy = u
	}
	return dialer.New(spec), spec.Proxy, nil
}

func newEndpoint(raw string, tr config.Transport, s Settings, plain *dialer.Dialer, deps Deps) (*Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	ep := &Endpoint{Scheme: u.Scheme, Host: u.Host, Path: u.EscapedPath(), hostname: u.Hostname(), settings: s.Pool, deps: deps, dial: plain,
		jitter: min(maxDrainJitter, s.ResolveInterval)}
	ep.Path = strings.TrimSuffix(ep.Path, "/")
	port := u.Port()
	switch {
	case ep.Scheme != "http" && ep.Scheme != "https":
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", raw)
	case port != "":
	case ep.Scheme == "https":
		port = "443"
	default:
		port = "80"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 || ep.hostname == "" {
		return nil, fmt.Errorf("endpoint %q: no host or a bad port", raw)
	}
	ep.port = uint16(p)
	proxy := tr.EgressProxy
	if ep.Scheme == "https" {
		tc, err := dialer.LoadTLS(tr.TLS.CAFile, tr.TLS.CertFile, tr.TLS.KeyFile, tr.TLS.InsecureSkipVerify)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: tls: %w", raw, err)
		}
		if tr.TLS.ServerName != "" {
			tc.ServerName = tr.TLS.ServerName
		} else {
			tc.ServerName = ep.hostname
		}
		// One dialer (one TLS session cache) per TLS endpoint: sessions resume
		// across reconnects to any of its addresses.
		ep.sni = tc.ServerName
		if ep.dial, _, err = newDialer(tr, tc); err != nil {
			return nil, err
		}
	}
	if proxy != "" {
		ep.proxy, _ = url.Parse(proxy)
	}
	ep.viaProxy = proxy != ""
	ep.AbsoluteForm = ep.viaProxy && ep.Scheme == "http"
	// The profile keys pools (with the limits): the same destination reached
	// with a different dial setup or different limits gets a pool of its
	// own, so a reload (or another API) never changes a pool that something
	// else serves with; a reload that keeps them keeps the pool and its
	// connections.
	ep.profile = connpool.Profile{
		Endpoint:       ep.Scheme + "://" + ep.Host,
		Protocol:       s.Protocol.String(),
		Proxy:          proxy,
		SourceAddrs:    strings.Join(tr.SourceAddresses, ","),
		ConnectTimeout: s.ConnectTimeout,
		TLS: connpool.TLSProfile{
			ServerName: tr.TLS.ServerName, CAFile: tr.TLS.CAFile, CertFile: tr.TLS.CertFile, KeyFile: tr.TLS.KeyFile,
			InsecureSkipVerify: tr.TLS.InsecureSkipVerify,
		},
	}
	return ep, nil
}

// resolve looks up the endpoint's addresses (or the proxy's) and installs
// one pool per address. A vanished address's pool is drained (reason
// dns_drain) after a random delay below ep.jitter, unless the address comes
// back first. On a failed lookup the installed pools stay as they are.
func (ep *Endpoint) resolve(ctx context.Context) error {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.stopped {
		return nil
	}
	host, port := ep.hostname, ep.port
	if ep.viaProxy {
		host, port = ep.proxy.Hostname(), 80
		if p, err := strconv.ParseUint(ep.proxy.Port(), 10, 16); err == nil {
			port = uint16(p)
		}
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		found, err := ep.deps.Resolver.LookupNetIP(rctx, "ip", host)
		cancel()
		if err != nil {
			return &ResolveError{Host: host, Err: err}
		}
		if len(found) == 0 {
			return &ResolveError{Host: host, Err: ErrNoAddresses}
		}
		// A copy: the resolver may hand out a slice it keeps.
		addrs = make([]netip.Addr, len(found))
		for i, a := range found {
			addrs[i] = a.Unmap()
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	addrs = slices.Compact(addrs)

	cur := ep.pools.Load()
	next := make([]*connpool.Pool, 0, len(addrs))
	for _, a := range addrs {
		dest := connpool.Dest{Addr: netip.AddrPortFrom(a, port)}
		tunnel := ""
		if ep.Scheme == "https" {
			dest.ServerName = ep.sni
			if ep.viaProxy {
				tunnel = net.JoinHostPort(ep.hostname, strconv.Itoa(int(ep.port)))
			}
		}
		next = append(next, ep.holdLocked(cur, dest, tunnel))
	}
	ep.pools.Store(&next)
	if cur == nil {
		return nil
	}
	for _, p := range *cur {
		if slices.Contains(next, p) {
			continue
		}
		if ep.jitter <= 0 {
			ep.release(p, connpool.DNSDrain)
			continue
		}
		// Spread the drain so a DNS change does not close every
		// connection at once and cause a reconnect storm.
		if ep.draining == nil {
			ep.draining = make(map[*connpool.Pool]*time.Timer)
		}
		ep.draining[p] = time.AfterFunc(rand.N(ep.jitter), func() { ep.drainVanished(p) })
	}
	return nil
}

// holdLocked returns the pool for dest: the one the endpoint already holds
// (in use, or vanished and waiting for its drain: the address is back), or
// a new reference from the registry. ep.mu must be held.
func (ep *Endpoint) holdLocked(cur *[]*connpool.Pool, dest connpool.Dest, tunnel string) *connpool.Pool {
	if cur != nil {
		for _, p := range *cur {
			if p.Dest() == dest {
				return p
			}
		}
	}
	for p, tm := range ep.draining {
		if p.Dest() == dest {
			tm.Stop()
			delete(ep.draining, p)
			return p
		}
	}
	return ep.deps.Registry.Acquire(ep.key(dest), ep.dial.Func(dest, tunnel))
}

// key is the registry key of the endpoint's pool for d.
func (ep *Endpoint) key(d connpool.Dest) connpool.Key {
	return connpool.Key{Dest: d, Settings: ep.settings, Profile: ep.profile}
}

// release lets go of the endpoint's reference to p; the registry drains it
// when no other target (another API, the next config) holds it.
func (ep *Endpoint) release(p *connpool.Pool, reason connpool.CloseReason) {
	ep.deps.Registry.Release(ep.key(p.Dest()), p, reason)
}

// drainVanished releases p (reason dns_drain) unless its address came back
// or the endpoint stopped since the drain was scheduled.
func (ep *Endpoint) drainVanished(p *connpool.Pool) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if _, ok := ep.draining[p]; !ok {
		return // cancelled after the timer fired
	}
	delete(ep.draining, p)
	if !slices.Contains(*ep.pools.Load(), p) {
		ep.release(p, connpool.DNSDrain)
	}
}

// stop cancels pending drains and releases every pool the endpoint holds
// (reason shutdown): a pool that the next config, or another API, still
// uses lives on.
func (ep *Endpoint) stop() {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.stopped {
		return
	}
	ep.stopped = true
	for p, tm := range ep.draining {
		tm.Stop()
		delete(ep.draining, p)
		ep.release(p, connpool.Shutdown)
	}
	if cur := ep.pools.Load(); cur != nil {
		for _, p := range *cur {
			ep.release(p, connpool.Shutdown)
		}
	}
}

// Pools returns the endpoint's current pools (one per address).
func (ep *Endpoint) Pools() []*connpool.Pool { return *ep.pools.Load() }

// Pick returns the next endpoint (round-robin) and one of its address
// pools (round-robin, spreading new connections across addresses).
func (t *Target) Pick() (*Endpoint, *connpool.Pool) {
	ep := t.endpoints[0]
	if n := uint32(len(t.endpoints)); n > 1 {
		ep = t.endpoints[t.next.Add(1)%n]
	}
	pools := *ep.pools.Load()
	if len(pools) == 1 {
		return ep, pools[0]
	}
	return ep, pools[ep.next.Add(1)%uint32(len(pools))]
}

// Endpoints returns the target's endpoints.
func (t *Target) Endpoints() []*Endpoint { return t.endpoints }

// Settings returns the target's resolved transport settings.
func (t *Target) Settings() Settings { return t.settings }

// Start re-resolves host names every Settings.ResolveInterval until Stop
// (0 = never). A failed lookup keeps the last known addresses. Calls after
// the first do nothing.
func (t *Target) Start() {
	iv := t.settings.ResolveInterval
	if iv <= 0 || !t.started.CompareAndSwap(false, true) {
		return
	}
	go func() {
		tick := time.NewTicker(iv)
		defer tick.Stop()
		for {
			select {
			case <-t.ctx.Done():
				return
			case <-tick.C:
				for _, ep := range t.endpoints {
					_ = ep.resolve(t.ctx)
				}
			}
		}
	}()
}

// Stop ends re-resolution (interrupting a lookup in flight), cancels drains
// not yet run and releases the target's pools: pools no other target holds
// are drained. Stop is idempotent.
func (t *Target) Stop() {
	t.cancel()
	for _, ep := range t.endpoints {
		ep.stop()
	}
}
