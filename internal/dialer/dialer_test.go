package dialer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

func TestDialPlain(t *testing.T) {
	srv := serve(t, echo)
	d := New(Spec{ConnectTimeout: safety})
	c, err := d.Func(srv.dest(), "")(context.Background())
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	defer func() { _ = c.Close() }()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("got %T, want *net.TCPConn", c)
	}
	if got, want := c.RemoteAddr().(*net.TCPAddr).AddrPort(), srv.Addr(); got != want {
		t.Errorf("got remote %v, want %v", got, want)
	}
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(safety))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Errorf("got %q, %v, want \"ping\", nil", buf, err)
	}
}

// TestDialFailures covers failures at each phase: connect, TLS, spec. Each
// hanging peer gives up only after safety, and then its kind is wrong, so a
// dialer that ignores its deadline fails the test rather than passing slowly.
func TestDialFailures(t *testing.T) {
	tlsCfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the peer never answers
	tests := []struct {
		name        string
		spec        Spec
		timeout     time.Duration // ctx deadline; 0 = none
		silent      bool          // dial a silent server instead of a closed port
		dest        func(connpool.Dest) connpool.Dest
		want        connpool.DialKind
		wantSpecErr bool // want a *SpecError
	}{
		{name: "refused", spec: Spec{ConnectTimeout: safety}, want: connpool.DialRefused},
		{name: "tls handshake past ConnectTimeout", spec: Spec{ConnectTimeout: 200 * time.Millisecond, TLS: tlsCfg}, silent: true, want: connpool.DialTimeout},
		{name: "tls handshake past ctx deadline", spec: Spec{ConnectTimeout: time.Hour, TLS: tlsCfg}, timeout: 200 * time.Millisecond, silent: true, want: connpool.DialTimeout},
		{name: "tls handshake past ctx deadline, no ConnectTimeout", spec: Spec{TLS: tlsCfg}, timeout: 200 * time.Millisecond, silent: true, want: connpool.DialTimeout},
		{name: "source address not on this host", spec: Spec{SourceAddrs: []netip.Addr{netip.MustParseAddr("198.51.100.7")}}, silent: true, want: connpool.DialOther},
		{name: "no source address of the family", spec: Spec{SourceAddrs: []netip.Addr{netip.IPv6Loopback()}}, silent: true, want: connpool.DialOther, wantSpecErr: true},
		{name: "invalid spec", spec: Spec{ConnectTimeout: -1}, silent: true, want: connpool.DialOther, wantSpecErr: true},
		{name: "unsupported proxy scheme", spec: Spec{Proxy: &url.URL{Scheme: "socks5", Host: "127.0.0.1:1080"}}, silent: true, want: connpool.DialOther, wantSpecErr: true},
		{name: "no port", spec: Spec{}, silent: true, dest: func(d connpool.Dest) connpool.Dest { d.Addr = netip.AddrPortFrom(d.Addr.Addr(), 0); return d }, want: connpool.DialOther, wantSpecErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan bool, 1)
			dest := connpool.Dest{Addr: netip.MustParseAddrPort(peer.FreeAddr(t))}
			if tt.silent {
				dest = serve(t, silent(closed)).dest()
			}
			if tt.dest != nil {
				dest = tt.dest(dest)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			got, de := dialKind(t, ctx, New(tt.spec).Func(dest, ""))
			if got != tt.want {
				t.Errorf("got %s (%v), want %s", kindName(got), de, kindName(tt.want))
			}
			if de.Addr != dest.Addr.String() {
				t.Errorf("got Addr %q, want %q", de.Addr, dest.Addr)
			}
			if _, ok := errors.AsType[*SpecError](de); ok != tt.wantSpecErr {
				t.Errorf("got *SpecError %v, want %v (%v)", ok, tt.wantSpecErr, de)
			}
			if tt.want == connpool.DialTimeout {
				// The half-open connection must be closed, not leaked.
				if byClient := <-closed; !byClient {
					t.Error("got connection left open, want closed by the dialer")
				}
			}
		})
	}
}

