package doctor_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/demo"
	"github.com/weirgw/weir/internal/doctor"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// The rules, each against a real gateway in front of a backend that
// misbehaves in the way the rule names. A scenario drives traffic, then the
// doctor reads the instance's admin API (ledger and config) and its
// request log, as `weir doctor --admin URL --log FILE` would.

// want is a finding a scenario must (or must not) produce.
type want struct {
	rule     string
	source   string // "pools", "apis" or "log"
	severity doctor.Severity
}

// atLeast reports whether a finding's severity may exceed the one wanted:
// for rules whose figure is a measured time, which a loaded machine can
// only make worse.
func (w want) atLeast() bool { return w.rule == doctor.RuleHighConnectTime }

func (w want) String() string { return w.rule + "/" + w.source }

// fixture is a scenario's config, and how to unblock its backend (nil when
// it never blocks).
type fixture struct {
	yaml    string
	release func()
}

func cfg(yaml string) fixture { return fixture{yaml: yaml} }

type scenario struct {
	name string
	// setup starts the backends and returns the config.
	setup func(t *testing.T) fixture
	// drive sends the traffic; it may return the input to diagnose,
	// taken while something was in progress (nil: read after drive).
	drive func(t *testing.T, in *weirtest.Instance, fx fixture) *doctor.Input
	// ledgerOnly drops the config (/apis): the rules infer from the ledger.
	ledgerOnly bool
	opt        doctor.Options
	want       []want
	notWant    []want // severity ignored
}

