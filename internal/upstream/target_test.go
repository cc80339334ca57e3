package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// testResolver is a DNS the test controls: each host answers with its
// current addresses, or with err if set.
type testResolver struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
	err   error
	calls int
}

func newResolver(host string, addrs ...string) *testResolver {
	r := &testResolver{addrs: map[string][]netip.Addr{}}
	r.set(host, addrs...)
	return r
}

// set makes host resolve to addrs (none: not found).
func (r *testResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	r.addrs[host] = as
}

// fail makes every lookup fail with err (nil: answer again).
func (r *testResolver) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// errNotFound is what testResolver returns for a host it does not know.
var errNotFound = errors.New("test resolver: no such host")

func (r *testResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return nil, r.err
	}
	as, ok := r.addrs[host]
	if !ok {
		return nil, errNotFound
	}
	// Hand out the resolver's own slice: the target must not modify it.
	return as, nil
}

// noResolver fails the test if a lookup happens.
type noResolver struct{ t *testing.T }

func (r noResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.t.Errorf("unexpected lookup of %q", host)
	return nil, errNotFound
}

// acceptor is a TCP backend that accepts connections and holds them open,
// counting them.
type acceptor struct {
	ln     net.Listener
	mu     sync.Mutex
	n      int
	closed int // connections the peer closed
}

func (a *acceptor) serve() {
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.n++
		a.mu.Unlock()
		go func() {
			defer c.Close()
			var b [1]byte
			_, _ = c.Read(b[:]) // until the client closes
			a.mu.Lock()
			a.closed++
			a.mu.Unlock()
		}()
	}
}

func (a *acceptor) counts() (accepted, closed int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n, a.closed
}

// listenPair starts acceptors on 127.0.0.1 and 127.0.0.2 with the same
// port, as one name resolving to two addresses would have.
func listenPair(t *testing.T) (port uint16, one, two *acceptor) {
	t.Helper()
	p, ln1, ln2 := peer.Pair(t)
	one, two = &acceptor{ln: ln1}, &acceptor{ln: ln2}
	go one.serve()
	go two.serve()
	return uint16(p), one, two
}

// transport is a merged transport as config.Load would give, with a short
// resolve interval.
func transport() config.Transport {
	return config.Transport{
		ConnectTimeout:   2 * time.Second,
		KeepaliveTimeout: time.Minute,
		QueueTimeout:     time.Second,
		ResolveInterval:  50 * time.Millisecond,
	}
}

// newTarget builds a target on a fresh registry that is closed at cleanup.
func newTarget(t *testing.T, tr config.Transport, res Resolver, endpoints ...string) (*Target, *connpool.Registry) {
	t.Helper()
	reg := connpool.NewRegistry()
	tg, err := New(context.Background(), config.Target{Endpoints: endpoints, Transport: tr}, Deps{Registry: reg, Resolver: res})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { tg.Stop(); reg.Close() })
	return tg, reg
}

// dests renders pools' destinations.
func dests(ps []*connpool.Pool) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Dest().String())
	}
	return out
}

// idleConn opens one connection in p and returns it to the idle list.
func idleConn(t *testing.T, p *connpool.Pool) {
	t.Helper()
	c, err := p.Get(context.Background(), false)
	if err != nil {
		t.Fatalf("Get from %s: %v", p.Dest(), err)
	}
	c.Release(connpool.BackendTerms{})
	if st := p.Stats(); st.Idle != 1 {
		t.Fatalf("%s: got %d idle connections, want 1", p.Dest(), st.Idle)
	}
}

// pending returns how many drains ep has scheduled.
func pending(ep *Endpoint) int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return len(ep.draining)
}

// neverDrain makes ep's drain delay so long that a scheduled drain does not
// run while the test looks.
func neverDrain(ep *Endpoint) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.jitter = 1 << 62
}

// eventually polls cond for up to 5 s: for drains that run after a random
// delay below the resolve interval.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 5s", what)
}