func TestDialCancelDuringHandshake(t *testing.T) {
	accepted := make(chan struct{}, 1)
	closed := make(chan bool, 1)
	srv := serve(t, func(c net.Conn) {
		accepted <- struct{}{}
		silent(closed)(c)
	})
	d := New(Spec{ConnectTimeout: time.Hour, TLS: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // never completes
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-accepted
		cancel()
	}()
	got, de := dialKind(t, ctx, d.Func(srv.dest(), ""))
	if got != connpool.DialOther || !errors.Is(de, context.Canceled) {
		t.Errorf("got %s (%v), want DialOther wrapping context.Canceled", kindName(got), de)
	}
	if byClient := <-closed; !byClient {
		t.Error("got connection left open, want closed by the dialer")
	}
}

func TestSourceAddrs(t *testing.T) {
	seen := make(chan netip.Addr, 8)
	srv := serve(t, func(c net.Conn) {
		seen <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
		_, _ = io.Copy(io.Discard, c)
	})
	a2, a3 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	d := New(Spec{ConnectTimeout: safety, SourceAddrs: []netip.Addr{a2, a3}})
	f := d.Func(srv.dest(), "")
	want := []netip.Addr{a2, a3, a2, a3, a2}
	for i, w := range want {
		c, err := f(context.Background())
		if err != nil {
			t.Fatalf("dial %d: got error %v, want nil", i, err)
		}
		if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); got != w {
			t.Errorf("dial %d: got local %v, want %v", i, got, w)
		}
		select {
		case got := <-seen:
			if got != w {
				t.Errorf("dial %d: server got source %v, want %v", i, got, w)
			}
		case <-time.After(safety):
			t.Fatalf("dial %d: server saw no connection", i)
		}
		_ = c.Close()
	}
}

// TestSourceAddrsPerDestination checks that each destination rotates
// through the source addresses on its own, so interleaved dials to two
// destinations still spread each one's connections.
func TestSourceAddrsPerDestination(t *testing.T) {
	srvA, srvB := serve(t, echo), serve(t, echo)
	a2, a3 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	d := New(Spec{SourceAddrs: []netip.Addr{a2, a3}})
	fa, fb := d.Func(srvA.dest(), ""), d.Func(srvB.dest(), "")
	for i, w := range []netip.Addr{a2, a3, a2, a3} {
		for _, f := range []connpool.DialFunc{fa, fb} {
			c, err := f(context.Background())
			if err != nil {
				t.Fatalf("dial %d: got error %v, want nil", i, err)
			}
			if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); got != w {
				t.Errorf("dial %d to %v: got local %v, want %v", i, c.RemoteAddr(), got, w)
			}
			_ = c.Close()
		}
	}
}

// TestConcurrentDials shares one DialFunc among goroutines (run it with
// -race) and checks the source addresses stay evenly used.
func TestConcurrentDials(t *testing.T) {
	srv := tlsBackend(t, 0)
	a2, a3 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	d := New(Spec{ConnectTimeout: safety, SourceAddrs: []netip.Addr{a2, a3}, TLS: &tls.Config{RootCAs: rootsOf(srv)}})
	f := d.Func(backendDest(t, srv, "example.com"), "")
	const workers, each = 4, 5
	locals := make(chan netip.Addr, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				c, err := f(context.Background())
				if err != nil {
					t.Errorf("got error %v, want nil", err)
					return
				}
				locals <- c.LocalAddr().(*net.TCPAddr).AddrPort().Addr()
				_ = c.Close()
			}
		})
	}
	wg.Wait()
	close(locals)
	count := map[netip.Addr]int{}
	for a := range locals {
		count[a]++
	}
	if count[a2] != workers*each/2 || count[a3] != workers*each/2 {
		t.Errorf("got %v, want %d dials from each of %v and %v", count, workers*each/2, a2, a3)
	}
}

// tlsBackend is an HTTPS test server whose handler answers
// "resumed=<bool> sni=<name>" for the connection it runs on.
func tlsBackend(t testing.TB, maxVersion uint16) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "resumed="+boolString(r.TLS.DidResume)+" sni="+r.TLS.ServerName)
	}))
	srv.TLS = &tls.Config{MaxVersion: maxVersion}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func backendDest(t testing.TB, srv *httptest.Server, serverName string) connpool.Dest {
	t.Helper()
	ap, err := netip.ParseAddrPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return connpool.Dest{Addr: ap, ServerName: serverName}
}

func rootsOf(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

func TestTLSResumesAndSendsSNI(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version uint16
	}{
		{"tls12", tls.VersionTLS12},
		{"tls13", tls.VersionTLS13},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := tlsBackend(t, tt.version)
			base := &tls.Config{RootCAs: rootsOf(srv)}
			d := New(Spec{ConnectTimeout: safety, TLS: base})
			f := d.Func(backendDest(t, srv, "api.example.com"), "")
			for i, want := range []string{
				"resumed=false sni=api.example.com",
				"resumed=true sni=api.example.com",
				"resumed=true sni=api.example.com",
			} {
				c, err := f(context.Background())
				if err != nil {
					t.Fatalf("dial %d: got error %v, want nil", i, err)
				}
				tc, ok := c.(*tls.Conn)
				if !ok {
					t.Fatalf("dial %d: got %T, want *tls.Conn", i, c)
				}
				if st := tc.ConnectionState(); !st.HandshakeComplete || st.Version != tt.version {
					t.Errorf("dial %d: got complete=%v version=%x, want true %x", i, st.HandshakeComplete, st.Version, tt.version)
				}
				if got := get(t, c, "/"); got != want {
					t.Errorf("dial %d: got %q, want %q", i, got, want)
				}
				_ = c.Close()
			}
			// The caller's config is the caller's: Func works on clones.
			if base.ClientSessionCache != nil || base.ServerName != "" {
				t.Errorf("got caller's config modified (cache %v, name %q), want untouched", base.ClientSessionCache, base.ServerName)
			}
		})
	}
}

