package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/bench"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{name: "no command", args: nil, code: 2, stderrPart: "Usage:"},
		{name: "help", args: []string{"-help"}, code: 0, stdout: "Usage:"},
		{name: "unknown", args: []string{"bogus"}, code: 2, stderrPart: `unknown command "bogus"`},
		{name: "run help", args: []string{"run", "-help"}, code: 0, stdout: "-rounds"},
		{name: "run bad flag", args: []string{"run", "-rounds", "x"}, code: 2, stderrPart: "invalid value"},
		{name: "run stray argument", args: []string{"run", "extra"}, code: 2, stderrPart: "unexpected arguments"},
		{name: "run without weir", args: []string{"run", "-weir", "/nonexistent/weir"}, code: 1, stderrPart: "weir binary"},
		{name: "backend without info", args: []string{"backend"}, code: 2, stderrPart: "-info is required"},
		{name: "report without results", args: []string{"report", "-json", "/nonexistent.json"}, code: 1, stderrPart: "nonexistent.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if got := run(tt.args, &stdout, &stderr); got != tt.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", got, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout: got %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderrPart) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tt.stderrPart)
			}
		})
	}
}

// TestReport writes the report and plots from saved results, with a note.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	res := bench.Results{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Rounds: 1, Modes: []bench.Mode{bench.Pinned},
		Scenarios: []*bench.ScenarioInfo{{Name: "get-c64", Method: "GET", Modes: []bench.Mode{bench.Pinned}, Peers: []string{"weir"}}},
		Runs: []*bench.Run{{Mode: bench.Pinned, Scenario: "get-c64", Peer: "weir", Round: 1,
			Load: bench.Load{Requests: 10, Seconds: 1}, RPS: 10, PerCPUSecond: 100, CPUSeconds: 0.1, PeakRSS: 1 << 20}},
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "results.json")
	if err := os.WriteFile(js, b, 0o644); err != nil {
		t.Fatal(err)
	}
	report, plots := filepath.Join(dir, "B.md"), filepath.Join(dir, "plots")
	var stdout, stderr strings.Builder
	if code := run([]string{"report", "-json", js, "-report", report, "-plots", plots, "-note", "quiet machine"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, stderr.String())
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"> **Note.** quiet machine", "### get-c64 (pinned)", "](plots/per-cpu-pinned.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if _, err := os.Stat(filepath.Join(plots, "per-cpu-pinned.png")); err != nil {
		t.Errorf("no plot: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"weirbench", "run", "-note", "it's busy", "-rounds", "3", ""})
	want := `weirbench run -note 'it'\''s busy' -rounds 3 ''`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