func TestResolveOnePoolPerAddress(t *testing.T) {
	port, one, two := listenPair(t)
	// Unsorted, with a duplicate and an IPv4-mapped form of one address.
	res := newResolver("backend.test", "127.0.0.2", "127.0.0.1", "::ffff:127.0.0.1", "127.0.0.2")
	before := slices.Clone(res.addrs["backend.test"])
	tg, _ := newTarget(t, transport(), res, "http://backend.test:"+strconv.Itoa(int(port)))

	ep := tg.Endpoints()[0]
	p := strconv.Itoa(int(port))
	if got, want := dests(ep.Pools()), []string{"127.0.0.1:" + p, "127.0.0.2:" + p}; !slices.Equal(got, want) {
		t.Fatalf("pools: got %v, want %v", got, want)
	}
	if !slices.Equal(res.addrs["backend.test"], before) {
		t.Errorf("resolver's slice modified: got %v, want %v", res.addrs["backend.test"], before)
	}
	if ep.Host != "backend.test:"+p {
		t.Errorf("Host: got %q, want %q", ep.Host, "backend.test:"+p)
	}

	// Pick alternates between the addresses, and each gets its own
	// connections.
	var prev *connpool.Pool
	for i := range 6 {
		gotEp, pool := tg.Pick()
		if gotEp != ep {
			t.Fatalf("pick %d: got another endpoint", i)
		}
		if pool == prev {
			t.Errorf("pick %d: got %s twice in a row, want alternation", i, pool.Dest())
		}
		prev = pool
		c, err := pool.Get(context.Background(), true)
		if err != nil {
			t.Fatalf("pick %d: Get: %v", i, err)
		}
		if c.RemoteAddr() != pool.Dest().Addr {
			t.Errorf("pick %d: connected to %s, want %s", i, c.RemoteAddr(), pool.Dest().Addr)
		}
		c.Close(connpool.Error)
	}
	eventually(t, "backends see 3 connections each", func() bool {
		a1, _ := one.counts()
		a2, _ := two.counts()
		return a1 == 3 && a2 == 3
	})
}

func TestResolveDrainsVanishedAddress(t *testing.T) {
	port, one, two := listenPair(t)
	res := newResolver("backend.test", "127.0.0.1", "127.0.0.2")
	tg, reg := newTarget(t, transport(), res, "http://backend.test:"+strconv.Itoa(int(port)))
	ep := tg.Endpoints()[0]
	pools := ep.Pools()
	gone, kept := pools[0], pools[1]
	idleConn(t, gone)
	idleConn(t, kept)

	tg.Start()
	res.set("backend.test", "127.0.0.2")
	eventually(t, "re-resolution drops 127.0.0.1", func() bool { return len(ep.Pools()) == 1 })
	for i := range 4 {
		if _, p := tg.Pick(); p != kept {
			t.Errorf("pick %d: got %s, want %s", i, p.Dest(), kept.Dest())
		}
	}
	eventually(t, "127.0.0.1 drained", func() bool { return gone.Stats().Draining })
	st := gone.Stats()
	if st.ClosedByReason["dns_drain"] != 1 || st.Idle != 0 {
		t.Errorf("drained pool: got %d closed dns_drain, %d idle; want 1 and 0", st.ClosedByReason["dns_drain"], st.Idle)
	}
	eventually(t, "127.0.0.1 backend sees its connection closed", func() bool {
		_, closed := one.counts()
		return closed == 1
	})
	if st := kept.Stats(); st.Draining || st.Idle != 1 || st.ClosedTotal != 0 {
		t.Errorf("kept pool: got draining %v, %d idle, %d closed; want false, 1, 0", st.Draining, st.Idle, st.ClosedTotal)
	}
	if _, closed := two.counts(); closed != 0 {
		t.Errorf("127.0.0.2 backend: got %d connections closed, want 0", closed)
	}
	if _, ok := reg.Lookup(ep.key(gone.Dest())); ok {
		t.Errorf("registry still holds the drained pool %s", gone.Dest())
	}
	if p, ok := reg.Lookup(ep.key(kept.Dest())); !ok || p != kept {
		t.Errorf("registry lost the kept pool %s", kept.Dest())
	}
}

