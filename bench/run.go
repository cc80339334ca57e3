package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirgw/weir/internal/child"
)

// Mode is where the processes run.
type Mode string

const (
	// Pinned runs each proxy on CPU 0 and the load generator and the
	// backend on CPU 1 (taskset), so a proxy's CPU is its own.
	Pinned Mode = "pinned"
	// Unpinned lets the scheduler place every process.
	Unpinned Mode = "unpinned"
)

// CPUs pinned processes run on.
const (
	proxyCPU = "0"
	loadCPU  = "1"
)

// Options configure a run of the suite.
type Options struct {
	// Weir is the weir binary.
	Weir string
	// Backend is the command that runs the backend (weirbench backend);
	// the suite adds -ports N and -info FILE.
	Backend []string
	// Dir is a scratch directory for configs, scripts and temp files.
	Dir string
	// Rounds of every scenario; a round runs each peer once, in turn.
	Rounds int
	// Duration of a measured run, Warmup of the unmeasured run each peer
	// gets after it starts (0: none).
	Duration, Warmup time.Duration
	// Modes to run, in order.
	Modes []Mode
	// Short runs only the scenarios marked Short.
	Short bool
	// Scenarios and Peers, when not empty, select by name.
	Scenarios, Peers []string
	// Install lets the suite apt-get install missing programs when it
	// runs as root.
	Install bool
	// Require makes a peer that cannot run an error; otherwise its rows
	// are left out, with the reason in Results.Skipped.
	Require bool
	// Progress receives a line per run (nil: none).
	Progress io.Writer
}

// Results are everything a run of the suite measured and how.
type Results struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Rounds   int       `json:"rounds"`
	// Duration and Warmup in seconds.
	Duration float64    `json:"duration_s"`
	Warmup   float64    `json:"warmup_s"`
	Modes    []Mode     `json:"modes"`
	Short    bool       `json:"short"`
	Peers    []PeerInfo `json:"peers"`
	Skipped  []string   `json:"skipped,omitempty"`
	Backend  []string   `json:"backend_command"`
	// Note is said at the top of the report (set by the caller: say, that
	// the machine was busy).
	Note string `json:"note,omitempty"`
	// Command is how the suite was started (set by its caller).
	Command   string          `json:"command"`
	Scenarios []*ScenarioInfo `json:"scenarios"`
	Runs      []*Run          `json:"runs"`
}

// PeerInfo is a row's program and settings.
type PeerInfo struct {
	Name     string `json:"name"`
	Program  string `json:"program"`
	Version  string `json:"version"`
	Setup    string `json:"setup"`
	Defaults bool   `json:"defaults,omitempty"`
}

// ScenarioInfo is a scenario as it ran: its settings, the peers in it and
// the exact commands and configs ($DIR is the peer's scratch directory,
// $PORT and $BACKEND its listening and backend addresses' ports).
type ScenarioInfo struct {
	Name     string              `json:"name"`
	Title    string              `json:"title"`
	Conns    int                 `json:"conns"`
	Method   string              `json:"method"`
	BodySize int                 `json:"body_size"`
	Query    string              `json:"query"`
	Policy   string              `json:"policy,omitempty"`
	Baseline string              `json:"baseline,omitempty"`
	Modes    []Mode              `json:"modes"`
	Peers    []string            `json:"peers"`
	Load     map[Mode][]string   `json:"load_command"`
	Commands map[string][]string `json:"commands"`
	Configs  map[string]string   `json:"configs"`
}

// Run is one measured run: one peer, one scenario, one round.
type Run struct {
	Mode     Mode   `json:"mode"`
	Scenario string `json:"scenario"`
	Peer     string `json:"peer"`
	Round    int    `json:"round"`
	Load
	// RPS is requests per second of wall time.
	RPS float64 `json:"rps"`
	// CPUSeconds is user + system time of the proxy's processes during
	// the run; PerCPUSecond is requests per such second.
	CPUSeconds   float64 `json:"cpu_s"`
	PerCPUSecond float64 `json:"per_cpu_s"`
	// PeakRSS is the peak resident memory of the proxy's processes during
	// the run, summed, in bytes.
	PeakRSS int64 `json:"peak_rss"`
	// BackendAccepts and BackendRequests are the connections the backend
	// accepted from this peer and the requests it answered.
	BackendAccepts  int64 `json:"backend_accepts"`
	BackendRequests int64 `json:"backend_requests"`
	// TimeWait is the TIME_WAIT sockets on the peer's backend connections
	// (either end) that entered TIME_WAIT during the run and were still
	// there at its end: a lower bound on those it created, as the kernel
	// reuses a loopback TIME_WAIT port after 1 s.
	TimeWait int `json:"time_wait"`
	// Problem is why the run does not count, or what its scenario's check
	// found ("" when all is well).
	Problem string `json:"problem,omitempty"`
}

