package dialer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
)

func proxyURL(p *proxy, user *url.Userinfo) *url.URL {
	return &url.URL{Scheme: "http", Host: p.Addr().String(), User: user}
}

func TestProxyPlainTunnel(t *testing.T) {
	backend := serve(t, echo)
	p := newProxy(t, proxyTunnel)
	d := New(Spec{ConnectTimeout: safety, Proxy: proxyURL(p, url.UserPassword("weir", "s3cret"))})
	f := d.Func(p.dest(), backend.Addr().String())
	for i := range 2 {
		c, err := f(context.Background())
		if err != nil {
			t.Fatalf("dial %d: got error %v, want nil", i, err)
		}
		if _, err := io.WriteString(c, "through"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len("through"))
		_ = c.SetReadDeadline(time.Now().Add(safety))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "through" {
			t.Errorf("dial %d: got %q, %v, want \"through\", nil", i, buf, err)
		}
		_ = c.Close()
		if got, want := p.connects.Load(), int32(i+1); got != want {
			t.Errorf("dial %d: got %d CONNECTs, want %d", i, got, want)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("weir:s3cret"))
	for i := range p.targets {
		if p.targets[i] != backend.Addr().String() || p.auth[i] != wantAuth {
			t.Errorf("CONNECT %d: got target %q auth %q, want %q %q", i, p.targets[i], p.auth[i], backend.Addr(), wantAuth)
		}
	}
}

func TestProxyTLSTunnel(t *testing.T) {
	srv := tlsBackend(t, tls.VersionTLS13)
	p := newProxy(t, proxyTunnel)
	d := New(Spec{ConnectTimeout: safety, TLS: &tls.Config{RootCAs: rootsOf(srv)}, Proxy: proxyURL(p, nil)})
	dest := p.dest()
	dest.ServerName = "api.example.com"
	f := d.Func(dest, srv.Listener.Addr().String())
	for i, want := range []string{"resumed=false sni=api.example.com", "resumed=true sni=api.example.com"} {
		c, err := f(context.Background())
		if err != nil {
			t.Fatalf("dial %d: got error %v, want nil", i, err)
		}
		if _, ok := c.(*tls.Conn); !ok {
			t.Errorf("dial %d: got %T, want *tls.Conn", i, c)
		}
		if got := get(t, c, "/"); got != want {
			t.Errorf("dial %d: got %q, want %q", i, got, want)
		}
		_ = c.Close()
		if got, want := p.connects.Load(), int32(i+1); got != want {
			t.Errorf("dial %d: got %d CONNECTs, want %d", i, got, want)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.auth[0] != "" {
		t.Errorf("got Proxy-Authorization %q, want none", p.auth[0])
	}
}

// TestProxyServerNameFromTunnel checks the TLS name falls back to the
// CONNECT target's host when the destination names none.
func TestProxyServerNameFromTunnel(t *testing.T) {
	srv := tlsBackend(t, 0)
	p := newProxy(t, proxyTunnel)
	d := New(Spec{TLS: &tls.Config{RootCAs: rootsOf(srv)}, Proxy: proxyURL(p, nil)})
	c, err := d.Func(p.dest(), srv.Listener.Addr().String())(context.Background())
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	defer func() { _ = c.Close() }()
	if got, want := get(t, c, "/"), "resumed=false sni="; got != want { // an IP: verified, not sent
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestProxyWithoutTunnel checks that a proxied destination without a
// tunnel target is plain TCP to the proxy: no CONNECT, no TLS.
func TestProxyWithoutTunnel(t *testing.T) {
	p := serve(t, echo) // stands in for the proxy receiving absolute-form requests
	d := New(Spec{TLS: &tls.Config{}, Proxy: &url.URL{Scheme: "http", Host: p.Addr().String()}})
	c, err := d.Func(p.dest(), "")(context.Background())
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	defer func() { _ = c.Close() }()
	if _, err := io.WriteString(c, "GET http://a.test/ HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(safety))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "GET http://a.test/ HTTP/1.1\r\n" {
		t.Errorf("got %q, %v, want the request line echoed", line, err)
	}
}

func TestProxyFailures(t *testing.T) {
	tests := []struct {
		name     string
		mode     proxyMode
		tls      bool
		want     connpool.DialKind
		wantCode int // ProxyError.StatusCode; -1 = no ProxyError
	}{
		{name: "407", mode: proxyRefuse, want: connpool.DialProxy, wantCode: 407},
		{name: "407 before TLS", mode: proxyRefuse, tls: true, want: connpool.DialProxy, wantCode: 407},
		{name: "bytes after the head", mode: proxyExtra, want: connpool.DialProxy},
		{name: "not HTTP", mode: proxyMalformed, want: connpool.DialProxy},
		{name: "hangs up", mode: proxyHangUp, want: connpool.DialProxy},
		{name: "never answers", mode: proxySilent, want: connpool.DialTimeout, wantCode: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProxy(t, tt.mode)
			spec := Spec{ConnectTimeout: 200 * time.Millisecond, Proxy: proxyURL(p, nil)}
			if tt.tls {
				spec.TLS = &tls.Config{}
			}
			got, de := dialKind(t, context.Background(), New(spec).Func(p.dest(), "127.0.0.1:9"))
			if got != tt.want {
				t.Errorf("got %s (%v), want %s", kindName(got), de, kindName(tt.want))
			}
			pe, ok := errors.AsType[*ProxyError](de)
			switch {
			case tt.wantCode < 0 && ok:
				t.Errorf("got %v, want no *ProxyError", pe)
			case tt.wantCode >= 0 && !ok:
				t.Errorf("got %v, want a *ProxyError", de)
			case ok && pe.StatusCode != tt.wantCode:
				t.Errorf("got status %d, want %d", pe.StatusCode, tt.wantCode)
			}
			if want := p.Addr().String() + " (CONNECT 127.0.0.1:9)"; de.Addr != want {
				t.Errorf("got Addr %q, want %q", de.Addr, want)
			}
			if got := p.connects.Load(); got != 1 {
				t.Errorf("got %d CONNECTs, want 1", got)
			}
			if tt.mode == proxySilent {
				if byClient := <-p.closed; !byClient {
					t.Error("got connection left open, want closed by the dialer")
				}
			}
		})
	}
}

func TestProxyCancelDuringConnect(t *testing.T) {
	p := newProxy(t, proxySilent)
	d := New(Spec{ConnectTimeout: time.Hour, Proxy: proxyURL(p, nil)})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-p.connected // cancel once the proxy has the CONNECT
		cancel()
	}()
	got, de := dialKind(t, ctx, d.Func(p.dest(), "127.0.0.1:9"))
	if got != connpool.DialOther || !errors.Is(de, context.Canceled) {
		t.Errorf("got %s (%v), want DialOther wrapping context.Canceled", kindName(got), de)
	}
	if byClient := <-p.closed; !byClient {
		t.Error("got connection left open, want closed by the dialer")
	}
}

func TestProxyBadTunnelTarget(t *testing.T) {
	p := newProxy(t, proxyTunnel)
	d := New(Spec{Proxy: proxyURL(p, nil)})
	for _, target := range []string{"a.test:443\r\nX-Evil: 1", "a.test", "a.test:0", ":443", "a b:443", "a.test:99999"} {
		got, de := dialKind(t, context.Background(), d.Func(p.dest(), target))
		if _, ok := errors.AsType[*SpecError](de); got != connpool.DialOther || !ok {
			t.Errorf("%q: got %s (%v), want DialOther with a *SpecError", target, kindName(got), de)
		}
	}
	if got := p.connects.Load(); got != 0 {
		t.Errorf("got %d CONNECTs, want 0", got)
	}
}

func TestReadConnectResponse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantErr  bool
		wantCode int // of the *ProxyError, when wantErr
	}{
		{name: "200 with headers", in: "HTTP/1.1 200 Connection established\r\nVia: 1.1 p\r\nX: y\r\n\r\n"},
		{name: "HTTP/1.0, bare LF, no reason", in: "HTTP/1.0 200\n\n"},
		{name: "204", in: "HTTP/1.1 204 No Content\r\n\r\n"},
		{name: "407", in: "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", wantErr: true, wantCode: 407},
		{name: "502 with body", in: "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad", wantErr: true, wantCode: 502},
		{name: "100", in: "HTTP/1.1 100 Continue\r\n\r\n", wantErr: true, wantCode: 100},
		{name: "bytes after the head", in: "HTTP/1.1 200 OK\r\n\r\nx", wantErr: true},
		{name: "HTTP/2", in: "HTTP/2 200\r\n\r\n", wantErr: true},
		{name: "short code", in: "HTTP/1.1 20\r\n\r\n", wantErr: true},
		{name: "code not digits", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "code run into reason", in: "HTTP/1.1 2000\r\n\r\n", wantErr: true},
		{name: "code 099", in: "HTTP/1.1 099 x\r\n\r\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "cut in headers", in: "HTTP/1.1 200 OK\r\nVia: p\r\n", wantErr: true},
		{name: "line longer than the buffer", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", readerSize) + "\r\n\r\n", wantErr: true},
		{name: "head over the bound", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("a", 1000)+"\r\n", 17) + "\r\n", wantErr: true},
		{name: "head just under the bound", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("a", 1000)+"\r\n", 16) + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readConnectResponse(bufio.NewReaderSize(strings.NewReader(tt.in), readerSize))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			pe, ok := errors.AsType[*ProxyError](err)
			if !ok {
				t.Fatalf("got %T %v, want *ProxyError", err, err)
			}
			if pe.StatusCode != tt.wantCode {
				t.Errorf("got status %d, want %d", pe.StatusCode, tt.wantCode)
			}
		})
	}
}

func FuzzReadConnectResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 Connection established\r\n\r\n",
		"HTTP/1.0 200\n\n",
		"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nextra",
		"HTTP/1.1 2x0\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &countingReader{r: strings.NewReader(string(in))}
		err := readConnectResponse(bufio.NewReaderSize(r, readerSize))
		if r.n > maxConnectHead+readerSize {
			t.Errorf("got %d bytes read, want at most %d", r.n, maxConnectHead+readerSize)
		}
		if err == nil {
			// Only a 2xx head that ends exactly at the end of the input passes.
			first, _, _ := strings.Cut(string(in), "\n")
			code, _, ok := parseStatusLine([]byte(strings.TrimSuffix(first, "\r")))
			if !ok || code/100 != 2 || !(strings.HasSuffix(string(in), "\n\n") || strings.HasSuffix(string(in), "\n\r\n")) {
				t.Errorf("got nil for %q, want an error", in)
			}
			return
		}
		pe, ok := errors.AsType[*ProxyError](err)
		if !ok {
			t.Fatalf("got %T %v, want *ProxyError", err, err)
		}
		if pe.StatusCode != 0 && (pe.StatusCode < 100 || pe.StatusCode > 999 || pe.StatusCode/100 == 2) {
			t.Errorf("got status %d in a refusal, want 1xx or 3xx-9xx", pe.StatusCode)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
