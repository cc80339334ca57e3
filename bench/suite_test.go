package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/child"
	"github.com/weirgw/weir/internal/config"
)

// unavailable skips the test with the reason, except under CI=true, where
// CI installs what the suite needs (.ci/run) and a skip would hide a
// broken setup.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and the benchmark suite cannot run: "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}

// TestPeerConfigs renders every peer's config for every scenario it runs
// and has the program itself check it (weir's config loader, nginx -t,
// haproxy -c, caddy validate).
func TestPeerConfigs(t *testing.T) {
	for _, p := range Peers() {
		for _, sc := range Scenarios() {
			if !p.Supports(sc.Policy) || p.Defaults && !sc.Defaults {
				continue
			}
			t.Run(p.Name+"/"+sc.Name, func(t *testing.T) {
				dir := t.TempDir()
				s := Start{Dir: dir, Port: 18080, Backend: "127.0.0.1:18081", Policy: sc.Policy}
				conf, err := p.config(s)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, p.configName())
				if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
					t.Fatal(err)
				}
				if sc.Policy != nil && !strings.Contains(conf, strings.SplitN(policyText(p, sc.Policy), "\n", 2)[0]) {
					t.Errorf("the config lacks the %s policy:\n%s", sc.Policy.Name, conf)
				}
				if p.Program == "weir" {
					if _, err := config.Parse(path, []byte(conf)); err != nil {
						t.Errorf("weir's config does not load: %v\n%s", err, conf)
					}
					return
				}
				bin, ok := child.LookTool(p.Program)
				if !ok {
					unavailable(t, "%s not found", p.Program)
				}
				check := map[string][]string{
					"nginx":   {bin, "-t", "-q", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path},
					"haproxy": {bin, "-c", "-q", "-f", path},
					"caddy":   {bin, "validate", "--config", path},
				}[p.Program]
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
				if _, err := child.Run(ctx, env, "", check...); err != nil {
					t.Errorf("%v\n%s", err, conf)
				}
			})
		}
	}
}

// policyText is the part of pol a peer's config must carry.
func policyText(p *Peer, pol *Policy) string {
	switch p.Program {
	case "weir":
		return strings.TrimPrefix(pol.Weir, "- ")
	case "nginx":
		return pol.NginxLocation
	case "haproxy":
		return pol.HAProxyFrontend + pol.HAProxyBackend
	default:
		return pol.Caddy
	}
}

// TestSuiteShort is the smoke test of `make bench`: the short mode (one
// round of 2 s per peer, the scenarios marked Short) against every peer,
// asserting nothing about speed, only that every scenario ran for every
// peer that supports it, without socket errors or error statuses, and
// that the report and plots are written. About a minute.
func TestSuiteShort(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("benchmark smoke test skipped in -short mode")
	}
	// Ctrl-C during go test still stops every process the suite started.
	ctx, stop := signal.NotifyContext(t.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if _, ok := child.LookTool("wrk"); !ok {
		unavailable(t, "wrk not found (Debian: apt-get install wrk)")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		unavailable(t, "the go command is not on PATH, needed to build weir: %v", err)
	}
	dir := t.TempDir()
	weir, self := filepath.Join(dir, "weir"), filepath.Join(dir, "weirbench")
	for bin, pkg := range map[string]string{weir: "github.com/weirgw/weir/cmd/weir", self: "github.com/weirgw/weir/bench/cmd/weirbench"} {
		out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	mode := Pinned
	if runtime.NumCPU() < 2 {
		mode = Unpinned
	}
	var progress strings.Builder
	res, err := RunSuite(ctx, Options{
		Weir: weir, Backend: []string{self, "backend"}, Dir: filepath.Join(dir, "scratch"),
		Rounds: 1, Duration: 2 * time.Second, Modes: []Mode{mode}, Short: true,
		Require: ci, Progress: &progress,
	})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatalf("the suite did not complete: %v", err)
	}
	for _, s := range res.Skipped {
		t.Logf("left out (not under CI=true): %s", s)
	}
	ran := map[string]*Run{}
	for _, r := range res.Runs {
		ran[r.Scenario+"/"+r.Peer] = r
		if r.Failed() {
			t.Errorf("%s, %s: problem %q, errors: %s", r.Scenario, r.Peer, r.Problem, r.Errors)
		}
		if r.Problem == "" && (r.Requests == 0 || r.CPUSeconds <= 0 || r.PeakRSS <= 0) {
			t.Errorf("%s, %s: got %d requests, %v CPU seconds, %d bytes peak RSS; want all > 0", r.Scenario, r.Peer, r.Requests, r.CPUSeconds, r.PeakRSS)
		}
	}
	for _, sc := range Scenarios() {
		if !sc.Short {
			continue
		}
		for _, p := range res.Peers {
			peer := findPeer(p.Name)
			if !peer.Supports(sc.Policy) || peer.Defaults && !sc.Defaults {
				continue
			}
			if ran[sc.Name+"/"+p.Name] == nil {
				t.Errorf("%s, %s: no run, want one", sc.Name, p.Name)
			}
		}
	}
	paths, err := WritePlots(res, filepath.Join(dir, "plots"))
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	if err := WriteReport(&report, res, paths); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), fmt.Sprintf("### get-c64 (%s)", mode)) {
		t.Errorf("the report has no get-c64 table:\n%s", report.String())
	}
}

// findPeer is the peer named name.
func findPeer(name string) *Peer {
	for _, p := range Peers() {
		if p.Name == name {
			return p
		}
	}
	return nil
}