// FailedRuns counts the runs that had errors or a problem.
func (r *Results) FailedRuns() int {
	n := 0
	for _, run := range r.Runs {
		if run.Failed() {
			n++
		}
	}
	return n
}

// Failed reports whether the run had errors or a problem.
func (r *Run) Failed() bool { return r.Problem != "" || r.Errors.Total() > 0 }

// peerRow is a peer the suite will run, with its program's path.
type peerRow struct {
	*Peer
	bin     string
	backend string // the backend's address reserved for this peer (per mode)
}

// Validate checks o's settings.
func (o *Options) Validate() error {
	var errs []error
	if o.Weir == "" {
		errs = append(errs, errors.New("no weir binary given"))
	}
	if len(o.Backend) == 0 {
		errs = append(errs, errors.New("no backend command given"))
	}
	if o.Dir == "" {
		errs = append(errs, errors.New("no scratch directory given"))
	}
	if o.Rounds < 1 {
		errs = append(errs, fmt.Errorf("rounds must be at least 1, got %d", o.Rounds))
	}
	if o.Duration < 500*time.Millisecond {
		errs = append(errs, fmt.Errorf("duration must be at least 500ms, got %v", o.Duration))
	}
	if o.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warm-up must not be negative, got %v", o.Warmup))
	}
	if len(o.Modes) == 0 {
		errs = append(errs, errors.New("no mode given"))
	}
	for _, m := range o.Modes {
		if m != Pinned && m != Unpinned {
			errs = append(errs, fmt.Errorf("mode %q: want %q or %q", m, Pinned, Unpinned))
		}
	}
	known := map[string]bool{}
	for _, s := range Scenarios() {
		known[s.Name] = true
	}
	for _, n := range o.Scenarios {
		if !known[n] {
			errs = append(errs, fmt.Errorf("unknown scenario %q", n))
		}
	}
	known = map[string]bool{}
	for _, p := range Peers() {
		known[p.Name] = true
	}
	for _, n := range o.Peers {
		if !known[n] {
			errs = append(errs, fmt.Errorf("unknown peer %q", n))
		}
	}
	return errors.Join(errs...)
}

// suite is one run's state.
type suite struct {
	o       Options
	res     *Results
	wrk     *Wrk
	taskset string
	peers   []*peerRow
	proc    string // the /proc mount
	ports   *ports
}

// RunSuite runs the selected scenarios against every available peer, in
// each mode, and returns what it measured. Every process it starts is
// stopped before it returns, also when ctx ends early (then the error
// wraps ctx's). A run that fails does not stop the suite: it is recorded
// with its Problem.
func RunSuite(ctx context.Context, o Options) (*Results, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &suite{o: o, proc: "/proc", res: &Results{
		Started: time.Now().UTC(), Rounds: o.Rounds, Modes: o.Modes, Short: o.Short,
		Duration: o.Duration.Seconds(), Warmup: o.Warmup.Seconds(),
	}}
	var err error
	if s.ports, err = newPorts(s.proc); err != nil {
		return nil, err
	}
	if err := s.findTools(ctx); err != nil {
		return nil, err
	}
	s.res.Machine = readMachine(s.proc)
	scenarios := s.scenarios()
	for _, m := range o.Modes {
		if err := s.runMode(ctx, m, scenarios); err != nil {
			return s.res, err
		}
	}
	s.res.Machine.LoadAfter = loadAverage(s.proc)
	s.res.Finished = time.Now().UTC()
	return s.res, nil
}

// scenarios are the selected scenarios, in table order.
func (s *suite) scenarios() []*Scenario {
	var out []*Scenario
	for _, sc := range Scenarios() {
		if s.o.Short && !sc.Short || len(s.o.Scenarios) > 0 && !slices.Contains(s.o.Scenarios, sc.Name) {
			continue
		}
		out = append(out, sc)
	}
	return out
}

