package lab

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLab runs the whole lab (about 90 s) when this machine can: root,
// iproute2, iptables, nginx and haproxy. Elsewhere it skips with the
// reason, except under CI=true, where a lab that cannot run is a failure:
// CI installs what it needs (.ci/run), so a skip there would hide a broken
// setup.
func TestLab(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	unavailable := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf("CI=true and the lab cannot run: "+format, args...)
		}
		t.Skipf("lab skipped: "+format, args...)
	}
	if testing.Short() && !ci {
		t.Skip("lab skipped in -short mode")
	}
	// Ctrl-C during `go test` still tears the namespaces down.
	ctx, stop := signal.NotifyContext(t.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := Available(ctx); err != nil {
		unavailable("%v", err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		unavailable("the go command is not on PATH, needed to build weir: %v", err)
	}
	dir := t.TempDir()
	weir, helper := filepath.Join(dir, "weir"), filepath.Join(dir, "weirlab")
	for bin, pkg := range map[string]string{weir: "github.com/weirgw/weir/cmd/weir", helper: "github.com/weirgw/weir/lab/cmd/weirlab"} {
		out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}

	t.Run("interrupted", func(t *testing.T) {
		// Scenario 2's burst lasts 10 s; the limit ends it midway, as
		// Ctrl-C would.
		start := time.Now()
		_, err := Run(ctx, Options{Weir: weir, Helper: helper, Dir: t.TempDir(), Scenarios: []int{2}, Limit: 3 * time.Second})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got error %v, want one wrapping context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("an interrupted lab took %v to return, want it prompt", took)
		}
		assertNothingLeft(t, weir, helper)
	})

	t.Run("full", func(t *testing.T) {
		var progress strings.Builder
		rep, err := Run(ctx, Options{Weir: weir, Helper: helper, Dir: t.TempDir(), Progress: &progress})
		t.Log("\n" + progress.String())
		if err != nil {
			t.Fatalf("the lab did not complete: %v", err)
		}
		var out strings.Builder
		rep.WriteReport(&out)
		t.Log("\n" + out.String())
		for _, c := range rep.Checks {
			if !c.OK {
				t.Errorf("run %s: %s: got %s", c.ID, c.What, c.Got)
			}
		}
		if !rep.OK() {
			t.Errorf("got %d checks, not all holding; want every expectation to hold", len(rep.Checks))
		}
		assertNothingLeft(t, weir, helper)
	})
}

// assertNothingLeft fails if this process left a namespace behind, or a
// process of the lab's binaries still runs.
func assertNothingLeft(t *testing.T, bins ...string) {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	mine := nsPrefix + strconv.Itoa(os.Getpid()) + "-"
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), mine) {
			t.Errorf("namespace %s left behind after the lab; want none", e.Name())
		}
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe"))
		if err != nil {
			continue
		}
		for _, b := range bins {
			if exe == b {
				t.Errorf("process %s (%s) still runs after the lab; want none", p.Name(), exe)
			}
		}
	}
}

// TestRunCancelled checks that a lab whose context is already done
// returns an error and leaves no namespace behind, wherever the
// cancellation catches it.
func TestRunCancelled(t *testing.T) {
	if err := Available(t.Context()); err != nil {
		t.Skipf("needs what the lab needs: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Run(ctx, Options{Weir: "/nonexistent/weir", Helper: "/nonexistent/weirlab", Dir: t.TempDir()})
	if err == nil {
		t.Fatal("got nil error from a cancelled lab, want one")
	}
	assertNothingLeft(t)
}

func TestOptionsRequired(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
	}{
		{"no weir", Options{Helper: "h", Dir: "d"}},
		{"no helper", Options{Weir: "w", Dir: "d"}},
		{"no dir", Options{Weir: "w", Helper: "h"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tt.o); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
}

func TestSpecsSelection(t *testing.T) {
	for _, tt := range []struct {
		name  string
		scen  []int
		wants []string
	}{
		{"all", nil, []string{"1", "2", "3", "4", "5", "6a", "6b", "6c", "7a", "7b", "7c"}},
		{"one", []int{1}, []string{"1"}},
		{"four brings two", []int{4}, []string{"2", "4"}},
		{"six", []int{6}, []string{"6a", "6b", "6c"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Scenarios: tt.scen}
			_ = o.defaults()
			var got []string
			for _, s := range specs(o) {
				got = append(got, s.id)
			}
			if strings.Join(got, ",") != strings.Join(tt.wants, ",") {
				t.Errorf("got runs %v, want %v", got, tt.wants)
			}
		})
	}
}