func TestResolveFailureKeepsAddresses(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(*testResolver)
		want    error
	}{
		{"lookup error", func(r *testResolver) { r.fail(errNotFound) }, errNotFound},
		{"no addresses", func(r *testResolver) { r.set("backend.test") }, ErrNoAddresses},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, _, _ := listenPair(t)
			res := newResolver("backend.test", "127.0.0.1", "127.0.0.2")
			tg, _ := newTarget(t, transport(), res, "http://backend.test:"+strconv.Itoa(int(port)))
			ep := tg.Endpoints()[0]
			before := ep.Pools()
			tt.breakIt(res)

			err := ep.resolve(context.Background())
			var re *ResolveError
			if !errors.As(err, &re) || re.Host != "backend.test" || !errors.Is(err, tt.want) {
				t.Fatalf("resolve: got %v, want a *ResolveError for backend.test wrapping %v", err, tt.want)
			}
			if got := ep.Pools(); !slices.Equal(got, before) {
				t.Errorf("pools: got %v, want the last known %v", dests(got), dests(before))
			}
			if pending(ep) != 0 {
				t.Errorf("got %d drains scheduled, want none", pending(ep))
			}
			for _, p := range before {
				if p.Stats().Draining {
					t.Errorf("%s drained after a failed lookup", p.Dest())
				}
			}
		})
	}
}

func TestNewFailsOnResolution(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		proxy    string
		host     string
	}{
		{"endpoint", "http://nowhere.test:8080", "", "nowhere.test"},
		{"https endpoint", "https://nowhere.test", "", "nowhere.test"},
		{"egress proxy", "http://backend.test:8080", "http://proxy.test:3128", "proxy.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := transport()
			tr.EgressProxy = tt.proxy
			res := newResolver("backend.test", "127.0.0.1")
			_, err := New(context.Background(), config.Target{Endpoints: []string{tt.endpoint}, Transport: tr},
				Deps{Registry: connpool.NewRegistry(), Resolver: res})
			var re *ResolveError
			if !errors.As(err, &re) || re.Host != tt.host || !errors.Is(err, errNotFound) {
				t.Fatalf("got %v, want a *ResolveError naming %s", err, tt.host)
			}
		})
	}
}

// An address that disappears and comes back before its drain ran keeps its
// pool and connections.
func TestAddressBackBeforeDrain(t *testing.T) {
	port, _, _ := listenPair(t)
	res := newResolver("backend.test", "127.0.0.1", "127.0.0.2")
	tg, _ := newTarget(t, transport(), res, "http://backend.test:"+strconv.Itoa(int(port)))
	ep := tg.Endpoints()[0]
	neverDrain(ep)
	flapping := ep.Pools()[0]
	idleConn(t, flapping)

	res.set("backend.test", "127.0.0.2")
	if err := ep.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pending(ep) != 1 {
		t.Fatalf("got %d drains scheduled, want 1", pending(ep))
	}
	res.set("backend.test", "127.0.0.1", "127.0.0.2")
	if err := ep.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pending(ep) != 0 {
		t.Errorf("got %d drains scheduled, want the drain cancelled", pending(ep))
	}
	if got := ep.Pools(); len(got) != 2 || got[0] != flapping {
		t.Errorf("pools: got %v, want the original two", dests(got))
	}
	// A timer that fired just as the address came back, whether resolve
	// unregistered it or not, finds the address back.
	ep.drainVanished(flapping)
	stale := time.AfterFunc(time.Hour, func() {})
	defer stale.Stop()
	ep.mu.Lock()
	ep.draining[flapping] = stale
	ep.mu.Unlock()
	ep.drainVanished(flapping)
	if st := flapping.Stats(); st.Draining || st.Idle != 1 {
		t.Errorf("returned address: got draining %v with %d idle, want its pool intact", st.Draining, st.Idle)
	}
}

