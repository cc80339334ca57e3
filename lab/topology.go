package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The lab's addresses. They exist only inside the namespaces the lab makes,
// which have no link to the host's network: no lab packet can leave.
const (
	clientIP     = "10.200.1.2" // the load client
	gwIP         = "10.200.1.1" // the gateway under test listens here
	gwUplinkIP   = "10.200.2.2" // the gateway's side toward the NAT
	natGwIP      = "10.200.2.1"
	natBackendIP = "10.200.3.1" // the masquerade address the backends see
	natProxyIP   = "10.200.4.1"
	proxyIP      = "10.200.4.2" // the egress proxy
	backendNet   = "10.200.3.0/24"
	gwPort       = 8080
	adminPort    = 9901
	backendPort  = 9000
	tlsPort      = 9443
	proxyPort    = 3128
)

// backendIP is the backend ns's address i (0 or 1): one demo backend each.
func backendIP(i int) string {
	if i == 0 {
		return "10.200.3.2"
	}
	return "10.200.3.3"
}

// nsPrefix starts the name of every namespace the lab makes; the pid of
// the lab process follows, so stale ones can be told from live ones.
const nsPrefix = "weirlab"

// netSpec is the network of one run.
type netSpec struct {
	// model turns on the SNAT port model at the NAT: per destination IP at
	// most ports connections at once, and ports new connections per 240 s
	// per (IP, port). Off, the NAT only masquerades (and counts SYNs).
	model bool
	ports int
	// proxy adds the egress proxy's namespace, routed through the NAT.
	proxy bool
	// gwSysctls are set in the gateway's namespace ("key=value").
	gwSysctls []string
}

// world is one run's namespaces and processes.
type world struct {
	prefix string
	helper string
	made   []string
	procs  []*proc
}

func (w *world) ns(role string) string { return w.prefix + "-" + role }

// newWorld makes the namespaces of spec: client -> gw -> nat -> backend
// (and nat -> proxy). On error what was made is torn down.
func newWorld(ctx context.Context, helper string, spec netSpec) (_ *world, err error) {
	w := &world{prefix: nsPrefix + strconv.Itoa(os.Getpid()), helper: helper}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	roles := []string{"client", "gw", "nat", "backend"}
	if spec.proxy {
		roles = append(roles, "proxy")
	}
	for _, r := range roles {
		// Recorded before the add: an add cut short by cancellation may
		// still have made the namespace, and deleting a missing one is
		// harmless.
		w.made = append(w.made, w.ns(r))
		if _, err := runCmd(ctx, "", "", "ip", "netns", "add", w.ns(r)); err != nil {
			return nil, err
		}
		if err := w.ip(ctx, r, "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
	}
	type link struct {
		a, ifA, addrA, b, ifB string
		addrB                 []string
	}
	links := []link{
		{"gw", "c1", gwIP + "/24", "client", "c0", []string{clientIP + "/24"}},
		{"gw", "g0", gwUplinkIP + "/24", "nat", "g1", []string{natGwIP + "/24"}},
		{"nat", "b1", natBackendIP + "/24", "backend", "b0", []string{backendIP(0) + "/24", backendIP(1) + "/24"}},
	}
	if spec.proxy {
		links = append(links, link{"nat", "p1", natProxyIP + "/24", "proxy", "p0", []string{proxyIP + "/24"}})
	}
	for _, l := range links {
		if err := w.ip(ctx, l.a, "link", "add", l.ifA, "type", "veth", "peer", "name", l.ifB, "netns", w.ns(l.b)); err != nil {
			return nil, err
		}
		steps := [][]string{
			{l.a, "addr", "add", l.addrA, "dev", l.ifA},
			{l.a, "link", "set", l.ifA, "up"},
			{l.b, "link", "set", l.ifB, "up"},
		}
		for _, a := range l.addrB {
			steps = append(steps, []string{l.b, "addr", "add", a, "dev", l.ifB})
		}
		for _, s := range steps {
			if err := w.ip(ctx, s[0], s[1:]...); err != nil {
				return nil, err
			}
		}
	}
	if err := w.ip(ctx, "gw", "route", "add", "default", "via", natGwIP); err != nil {
		return nil, err
	}
	if spec.proxy {
		if err := w.ip(ctx, "proxy", "route", "add", "default", "via", natProxyIP); err != nil {
			return nil, err
		}
	}
	if _, err := runCmd(ctx, w.ns("nat"), "", helper, "sysctl", "net.ipv4.ip_forward=1"); err != nil {
		return nil, err
	}
	if len(spec.gwSysctls) > 0 {
		if _, err := runCmd(ctx, w.ns("gw"), "", append([]string{helper, "sysctl"}, spec.gwSysctls...)...); err != nil {
			return nil, err
		}
	}
	if _, err := runCmd(ctx, w.ns("nat"), natRules(spec), "iptables-restore"); err != nil {
		return nil, err
	}
	return w, nil
}

// ip runs `ip -n NS args...` for the namespace of role.
func (w *world) ip(ctx context.Context, role string, args ...string) error {
	_, err := runCmd(ctx, "", "", append([]string{"ip", "-n", w.ns(role)}, args...)...)
	return err
}

// start runs argv in the namespace of role and keeps it for close.
func (w *world) start(name, role string, argv ...string) (*proc, error) {
	p, err := start(name, w.ns(role), argv...)
	if err != nil {
		return nil, err
	}
	w.procs = append(w.procs, p)
	return p, nil
}

// close stops every process the run started, newest first, then deletes
// its namespaces (and with them every link and address).
func (w *world) close() {
	for i := len(w.procs) - 1; i >= 0; i-- {
		w.procs[i].Stop(stopGrace)
	}
	w.procs = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range w.made {
		deleteNS(ctx, ns)
	}
	w.made = nil
}

// deleteNS kills what still runs in ns (started by the lab) and deletes it.
func deleteNS(ctx context.Context, ns string) {
	if out, err := runCmd(ctx, "", "", "ip", "netns", "pids", ns); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_, _ = runCmd(ctx, "", "", "ip", "netns", "del", ns)
}

// cleanStale deletes the namespaces of lab runs whose process is gone (a
// run killed with SIGKILL cannot clean up after itself).
func cleanStale(ctx context.Context) error {
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, ok := stalePID(e.Name())
		if !ok {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			deleteNS(ctx, e.Name())
		}
	}
	return nil
}