func TestRules(t *testing.T) {
	for _, sc := range []scenario{
		{
			name:  "healthy backend: no findings",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("", okBackend(t))) },
			drive: sequential("/api/x", 30, 200),
		},
		{
			name:  "keep-alive off in the config",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("keepalive_timeout: 0s", okBackend(t))) },
			drive: sequential("/api/x", 25, 200),
			want: []want{
				{doctor.RuleKeepaliveDisabled, "apis", doctor.Warning},
				{doctor.RuleConnectionChurn, "log", doctor.Warning},
			},
			// The config finding names the cause: the ledger's inference and
			// the generic churn would repeat it.
			notWant: []want{{rule: doctor.RuleKeepaliveDisabled, source: "pools"}, {rule: doctor.RuleConnectionChurn, source: "pools"},
				{rule: doctor.RuleBackendCloses, source: "pools"}},
		},
		{
			name:       "keep-alive off seen in the ledger alone",
			setup:      func(t *testing.T) fixture { return cfg(weirtest.API("keepalive_timeout: 0s", okBackend(t))) },
			drive:      sequential("/api/x", 25, 200),
			ledgerOnly: true,
			want:       []want{{doctor.RuleKeepaliveDisabled, "pools", doctor.Warning}},
			notWant:    []want{{rule: doctor.RuleConnectionChurn, source: "pools"}, {rule: doctor.RuleBackendCloses, source: "pools"}},
		},
		{
			name:  "backend answers Connection: close",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("", demoBackend(t))) },
			drive: sequential("/api/close", 25, 200),
			want: []want{
				{doctor.RuleBackendCloses, "pools", doctor.Warning},
				{doctor.RuleConnectionChurn, "log", doctor.Warning},
			},
			notWant: []want{{rule: doctor.RuleKeepaliveDisabled, source: "pools"}, {rule: doctor.RuleKeepaliveDisabled, source: "apis"},
				{rule: doctor.RuleConnectionChurn, source: "pools"}},
		},
		{
			name: "backend idle timeout shorter than weir's",
			setup: func(t *testing.T) fixture {
				return cfg(weirtest.API("", peer.HTTP(t, peer.OK, peer.IdleTimeout(600*time.Millisecond)).URL))
			},
			drive: func(t *testing.T, in *weirtest.Instance, fx fixture) *doctor.Input {
				in.Get(t, "/api/x", 1)
				waitPools(t, in, "a backend close while idle", func(in doctor.Input) bool {
					return len(in.Pools) == 1 && in.Pools[0].LearnedIdleTimeoutMS > 0
				})
				in.Get(t, "/api/x", 1)
				return nil
			},
			want:    []want{{doctor.RuleBackendIdleShorter, "pools", doctor.Info}},
			notWant: []want{{rule: doctor.RuleBackendCloses, source: "pools"}, {rule: doctor.RuleBackendIdleShorter, source: "log"}},
		},
		{
			name:  "stale reused connection, replayed",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("", peer.Stale(t).URL())) },
			drive: sequential("/api/x", 2, 200),
			want: []want{
				{doctor.RuleBackendIdleShorter, "pools", doctor.Warning},
				{doctor.RuleBackendIdleShorter, "log", doctor.Warning},
			},
		},
		{
			name:  "max_requests_per_connection 1 churns connections",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("max_requests_per_connection: 1", okBackend(t))) },
			drive: sequential("/api/x", 25, 200),
			want: []want{
				{doctor.RuleConnectionChurn, "pools", doctor.Warning},
				{doctor.RuleConnectionChurn, "log", doctor.Warning},
			},
			notWant: []want{{rule: doctor.RuleKeepaliveDisabled, source: "pools"}, {rule: doctor.RuleBackendCloses, source: "pools"}},
		},
		{
			name:  "port budget near exhaustion, single backend IP",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("keepalive_timeout: 0s", okBackend(t))) },
			drive: sequential("/api/x", 25, 200),
			opt:   doctor.Options{PortBudget: 30},
			want: []want{
				{doctor.RulePortBudget, "pools", doctor.Critical},
				{doctor.RulePortBudget, "log", doctor.Critical},
				{doctor.RuleSingleBackendIP, "pools", doctor.Warning},
				{doctor.RuleSingleBackendIP, "log", doctor.Warning},
			},
		},
		{
			name:       "single backend IP inferred from the ledger alone",
			setup:      func(t *testing.T) fixture { return cfg(weirtest.API("keepalive_timeout: 0s", okBackend(t))) },
			drive:      sequential("/api/x", 25, 200),
			ledgerOnly: true,
			opt:        doctor.Options{PortBudget: 240},
			want:       []want{{doctor.RuleSingleBackendIP, "pools", doctor.Warning}},
			notWant:    []want{{rule: doctor.RulePortBudget, source: "pools"}},
		},
		{
			name: "two backend IPs share the load",
			setup: func(t *testing.T) fixture {
				return cfg(weirtest.API("keepalive_timeout: 0s", okBackend(t), okBackendOn(t, "127.0.0.2:0")))
			},
			drive:   sequential("/api/x", 24, 200),
			opt:     doctor.Options{PortBudget: 240},
			want:    []want{{doctor.RuleKeepaliveDisabled, "apis", doctor.Warning}},
			notWant: []want{{rule: doctor.RuleSingleBackendIP, source: "pools"}, {rule: doctor.RuleSingleBackendIP, source: "log"}},
		},
		{
			name: "requests waiting under max_connections",
			setup: func(t *testing.T) fixture {
				url, release := blockingBackend(t)
				return fixture{yaml: weirtest.API("max_connections: 1, queue_timeout: 10s", url), release: release}
			},
			drive: func(t *testing.T, in *weirtest.Instance, fx fixture) *doctor.Input {
				var wg sync.WaitGroup
				for range 3 {
					wg.Go(func() { in.Get(t, "/api/x", 1) })
				}
				got := waitPools(t, in, "a waiting request", func(in doctor.Input) bool {
					return len(in.Pools) == 1 && in.Pools[0].Waiting > 0
				})
				fx.release()
				wg.Wait()
				return &got
			},
			want: []want{{doctor.RuleWaitingForConns, "pools", doctor.Warning}},
		},
		{
			name: "queue timeout under max_connections",
			setup: func(t *testing.T) fixture {
				return cfg(weirtest.API("max_connections: 1, queue_timeout: 50ms", demoBackend(t)))
			},
			drive: func(t *testing.T, in *weirtest.Instance, fx fixture) *doctor.Input {
				var wg sync.WaitGroup
				for range 3 {
					wg.Go(func() { in.Get(t, "/api/delay?ms=400", 1) })
				}
				wg.Wait()
				return nil
			},
			want: []want{
				{doctor.RuleWaitingForConns, "log", doctor.Critical},
				{doctor.RuleFailures, "log", doctor.Critical},
				{doctor.RuleWaitingForConns, "pools", doctor.Info},
			},
		},
		{
			name: "slow connects (TLS handshake)",
			setup: func(t *testing.T) fixture {
				url, ca := slowTLSBackend(t, 250*time.Millisecond)
				return cfg(weirtest.API("keepalive_timeout: 0s, tls: {ca_file: "+ca+"}", url))
			},
			drive: sequential("/api/x", doctor.MinConnects+1, 200),
			want:  []want{{doctor.RuleHighConnectTime, "log", doctor.Warning}},
		},
		{
			name:  "backend refuses connections",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("", "http://"+peer.FreeAddr(t))) },
			drive: sequential("/api/x", 3, 502),
			want:  []want{{doctor.RuleFailures, "log", doctor.Critical}},
		},
		{
			name:  "backend too slow for response_timeout",
			setup: func(t *testing.T) fixture { return cfg(weirtest.API("response_timeout: 50ms", demoBackend(t))) },
			drive: sequential("/api/delay?ms=300", 2, 504),
			want:  []want{{doctor.RuleFailures, "log", doctor.Critical}},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			fx := sc.setup(t)
			inst := weirtest.Start(t, fx.yaml)
			var in doctor.Input
			if got := sc.drive(t, inst, fx); got != nil {
				in = *got
			} else {
				in = fetch(t, inst)
			}
			if sc.ledgerOnly {
				in.APIs = nil
			}
			l, err := doctor.ReadLog(bytes.NewReader(inst.RequestLog.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			in.Log = l
			fs := doctor.Diagnose(in, sc.opt)
			t.Logf("findings:\n%s", dump(fs))
			for _, w := range sc.want {
				f := find(fs, w)
				if f == nil {
					t.Errorf("finding %s: got none, want %s; findings:\n%s", w, w.severity, dump(fs))
					continue
				}
				if f.Severity != w.severity && !(w.atLeast() && f.Severity > w.severity) {
					t.Errorf("finding %s: got severity %s, want %s", w, f.Severity, w.severity)
				}
				if len(f.Evidence) == 0 || f.Mitigation == "" || f.Summary == "" || f.Subject == "" {
					t.Errorf("finding %s: got evidence %v, mitigation %q, summary %q, subject %q; want all set", w, f.Evidence, f.Mitigation, f.Summary, f.Subject)
				}
			}
			for _, w := range sc.notWant {
				if f := find(fs, w); f != nil {
					t.Errorf("finding %s: got %q, want none", w, f.Summary)
				}
			}
			if len(sc.want) == 0 && len(fs) != 0 {
				t.Errorf("got findings:\n%s\nwant none", dump(fs))
			}
		})
	}
}

