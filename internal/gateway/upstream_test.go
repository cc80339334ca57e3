package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// tlsSeen records, per TLS handshake a backend completed, whether it
// resumed a session.
type tlsSeen struct {
	mu      sync.Mutex
	resumed []bool
}

func (s *tlsSeen) verify(cs tls.ConnectionState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resumed = append(s.resumed, cs.DidResume)
	return nil
}

func (s *tlsSeen) handshakes() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.resumed...)
}

// tlsBackend is a peer.TLSBackend whose every handshake is recorded.
func tlsBackend(t *testing.T, h http.HandlerFunc, tune func(*tls.Config)) (ts *httptest.Server, seen *tlsSeen, caFile string) {
	t.Helper()
	seen = &tlsSeen{}
	ts, caFile = peer.TLSBackend(t, h, func(c *tls.Config) {
		c.VerifyConnection = seen.verify
		if tune != nil {
			tune(c)
		}
	})
	return ts, seen, caFile
}

// settle polls cond for up to 5 s and returns without failing: the
// assertions that follow report what is wrong. The pool books a connection
// as idle or closed just after the response, so a check right after the
// client got it could run first.
func settle(cond func() bool) {
	for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
}

// getN sends n sequential GETs through the gateway and fails the test on
// any non-200.
func getN(t *testing.T, c *http.Client, url string, n int) {
	t.Helper()
	for i := range n {
		code, err := do(c, "GET", url, "")
		if err != nil || code != 200 {
			t.Fatalf("request %d: got %d %v, want 200", i, code, err)
		}
	}
}

func TestTLSBackend(t *testing.T) {
	const n = 5
	t.Run("keep-alive: one handshake for all requests", func(t *testing.T) {
		be, seen, ca := tlsBackend(t, peer.OK, nil)
		g := weirtest.Start(t, weirtest.API(fmt.Sprintf("tls: {ca_file: %q}", ca), "https://"+be.Listener.Addr().String()))
		getN(t, client(1), g.URL+"/api/x", n)
		if got := seen.handshakes(); len(got) != 1 {
			t.Errorf("handshakes: got %d, want 1", len(got))
		}
		st := poolStats(t, g)
		if st.OpenedTotal != 1 || st.RequestsTotal != n || st.ReusedTotal != n-1 {
			t.Errorf("pool: got opened %d, requests %d, reused %d; want 1, %d, %d", st.OpenedTotal, st.RequestsTotal, st.ReusedTotal, n, n-1)
		}
		if want := be.Listener.Addr().String() + "/127.0.0.1"; st.Dest != want {
			t.Errorf("pool dest: got %q, want %q", st.Dest, want)
		}
	})

	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		t.Run("keep-alive off: sessions resume/"+v.name, func(t *testing.T) {
			be, seen, ca := tlsBackend(t, peer.OK, func(c *tls.Config) { c.MinVersion, c.MaxVersion = v.version, v.version })
			g := weirtest.Start(t, weirtest.API(fmt.Sprintf("keepalive_timeout: 0s, tls: {ca_file: %q}", ca), "https://"+be.Listener.Addr().String()))
			getN(t, client(1), g.URL+"/api/x", n)
			got := seen.handshakes()
			if len(got) != n {
				t.Fatalf("handshakes: got %d, want %d (one per request)", len(got), n)
			}
			if got[0] {
				t.Errorf("first handshake resumed a session nobody had")
			}
			for i, r := range got[1:] {
				if !r {
					t.Errorf("handshake %d: got a full handshake, want the session resumed", i+2)
				}
			}
		})
	}

	t.Run("server_name sets SNI", func(t *testing.T) {
		var mu sync.Mutex
		var sni []string
		be, _, ca := tlsBackend(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			sni = append(sni, r.TLS.ServerName)
			mu.Unlock()
			peer.OK(w, r)
		}, nil)
		// httptest's certificate also names example.com.
		g := weirtest.Start(t, weirtest.API(fmt.Sprintf("tls: {ca_file: %q, server_name: example.com}", ca), "https://"+be.Listener.Addr().String()))
		getN(t, client(1), g.URL+"/api/x", 1)
		mu.Lock()
		defer mu.Unlock()
		if len(sni) != 1 || sni[0] != "example.com" {
			t.Errorf("SNI: got %q, want [example.com]", sni)
		}
		if st := poolStats(t, g); !strings.HasSuffix(st.Dest, "/example.com") {
			t.Errorf("pool dest: got %q, want the server name in it", st.Dest)
		}
	})

	t.Run("mutual TLS", func(t *testing.T) {
		certFile, keyFile, cert := peer.Cert(t, "weir-client")
		var mu sync.Mutex
		var peers []string
		be, _, ca := tlsBackend(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			peers = append(peers, r.TLS.PeerCertificates[0].Subject.CommonName)
			mu.Unlock()
			peer.OK(w, r)
		}, peer.RequireClientCert(cert))
		g := weirtest.Start(t, weirtest.API(fmt.Sprintf("tls: {ca_file: %q, cert_file: %q, key_file: %q}", ca, certFile, keyFile),
			"https://"+be.Listener.Addr().String()))
		getN(t, client(1), g.URL+"/api/x", 2)
		mu.Lock()
		if len(peers) != 2 || peers[0] != "weir-client" {
			t.Errorf("client certificates seen: got %q, want weir-client twice", peers)
		}
		mu.Unlock()

		// The same backend refuses a gateway without the certificate.
		g = weirtest.Start(t, weirtest.API(fmt.Sprintf("tls: {ca_file: %q}", ca), "https://"+be.Listener.Addr().String()))
		if code, err := do(client(1), "GET", g.URL+"/api/x", ""); err != nil || code != 502 {
			t.Errorf("without client certificate: got %d %v, want 502", code, err)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		var reached atomic.Int64
		be, _, _ := tlsBackend(t, func(w http.ResponseWriter, r *http.Request) {
			reached.Add(1)
			peer.OK(w, r)
		}, nil)
		// A CA file holding some other certificate.
		certFile, _, _ := peer.Cert(t, "not-the-backend")
		g := weirtest.Start(t, weirtest.API(fmt.Sprintf("tls: {ca_file: %q}", certFile), "https://"+be.Listener.Addr().String()))
		resp, err := http.Get(g.URL + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if reason, _ := errorBody(t, resp); resp.StatusCode != 502 || reason != "BackendConnectionFailure" {
			t.Errorf("got %d %s, want 502 BackendConnectionFailure", resp.StatusCode, reason)
		}
		if n := reached.Load(); n != 0 {
			t.Errorf("backend served %d requests, want 0", n)
		}
	})
}

