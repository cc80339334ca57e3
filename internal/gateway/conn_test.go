package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// client is a keep-alive client with enough idle connections for the tests.
func client(n int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}}
}

// do sends one request and reports whether it got a 200.
func do(c *http.Client, method, url string, body string, hdr ...string) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func poolStats(t *testing.T, g *weirtest.Instance) connpool.Stats {
	t.Helper()
	ps := g.Server.Pools()
	if len(ps) != 1 {
		t.Fatalf("got %d pools, want 1", len(ps))
	}
	return ps[0]
}

// The acceptance test of the stale keep-alive race: the backend closes idle
// connections after 1 s while weir would keep them 60 s; mixed GET/POST
// traffic with idle gaps around 1 s must see no failed request.
func TestStaleKeepaliveNoFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("long acceptance test")
	}
	be := peer.HTTP(t, peer.OK, peer.IdleTimeout(time.Second))
	g := weirtest.Start(t, weirtest.API("keepalive_timeout: 60s", be.URL))
	const workers, perWorker, burst = 40, 250, 25
	c := client(workers)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if i > 0 && i%burst == 0 {
					// Idle gaps straddling the backend's 1 s idle timeout.
					time.Sleep(800*time.Millisecond + rand.N(400*time.Millisecond))
				}
				method, body := "GET", ""
				if i%2 == 1 {
					method, body = "POST", "payload"
				}
				code, err := do(c, method, g.URL+"/api/x", body)
				if err != nil || code != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %v", method, code, err))
					t.Logf("failed %s at %v (burst %d): %d %v", method, time.Since(start).Round(time.Millisecond), i/burst, code, err)
				}
			}
		}()
	}
	wg.Wait()
	st := poolStats(t, g)
	t.Logf("requests %d, backend connections %d, stats: opened %d, closed by %v, learned idle %dms, replays %v",
		workers*perWorker, be.Conns.Opened.Load(), st.OpenedTotal, st.ClosedByReason, st.LearnedIdleTimeoutMS, st.Replays)
	if n := failed.Load(); n != 0 {
		t.Fatalf("got %d failed requests (first: %v), want 0", n, firstErr.Load())
	}
	if st.ClosedByReason["backend_close"]+st.ClosedByReason["idle_timeout"] == 0 {
		t.Errorf("no backend_close or idle_timeout counted: the backend's idle closes went unnoticed")
	}
	if st.LearnedIdleTimeoutMS <= 0 || st.LearnedIdleTimeoutMS > 1500 {
		t.Errorf("learned idle timeout: got %dms, want about 1000ms", st.LearnedIdleTimeoutMS)
	}
}

func TestBackendConnectionClose(t *testing.T) {
	be := peer.HTTP(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		peer.OK(w, r)
	}, nil)
	g := weirtest.Start(t, weirtest.API("", be.URL))
	c := client(4)
	const n = 50
	for i := 0; i < n; i++ {
		if code, err := do(c, "POST", g.URL+"/api/x", "x"); err != nil || code != 200 {
			t.Fatalf("request %d: got %d %v, want 200", i, code, err)
		}
	}
	st := poolStats(t, g)
	if got := st.ClosedByReason["backend_close"]; got != n {
		t.Errorf("backend_close: got %d, want %d", got, n)
	}
	if got := be.Conns.Opened.Load(); got != n {
		t.Errorf("backend saw %d connections, want %d (one per request)", got, n)
	}
}

// A backend that closes a connection after N requests without saying so:
// idempotent requests replay on a fresh connection, and nothing fails.
func TestBackendClosesAfterNRequests(t *testing.T) {
	const perConn = 3
	be, served := peer.CloseAfter(t, perConn)
	addr := be.URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	c := client(1)
	for i := 0; i < 30; i++ {
		if code, err := do(c, "GET", g.URL+"/api/x", ""); err != nil || code != 200 {
			t.Fatalf("request %d: got %d %v, want 200", i, code, err)
		}
	}
	// With an Idempotency-Key a POST may be replayed too.
	for i := 0; i < 30; i++ {
		if code, err := do(c, "POST", g.URL+"/api/x", "body", "Idempotency-Key", fmt.Sprint(i)); err != nil || code != 200 {
			t.Fatalf("post %d: got %d %v, want 200", i, code, err)
		}
	}
	if served.Load() != 60 {
		t.Errorf("backend served %d requests, want 60 (each exactly once)", served.Load())
	}
}