// An address that comes back after its pool was drained must not bring the
// drained pool back into rotation: every Get on it would fail.
func TestAddressBackAfterDrain(t *testing.T) {
	port, _, _ := listenPair(t)
	tr := transport()
	tr.ResolveInterval = 0 // no jitter: drains run at once
	res := newResolver("backend.test", "127.0.0.1", "127.0.0.2")
	tg, _ := newTarget(t, tr, res, "http://backend.test:"+strconv.Itoa(int(port)))
	ep := tg.Endpoints()[0]
	first := ep.Pools()[0]

	res.set("backend.test", "127.0.0.2")
	if err := ep.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !first.Stats().Draining {
		t.Fatalf("%s: not drained", first.Dest())
	}
	res.set("backend.test", "127.0.0.1", "127.0.0.2")
	if err := ep.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		_, p := tg.Pick()
		c, err := p.Get(context.Background(), false)
		if err != nil {
			t.Fatalf("pick %d (%s): Get: %v", i, p.Dest(), err)
		}
		c.Release(connpool.BackendTerms{})
	}

	// With no other address left, the endpoint keeps what it has.
	res.set("backend.test", "127.0.0.1")
	if err := ep.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := dests(ep.Pools()); len(got) != 1 || got[0] != "127.0.0.1:"+strconv.Itoa(int(port)) {
		t.Errorf("pools: got %v, want 127.0.0.1's", got)
	}
}

// Stop cancels pending drains and lets go of the target's pools: a pool the
// next config also holds lives on, one only this target held is drained.
func TestStopCancelsPendingDrains(t *testing.T) {
	port, _, _ := listenPair(t)
	res := newResolver("backend.test", "127.0.0.1", "127.0.0.2")
	tg, reg := newTarget(t, transport(), res, "http://backend.test:"+strconv.Itoa(int(port)))
	ep := tg.Endpoints()[0]
	neverDrain(ep)
	vanished, only := ep.Pools()[0], ep.Pools()[1]
	// The next config holds the vanished address's pool too.
	if p := reg.Acquire(ep.key(vanished.Dest()), nil); p != vanished {
		t.Fatalf("Acquire: got another pool for %s", vanished.Dest())
	}

	res.set("backend.test", "127.0.0.2")
	if err := ep.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	tg.Stop()
	tg.Stop() // idempotent
	if pending(ep) != 0 {
		t.Errorf("got %d drains pending after Stop, want 0", pending(ep))
	}
	res.set("backend.test", "127.0.0.3")
	if err := ep.resolve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := dests(ep.Pools()); len(got) != 1 || got[0] != "127.0.0.2:"+strconv.Itoa(int(port)) {
		t.Errorf("resolve after Stop: got pools %v, want them unchanged", got)
	}
	if vanished.Stats().Draining {
		t.Errorf("a pool another config holds was drained by Stop")
	}
	if st := only.Stats(); !st.Draining {
		t.Errorf("a pool only the stopped target held: got draining %v, want drained", st.Draining)
	}
}