// findTools locates wrk, taskset and every selected peer's program,
// installing missing ones when allowed, and records the peers' versions.
func (s *suite) findTools(ctx context.Context) error {
	type need struct{ program, pkg string }
	var needs []need
	needs = append(needs, need{"wrk", "wrk"})
	if slices.Contains(s.o.Modes, Pinned) {
		needs = append(needs, need{"taskset", "util-linux"})
	}
	var selected []*Peer
	for _, p := range Peers() {
		if len(s.o.Peers) == 0 || slices.Contains(s.o.Peers, p.Name) {
			selected = append(selected, p)
			if p.Package != "" {
				needs = append(needs, need{p.Program, p.Package})
			}
		}
	}
	var missing []string
	for _, n := range needs {
		if _, ok := child.LookTool(n.program); !ok && !slices.Contains(missing, n.pkg) {
			missing = append(missing, n.pkg)
		}
	}
	if len(missing) > 0 && s.o.Install && os.Geteuid() == 0 {
		s.progress("installing %s ...", strings.Join(missing, " "))
		if err := aptInstall(ctx, missing); err != nil {
			return err
		}
	}
	wrk, ok := child.LookTool("wrk")
	if !ok {
		return errors.New("wrk not found (Debian: apt-get install wrk)")
	}
	s.wrk = &Wrk{Bin: wrk, Dir: s.o.Dir}
	if slices.Contains(s.o.Modes, Pinned) {
		if s.taskset, ok = child.LookTool("taskset"); !ok {
			return errors.New("taskset not found, needed for pinned mode (Debian: apt-get install util-linux)")
		}
		s.wrk.Taskset = s.taskset
	}
	for _, p := range selected {
		bin := s.o.Weir
		if p.Program != "weir" {
			if bin, ok = child.LookTool(p.Program); !ok {
				msg := fmt.Sprintf("%s: %s not found (Debian: apt-get install %s)", p.Name, p.Program, p.Package)
				if s.o.Require {
					return errors.New(msg)
				}
				s.res.Skipped = append(s.res.Skipped, msg)
				continue
			}
		}
		s.peers = append(s.peers, &peerRow{Peer: p, bin: bin})
		s.res.Peers = append(s.res.Peers, PeerInfo{Name: p.Name, Program: p.Program, Version: version(ctx, p.Program, bin), Setup: p.Setup, Defaults: p.Defaults})
	}
	if len(s.peers) == 0 {
		return errors.New("no peer to run")
	}
	return nil
}

// aptInstall installs Debian packages, refreshing the package lists first
// when the install fails without them.
func aptInstall(ctx context.Context, pkgs []string) error {
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	install := append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, pkgs...)
	if _, err := child.Run(ctx, env, "", install...); err == nil {
		return nil
	}
	if _, err := child.Run(ctx, env, "", "apt-get", "update"); err != nil {
		return err
	}
	_, err := child.Run(ctx, env, "", install...)
	return err
}