// fwdProxy is a test forward proxy: absolute-form requests are forwarded
// (one upstream connection per client connection), CONNECT is tunnelled.
// It only ever connects to loopback addresses.
type fwdProxy struct {
	addr string

	mu       sync.Mutex
	conns    int      // client connections accepted
	lines    []string // request lines, in order
	connects []string // CONNECT targets
	refuse   bool     // answer CONNECT with 403
}

func startProxy(t *testing.T) *fwdProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fwdProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serve(c, func(up net.Conn) {
					mu.Lock()
					open = append(open, up)
					mu.Unlock()
				})
			}()
		}
	}()
	return p
}

// loopbackTarget reports whether hostport is a loopback IP and port: the
// proxy refuses everything else.
func loopbackTarget(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	return err == nil && ap.Addr().IsLoopback()
}

func (p *fwdProxy) serve(c net.Conn, track func(net.Conn)) {
	defer c.Close()
	br := bufio.NewReader(c)
	var up net.Conn
	var upr *bufio.Reader
	defer func() {
		if up != nil {
			up.Close()
		}
	}()
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.lines = append(p.lines, req.Method+" "+req.RequestURI+" "+req.Proto)
		refuse := p.refuse
		if req.Method == http.MethodConnect {
			p.connects = append(p.connects, req.RequestURI)
		}
		p.mu.Unlock()

		if req.Method == http.MethodConnect {
			if refuse || !loopbackTarget(req.RequestURI) {
				io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
				return
			}
			dst, err := net.Dial("tcp", req.RequestURI)
			if err != nil {
				io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
				return
			}
			track(dst)
			defer dst.Close()
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() {
				_, _ = io.Copy(dst, br) // br: bytes the client sent early
				dst.Close()
			}()
			_, _ = io.Copy(c, dst)
			return
		}

		if req.URL.Host == "" || !loopbackTarget(req.URL.Host) {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		if up == nil {
			if up, err = net.Dial("tcp", req.URL.Host); err != nil {
				return
			}
			track(up)
			upr = bufio.NewReader(up)
		}
		if err := req.Write(up); err != nil {
			return
		}
		resp, err := http.ReadResponse(upr, req)
		if err != nil {
			return
		}
		err = resp.Write(c)
		resp.Body.Close()
		if err != nil {
			return
		}
	}
}

func (p *fwdProxy) seen() (conns int, lines, connects []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns, append([]string(nil), p.lines...), append([]string(nil), p.connects...)
}