func TestJitterBound(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		want     time.Duration
	}{
		{"short interval", 50 * time.Millisecond, 50 * time.Millisecond},
		{"long interval", 30 * time.Second, 2 * time.Second},
		{"no re-resolution", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := transport()
			tr.ResolveInterval = tt.interval
			tg, _ := newTarget(t, tr, noResolver{t}, "http://127.0.0.1:9")
			if got := tg.Endpoints()[0].jitter; got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name string
		tr   config.Transport
		want Settings
	}{
		{"zero", config.Transport{}, Settings{Protocol: HTTP1}},
		{"all", config.Transport{
			ConnectTimeout: time.Second, ResponseTimeout: 2 * time.Second, ResolveInterval: 3 * time.Second,
			KeepaliveTimeout: 60 * time.Second, MaxConnections: 10, MaxIdle: 5, QueueTimeout: 4 * time.Second,
			MaxRequestsPerConnection: 100, MaxConnectionLifetime: time.Hour,
		}, Settings{
			Protocol: HTTP1, ConnectTimeout: time.Second, ResponseTimeout: 2 * time.Second, ResolveInterval: 3 * time.Second,
			Pool: connpool.Settings{
				IdleTimeout: 60 * time.Second, MaxConns: 10, MaxIdle: 5, QueueTimeout: 4 * time.Second,
				MaxRequests: 100, MaxLifetime: time.Hour,
			},
		}},
		{"keep-alive off", config.Transport{KeepaliveTimeout: 0, MaxConnections: 1}, Settings{Pool: connpool.Settings{MaxConns: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newSettings(tt.tr); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A pool's registry key is a comparable struct of resolved values: two
// loads of one config give equal keys (a reload keeps the pools and their
// connections), every setting that shapes a pool or its connections gives
// another key, and the run-time-only ones keep it. A config.Transport field
// added later fails here until it is named in one of the two lists.
func TestPoolKeys(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := peer.Cert(t, "client")
	caFile, _, _ := peer.Cert(t, "ca")
	caOther, _, _ := peer.Cert(t, "ca-other")
	certCopy, keyCopy := filepath.Join(dir, "client-copy.pem"), filepath.Join(dir, "client-key-copy.pem")
	for _, c := range [][2]string{{certFile, certCopy}, {keyFile, keyCopy}} {
		b, err := os.ReadFile(c[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := fmt.Sprintf(`transport:
  connect_timeout: 2s
  response_timeout: 10s
  keepalive_timeout: 30s
  max_connections: 8
  max_idle: 4
  queue_timeout: 1s
  max_requests_per_connection: 100
  max_connection_lifetime: 10m
  resolve_interval: 0s
  source_addresses: [127.0.0.1]
  tls: {server_name: 127.0.0.1, ca_file: %q, cert_file: %q, key_file: %q}
apis:
  - name: a
    base_path: /a
    target: {endpoints: ["https://127.0.0.1:8443"]}
`, caFile, certFile, keyFile)
	// load parses the config anew each time, as a reload does.
	load := func() config.Transport {
		cfg, err := config.Parse("weir.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.APIs[0].Target.Transport
	}
	keyOf := func(tr config.Transport) connpool.Key {
		tg, _ := newTarget(t, tr, noResolver{t}, "https://127.0.0.1:8443")
		ep := tg.Endpoints()[0]
		return ep.key(ep.Pools()[0].Dest())
	}
	base := keyOf(load())
	if got := keyOf(load()); got != base {
		t.Fatalf("two loads of one config: got keys\n%+v\n%+v\nwant equal", got, base)
	}

	shapes := map[string]func(*config.Transport){
		"ConnectTimeout":           func(tr *config.Transport) { tr.ConnectTimeout += time.Second },
		"KeepaliveTimeout":         func(tr *config.Transport) { tr.KeepaliveTimeout += time.Second },
		"MaxConnections":           func(tr *config.Transport) { tr.MaxConnections++ },
		"MaxIdle":                  func(tr *config.Transport) { tr.MaxIdle++ },
		"QueueTimeout":             func(tr *config.Transport) { tr.QueueTimeout += time.Second },
		"MaxRequestsPerConnection": func(tr *config.Transport) { tr.MaxRequestsPerConnection++ },
		"MaxConnectionLifetime":    func(tr *config.Transport) { tr.MaxConnectionLifetime += time.Second },
		"SourceAddresses":          func(tr *config.Transport) { tr.SourceAddresses = []string{"127.0.0.2"} },
		// At the backend's address, so that only the profile differs.
		"EgressProxy": func(tr *config.Transport) { tr.EgressProxy = "http://127.0.0.1:8443" },
		// Unset, the server name is the endpoint's host, as it was set.
		"TLS.ServerName":         func(tr *config.Transport) { tr.TLS.ServerName = "" },
		"TLS.CAFile":             func(tr *config.Transport) { tr.TLS.CAFile = caOther },
		"TLS.CertFile":           func(tr *config.Transport) { tr.TLS.CertFile = certCopy },
		"TLS.KeyFile":            func(tr *config.Transport) { tr.TLS.KeyFile = keyCopy },
		"TLS.InsecureSkipVerify": func(tr *config.Transport) { tr.TLS.InsecureSkipVerify = true },
	}
	runtimeOnly := map[string]func(*config.Transport){
		"ResponseTimeout": func(tr *config.Transport) { tr.ResponseTimeout += time.Second },
		"ResolveInterval": func(tr *config.Transport) { tr.ResolveInterval = time.Hour },
		// Folded into the fields above by Load.
		"Properties": func(tr *config.Transport) { tr.Properties = map[string]string{"io.timeout.millis": "1"} },
	}
	for _, name := range transportFields(reflect.TypeFor[config.Transport](), "") {
		_, shaping := shapes[name]
		_, runtime := runtimeOnly[name]
		if shaping == runtime {
			t.Errorf("config.Transport.%s: name it in shapes or runtimeOnly (it is in both or neither)", name)
		}
	}
	for _, list := range []struct {
		changes map[string]func(*config.Transport)
		same    bool
	}{{shapes, false}, {runtimeOnly, true}} {
		for name, change := range list.changes {
			t.Run(name, func(t *testing.T) {
				tr := load()
				change(&tr)
				got := keyOf(tr)
				if got.Dest != base.Dest {
					t.Fatalf("dest: got %v, want %v (the case tests nothing)", got.Dest, base.Dest)
				}
				if (got == base) != list.same {
					t.Errorf("same key: got %v, want %v\n%+v\n%+v", got == base, list.same, got, base)
				}
			})
		}
	}
}

// transportFields lists the leaf field names of a config struct type,
// nested structs as "TLS.CAFile".
func transportFields(typ reflect.Type, prefix string) []string {
	var out []string
	for f := range typ.Fields() {
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			out = append(out, transportFields(f.Type, prefix+f.Name+".")...)
			continue
		}
		out = append(out, prefix+f.Name)
	}
	return out
}

func TestEndpointParsing(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		proxy    string
		sni      string // tls.server_name
		scheme   string
		host     string
		path     string
		port     uint16
		wantSNI  string
		absolute bool
		dest     string // the one pool's destination
	}{
		{"http default port", "http://127.0.0.1", "", "", "http", "127.0.0.1", "", 80, "", false, "127.0.0.1:80"},
		{"https default port", "https://127.0.0.1", "", "", "https", "127.0.0.1", "", 443, "127.0.0.1", false, "127.0.0.1:443/127.0.0.1"},
		{"trailing slash", "http://127.0.0.1:8080/v1/", "", "", "http", "127.0.0.1:8080", "/v1", 8080, "", false, "127.0.0.1:8080"},
		{"root path", "http://127.0.0.1:8080/", "", "", "http", "127.0.0.1:8080", "", 8080, "", false, "127.0.0.1:8080"},
		{"escaped path", "http://127.0.0.1:8080/a%20b/c%2Fd", "", "", "http", "127.0.0.1:8080", "/a%20b/c%2Fd", 8080, "", false, "127.0.0.1:8080"},
		{"ipv6", "http://[::1]:9000/x", "", "", "http", "[::1]:9000", "/x", 9000, "", false, "[::1]:9000"},
		{"name with server_name", "https://backend.test/api", "", "api.internal", "https", "backend.test", "/api", 443, "api.internal", false, "127.0.0.1:443/api.internal"},
		{"name is the sni", "https://backend.test:8443", "", "", "https", "backend.test:8443", "", 8443, "backend.test", false, "127.0.0.1:8443/backend.test"},
		{"http via proxy", "http://backend.test:81/p", "http://127.0.0.9:3128", "", "http", "backend.test:81", "/p", 81, "", true, "127.0.0.9:3128"},
		{"proxy default port", "http://backend.test:81", "http://127.0.0.9", "", "http", "backend.test:81", "", 81, "", true, "127.0.0.9:80"},
		{"https via proxy", "https://backend.test", "http://127.0.0.9:3128", "", "https", "backend.test", "", 443, "backend.test", false, "127.0.0.9:3128/backend.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := transport()
			tr.EgressProxy = tt.proxy
			tr.TLS.ServerName = tt.sni
			res := newResolver("backend.test", "127.0.0.1")
			tg, _ := newTarget(t, tr, res, tt.raw)
			ep := tg.Endpoints()[0]
			if ep.Scheme != tt.scheme || ep.Host != tt.host || ep.Path != tt.path || ep.port != tt.port || ep.sni != tt.wantSNI || ep.AbsoluteForm != tt.absolute {
				t.Errorf("got scheme %q host %q path %q port %d sni %q absolute %v, want %q %q %q %d %q %v",
					ep.Scheme, ep.Host, ep.Path, ep.port, ep.sni, ep.AbsoluteForm,
					tt.scheme, tt.host, tt.path, tt.port, tt.wantSNI, tt.absolute)
			}
			if got := dests(ep.Pools()); len(got) != 1 || got[0] != tt.dest {
				t.Errorf("pools: got %v, want [%s]", got, tt.dest)
			}
		})
	}
}

func TestEndpointRejected(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"port out of range", "http://127.0.0.1:99999"},
		{"port zero", "http://127.0.0.1:0"},
		{"not a port", "http://127.0.0.1:http"},
		{"other scheme", "ftp://127.0.0.1"},
		{"no host", "http:///path"},
		{"not a URL", "http://[::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), config.Target{Endpoints: []string{tt.raw}, Transport: transport()},
				Deps{Registry: connpool.NewRegistry(), Resolver: noResolver{t}})
			if err == nil {
				t.Errorf("got no error, want %q rejected", tt.raw)
			}
		})
	}
	if _, err := New(context.Background(), config.Target{Transport: transport()}, Deps{Registry: connpool.NewRegistry()}); err == nil {
		t.Errorf("no endpoints: got no error, want one")
	}
}

// Two targets reaching the same destination share its pool only when they
// dial it the same way.
func TestProfilesSeparatePools(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := peer.Cert(t, "client")
	keyCopy := filepath.Join(dir, "client-key-copy.pem")
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyCopy, b, 0o600); err != nil {
		t.Fatal(err)
	}
	caFile, _, _ := peer.Cert(t, "ca")

	type variant struct {
		endpoint string
		tune     func(*config.Transport)
	}
	plain := func(*config.Transport) {}
	tests := []struct {
		name string
		a, b variant
		same bool
	}{
		{"identical", variant{"http://127.0.0.1:8080", plain}, variant{"http://127.0.0.1:8080", plain}, true},
		// Limits are part of a pool's identity: a config with other limits
		// must never change the pool the serving config uses.
		{"limits only", variant{"http://127.0.0.1:8080", plain},
			variant{"http://127.0.0.1:8080", func(tr *config.Transport) { tr.MaxConnections = 7 }}, false},
		{"source addresses", variant{"http://127.0.0.1:8080", plain},
			variant{"http://127.0.0.1:8080", func(tr *config.Transport) { tr.SourceAddresses = []string{"127.0.0.2"} }}, false},
		{"proxy at the backend's address", variant{"http://127.0.0.1:8080", plain},
			variant{"http://127.0.0.2:80", func(tr *config.Transport) { tr.EgressProxy = "http://127.0.0.1:8080" }}, false},
		{"insecure skip verify", variant{"https://127.0.0.1:8443", plain},
			variant{"https://127.0.0.1:8443", func(tr *config.Transport) { tr.TLS.InsecureSkipVerify = true }}, false},
		{"ca file", variant{"https://127.0.0.1:8443", plain},
			variant{"https://127.0.0.1:8443", func(tr *config.Transport) { tr.TLS.CAFile = caFile }}, false},
		{"client certificate", variant{"https://127.0.0.1:8443", plain},
			variant{"https://127.0.0.1:8443", func(tr *config.Transport) { tr.TLS.CertFile, tr.TLS.KeyFile = certFile, keyFile }}, false},
		{"client key file", variant{"https://127.0.0.1:8443", func(tr *config.Transport) { tr.TLS.CertFile, tr.TLS.KeyFile = certFile, keyFile }},
			variant{"https://127.0.0.1:8443", func(tr *config.Transport) { tr.TLS.CertFile, tr.TLS.KeyFile = certFile, keyCopy }}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := connpool.NewRegistry()
			defer reg.Close()
			var pools []*connpool.Pool
			for _, v := range []variant{tt.a, tt.b} {
				tr := transport()
				v.tune(&tr)
				tg, err := New(context.Background(), config.Target{Endpoints: []string{v.endpoint}, Transport: tr},
					Deps{Registry: reg, Resolver: noResolver{t}})
				if err != nil {
					t.Fatal(err)
				}
				pools = append(pools, tg.Endpoints()[0].Pools()[0])
			}
			if pools[0].Dest() != pools[1].Dest() {
				t.Fatalf("dests differ (%s, %s): the case tests nothing", pools[0].Dest(), pools[1].Dest())
			}
			if got := pools[0] == pools[1]; got != tt.same {
				t.Errorf("same pool: got %v, want %v (profiles %q, %q)", got, tt.same, pools[0].Profile(), pools[1].Profile())
			}
			if got := len(reg.Stats()); (got == 1) != tt.same {
				t.Errorf("registry: got %d pools", got)
			}
		})
	}
}