func TestTLSServerNameFallbacks(t *testing.T) {
	srv := tlsBackend(t, 0)
	tests := []struct {
		name       string
		configured string
		dest       string
		want       string
	}{
		{name: "dest wins", configured: "config.example.com", dest: "dest.example.com", want: "sni=dest.example.com"},
		{name: "configured when dest has none", configured: "config.example.com", want: "sni=config.example.com"},
		{name: "IP when neither", want: "sni="}, // verified against the IP SAN, no SNI sent
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Spec{TLS: &tls.Config{RootCAs: rootsOf(srv), ServerName: tt.configured}})
			c, err := d.Func(backendDest(t, srv, tt.dest), "")(context.Background())
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			defer func() { _ = c.Close() }()
			if got := get(t, c, "/"); got != "resumed=false "+tt.want {
				t.Errorf("got %q, want %q", got, "resumed=false "+tt.want)
			}
		})
	}
}

func TestTLSFailures(t *testing.T) {
	srv := tlsBackend(t, 0)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	tests := []struct {
		name string
		srv  *httptest.Server
		cfg  *tls.Config
		sni  string
	}{
		{name: "unknown CA", srv: srv, cfg: &tls.Config{RootCAs: x509.NewCertPool()}, sni: "example.com"},
		{name: "wrong host name", srv: srv, cfg: &tls.Config{RootCAs: rootsOf(srv)}, sni: "weir.invalid"},
		{name: "backend speaks plain HTTP", srv: plain, cfg: &tls.Config{RootCAs: rootsOf(srv)}, sni: "example.com"},
		{name: "protocol version mismatch", srv: tlsBackend(t, tls.VersionTLS12), cfg: &tls.Config{RootCAs: rootsOf(srv), MinVersion: tls.VersionTLS13}, sni: "example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, de := dialKind(t, context.Background(), New(Spec{ConnectTimeout: safety, TLS: tt.cfg}).Func(backendDest(t, tt.srv, tt.sni), ""))
			if got != connpool.DialTLS {
				t.Errorf("got %s (%v), want DialTLS", kindName(got), de)
			}
		})
	}
}

// BenchmarkDial measures one dial and close over loopback. Connections are
// closed with RST so the benchmark leaves no TIME_WAIT behind to exhaust
// the ephemeral ports.
func BenchmarkDial(b *testing.B) {
	drain := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	abort := func(b *testing.B, c net.Conn) {
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}
	b.Run("net_dialer_baseline", func(b *testing.B) {
		// What net alone costs, for comparison with "plain".
		addr := serve(b, drain).Addr().String()
		nd := net.Dialer{Timeout: safety, KeepAlive: keepAlive}
		b.ReportAllocs()
		for b.Loop() {
			c, err := nd.DialContext(context.Background(), "tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			abort(b, c)
		}
	})
	b.Run("plain", func(b *testing.B) {
		f := New(Spec{ConnectTimeout: safety}).Func(serve(b, drain).dest(), "")
		b.ReportAllocs()
		for b.Loop() {
			c, err := f(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			abort(b, c)
		}
	})
	b.Run("source_addrs", func(b *testing.B) {
		spec := Spec{ConnectTimeout: safety, SourceAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}}
		f := New(spec).Func(serve(b, drain).dest(), "")
		b.ReportAllocs()
		for b.Loop() {
			c, err := f(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			abort(b, c)
		}
	})
	b.Run("tls12_resumed", func(b *testing.B) {
		// TLS 1.2 hands out the ticket within the handshake, so no exchange
		// is needed for the next dial to resume.
		srv := tlsBackend(b, tls.VersionTLS12)
		f := New(Spec{ConnectTimeout: safety, TLS: &tls.Config{RootCAs: rootsOf(srv)}}).Func(backendDest(b, srv, "example.com"), "")
		b.ReportAllocs()
		for b.Loop() {
			c, err := f(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			abort(b, c)
		}
	})
}
