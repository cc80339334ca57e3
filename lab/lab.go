// Package lab is weir's port-exhaustion lab (`make lab`): it reproduces
// SNAT port exhaustion on a real kernel NAT, in network namespaces it makes
// and tears down itself, and shows which gateway settings survive it.
//
// Topology, all inside namespaces with no link to the host's network:
//
//	client (load) -> gw (weir, nginx or haproxy) -> nat (masquerade + the
//	SNAT port model) -> backend (weir demo-backend on one or two IPs)
//	                                              nat -> proxy (egress proxy)
//
// The NAT models a cloud NAT's budget per destination: at most P ports at
// once, and P new ports per 240 s (see natRules). Each run starts from
// fresh namespaces, so no run inherits another's conntrack, TIME_WAIT or
// port budget. Run checks every scenario's expectation; the lab passes only
// when all hold.
package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/connpool"
)

// Defaults of Options.
const (
	DefaultPorts    = 64
	DefaultRequests = 20000
	DefaultWindow   = 10 * time.Second
	// DefaultLimit bounds the whole lab.
	DefaultLimit = 290 * time.Second
	// completeWindow bounds a burst that is expected to complete.
	completeWindow = 45 * time.Second
	// clientTimeout bounds each client request; past it the gateway
	// counts as hung.
	clientTimeout = 8 * time.Second
	// sampleEvery is the conntrack sampling interval.
	sampleEvery = 100 * time.Millisecond
	// portRange is the gateway's ephemeral port range in scenario 6.
	portRange = "40000 40999"
)

// Options configure a lab run.
type Options struct {
	// Weir is the weir binary; Helper the weirlab binary (its load, proxy,
	// tls-backend, sample, wait and sysctl subcommands run inside the
	// namespaces). Both required.
	Weir, Helper string
	// Dir is a scratch directory for configs and logs; required. The
	// caller makes and removes it.
	Dir string
	// Ports is P, the NAT's port budget per destination (default 64).
	Ports int
	// Requests is the burst size (default 20000).
	Requests int
	// Concurrency is the client concurrency (default 4P).
	Concurrency int
	// Window bounds how long a burst that fails may go on (default 10s).
	Window time.Duration
	// Limit bounds the whole lab (default 290s).
	Limit time.Duration
	// Scenarios selects scenario numbers 1-7 (empty = all). Scenario 4
	// needs 2's figure and brings it in.
	Scenarios []int
	// Progress receives a line per step; nil = none.
	Progress io.Writer
}

