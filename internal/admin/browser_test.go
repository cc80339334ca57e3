package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// pageState is what the status page shows, read from its DOM.
type pageState struct {
	Polls  int `json:"polls"`
	Errors int `json:"errors"`
	Charts []struct {
		Chart  string             `json:"chart"`
		Dest   string             `json:"dest"`
		Points int                `json:"points"`
		Lines  int                `json:"lines"`
		Last   map[string]float64 `json:"last"`
	} `json:"charts"`
	Bars  []int    `json:"bars"`
	Rules []string `json:"rules"`
	APIs  []string `json:"apis"`
	Dests []string `json:"dests"`
	// Instances is what the header says of the instances sharing the
	// backends (a memory store: 1).
	Instances int `json:"instances"`
}

const readPage = `!document.body || !document.getElementById("findings") ? "{}" : JSON.stringify({
  polls: +(document.body.dataset.polls || 0),
  errors: +(document.body.dataset.pollErrors || 0),
  charts: [...document.querySelectorAll("svg.chart")].map((c) => ({
    chart: c.dataset.chart, dest: c.closest(".pool").dataset.dest,
    points: +(c.dataset.points || 0), lines: c.querySelectorAll("polyline").length,
    last: c.dataset.last ? JSON.parse(c.dataset.last) : {},
  })),
  bars: [...document.querySelectorAll("svg.bars")].map((b) => +(b.dataset.total || 0)),
  rules: [...document.querySelectorAll("#findings li.finding")].map((li) => li.dataset.rule),
  apis: [...document.querySelectorAll("#apis tr[data-api]")].map((r) => r.dataset.api),
  dests: [...document.querySelectorAll(".pool")].map((p) => p.dataset.dest),
  instances: +(document.getElementById("instances")?.dataset.count || 0),
})`

// TestStatusPageInBrowser loads the status page of a real gateway (whose
// target has keep-alive off, under live traffic) in headless chromium,
// waits until the charts have drawn several polls of data and the doctor's
// finding is listed, and saves a screenshot as a test artifact
// ($WEIR_ARTIFACTS, else the test's artifact directory: go test -artifacts).
func TestStatusPageInBrowser(t *testing.T) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is needed for the status page test: %v (.ci/run installs it)", err)
		}
		t.Skipf("chromium not installed (apt-get install chromium): %v", err)
	}
	for _, tc := range []struct{ name, token, shot string }{
		{"open", "", ""},
		{"with admin token", "s3cret-page-token-0123456789", "-token"},
	} {
		t.Run(tc.name, func(t *testing.T) { statusPageInBrowser(t, path, tc.token, tc.shot) })
	}
}

// statusPageInBrowser is one run of TestStatusPageInBrowser; token is the
// instance's admin.token ("" for none), shot suffixes the screenshot name.
func statusPageInBrowser(t *testing.T, path, token, shot string) {
	backend := peer.HTTP(t, peer.OK, nil)
	yaml := weirtest.API("keepalive_timeout: 0s", backend.URL)
	if token != "" {
		yaml = "admin: {token: " + token + "}\n" + yaml
	}
	inst := weirtest.Start(t, yaml)
	inst.Get(t, "/api/x", 25)

	// Traffic while the page polls, so the charts move: bounded in count
	// and time.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		c := &http.Client{Timeout: 2 * time.Second}
		for i := 0; i < 400 && ctx.Err() == nil; i++ {
			if resp, err := c.Get(inst.URL + "/api/x"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	defer wg.Wait()
	defer cancel()

	b := startBrowser(t, path)
	p, err := b.newPage(ctx, 1280, 1600)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.navigate(ctx, inst.AdminURL+"/"); err != nil {
		t.Fatal(err)
	}
	errorsBefore := 0
	if token != "" {
		// The data feeds answer 401 until the page has the token: it asks
		// for it, and sends it with every request from then on.
		errorsBefore = enterToken(ctx, t, p, token)
	}

	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	dest := "127.0.0.1:" + port
	var st pageState
	ready := func() bool {
		// With a token, one poll may have been in flight (and failed) as
		// the token was entered.
		if st.Polls < 3 || st.Errors < errorsBefore || st.Errors > errorsBefore+min(len(token), 1) || !slices.Contains(st.Dests, dest) || !slices.Contains(st.APIs, "t") ||
			!slices.Contains(st.Rules, "keepalive_disabled") || len(st.Charts) != 4 || len(st.Bars) != 1 || st.Bars[0] < 25 || st.Instances != 1 {
			return false
		}
		for _, c := range st.Charts {
			if c.Dest != dest || c.Points < 3 || c.Lines == 0 {
				return false
			}
		}
		return true
	}
	for {
		out, err := p.eval(ctx, readPage)
		if err != nil {
			t.Fatalf("reading the page: %v (last state %+v)", err, st)
		}
		st = pageState{}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("page state %q: %v", out, err)
		}
		if ready() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the page did not render charts with data: got %+v", st)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The charts show the data the ledger has: ports held by a connection
	// per request, new connections, no reuse.
	for _, c := range st.Charts {
		switch c.Chart {
		case "ports":
			if c.Last["ports"] < 25 {
				t.Errorf("ports chart: got last %v, want >= 25 ports held", c.Last)
			}
		case "new":
			if c.Last["new_per_second"] <= 0 {
				t.Errorf("new connections chart: got last %v, want > 0", c.Last)
			}
		case "reuse":
			if v, ok := c.Last["reuse_ratio"]; !ok || v != 0 {
				t.Errorf("reuse chart: got last %v, want reuse_ratio 0", c.Last)
			}
		}
	}
	drainEvents(t, b)

	png, err := p.screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot: got %d bytes, want a PNG", len(png))
	}
	dir := os.Getenv("WEIR_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "status-page"+shot+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes); page state: %d polls, %d charts, findings %v", file, len(png), st.Polls, len(st.Charts), st.Rules)
}

// enterToken waits for the page's token form, submits token through it,
// and returns the poll errors counted until then.
func enterToken(ctx context.Context, t *testing.T, p *page, token string) int {
	t.Helper()
	for {
		out, err := p.eval(ctx, `(() => { const f = document.getElementById("token-form"); if (!f) return "";
  document.getElementById("token").value = `+strconv.Quote(token)+`; f.requestSubmit();
  return document.body.dataset.pollErrors || "0"; })()`)
		if err != nil {
			t.Fatalf("entering the token: %v", err)
		}
		if out != "" {
			n, _ := strconv.Atoi(out)
			return n
		}
		select {
		case <-ctx.Done():
			t.Fatal("the page never asked for the admin token")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// drainEvents fails the test on any uncaught JavaScript exception the page
// threw.
func drainEvents(t *testing.T, b *browser) {
	t.Helper()
	for {
		select {
		case ev := <-b.events:
			if ev.Method == "Runtime.exceptionThrown" {
				t.Errorf("the page threw: %s", ev.Params)
			}
		default:
			return
		}
	}
}