// stalePID parses the lab pid out of a namespace name "weirlab<pid>-role".
func stalePID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, nsPrefix)
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(num)
	if err != nil || pid <= 1 || pid == os.Getpid() {
		return 0, false
	}
	return pid, true
}

// Rule comments in the NAT's FORWARD chain, for reading their counters.
const (
	ruleSYN       = "weirlab-syn"        // every SYN toward the backends
	ruleConnlimit = "weirlab-drop-conns" // dropped: over P connections at once
	ruleAccept    = "weirlab-accept"     // accepted: a new backend connection
	ruleBudget    = "weirlab-drop-ports" // dropped: the 240 s port budget is spent
)

// natRules is the NAT's ruleset (iptables-restore input): masquerade toward
// the backends, count SYNs, and with spec.model the SNAT port model. Linux
// NAT reuses a TIME_WAIT tuple at once, so conntrack timeouts cannot model
// a cloud NAT's 240 s hold; instead a SYN is dropped when the destination
// IP already has P connections (connlimit), or when its (IP, port) has
// used P new connections faster than P per 240 s (hashlimit, burst P). A
// dropped SYN makes the gateway's connect time out, as Azure users see.
func natRules(spec netSpec) string {
	var b strings.Builder
	b.WriteString("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
	b.WriteString("-A POSTROUTING -o b1 -j MASQUERADE\nCOMMIT\n")
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	syn := "-A FORWARD -o b1 -p tcp --syn "
	fmt.Fprintf(&b, "%s-m comment --comment %s\n", syn, ruleSYN)
	if spec.model {
		p := spec.ports
		fmt.Fprintf(&b, "%s-m connlimit --connlimit-above %d --connlimit-mask 32 --connlimit-daddr -m comment --comment %s -j DROP\n", syn, p, ruleConnlimit)
		// P per 240 s = 15P per hour; entries live as long as the hold.
		fmt.Fprintf(&b, "%s-m hashlimit --hashlimit-name weirlab --hashlimit-mode dstip,dstport --hashlimit-upto %d/hour --hashlimit-burst %d --hashlimit-htable-expire %d -m comment --comment %s -j ACCEPT\n",
			syn, 15*p, p, int(portHold/time.Millisecond), ruleAccept)
		fmt.Fprintf(&b, "%s-m comment --comment %s -j DROP\n", syn, ruleBudget)
	} else {
		fmt.Fprintf(&b, "%s-m comment --comment %s -j ACCEPT\n", syn, ruleAccept)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// portHold is how long a cloud NAT holds a port after its flow ends.
const portHold = 240 * time.Second

// WriteSysctls sets "key=value" sysctls (net.ipv4.ip_forward=1) of the
// calling process's network namespace through /proc/sys.
func WriteSysctls(kvs []string) error {
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.Contains(k, "..") || strings.Contains(k, "/") {
			return fmt.Errorf("sysctl %q: want key=value", kv)
		}
		path := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(path, []byte(v+"\n"), 0o644); err != nil {
			return fmt.Errorf("sysctl %s: %w", kv, err)
		}
	}
	return nil
}