func TestKeepaliveHintRespected(t *testing.T) {
	be := peer.HTTP(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", "timeout=1, max=100")
		peer.OK(w, r)
	}, peer.IdleTimeout(time.Second))
	g := weirtest.Start(t, weirtest.API("", be.URL))
	c := client(1)
	if code, err := do(c, "GET", g.URL+"/api/x", ""); err != nil || code != 200 {
		t.Fatalf("got %d %v", code, err)
	}
	// Idle past the announced timeout: weir must retire the connection itself
	// and the next POST (not replayable) must still succeed.
	time.Sleep(1100 * time.Millisecond)
	if code, err := do(c, "POST", g.URL+"/api/x", "x"); err != nil || code != 200 {
		t.Fatalf("after idle: got %d %v, want 200", code, err)
	}
	st := poolStats(t, g)
	if st.ClosedByReason["idle_timeout"]+st.ClosedByReason["backend_close"] != 1 {
		t.Errorf("closed by %v, want one idle_timeout or backend_close", st.ClosedByReason)
	}
	if st.ClosedByReason["stale_on_reuse"] != 0 {
		t.Errorf("stale_on_reuse %d, want 0", st.ClosedByReason["stale_on_reuse"])
	}
}

// The port budget holds: 256 concurrent clients against max_connections 8
// open at most 8 backend connections over the whole run.
func TestConnectionCapHolds(t *testing.T) {
	be := peer.HTTP(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		peer.OK(w, r)
	}, nil)
	g := weirtest.Start(t, weirtest.API("max_connections: 8, queue_timeout: 30s", be.URL))
	const clients, each = 256, 8
	c := client(clients)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if code, err := do(c, "GET", g.URL+"/api/x", ""); err != nil || code != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("got %d failed requests, want 0", failed.Load())
	}
	if got := be.Conns.Opened.Load(); got > 8 {
		t.Errorf("backend saw %d connections over the run, want <= 8", got)
	}
	st := poolStats(t, g)
	if st.PeakActive > 8 || st.OpenedTotal > 8 {
		t.Errorf("pool peak %d, opened %d; want both <= 8", st.PeakActive, st.OpenedTotal)
	}
}

func TestQueueTimeoutIsConnectionLimitReached(t *testing.T) {
	release := make(chan struct{})
	be := peer.HTTP(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		peer.OK(w, r)
	}, nil)
	defer close(release)
	g := weirtest.Start(t, weirtest.API("max_connections: 1, queue_timeout: 100ms", be.URL))
	go func() { _, _ = do(client(1), "GET", g.URL+"/api/hold", "") }()
	waitFor(t, func() bool { return poolStats(t, g).Active == 1 })
	resp, err := http.Get(g.URL + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reason, _ := errorBody(t, resp)
	if resp.StatusCode != 503 || reason != "ConnectionLimitReached" {
		t.Errorf("got %d %s, want 503 ConnectionLimitReached", resp.StatusCode, reason)
	}
}

func TestKeepaliveOffOpensPerRequest(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	g := weirtest.Start(t, weirtest.API("keepalive_timeout: 0s", be.URL))
	c := client(1)
	for i := 0; i < 20; i++ {
		if code, err := do(c, "GET", g.URL+"/api/x", ""); err != nil || code != 200 {
			t.Fatalf("got %d %v", code, err)
		}
	}
	if got := be.Conns.Opened.Load(); got != 20 {
		t.Errorf("backend saw %d connections, want 20", got)
	}
	st := poolStats(t, g)
	if st.ClosedLast240s != 20 {
		t.Errorf("closed_last_240s: got %d, want 20 (ports a NAT would still hold)", st.ClosedLast240s)
	}
}

// An HTTP/1.0 backend with close-delimited bodies: every response ends with
// the connection, and weir never reuses one.
func TestHTTP10Backend(t *testing.T) {
	var conns atomic.Int64
	addr := peer.Serve(t, func(c net.Conn) {
		conns.Add(1)
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from 1.0")
	}).URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	c := client(1)
	for i := 0; i < 10; i++ {
		resp, err := c.Get(g.URL + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "hello from 1.0" {
			t.Fatalf("request %d: got %d %q", i, resp.StatusCode, b)
		}
	}
	st := poolStats(t, g)
	if conns.Load() != 10 || st.ClosedByReason["backend_close"] != 10 || st.ReusedTotal != 0 {
		t.Errorf("backend connections %d, backend_close %d, reused %d; want 10, 10, 0", conns.Load(), st.ClosedByReason["backend_close"], st.ReusedTotal)
	}
}
