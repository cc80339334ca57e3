package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// reloadConfigs returns two valid configs that differ (A: "moving" goes to
// backend one and "only-a" exists; B: "moving" goes to backend two with
// other limits and "only-b" exists; "stable" is the same in both) and a
// bad one.
func reloadConfigs(one, two string) (a, b, bad string) {
	common := `drain_timeout: 10s
admin: {listen: "off"}
apis:
  - name: stable
    base_path: /stable
    target: {endpoints: ["%[1]s/v1"]}
`
	a = fmt.Sprintf(common+`  - name: moving
    base_path: /moving
    target: {endpoints: ["%[1]s/m"]}
  - name: only-a
    base_path: /a
    target: {endpoints: ["%[1]s/a"]}
`, one)
	b = fmt.Sprintf(common+`  - name: moving
    base_path: /moving
    target:
      endpoints: ["%[2]s/m"]
      transport: {max_connections: 64, queue_timeout: 10s}
  - name: only-b
    base_path: /b
    target: {endpoints: ["%[2]s/b"]}
`, one, two)
	bad = fmt.Sprintf(common+`  - name: broken
    base_path: /broken
    target: {endpoints: ["%[1]s/x"], transport: {keepalive_timeout: 30}}
  - nmae: typo
`, one)
	return a, b, bad
}

// The acceptance test of hot reload: a reload every 150 ms, alternating two
// configs that change an API's backend and add and remove APIs, during a
// sustained concurrent load, with a bad config thrown in; every request
// must succeed, the bad config must be rejected with its places, the
// unchanged destination's pool must survive (no reconnect storm), and the
// request counters must survive.
func TestReloadUnderLoadDropsNothing(t *testing.T) {
	be1 := peer.HTTP(t, peer.OK, nil)
	be2 := peer.HTTP(t, peer.OK, nil)
	cfgA, cfgB, cfgBad := reloadConfigs(be1.URL, be2.URL)
	g := weirtest.Start(t, cfgA, weirtest.WithRequestLog(nil)) // thousands of requests

	const (
		workers     = 8
		slowWorkers = 4
		duration    = 3 * time.Second
		maxReqs     = 20000 // per worker: bounds the loop on a fast machine
	)
	var (
		sent, failed atomic.Int64
		stableSent   atomic.Int64
		firstErr     atomic.Value
		stop         = make(chan struct{})
		wg           sync.WaitGroup
	)
	c := client(workers + slowWorkers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := []string{"/stable/x", "/moving/y"}
			for i := 0; i < maxReqs; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := paths[(i+w)%2]
				code, err := do(c, "GET", g.URL+p, "")
				sent.Add(1)
				if p == "/stable/x" {
					stableSent.Add(1)
				}
				if err != nil || code != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("GET %s: %d %v", p, code, err))
				}
			}
		}()
	}

	// Slow uploaders: weir reads a small body before it takes a
	// connection, so these requests sit routed on a snapshot, without a
	// connection, across swaps: the window a reload must not break.
	for range slowWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxReqs; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, err := slowPost(c, g.URL+"/moving/up", 30*time.Millisecond)
				sent.Add(1)
				if err != nil || code != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("slow POST: %d %v", code, err))
				}
			}
		}()
	}

	problemPlace := regexp.MustCompile(`^.+weir\.yaml:\d+:\d+: `) // FILE:LINE:COL first
	var okReloads, rejected int
	deadline := time.Now().Add(duration)
	for i := 0; time.Now().Before(deadline); i++ {
		time.Sleep(150 * time.Millisecond)
		yaml := cfgA
		if i%2 == 0 {
			yaml = cfgB
		}
		if i == 8 {
			g.Rewrite(t, cfgBad)
			res := g.Control.Reload(context.Background(), admin.TriggerAdmin)
			rejected++
			if res.OK {
				t.Fatalf("bad config: got accepted, want rejected")
			}
			if len(res.Problems) < 2 {
				t.Errorf("bad config problems: got %q, want the bad duration and the bad API", res.Problems)
			}
			for _, p := range res.Problems {
				if !problemPlace.MatchString(p) {
					t.Errorf("problem %q: want FILE:LINE:COL: first", p)
				}
			}
			continue
		}
		g.Rewrite(t, yaml)
		if res := g.Control.Reload(context.Background(), admin.TriggerSignal); !res.OK {
			t.Fatalf("reload %d: got rejected %q, want accepted", i, res.Problems)
		}
		okReloads++
	}
	close(stop)
	wg.Wait()
	// Connections the client dialed but never used look busy to the
	// server's Shutdown for 5 s.
	c.CloseIdleConnections()

	if n := failed.Load(); n != 0 {
		t.Errorf("failed requests: got %d of %d (first: %v), want 0", n, sent.Load(), firstErr.Load())
	}
	if okReloads < 10 || sent.Load() < 100 {
		t.Errorf("load: got %d reloads and %d requests, want at least 10 and 100", okReloads, sent.Load())
	}
	st := g.Control.Status()
	if st.ReloadsOK != uint64(okReloads) || st.ReloadsFailed != uint64(rejected) {
		t.Errorf("status counts: got %d ok %d failed, want %d and %d", st.ReloadsOK, st.ReloadsFailed, okReloads, rejected)
	}
	// The stable API's destination kept its pool: connections opened to
	// backend one stay within what the concurrency needs, not one set per
	// reload.
	if opened := be1.Conns.Opened.Load(); opened > 3*workers {
		t.Errorf("connections to the unchanged backend: got %d over %d reloads, want at most %d", opened, okReloads, 3*workers)
	}
	// Counters survived every swap: the stable API counted every request.
	if got := requestsCounted(t, g.State.Metrics, "stable"); got != float64(stableSent.Load()) {
		t.Errorf("stable API requests counted: got %v, want %d", got, stableSent.Load())
	}
	t.Logf("%d requests, %d reloads, %d rejected, %d connections to the unchanged backend", sent.Load(), okReloads, rejected, be1.Conns.Opened.Load())
}