func find(fs []doctor.Finding, w want) *doctor.Finding {
	for i := range fs {
		if fs[i].Rule == w.rule && fs[i].Source == w.source {
			return &fs[i]
		}
	}
	return nil
}

func dump(fs []doctor.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s/%s %s: %s\n", f.Severity, f.Rule, f.Source, f.Subject, f.Summary)
	}
	return b.String()
}

// sequential returns a drive that sends n GETs to path one after another,
// each expected to answer status.
func sequential(path string, n, status int) func(*testing.T, *weirtest.Instance, fixture) *doctor.Input {
	return func(t *testing.T, in *weirtest.Instance, _ fixture) *doctor.Input {
		if got := in.Get(t, path, n); got[status] != n {
			t.Fatalf("GET %s x%d: got statuses %v, want all %d", path, n, got, status)
		}
		return nil
	}
}

func fetch(t *testing.T, in *weirtest.Instance) doctor.Input {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := doctor.Fetch(ctx, http.DefaultClient, in.AdminURL, "")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// waitPools polls the admin API until cond holds (at most 5 s).
func waitPools(t *testing.T, in *weirtest.Instance, what string, cond func(doctor.Input) bool) doctor.Input {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := fetch(t, in)
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s; pools: %+v", what, got.Pools)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func okBackend(t *testing.T) string { return peer.HTTP(t, peer.OK, nil).URL }

// okBackendOn serves "ok" on addr (another loopback address; the test is
// skipped where it cannot listen there).
func okBackendOn(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen on %s: %v", addr, err)
	}
	return peer.HTTPOn(t, ln, peer.OK, nil).URL
}

// demoBackend is weir's demo backend (/close, /delay).
func demoBackend(t *testing.T) string {
	ts := httptest.NewServer(demo.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// blockingBackend answers only once release is called (or the request is
// cancelled). release may be called more than once.
func blockingBackend(t *testing.T) (url string, release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ch:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(func() {
		release()
		ts.Close()
	})
	return ts.URL, release
}

// slowTLSBackend is an HTTPS backend whose TLS handshake starts delay after
// the TCP connect: connect time as weir measures it (TCP + TLS). It
// returns the URL and a CA file that trusts it.
func slowTLSBackend(t *testing.T, delay time.Duration) (url, caFile string) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	ts.Listener = slowListener{Listener: ts.Listener, delay: delay}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts.URL, peer.CAFile(t, ts.Certificate())
}

type slowListener struct {
	net.Listener
	delay time.Duration
}

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowConn{Conn: c, delay: l.delay}, nil
}

// slowConn delays its first read: the server sees the ClientHello late.
type slowConn struct {
	net.Conn
	delay time.Duration
	once  sync.Once
}

func (c *slowConn) Read(b []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.Conn.Read(b)
}