// version is the first line a program prints about its version.
func version(ctx context.Context, program, bin string) string {
	args := map[string][]string{"weir": {"version"}, "nginx": {"-v"}, "haproxy": {"-v"}, "caddy": {"version"}}[program]
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := child.Command(ctx, nil, append([]string{bin}, args...)...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// progress writes one line to the progress writer.
func (s *suite) progress(format string, args ...any) {
	if s.o.Progress != nil {
		fmt.Fprintf(s.o.Progress, format+"\n", args...)
	}
}

// display is argv as the report shows it: programs by name, not by
// where this machine keeps them, and the scratch directory as $SCRATCH.
func (s *suite) display(argv []string) []string {
	bins := []string{s.o.Weir, s.wrk.Bin, s.taskset}
	bins = append(bins, s.o.Backend[0])
	for _, p := range s.peers {
		bins = append(bins, p.bin)
	}
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && slices.Contains(bins, a) {
			a = filepath.Base(a)
		}
		out[i] = strings.ReplaceAll(a, s.o.Dir, "$SCRATCH")
	}
	return out
}

// pin prefixes argv with taskset when the mode pins.
func (s *suite) pin(m Mode, cpus string, argv []string) []string {
	if m != Pinned {
		return argv
	}
	return append([]string{s.taskset, "-c", cpus}, argv...)
}

// runMode starts a backend and runs every scenario of mode m.
func (s *suite) runMode(ctx context.Context, m Mode, scenarios []*Scenario) error {
	dir := filepath.Join(s.o.Dir, string(m))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	info := filepath.Join(dir, "backend.json")
	argv := append(slices.Clone(s.o.Backend), "-ports", strconv.Itoa(len(s.peers)), "-info", info)
	argv = s.pin(m, loadCPU, argv)
	s.res.Backend = s.display(argv)
	backend, err := child.Start("backend", nil, argv...)
	if err != nil {
		return err
	}
	defer backend.Stop(stopGrace)
	addrs, err := waitBackend(ctx, backend, info)
	if err != nil {
		return err
	}
	for i, p := range s.peers {
		p.backend = addrs.Listen[i]
	}
	for _, sc := range scenarios {
		if m == Unpinned && !sc.Unpinned {
			continue
		}
		if err := s.runScenario(ctx, m, sc, dir, addrs.Control); err != nil {
			return err
		}
		if backend.Exited() {
			return fmt.Errorf("the backend stopped: %s", failure(backend))
		}
	}
	return nil
}

// BackendInfo is what the backend writes to its -info file once it
// listens.
type BackendInfo struct {
	Control string   `json:"control"`
	Listen  []string `json:"listen"`
}

// waitBackend waits for the backend's info file.
func waitBackend(ctx context.Context, p *child.Process, path string) (BackendInfo, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var info BackendInfo
		b, err := os.ReadFile(path)
		if err == nil {
			if err := json.Unmarshal(b, &info); err != nil {
				return info, fmt.Errorf("backend info %s: %w", path, err)
			}
			return info, nil
		}
		switch {
		case ctx.Err() != nil:
			return info, ctx.Err()
		case p.Exited():
			return info, fmt.Errorf("the backend did not start: %s", failure(p))
		case time.Now().After(deadline):
			return info, fmt.Errorf("the backend wrote no %s within 10s: %s", path, failure(p))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// started is a peer running for one scenario.
type started struct {
	row  *peerRow
	proc *child.Process
	addr string
	// conf and argv are the config and command for the report.
	conf string
	argv []string
}

// runScenario starts the scenario's peers, checks and warms each, runs
// the rounds (peers taking turns) and stops them.
func (s *suite) runScenario(ctx context.Context, m Mode, sc *Scenario, dir, control string) error {
	info := s.scenarioInfo(sc)
	var peers []*peerRow
	for _, p := range s.peers {
		if p.Defaults && !sc.Defaults || !p.Supports(sc.Policy) {
			continue
		}
		peers = append(peers, p)
		if !slices.Contains(info.Peers, p.Name) {
			info.Peers = append(info.Peers, p.Name)
		}
	}
	if !slices.Contains(info.Modes, m) {
		info.Modes = append(info.Modes, m)
	}
	// The peers start (and stop) side by side: each waits for its own
	// port.
	starts := make([]*started, len(peers))
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() { starts[i], errs[i] = s.startPeer(ctx, m, sc, p, dir) })
	}
	wg.Wait()
	var running []*started
	defer func() {
		var wg sync.WaitGroup
		for _, st := range running {
			wg.Go(func() { st.proc.Stop(stopGrace) })
		}
		wg.Wait()
	}()
	for i, st := range starts {
		if errs[i] != nil {
			continue
		}
		running = append(running, st)
		if _, ok := info.Configs[st.row.Name]; !ok {
			info.Configs[st.row.Name], info.Commands[st.row.Name] = st.conf, st.argv
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for i, err := range errs {
		if err != nil {
			s.fail(m, sc, peers[i].Name, err)
		}
	}
	// One request through each peer must come back whole; a peer that
	// fails it is left out of the rounds.
	var ready []*started
	for _, st := range running {
		if err := firstRequest(ctx, sc, st.addr); err != nil {
			s.fail(m, sc, st.row.Name, fmt.Errorf("first request: %w", err))
			continue
		}
		ready = append(ready, st)
	}
	info.Load[m] = s.display(s.wrk.Argv(s.target(m, sc, "$URL")))
	if s.o.Warmup > 0 {
		for _, st := range ready {
			t := s.target(m, sc, st.url(sc))
			t.Duration = s.o.Warmup
			if _, err := s.wrk.Run(ctx, t); err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	for round := 1; round <= s.o.Rounds; round++ {
		for _, st := range ready {
			r := s.measure(ctx, m, sc, st, control)
			r.Round = round
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.res.Runs = append(s.res.Runs, r)
			s.progress("%-8s %-14s round %d/%d %-15s %s", m, sc.Name, round, s.o.Rounds, st.row.Name, r.summary())
		}
	}
	return nil
}

// fail records a peer that could not run in a scenario as a failed run.
func (s *suite) fail(m Mode, sc *Scenario, peer string, err error) {
	r := &Run{Mode: m, Scenario: sc.Name, Peer: peer, Problem: err.Error()}
	s.res.Runs = append(s.res.Runs, r)
	s.progress("%-8s %-14s %-15s FAILED: %v", m, sc.Name, peer, err)
}

// scenarioInfo returns the results' record of sc, adding it on first use.
func (s *suite) scenarioInfo(sc *Scenario) *ScenarioInfo {
	for _, si := range s.res.Scenarios {
		if si.Name == sc.Name {
			return si
		}
	}
	si := &ScenarioInfo{
		Name: sc.Name, Title: sc.Title, Conns: sc.Conns, Method: sc.Method, BodySize: sc.BodySize,
		Query: sc.Query, Baseline: sc.Baseline,
		Load: map[Mode][]string{}, Commands: map[string][]string{}, Configs: map[string]string{},
	}
	if si.Method == "" {
		si.Method = http.MethodGet
	}
	if sc.Policy != nil {
		si.Policy = sc.Policy.Name
	}
	s.res.Scenarios = append(s.res.Scenarios, si)
	return si
}

// startAttempts bounds the starts of a peer whose port was taken
// between the pick and its bind (by a server the suite did not start).
const startAttempts = 3

// startPeer writes p's config for sc and starts it, on another port when
// it exits before it listens.
func (s *suite) startPeer(ctx context.Context, m Mode, sc *Scenario, p *peerRow, dir string) (*started, error) {
	var err error
	for range startAttempts {
		var st *started
		if st, err = s.startPeerOnce(ctx, m, sc, p, dir); err == nil || ctx.Err() != nil {
			return st, err
		}
	}
	return nil, err
}

// startPeerOnce writes p's config for sc and starts it once.
func (s *suite) startPeerOnce(ctx context.Context, m Mode, sc *Scenario, p *peerRow, dir string) (*started, error) {
	pdir := filepath.Join(dir, sc.Name, p.Name)
	if err := os.RemoveAll(pdir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, err
	}
	port, err := s.ports.pick()
	if err != nil {
		return nil, err
	}
	st := Start{Dir: pdir, Port: port, Backend: p.backend, Policy: sc.Policy}
	conf, err := p.config(st)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(pdir, p.configName())
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	argv := s.pin(m, proxyCPU, p.argv(p.bin, path, st))
	// Caddy looks for its data and config directories under these.
	env := append([]string{"HOME=" + pdir, "XDG_DATA_HOME=" + pdir, "XDG_CONFIG_HOME=" + pdir}, p.env...)
	proc, err := child.Start(p.Name, env, argv...)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	err = waitListening(ctx, proc, addr, 10*time.Second)
	if err == nil {
		// What answered may be another server on the port while the
		// peer fails to bind it: give a failing bind time to show.
		time.Sleep(100 * time.Millisecond)
		if proc.Exited() {
			err = fmt.Errorf("%s exited after its port answered: %s", p.Name, failure(proc))
		}
	}
	if err != nil {
		proc.Stop(stopGrace)
		return nil, err
	}
	// The config and command as the report shows them.
	_, bport, _ := strings.Cut(p.backend, ":")
	generic := strings.NewReplacer(pdir, "$DIR", ":"+strconv.Itoa(port), ":$PORT", ":"+bport, ":$BACKEND")
	cmd := s.display(argv)
	for i, a := range cmd {
		cmd[i] = generic.Replace(a)
	}
	return &started{row: p, proc: proc, addr: addr, conf: generic.Replace(conf), argv: cmd}, nil
}

// url is the URL the load generator asks for through st.
func (st *started) url(sc *Scenario) string {
	return "http://" + st.addr + "/bench?" + sc.Query
}

// target is the load of sc against url in mode m.
func (s *suite) target(m Mode, sc *Scenario, url string) Target {
	t := Target{URL: url, Method: sc.Method, BodySize: sc.BodySize, Conns: sc.Conns, Threads: 2, Duration: s.o.Duration}
	if m == Pinned {
		t.Threads, t.CPUs = 1, loadCPU
	}
	return t
}

// firstRequest sends one request of sc through addr (two for a cache, so
// the second is a hit) and checks the answer: 200 with the whole body.
func firstRequest(ctx context.Context, sc *Scenario, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	method := sc.Method
	if method == "" {
		method = http.MethodGet
	}
	client := loopbackClient()
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+"/bench?"+sc.Query, bytes.NewReader(make([]byte, sc.BodySize)))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the body: %w", err)
		}
		if resp.StatusCode != http.StatusOK || n != int64(sc.Size) {
			return fmt.Errorf("got status %d with %d bytes, want 200 with %d", resp.StatusCode, n, sc.Size)
		}
		if sc.Policy == nil {
			break
		}
	}
	return nil
}

// measure runs one measured load through st and reads the proxy's and the
// backend's figures around it.
func (s *suite) measure(ctx context.Context, m Mode, sc *Scenario, st *started, control string) *Run {
	r := &Run{Mode: m, Scenario: sc.Name, Peer: st.row.Name}
	fail := func(err error) *Run {
		r.Problem = err.Error()
		return r
	}
	if st.proc.Exited() {
		return fail(errors.New(failure(st.proc)))
	}
	_, bport, _ := strings.Cut(st.row.backend, ":")
	port, _ := strconv.Atoi(bport)
	counts0, err := FetchCounts(ctx, control)
	if err != nil {
		return fail(err)
	}
	pid := st.proc.Pid()
	if err := ResetPeakRSS(s.proc, pid); err != nil {
		return fail(err)
	}
	cpu0, err := TreeCPU(s.proc, pid)
	if err != nil {
		return fail(err)
	}
	began := time.Now()
	load, err := s.wrk.Run(ctx, s.target(m, sc, st.url(sc)))
	if err != nil {
		return fail(err)
	}
	cpu1, err := TreeCPU(s.proc, pid)
	if err != nil {
		return fail(err)
	}
	rss, err := TreePeakRSS(s.proc, pid)
	if err != nil {
		return fail(err)
	}
	counts1, err := FetchCounts(ctx, control)
	if err != nil {
		return fail(err)
	}
	tw, err := timeWaitSince(s.proc, port, time.Since(began))
	if err != nil {
		return fail(err)
	}
	r.Load = load
	r.RPS = float64(load.Requests) / load.Seconds
	r.CPUSeconds = cpu1 - cpu0
	if r.CPUSeconds > 0 {
		r.PerCPUSecond = float64(load.Requests) / r.CPUSeconds
	}
	r.PeakRSS = rss
	b0, b1 := counts0[st.row.backend], counts1[st.row.backend]
	r.BackendAccepts, r.BackendRequests = b1.Accepts-b0.Accepts, b1.Requests-b0.Requests
	r.TimeWait = tw
	switch {
	case load.Requests == 0:
		r.Problem = "no request completed"
	case st.proc.Exited():
		r.Problem = failure(st.proc)
	case sc.Check != nil:
		r.Problem = sc.Check(r)
	}
	return r
}

// summary is a run's progress line.
func (r *Run) summary() string {
	if r.Problem != "" && r.Requests == 0 {
		return "FAILED: " + r.Problem
	}
	line := fmt.Sprintf("%8.0f req/s %8.0f req/CPU-s  p50 %6.2f ms  p99 %7.2f ms  rss %5.1f MiB  backend conns %d  TIME_WAIT %d  errors: %s",
		r.RPS, r.PerCPUSecond, r.P50, r.P99, float64(r.PeakRSS)/(1<<20), r.BackendAccepts, r.TimeWait, r.Errors)
	if r.Problem != "" {
		line += "  PROBLEM: " + r.Problem
	}
	return line
}