// slowPost sends a small body in two halves, pause apart.
func slowPost(c *http.Client, url string, pause time.Duration) (int, error) {
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("first half,"))
		time.Sleep(pause)
		_, _ = pw.Write([]byte("second half"))
		_ = pw.Close()
	}()
	req, err := http.NewRequest("POST", url, pr)
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(len("first half,second half"))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// requestsCounted sums weir_http_requests_total for an API.
func requestsCounted(t *testing.T, m *telemetry.Metrics, api string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != telemetry.MetricRequests {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "api" && lp.GetValue() == api {
					total += s.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

func TestReloadRejectedKeepsServing(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	cfgA, _, cfgBad := reloadConfigs(be.URL, be.URL)
	g := weirtest.Start(t, cfgA)
	before := g.Server.Snapshot()

	for _, tt := range []struct {
		name    string
		content string // "" = remove the file
		want    string // in the first problem
	}{
		{"invalid config", cfgBad, `expected a duration like 30s, got "30"`},
		{"unreadable file", "", "cannot read config"},
		{"YAML syntax", "apis: [\n", "invalid YAML"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.content == "" {
				if err := os.Remove(g.File); err != nil {
					t.Fatal(err)
				}
			} else {
				g.Rewrite(t, tt.content)
			}
			res := g.Control.Reload(context.Background(), admin.TriggerSignal)
			if res.OK || len(res.Problems) == 0 || !strings.Contains(res.Problems[0], tt.want) {
				t.Fatalf("reload: got ok=%v problems %q, want rejected with %q", res.OK, res.Problems, tt.want)
			}
			if g.Server.Snapshot() != before {
				t.Errorf("serving snapshot: got replaced, want the old one")
			}
			if code, err := do(client(1), "GET", g.URL+"/stable/x", ""); err != nil || code != 200 {
				t.Errorf("after a rejected reload: got %d %v, want 200", code, err)
			}
			st := g.Control.Status()
			if st.LastReload == nil || st.LastReload.OK || st.LastReload.Problems[0] != res.Problems[0] {
				t.Errorf("status last reload: got %+v, want the rejection", st.LastReload)
			}
			if st.ConfigHash != before.Config.Hash {
				t.Errorf("status config hash: got %s, want the serving one %s", st.ConfigHash, before.Config.Hash)
			}
			if !strings.Contains(g.Log.String(), res.Problems[0]) || !strings.Contains(g.Log.String(), "previous config keeps serving") {
				t.Errorf("log: got %q, want the problem and the verdict", g.Log.String())
			}
		})
	}
}

func TestReloadReportsRestartOnlySettings(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	cfgA, _, _ := reloadConfigs(be.URL, be.URL)
	g := weirtest.Start(t, cfgA)
	g.Rewrite(t, strings.Replace(cfgA, "drain_timeout: 10s\n", "drain_timeout: 10s\nlisten: 127.0.0.1:18080\nlog: {requests: stderr}\n", 1))
	res := g.Control.Reload(context.Background(), admin.TriggerAdmin)
	if !res.OK {
		t.Fatalf("reload: got rejected %q", res.Problems)
	}
	want := []string{`listen changed from "127.0.0.1:8080" to "127.0.0.1:18080"`, `log.requests changed from "stdout" to "stderr"`}
	if len(res.Warnings) != len(want) {
		t.Fatalf("warnings: got %q, want %d", res.Warnings, len(want))
	}
	for i, w := range want {
		if !strings.Contains(res.Warnings[i], w) {
			t.Errorf("warning %d: got %q, want %q", i, res.Warnings[i], w)
		}
	}
}

// A request that routed on the old snapshot keeps its pools until it is
// done: the swap retires the snapshot, and only its last request's end
// releases the pools the new config does not use.
func TestSwapKeepsOldPoolsUntilRequestsFinish(t *testing.T) {
	be1 := peer.HTTP(t, peer.OK, nil)
	be2 := peer.HTTP(t, peer.OK, nil)
	cfgA, cfgB, _ := reloadConfigs(be1.URL, be2.URL)
	g := weirtest.Start(t, cfgB) // "moving" and "only-b" on backend two
	if code, err := do(client(1), "GET", g.URL+"/moving/x", ""); err != nil || code != 200 {
		t.Fatalf("warm-up: %d %v", code, err)
	}
	two := strings.TrimPrefix(be2.URL, "http://")
	pinned := g.Server.Pin() // a request in flight on B

	g.Rewrite(t, cfgA) // A does not use backend two
	if res := g.Control.Reload(context.Background(), admin.TriggerAdmin); !res.OK {
		t.Fatalf("reload: %q", res.Problems)
	}
	if p, ok := poolOf(g.Server, two); !ok || p.Draining {
		t.Fatalf("backend two's pool while a request holds the old config: got %+v (found %v), want open", p, ok)
	}
	if n := g.Server.Retiring(); n != 1 {
		t.Errorf("retiring snapshots: got %d, want 1", n)
	}
	// The pinned request can still get a connection from the old target.
	conn, err := pinned.Pick(1).Get(context.Background(), false)
	if err != nil {
		t.Fatalf("Get on the old config's pool after the swap: %v", err)
	}
	conn.Close(connpool.Error)

	pinned.Unpin()
	waitFor(t, func() bool { p, _ := poolOf(g.Server, two); return p.Draining && g.Server.Retiring() == 0 })
	if code, err := do(client(1), "GET", g.URL+"/moving/x", ""); err != nil || code != 200 {
		t.Errorf("after the old config drained: got %d %v, want 200", code, err)
	}
}

// poolOf returns the ledger of the pool to dest.
func poolOf(s *gateway.Server, dest string) (connpool.Stats, bool) {
	for _, p := range s.Pools() {
		if p.Dest == dest && !p.Draining {
			return p, true
		}
	}
	for _, p := range s.Pools() {
		if p.Dest == dest {
			return p, true
		}
	}
	return connpool.Stats{}, false
}

func TestAcquireRetriesASwappedSnapshot(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	cfgA, cfgB, _ := reloadConfigs(be.URL, be.URL)
	g := weirtest.Start(t, cfgA)
	old := g.Server.Snapshot()
	g.Rewrite(t, cfgB)
	if res := g.Control.Reload(context.Background(), admin.TriggerAdmin); !res.OK {
		t.Fatalf("reload: %q", res.Problems)
	}
	got := g.Server.Pin()
	defer got.Unpin()
	if got == old || got != g.Server.Snapshot() {
		t.Errorf("acquire after a swap: got the old snapshot, want the serving one")
	}
	if n := old.Pins(); n != 0 {
		t.Errorf("old snapshot's count: got %d, want 0", n)
	}
}

func TestShutdownStopsRetiringSnapshots(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	cfgA, cfgB, _ := reloadConfigs(be.URL, be.URL)
	g := weirtest.Start(t, cfgA)
	pinned := g.Server.Pin()
	defer pinned.Unpin()
	g.Rewrite(t, cfgB)
	if res := g.Control.Reload(context.Background(), admin.TriggerAdmin); !res.OK {
		t.Fatalf("reload: %q", res.Problems)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Server.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := g.Server.Retiring(); n != 0 {
		t.Errorf("retiring after shutdown: got %d, want 0", n)
	}
	if res := g.Control.Reload(context.Background(), admin.TriggerAdmin); res.OK || !strings.Contains(res.Problems[0], "shutting down") {
		t.Errorf("reload after shutdown: got %+v, want rejected (shutting down)", res)
	}
}

func TestWatchReloadsOnContentChange(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	cfgA, cfgB, cfgBad := reloadConfigs(be.URL, be.URL)
	g := weirtest.Start(t, cfgA)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Control.Watch(ctx, 10*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	g.Rewrite(t, cfgB)
	waitFor(t, func() bool { return g.Control.Status().ReloadsOK == 1 })
	if st := g.Control.Status(); st.LastReload.Trigger != admin.TriggerFile || st.ConfigHash != g.Server.Snapshot().Config.Hash {
		t.Errorf("after a file change: got %+v, want a file-triggered reload", st.LastReload)
	}
	if code, err := do(client(1), "GET", g.URL+"/b/x", ""); err != nil || code != 200 {
		t.Errorf("API added by the file change: got %d %v, want 200", code, err)
	}

	// Rewriting the same content (a touch) reloads nothing; a bad file is
	// tried once, not on every tick.
	g.Rewrite(t, cfgB)
	g.Rewrite(t, cfgBad)
	waitFor(t, func() bool { return g.Control.Status().ReloadsFailed == 1 })
	g.Rewrite(t, cfgA)
	waitFor(t, func() bool { return g.Control.Status().ReloadsOK == 2 })
	if st := g.Control.Status(); st.ReloadsFailed != 1 || st.ReloadsOK != 2 {
		t.Errorf("reloads: got %d ok %d failed, want 2 and 1", st.ReloadsOK, st.ReloadsFailed)
	}
}

func TestControlAPIsAndStatus(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	_, cfgB, _ := reloadConfigs(be.URL, be.URL)
	g := weirtest.Start(t, cfgB)
	apis := g.Control.APIs()
	if len(apis) != 3 {
		t.Fatalf("APIs: got %d, want 3", len(apis))
	}
	m := apis[1]
	dest := strings.TrimPrefix(be.URL, "http://")
	if m.Name != "moving" || m.BasePath != "/moving" || m.Transport.MaxConnections != 64 || m.Transport.QueueTimeoutMS != 10000 ||
		m.Transport.KeepaliveTimeoutMS != 60000 || len(m.Destinations) != 1 || m.Destinations[0] != dest {
		t.Errorf("API moving: got %+v, want max_connections 64, queue 10s, keepalive 60s, destination %s", m, dest)
	}
	st := g.Control.Status()
	if st.Version != "test" || st.ConfigFile != g.File || len(st.ConfigHash) != 64 || st.APIs != 3 || !st.Ready || st.LastReload != nil {
		t.Errorf("status: got %+v", st)
	}
}

// BenchmarkAcquireRelease is what pinning the serving snapshot costs each
// request.
func BenchmarkAcquireRelease(b *testing.B) {
	srv := weirtest.Start(b, weirtest.API("", "http://127.0.0.1:9"), weirtest.WithRequestLog(nil)).Server
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			srv.Pin().Unpin()
		}
	})
}
