package bench

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleResults is two scenarios, three peers, two rounds, with figures
// chosen so that the ratios are round numbers.
func sampleResults() *Results {
	res := &Results{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Finished: time.Date(2026, 1, 2, 3, 9, 5, 0, time.UTC),
		Machine: Machine{CPU: "Test CPU", Cores: 2, Kernel: "Linux 6", Go: "go1", LoadBefore: "0 0 0", LoadAfter: "1 1 1"},
		Rounds:  2, Duration: 5, Warmup: 1, Modes: []Mode{Pinned},
		Peers:   []PeerInfo{{Name: "weir", Version: "weir dev"}, {Name: "nginx", Version: "nginx/1"}, {Name: "haproxy", Version: "HAProxy 2"}},
		Skipped: []string{"caddy: caddy not found"},
		Backend: []string{"weirbench", "backend"},
		Command: "weirbench run",
		Note:    "A shared machine.",
	}
	for _, sc := range []struct{ name, policy, baseline string }{{"get-c64", "", ""}, {"cache-c64", "cache", "get-c64"}} {
		res.Scenarios = append(res.Scenarios, &ScenarioInfo{
			Name: sc.name, Title: sc.name + " title", Method: "GET", Query: "size=1024", Conns: 64, Policy: sc.policy, Baseline: sc.baseline,
			Modes: []Mode{Pinned}, Peers: []string{"weir", "nginx", "haproxy"},
			Load:     map[Mode][]string{Pinned: {"wrk", "$URL"}},
			Commands: map[string][]string{"weir": {"weir", "run"}, "nginx": {"nginx"}, "haproxy": {"haproxy"}},
			Configs:  map[string]string{"weir": "listen: x\n", "nginx": "daemon off;\n", "haproxy": "global\n"},
		})
	}
	// per CPU-second: weir 20k (get) and 30k (cache), nginx 40k, haproxy 50k.
	per := map[string]float64{"weir": 20000, "nginx": 40000, "haproxy": 50000}
	for round := 1; round <= 2; round++ {
		for _, sc := range []string{"get-c64", "cache-c64"} {
			for _, peer := range []string{"weir", "nginx", "haproxy"} {
				p := per[peer]
				if sc == "cache-c64" && peer == "weir" {
					p = 30000
				}
				spread := float64(round) * 1000 // rounds differ, the median is in between
				res.Runs = append(res.Runs, &Run{
					Mode: Pinned, Scenario: sc, Peer: peer, Round: round,
					Load:         Load{Requests: 100000, Seconds: 5, P50: 1, P99: 4},
					RPS:          20000,
					PerCPUSecond: p - 1500 + spread, CPUSeconds: 5, PeakRSS: 32 << 20, BackendAccepts: 64,
				})
			}
		}
	}
	res.Runs[0].Errors.Status = 7
	return res
}

func TestWriteReport(t *testing.T) {
	var b strings.Builder
	if err := WriteReport(&b, sampleResults(), []string{"bench/plots/per-cpu-pinned.png"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"> **Note.** A shared machine.",
		// get-c64: weir 20k against haproxy 50k and nginx 40k.
		"| get-c64 | pinned | 0.40x | 0.50x | 1.00x | 1.00x | 1.00x |  |",
		// cache-c64: 30k against 50k and 40k; 1.5x weir without the cache.
		"| cache-c64 | pinned | 0.60x | 0.75x | 1.00x | 1.00x | 1.00x | 1.50x |",
		"| weir | 20,000 (20,000-20,000) | 20,000 (19,500-20,500) | 1.00 | 4.00 (4.00-4.00) | 32.0 | 64 | 0 | status>=400 7 |",
		"| nginx | 20,000 (20,000-20,000) | 40,000 (39,500-40,500) |",
		"weir: 0.40x haproxy's requests per CPU-second",
		"1.50x its own requests per CPU-second without the policy (get-c64",
		"| CPU | Test CPU, 2 cores |",
		"left out: caddy: caddy not found",
		"![per-cpu-pinned](bench/plots/per-cpu-pinned.png)",
		"<details><summary>weir, get-c64</summary>",
		"<details><summary>haproxy, cache-c64</summary>",
		"- pinned, get-c64, weir, round 1: errors: status>=400 7",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	paths, err := WritePlots(sampleResults(), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"per-cpu-pinned.png", "latency-pinned.png", "memory-pinned.png"}
	if len(paths) != len(want) {
		t.Fatalf("got plots %v, want %v", paths, want)
	}
	for i, p := range paths {
		if filepath.Base(p) != want[i] {
			t.Errorf("plot %d: got %s, want %s", i, filepath.Base(p), want[i])
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// Two panels side by side; weir's colour is on it.
		if w := img.Bounds().Dx(); w != 2*margin+2*panelW+margin {
			t.Errorf("%s: got width %d, want %d", p, w, 2*margin+2*panelW+margin)
		}
		weirSeen := false
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y && !weirSeen; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if c := peerColor("weir"); uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
					weirSeen = true
					break
				}
			}
		}
		if !weirSeen {
			t.Errorf("%s: no pixel in weir's colour", p)
		}
	}
}

func TestNiceAxis(t *testing.T) {
	tests := []struct {
		v, step, top float64
	}{
		{v: 46300, step: 20000, top: 60000},
		{v: 1000, step: 500, top: 1500},
		{v: 3.5, step: 1, top: 4},
		{v: 0, step: 1, top: 4},
	}
	for _, tt := range tests {
		step, top := niceAxis(tt.v)
		if step != tt.step || top != tt.top {
			t.Errorf("niceAxis(%v): got step %v, top %v; want %v, %v", tt.v, step, top, tt.step, tt.top)
		}
		if top < tt.v {
			t.Errorf("niceAxis(%v): top %v below the value", tt.v, top)
		}
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"short thousands", fmtShort(46286), "46.3k"},
		{"short round", fmtShort(5000), "5k"},
		{"short millions", fmtShort(1.25e6), "1.25M"},
		{"short small", fmtShort(0.85), "0.85"},
		{"short zero", fmtShort(0), "0"},
		{"int", fmtInt(1234567.4), "1,234,567"},
		{"int small", fmtInt(12), "12"},
		{"float", fmtFloat(3.14159), "3.14"},
		{"float big", fmtFloat(391.2), "391"},
		{"ratio", fmtRatio(0.625), "0.62x"},
		{"no ratio", fmtRatio(0), "n/a"},
		{"range", fmtRange(Stat{Median: 2, Min: 1, Max: 3, N: 3}, fmtInt), "2 (1-3)"},
		{"bytes", fmtBytes(64 << 10), "64.0 KiB"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestNewStat(t *testing.T) {
	tests := []struct {
		name string
		vs   []float64
		want Stat
	}{
		{name: "odd", vs: []float64{3, 1, 2}, want: Stat{Median: 2, Min: 1, Max: 3, N: 3}},
		{name: "even", vs: []float64{4, 1, 2, 3}, want: Stat{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{name: "empty", want: Stat{}},
	}
	for _, tt := range tests {
		if got := newStat(tt.vs); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
