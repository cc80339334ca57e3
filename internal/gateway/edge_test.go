package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// a chunked PUT whose first body write hits a stale keep-alive
// connection is replayed without the bytes already taken from the client:
// the backend gets a well-formed but truncated body and answers 200.
func TestStreamedBodyNeverReplayedTruncated(t *testing.T) {
	const size = 20000
	got := make(chan int, 100)
	addr := peer.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, req.Body)
			if req.Method == "PUT" {
				got <- int(n)
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(fmt.Sprint(n)), n)
			if req.Method == "GET" {
				// A backend that closes after a GET without saying so
				// (think max-requests, restart): FIN right after the response.
				return
			}
		}
	}).URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	bad := 0
	for i := 0; i < 20; i++ {
		resp, err := c.Get(g.URL + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// Chunked (unknown length) PUT straight after.
		body := io.MultiReader(strings.NewReader(strings.Repeat("a", size)))
		req, _ := http.NewRequest("PUT", g.URL+"/api/x", body)
		req.ContentLength = -1
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var n int
		select {
		case n = <-got:
		default:
			n = -1
		}
		if resp.StatusCode == 200 && n != size {
			bad++
			t.Logf("iteration %d: client got %d %q; backend received %d of %d body bytes", i, resp.StatusCode, b, n, size)
		}
	}
	st := poolStats(t, g)
	t.Logf("replays %v, closed %v", st.Replays, st.ClosedByReason)
	if bad > 0 {
		t.Errorf("got %d/20 PUTs answered 200 with a truncated body at the backend, want 0", bad)
	}
}

// R2: a client body read error is classified ClientConnectionFailure, the
// gateway writes nothing, and net/http answers the still-connected client
// with an implicit 200 OK.
func TestMalformedClientBodyIs400(t *testing.T) {
	var hits atomic.Int64
	addr := peer.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			hits.Add(1)
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
		}
	}).URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	for _, tc := range []struct{ name, req string }{
		{"bad chunk size", "POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"},
	} {
		nc, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(nc, tc.req)
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		nc.Close()
		t.Logf("%s: client got %d %q (headers %v)", tc.name, resp.StatusCode, b, resp.Header)
		if resp.StatusCode != 400 {
			t.Errorf("%s: got %d for a malformed body, want 400", tc.name, resp.StatusCode)
		}
	}
	recs := g.RequestLog.Records(t)
	for _, r := range recs {
		t.Logf("request log: status=%v error=%v detail=%v", r["status"], r["error"], r["detail"])
	}
}

// response_timeout is documented as "from the request's last byte
// written to the response headers", but the deadline is set before the
// request is written: a slow upload fails with 504 although the backend
// answers at once.
func TestResponseTimeoutStartsAfterUpload(t *testing.T) {
	addr := peer.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, req.Body)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(fmt.Sprint(n)), n)
		}
	}).URL()
	g := weirtest.Start(t, weirtest.API("response_timeout: 300ms", addr))
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 4; i++ {
			pw.Write([]byte(strings.Repeat("x", 1000)))
			time.Sleep(200 * time.Millisecond) // upload takes ~800ms
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", g.URL+"/api/x", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("client got %d %q", resp.StatusCode, b)
	if resp.StatusCode != 200 {
		t.Errorf("got %d, want 200 (backend answered immediately after the last body byte)", resp.StatusCode)
	}
}

// a backend that closed one idle connection after ~200 ms (a restart,
// a graceful shutdown) teaches the pool an idle term below the 250 ms
// margin floor: from then on every released connection is closed at once,
// keep-alive is off for the destination for good.
func TestShortIdleCloseKeepsKeepalive(t *testing.T) {
	var first atomic.Bool
	var opened atomic.Int64
	addr := peer.Serve(t, func(c net.Conn) {
		opened.Add(1)
		isFirst := first.CompareAndSwap(false, true)
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if isFirst {
				time.Sleep(200 * time.Millisecond)
				return // one close of an idle connection, then normal forever
			}
		}
	}).URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	c := client(1)
	do(c, "GET", g.URL+"/api/x", "")
	time.Sleep(400 * time.Millisecond) // the watcher sees the close at ~200ms idle
	before := opened.Load()
	for i := 0; i < 20; i++ {
		if code, err := do(c, "GET", g.URL+"/api/x", ""); err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := poolStats(t, g)
	t.Logf("learned idle %dms; backend connections for 20 sequential requests: %d; closed %v",
		st.LearnedIdleTimeoutMS, opened.Load()-before, st.ClosedByReason)
	if n := opened.Load() - before; n > 2 {
		t.Errorf("got %d new connections for 20 sequential requests 10ms apart, want 1", n)
	}
}