func TestPickRoundRobinsEndpoints(t *testing.T) {
	tg, _ := newTarget(t, transport(), noResolver{t}, "http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003")
	counts := map[string]int{}
	for range 9 {
		ep, p := tg.Pick()
		if p != ep.Pools()[0] {
			t.Fatalf("pool %s is not the endpoint's", p.Dest())
		}
		counts[ep.Host]++
	}
	for _, h := range []string{"127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"} {
		if counts[h] != 3 {
			t.Errorf("%s: got %d picks, want 3 (%v)", h, counts[h], counts)
		}
	}
}

// FuzzEndpoint checks that any endpoint string is either rejected or parsed
// into a usable endpoint.
func FuzzEndpoint(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1", "https://backend.test:8443/v1/", "http://[::1]:80/a%2Fb", "ftp://x", "http://h:0", "https://%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ep, err := newEndpoint(raw, transport(), newSettings(transport()), nil, Deps{})
		if err != nil {
			return
		}
		if ep.Scheme != "http" && ep.Scheme != "https" {
			t.Errorf("%q: accepted scheme %q", raw, ep.Scheme)
		}
		if ep.port == 0 || ep.hostname == "" || ep.Host == "" {
			t.Errorf("%q: accepted port %d, hostname %q, host %q", raw, ep.port, ep.hostname, ep.Host)
		}
		if len(ep.Path) > 0 && (ep.Path[0] != '/' || ep.Path[len(ep.Path)-1] == '/') {
			t.Errorf("%q: path %q", raw, ep.Path)
		}
		if (ep.Scheme == "https") != (ep.sni != "") {
			t.Errorf("%q: scheme %s with sni %q", raw, ep.Scheme, ep.sni)
		}
	})
}

// BenchmarkPick measures the per-request endpoint and address choice.
func BenchmarkPick(b *testing.B) {
	reg := connpool.NewRegistry()
	defer reg.Close()
	res := newResolver("backend.test", "127.0.0.1", "127.0.0.2", "127.0.0.3")
	tg, err := New(context.Background(), config.Target{Endpoints: []string{"http://backend.test:8080", "http://127.0.0.1:8081"}, Transport: transport()},
		Deps{Registry: reg, Resolver: res})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, p := tg.Pick(); p == nil {
				b.Fatal("no pool")
			}
		}
	})
}