func TestEgressProxy(t *testing.T) {
	const n = 5
	t.Run("plain HTTP in absolute form, pooled", func(t *testing.T) {
		var mu sync.Mutex
		var uris []string
		be := peer.HTTP(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			uris = append(uris, r.RequestURI)
			mu.Unlock()
			peer.OK(w, r)
		}, nil)
		px := startProxy(t)
		beAddr := be.Listener.Addr().String()
		g := weirtest.Start(t, weirtest.API("egress_proxy: http://"+px.addr, "http://"+beAddr+"/v1"))
		getN(t, client(1), g.URL+"/api/items?q=1", n)

		conns, lines, connects := px.seen()
		if conns != 1 {
			t.Errorf("proxy connections: got %d, want 1 (pooled)", conns)
		}
		want := "GET http://" + beAddr + "/v1/items?q=1 HTTP/1.1"
		if len(lines) != n {
			t.Fatalf("proxy request lines: got %d, want %d", len(lines), n)
		}
		for i, l := range lines {
			if l != want {
				t.Errorf("request line %d: got %q, want %q", i, l, want)
			}
		}
		if len(connects) != 0 {
			t.Errorf("CONNECTs: got %q, want none for plain HTTP", connects)
		}
		if be.Conns.Opened.Load() != 1 {
			t.Errorf("backend connections: got %d, want 1", be.Conns.Opened.Load())
		}
		mu.Lock()
		if len(uris) != n || uris[0] != "/v1/items?q=1" {
			t.Errorf("backend request URIs: got %q, want %d of /v1/items?q=1", uris, n)
		}
		mu.Unlock()
		st := poolStats(t, g)
		if st.Dest != px.addr || st.OpenedTotal != 1 || st.RequestsTotal != n {
			t.Errorf("pool: got dest %s, opened %d, requests %d; want %s, 1, %d", st.Dest, st.OpenedTotal, st.RequestsTotal, px.addr, n)
		}
	})

	t.Run("HTTPS through one pooled CONNECT tunnel", func(t *testing.T) {
		be, seen, ca := tlsBackend(t, peer.OK, nil)
		px := startProxy(t)
		beAddr := be.Listener.Addr().String()
		g := weirtest.Start(t, weirtest.API(fmt.Sprintf("egress_proxy: %q, tls: {ca_file: %q}", "http://"+px.addr, ca), "https://"+beAddr))
		getN(t, client(1), g.URL+"/api/x", n)

		conns, lines, connects := px.seen()
		if conns != 1 || len(connects) != 1 || connects[0] != beAddr || len(lines) != 1 {
			t.Errorf("proxy: got %d connections, CONNECTs %q, request lines %q; want 1 connection and one CONNECT %s", conns, connects, lines, beAddr)
		}
		if got := seen.handshakes(); len(got) != 1 {
			t.Errorf("backend handshakes: got %d, want 1", len(got))
		}
		settle(func() bool { return poolStats(t, g).Idle == 1 })
		st := poolStats(t, g)
		if want := px.addr + "/127.0.0.1"; st.Dest != want {
			t.Errorf("pool dest: got %q, want the tunnel's %q", st.Dest, want)
		}
		if st.OpenedTotal != 1 || st.Idle != 1 || st.RequestsTotal != n || st.ReusedTotal != n-1 {
			t.Errorf("pool: got opened %d, idle %d, requests %d, reused %d; want 1, 1, %d, %d",
				st.OpenedTotal, st.Idle, st.RequestsTotal, st.ReusedTotal, n, n-1)
		}
	})

	t.Run("proxy refuses the tunnel", func(t *testing.T) {
		be, seen, ca := tlsBackend(t, peer.OK, nil)
		px := startProxy(t)
		px.mu.Lock()
		px.refuse = true
		px.mu.Unlock()
		g := weirtest.Start(t, weirtest.API(fmt.Sprintf("egress_proxy: %q, tls: {ca_file: %q}", "http://"+px.addr, ca), "https://"+be.Listener.Addr().String()))
		resp, err := http.Get(g.URL + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if reason, _ := errorBody(t, resp); resp.StatusCode != 502 || reason != "BackendConnectionFailure" {
			t.Errorf("got %d %s, want 502 BackendConnectionFailure", resp.StatusCode, reason)
		}
		if len(seen.handshakes()) != 0 {
			t.Errorf("backend reached despite the refusal")
		}
	})
}