// once the response head is in, nothing watches the client: a client
// that leaves a long poll leaves the gateway goroutine and the backend
// connection (a slot under max_connections) held until the backend speaks.
func TestClientGoneDuringBodyFreesBackend(t *testing.T) {
	release := make(chan struct{})
	addr := peer.Serve(t, func(c net.Conn) {
		peer.ReadHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		<-release // the backend holds the poll open
	}).URL()
	t.Cleanup(func() { close(release) })
	g := weirtest.Start(t, weirtest.API("max_connections: 1, queue_timeout: 500ms", addr))
	nc, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(nc, "GET /api/poll HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	io.ReadFull(resp.Body, buf)
	nc.Close() // the client goes away
	// The abort must cut the backend read: the connection closes and its
	// slot under the cap frees, without waiting for the backend to speak.
	waitFor(t, func() bool { return poolStats(t, g).Active == 0 })
	if st := poolStats(t, g); st.ClosedByReason["error"] != 1 {
		t.Errorf("closed by %v, want the connection closed once (error)", st.ClosedByReason)
	}
}

// a backend that rejects a large upload early (413 and close, like
// nginx client_max_body_size) is answered to the client as 502.
func TestEarlyBackendRejectForwarded(t *testing.T) {
	addr := peer.Serve(t, func(c net.Conn) {
		peer.ReadHead(c)
		io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		c.(*net.TCPConn).SetLinger(0)
	}).URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	req, _ := http.NewRequest("POST", g.URL+"/api/up", strings.NewReader(strings.Repeat("x", 8<<20)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Logf("client error: %v", err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("client got %d %q", resp.StatusCode, b)
	if resp.StatusCode != 413 {
		t.Errorf("got %d, want the backend's 413", resp.StatusCode)
	}
}

// a reload that fails to build still applies its transport settings
// (and dial function) to the pools the serving config uses.
func TestFailedBuildLeavesLivePools(t *testing.T) {
	addr := peer.Serve(t, func(c net.Conn) {}).URL()
	cfg1 := fmt.Sprintf(`apis:
  - name: a
    base_path: /a
    target:
      endpoints: [%s]
      transport: {max_connections: 50, keepalive_timeout: 60s}
`, addr)
	cfg2 := cfg1 + `  - name: b
    base_path: /b
    target:
      endpoints: [http://no-such-host.invalid:80]
`
	cfg2 = strings.Replace(cfg2, "max_connections: 50", "max_connections: 1", 1)
	st := gateway.NewState()
	c1, err := config.Parse("1.yaml", []byte(cfg1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.Build(context.Background(), c1, st); err != nil {
		t.Fatal(err)
	}
	c2, err := config.Parse("2.yaml", []byte(cfg2))
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.Build(context.Background(), c2, st)
	t.Logf("second build: %v", err)
	if err == nil {
		t.Fatal("second build should fail")
	}
	for _, ps := range st.Registry.Stats() {
		if ps.Draining {
			continue // the failed build's own pool, released
		}
		t.Logf("live pool %s: max_connections=%d", ps.Dest, ps.MaxConnections)
		if ps.MaxConnections != 50 {
			t.Errorf("serving pool's cap: got %d after a rejected reload, want 50", ps.MaxConnections)
		}
	}
}

// a response with a non-chunked transfer coding (close-delimited,
// "Transfer-Encoding: gzip") is forwarded with its coded bytes but without
// the Transfer-Encoding that says so.
func TestNonChunkedTransferCodingRefused(t *testing.T) {
	addr := peer.Serve(t, func(c net.Conn) {
		peer.ReadHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00GZIPPEDBYTES")
	}).URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	resp, err := http.Get(g.URL + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	t.Logf("client got %d, TE %v, CE %q, body %q", resp.StatusCode, resp.TransferEncoding, resp.Header.Get("Content-Encoding"), b)
	if resp.StatusCode == 200 {
		t.Errorf("got 200 with transfer-coded bytes as the body, want 502")
	}
}

// TE: trailers is forwarded without the "TE" connection option
// (RFC 9110 10.1.4).
func TestTETrailersCarriesConnectionOption(t *testing.T) {
	hdr := make(chan http.Header, 1)
	addr := peer.Serve(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		hdr <- req.Header
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	}).URL()
	g := weirtest.Start(t, weirtest.API("", addr))
	req, _ := http.NewRequest("GET", g.URL+"/api/x", nil)
	req.Header.Set("TE", "trailers")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := <-hdr
	if h.Get("Te") != "trailers" || !strings.Contains(h.Get("Connection"), "TE") {
		t.Errorf("backend saw TE=%q Connection=%q, want TE: trailers with Connection: TE", h.Get("Te"), h.Get("Connection"))
	}
}