func (o *Options) defaults() error {
	if o.Weir == "" || o.Helper == "" || o.Dir == "" {
		return errors.New("lab: Weir, Helper and Dir are required")
	}
	if o.Ports <= 0 {
		o.Ports = DefaultPorts
	}
	if o.Requests <= 0 {
		o.Requests = DefaultRequests
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4 * o.Ports
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// UnavailableError says why the lab cannot run on this machine.
type UnavailableError struct {
	Reasons []string
}

func (e *UnavailableError) Error() string {
	return "lab cannot run here: " + strings.Join(e.Reasons, "; ")
}

// tools are the commands the lab runs, with the Debian package of each.
func tools() [][2]string {
	return [][2]string{
		{"ip", "iproute2"},
		{"iptables-restore", "iptables"},
		{"iptables-save", "iptables"},
		{"nginx", "nginx-light"},
		{"haproxy", "haproxy"},
	}
}

// Available reports whether the lab can run here: root, the tools (on PATH
// or in /usr/sbin, /sbin), and network namespaces in which the NAT's
// iptables rules load. It returns nil or an *UnavailableError naming
// everything missing.
func Available(ctx context.Context) error {
	var why []string
	if os.Geteuid() != 0 {
		why = append(why, "needs root (network namespaces, iptables): run it as root or with sudo")
	}
	for _, t := range tools() {
		if toolPath(t[0]) == t[0] {
			why = append(why, fmt.Sprintf("%s not found (Debian package %s)", t[0], t[1]))
		}
	}
	if len(why) == 0 {
		ns := nsPrefix + strconv.Itoa(os.Getpid()) + "-check"
		if _, err := runCmd(ctx, "", "", "ip", "netns", "add", ns); err != nil {
			why = append(why, "cannot make a network namespace: "+err.Error())
		} else {
			// The NAT's full ruleset: masquerade, connlimit, hashlimit.
			if _, err := runCmd(ctx, ns, natRules(netSpec{model: true, ports: DefaultPorts}), "iptables-restore"); err != nil {
				why = append(why, "the NAT's iptables rules (MASQUERADE, connlimit, hashlimit) do not load in a namespace: "+err.Error())
			}
			if _, err := runCmd(ctx, ns, "", "cat", conntrackPath); err != nil {
				why = append(why, "cannot read the conntrack table (kernel without CONFIG_NF_CONNTRACK_PROCFS?): "+err.Error())
			}
			deleteNS(ctx, ns)
		}
	}
	if len(why) > 0 {
		return &UnavailableError{Reasons: why}
	}
	return nil
}

// gateway kinds.
const (
	gwWeir    = "weir"
	gwNginx   = "nginx"
	gwHAProxy = "haproxy"
)

// runSpec is one row of the table.
type runSpec struct {
	id       string // "1", "6b"
	scenario int
	title    string
	gateway  string // gwWeir, gwNginx, gwHAProxy
	setup    string // the gateway's settings, for the table
	net      netSpec
	backends int
	tls      bool
	path     string // what the client requests
	complete bool   // the burst is expected to complete: a longer window
	weir     weirConf
	nginxKA  int // nginx upstream keepalive (0 = nginx's default: none)
}

// specs are the lab's runs for o.
func specs(o Options) []runSpec {
	p := o.Ports
	cap := p * 3 / 4
	model := netSpec{model: true, ports: p}
	gwPorts := netSpec{ports: p, gwSysctls: []string{"net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=" + portRange}}
	keep := 60 * time.Second
	capStr := "max_connections " + strconv.Itoa(cap)
	all := []runSpec{
		{id: "1", scenario: 1, title: "keep-alive (weir default)", gateway: gwWeir, setup: "keep-alive, " + capStr, net: model, backends: 1, path: "/api/hello", complete: true,
			weir: weirConf{keepalive: keep, maxConns: cap, backends: 1}},
		{id: "2", scenario: 2, title: "keep-alive off", gateway: gwWeir, setup: "keepalive_timeout 0", net: model, backends: 1, path: "/api/hello",
			weir: weirConf{backends: 1}},
		{id: "3", scenario: 3, title: "backend answers Connection: close", gateway: gwWeir, setup: "keep-alive", net: model, backends: 1, path: "/api/close",
			weir: weirConf{keepalive: keep, backends: 1}},
		{id: "4", scenario: 4, title: "two backend IPs", gateway: gwWeir, setup: "keepalive_timeout 0, 2 endpoints", net: model, backends: 2, path: "/api/hello",
			weir: weirConf{backends: 2}},
		{id: "5", scenario: 5, title: "egress proxy (CONNECT tunnels)", gateway: gwWeir, setup: "keep-alive, " + capStr + ", https via proxy", net: netSpec{model: true, ports: p, proxy: true}, backends: 1, tls: true, path: "/api/hello", complete: true,
			weir: weirConf{keepalive: keep, maxConns: cap, proxy: true, tls: true, backends: 1}},
		{id: "6a", scenario: 6, title: "gateway's own ports", gateway: gwWeir, setup: "weir defaults", net: gwPorts, backends: 1, path: "/api/hello", complete: true,
			weir: weirConf{defaults: true, backends: 1}},
		{id: "6b", scenario: 6, title: "gateway's own ports", gateway: gwWeir, setup: "keepalive_timeout 0", net: gwPorts, backends: 1, path: "/api/hello",
			weir: weirConf{backends: 1}},
		{id: "6c", scenario: 6, title: "gateway's own ports", gateway: gwNginx, setup: "upstream keepalive 64", net: gwPorts, backends: 1, path: "/api/hello", nginxKA: 64},
		{id: "7a", scenario: 7, title: "peers", gateway: gwNginx, setup: "default upstream (no keepalive)", net: model, backends: 1, path: "/api/hello"},
		{id: "7b", scenario: 7, title: "peers", gateway: gwNginx, setup: "upstream keepalive 64", net: model, backends: 1, path: "/api/hello", nginxKA: 64},
		{id: "7c", scenario: 7, title: "peers", gateway: gwHAProxy, setup: "defaults (http-reuse safe)", net: model, backends: 1, path: "/api/hello"},
	}
	if len(o.Scenarios) == 0 {
		return all
	}
	want := slices.Clone(o.Scenarios)
	if slices.Contains(want, 4) && !slices.Contains(want, 2) {
		want = append(want, 2)
	}
	var out []runSpec
	for _, s := range all {
		if slices.Contains(want, s.scenario) {
			out = append(out, s)
		}
	}
	return out
}

// Row is one run's figures.
type Row struct {
	ID       string
	Scenario int
	Title    string
	Gateway  string // "weir", "nginx", "haproxy"
	Setup    string // the gateway's settings
	Load     LoadResult
	// BackendConns is SYNs the NAT let through toward the backends: the
	// backend connections opened (by the egress proxy in scenario 5).
	BackendConns uint64
	// SYNDropped is SYNs the NAT's port model dropped.
	SYNDropped uint64
	// NATPeak is the most conntrack entries toward the backends at once.
	NATPeak  int
	Duration time.Duration
	// Pools is weir's GET /pools after the burst (weir only).
	Pools []connpool.Stats
	// LogTally is weir's request log failures by "REASON: what", or the
	// errno mentions of nginx's error log.
	LogTally map[string]int
	// Validate is `weir validate`'s output for the run's config (weir only).
	Validate string
	Notes    []string
}

// Opened is weir's backend connections opened, summed over its pools.
func (r *Row) Opened() uint64 {
	var n uint64
	for _, p := range r.Pools {
		n += p.OpenedTotal
	}
	return n
}

// pool sums a figure over weir's pools.
func (r *Row) pool(f func(*connpool.Stats) int64) int64 {
	var n int64
	for i := range r.Pools {
		n += f(&r.Pools[i])
	}
	return n
}

// Report is a lab run's rows and the expectations checked on them.
type Report struct {
	Options Options
	Rows    []*Row
	Checks  []Check
	Took    time.Duration
}

// Check is one expectation.
type Check struct {
	ID   string // the run it is about
	What string
	Got  string
	OK   bool
}

// OK reports whether every expectation held (and there was at least one).
func (r *Report) OK() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Run runs the lab. It returns an error when the lab could not run (a
// namespace or process could not be set up, ctx ended); the expectations'
// verdicts are in the Report. Every namespace and process it starts is
// gone when it returns, also when ctx is cancelled (on SIGINT, say).
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Limit)
	defer cancel()
	if err := cleanStale(ctx); err != nil {
		return nil, fmt.Errorf("lab: stale namespaces: %w", err)
	}
	start := time.Now()
	rep := &Report{Options: o}
	for _, s := range specs(o) {
		fmt.Fprintf(o.Progress, "== %s: %s: %s, %s\n", s.id, s.title, s.gateway, s.setup)
		row, err := runOne(ctx, o, s)
		if err != nil {
			return rep, fmt.Errorf("lab: run %s: %w", s.id, err)
		}
		rep.Rows = append(rep.Rows, row)
		fmt.Fprintf(o.Progress, "   sent %d, ok %d, failed %s; backend conns %d, NAT peak %d, SYNs dropped %d, %s\n",
			row.Load.Sent, row.Load.OK, failedString(row.Load.Failed), row.BackendConns, row.NATPeak, row.SYNDropped, row.Duration.Round(100*time.Millisecond))
	}
	rep.Took = time.Since(start)
	rep.Checks = check(o, rep.Rows)
	return rep, nil
}

// runOne makes a fresh world for s, runs its burst and tears it down.
func runOne(ctx context.Context, o Options, s runSpec) (*Row, error) {
	dir := filepath.Join(o.Dir, s.id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w, err := newWorld(ctx, o.Helper, s.net)
	if err != nil {
		return nil, err
	}
	defer w.close()

	row := &Row{ID: s.id, Scenario: s.scenario, Title: s.title, Gateway: s.gateway, Setup: s.setup}
	var waitBackends []string
	for i := range s.backends {
		addr := fmt.Sprintf("%s:%d", backendIP(i), backendPort)
		if _, err := w.start("demo-backend", "backend", o.Weir, "demo-backend", "-listen", addr); err != nil {
			return nil, err
		}
		waitBackends = append(waitBackends, addr)
	}
	var certs Certs
	if s.tls {
		ips := []netip.Addr{netip.MustParseAddr(backendIP(0)), netip.MustParseAddr(backendIP(1))}
		if certs, err = WriteCerts(dir, ips); err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("%s:%d", backendIP(0), tlsPort)
		if _, err := w.start("tls-backend", "backend", o.Helper, "tls-backend", "-listen", addr, "-cert", certs.Cert, "-key", certs.Key); err != nil {
			return nil, err
		}
		waitBackends = append(waitBackends, addr)
	}
	// Waited for from inside the backend ns: no NAT port is spent.
	if _, err := runCmd(ctx, w.ns("backend"), "", append([]string{o.Helper, "wait"}, waitBackends...)...); err != nil {
		return nil, err
	}
	if s.net.proxy {
		addr := fmt.Sprintf("%s:%d", proxyIP, proxyPort)
		if _, err := w.start("proxy", "proxy", o.Helper, "proxy", "-listen", addr); err != nil {
			return nil, err
		}
		if _, err := runCmd(ctx, w.ns("proxy"), "", o.Helper, "wait", addr); err != nil {
			return nil, err
		}
	}

	gw, logFile, err := startGateway(ctx, o, s, w, dir, certs, row)
	if err != nil {
		return nil, err
	}
	sampler, err := w.start("sampler", "nat", o.Helper, "sample", "-dst", backendNet, "-every", sampleEvery.String())
	if err != nil {
		return nil, err
	}

	window := o.Window
	if s.complete {
		window = max(window, completeWindow)
	}
	args := []string{o.Helper, "load",
		"-url", fmt.Sprintf("http://%s:%d%s", gwIP, gwPort, s.path),
		"-n", strconv.Itoa(o.Requests), "-c", strconv.Itoa(o.Concurrency),
		"-duration", window.String(), "-timeout", clientTimeout.String(),
		"-ready", fmt.Sprintf("%s:%d", gwIP, gwPort)}
	out, err := runCmd(ctx, w.ns("client"), "", args...)
	if err != nil {
		if gw.Exited() {
			return nil, fmt.Errorf("%s exited early: %v: %s", s.gateway, gw.Err(), gw.Output())
		}
		return nil, err
	}
	if err := json.Unmarshal([]byte(out), &row.Load); err != nil {
		return nil, fmt.Errorf("load output: %w: %q", err, out)
	}
	row.Duration = time.Duration(row.Load.DurationMS) * time.Millisecond
	if gw.Exited() {
		return nil, fmt.Errorf("%s exited during the burst: %v: %s", s.gateway, gw.Err(), gw.Output())
	}

	sampler.Stop(stopGrace)
	var sample SampleResult
	if err := json.Unmarshal([]byte(lastLine(sampler.Output())), &sample); err != nil {
		return nil, fmt.Errorf("sampler output: %w: %q", err, sampler.Output())
	}
	if sample.Samples == 0 {
		return nil, fmt.Errorf("could not read %s in the NAT's namespace (%d errors)", conntrackPath, sample.Errors)
	}
	row.NATPeak = sample.Peak
	save, err := runCmd(ctx, w.ns("nat"), "", "iptables-save", "-c", "-t", "filter")
	if err != nil {
		return nil, err
	}
	counters := ParseCounters(save)
	row.BackendConns = counters[ruleAccept]
	row.SYNDropped = counters[ruleConnlimit] + counters[ruleBudget]

	if s.gateway == gwWeir {
		// The admin API listens on the gw ns's loopback.
		out, err := runCmd(ctx, w.ns("gw"), "", o.Helper, "get", fmt.Sprintf("http://127.0.0.1:%d/pools", adminPort))
		if err != nil {
			return nil, err
		}
		var pools struct {
			Pools []connpool.Stats `json:"pools"`
		}
		if err := json.Unmarshal([]byte(out), &pools); err != nil {
			return nil, fmt.Errorf("GET /pools: %w", err)
		}
		row.Pools = pools.Pools
	}
	if killed := gw.Stop(stopGrace); killed {
		row.Notes = append(row.Notes, s.gateway+" did not stop within "+stopGrace.String()+" of SIGTERM")
	}
	if logFile != "" {
		f, err := os.Open(logFile)
		if err != nil {
			return nil, err
		}
		if s.gateway == gwWeir {
			row.LogTally, err = TallyRequestLog(f)
		} else {
			row.LogTally, err = TallyErrnos(f)
		}
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return row, nil
}

// startGateway writes the gateway's config and starts it in the gw ns. It
// returns the process and the log to tally afterwards.
func startGateway(ctx context.Context, o Options, s runSpec, w *world, dir string, certs Certs, row *Row) (*proc, string, error) {
	switch s.gateway {
	case gwWeir:
		c := s.weir
		c.logFile = filepath.Join(dir, "requests.log")
		c.caFile = certs.CA
		cfg := filepath.Join(dir, "weir.yaml")
		if err := os.WriteFile(cfg, []byte(c.yaml()), 0o644); err != nil {
			return nil, "", err
		}
		out, err := runCmd(ctx, "", "", o.Weir, "validate", "-c", cfg)
		if err != nil {
			return nil, "", err
		}
		row.Validate = out
		p, err := w.start("weir", "gw", o.Weir, "run", "-c", cfg)
		return p, c.logFile, err
	case gwNginx:
		cfg := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(cfg, []byte(nginxConf(dir, s.nginxKA)), 0o644); err != nil {
			return nil, "", err
		}
		elog := filepath.Join(dir, "nginx-error.log")
		p, err := w.start("nginx", "gw", "nginx", "-p", dir, "-c", cfg, "-e", elog, "-g", "daemon off;")
		return p, elog, err
	case gwHAProxy:
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfg, []byte(haproxyConf()), 0o644); err != nil {
			return nil, "", err
		}
		p, err := w.start("haproxy", "gw", "haproxy", "-f", cfg, "-db")
		return p, "", err
	}
	return nil, "", fmt.Errorf("unknown gateway %q", s.gateway)
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// failedString renders failures by reason, largest first.
func failedString(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, m[k])
	}
	return b.String()
}