func TestSourceAddresses(t *testing.T) {
	const n = 6
	var mu sync.Mutex
	from := map[string]int{}
	be := peer.HTTP(t, func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from[host]++
		mu.Unlock()
		peer.OK(w, r)
	}, nil)
	g := weirtest.Start(t, weirtest.API("keepalive_timeout: 0s, source_addresses: [127.0.0.2, 127.0.0.3]", be.URL))
	getN(t, client(1), g.URL+"/api/x", n)

	mu.Lock()
	if len(from) != 2 || from["127.0.0.2"] == 0 || from["127.0.0.3"] == 0 || from["127.0.0.2"]+from["127.0.0.3"] != n {
		t.Errorf("backend saw sources %v, want both 127.0.0.2 and 127.0.0.3, %d in all", from, n)
	}
	mu.Unlock()
	settle(func() bool { return poolStats(t, g).ClosedTotal == n })
	st := poolStats(t, g)
	if len(st.Sources) != 2 {
		t.Fatalf("pool sources: got %+v, want 127.0.0.2 and 127.0.0.3", st.Sources)
	}
	for i, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		s := st.Sources[i]
		if s.SourceIP != ip || s.OpenedTotal != uint64(from[ip]) || s.ClosedLast240s != int64(from[ip]) {
			t.Errorf("source %d: got %+v, want %s with %d opened and closed", i, s, ip, from[ip])
		}
	}
}

// dnsResolver is a DNS the test controls.
type dnsResolver struct {
	mu    sync.Mutex
	addrs []netip.Addr
}

func (r *dnsResolver) set(addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = nil
	for _, a := range addrs {
		r.addrs = append(r.addrs, netip.MustParseAddr(a))
	}
}

func (r *dnsResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if host != "backend.test" {
		return nil, fmt.Errorf("no such host %q", host)
	}
	return append([]netip.Addr(nil), r.addrs...), nil
}

// backendPair starts HTTP backends on 127.0.0.1 and 127.0.0.2 with the same
// port; each counts its requests.
func backendPair(t *testing.T) (port int, backends [2]*peer.Backend, reqs func() [2]int) {
	t.Helper()
	var mu sync.Mutex
	var n [2]int
	port, ln1, ln2 := peer.Pair(t)
	for i, ln := range []net.Listener{ln1, ln2} {
		backends[i] = peer.HTTPOn(t, ln, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n[i]++
			mu.Unlock()
			peer.OK(w, r)
		}, nil)
	}
	return port, backends, func() [2]int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// poolByDest finds a pool's ledger in /pools.
func poolByDest(g *weirtest.Instance, dest string) (connpool.Stats, bool) {
	for _, s := range g.Server.Pools() {
		if s.Dest == dest {
			return s, true
		}
	}
	return connpool.Stats{}, false
}

// A name resolving to two addresses gets a pool per address; when one
// address leaves DNS its pool is drained (dns_drain) and traffic moves to
// the other.
func TestDNSDrain(t *testing.T) {
	port, conns, reqs := backendPair(t)
	res := &dnsResolver{}
	res.set("127.0.0.1", "127.0.0.2")
	st := gateway.NewState()
	st.Resolver = res
	g := weirtest.Start(t, weirtest.API("resolve_interval: 50ms", "http://backend.test:"+strconv.Itoa(port)), weirtest.WithState(st))
	c := client(1)
	getN(t, c, g.URL+"/api/x", 4)
	if got := reqs(); got != [2]int{2, 2} {
		t.Errorf("requests per address: got %v, want [2 2]", got)
	}
	one, two := "127.0.0.1:"+strconv.Itoa(port), "127.0.0.2:"+strconv.Itoa(port)
	settle(func() bool {
		s1, _ := poolByDest(g, one)
		s2, _ := poolByDest(g, two)
		return s1.Idle == 1 && s2.Idle == 1
	})
	for _, d := range []string{one, two} {
		if s, ok := poolByDest(g, d); !ok || s.Idle != 1 {
			t.Errorf("pool %s: got %+v (found %v), want one idle connection", d, s, ok)
		}
	}

	res.set("127.0.0.2")
	waitFor(t, func() bool {
		s, _ := poolByDest(g, one)
		return s.Draining
	})
	s, _ := poolByDest(g, one)
	if s.ClosedByReason["dns_drain"] != 1 || s.Idle != 0 {
		t.Errorf("drained pool: got %d closed dns_drain, %d idle; want 1, 0", s.ClosedByReason["dns_drain"], s.Idle)
	}
	waitFor(t, func() bool { return conns[0].Conns.Open.Load() == 0 })

	getN(t, c, g.URL+"/api/x", 4)
	if got := reqs(); got != [2]int{2, 6} {
		t.Errorf("requests per address after the drain: got %v, want [2 6]", got)
	}
	if s, _ := poolByDest(g, two); s.Draining || s.OpenedTotal != 1 || s.ClosedTotal != 0 {
		t.Errorf("remaining pool: got draining %v, opened %d, closed %d; want false, 1, 0", s.Draining, s.OpenedTotal, s.ClosedTotal)
	}
}
