// Package dialer opens weir's backend connections: TCP connect from
// round-robin source addresses, TLS with session resumption, and tunnels
// through an egress HTTP proxy. Every failure comes back as a
// *connpool.DialError whose Kind names the cause.
package dialer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirgw/weir/internal/connpool"
)

// keepAlive is the TCP keep-alive probe interval of every backend connection.
const keepAlive = 30 * time.Second

// sessionCacheSize is the number of TLS sessions kept by the cache New
// installs; the cache is keyed by server name, so this bounds distinct names.
const sessionCacheSize = 1024

// Spec is how a target's connections are opened.
type Spec struct {
	// ConnectTimeout bounds TCP connect, proxy CONNECT and TLS handshake
	// together. Zero means no own bound: only the dial context's deadline.
	ConnectTimeout time.Duration
	// SourceAddrs binds outbound sockets to these local IPs, round-robin per
	// destination among those of the destination's address family. On Linux
	// the socket gets IP_BIND_ADDRESS_NO_PORT so the port is chosen at connect
	// time per 4-tuple, not reserved at bind. Empty means the kernel picks.
	SourceAddrs []netip.Addr
	// TLS is the client TLS configuration; nil means plain TCP. It is cloned
	// per destination with ServerName set, and a ClientSessionCache is
	// installed if it has none, so TLS sessions resume across reconnects.
	// The caller's value is never modified.
	TLS *tls.Config
	// Proxy is the egress forward proxy, http://[user:pass@]host:port; nil
	// means direct. Its userinfo, if any, is sent as Basic
	// Proxy-Authorization on CONNECT.
	Proxy *url.URL
}

// Validate reports the first problem in s as a *SpecError, or nil.
func (s Spec) Validate() error {
	if s.ConnectTimeout < 0 {
		return &SpecError{Field: "ConnectTimeout", Problem: "negative: " + s.ConnectTimeout.String()}
	}
	for _, a := range s.SourceAddrs {
		if !a.IsValid() || a.IsUnspecified() {
			return &SpecError{Field: "SourceAddrs", Problem: "not a usable local address: " + a.String()}
		}
	}
	if p := s.Proxy; p != nil {
		if p.Scheme != "http" {
			return &SpecError{Field: "Proxy", Problem: "unsupported scheme " + strconv.Quote(p.Scheme) + " (only http)"}
		}
		if p.Host == "" {
			return &SpecError{Field: "Proxy", Problem: "no host"}
		}
	}
	return nil
}

// SpecError is a Spec, destination or tunnel target that cannot be dialed.
// A DialFunc built from one fails every dial with it (Kind DialOther)
// rather than quietly dialing something else.
type SpecError struct {
	Field   string // what was wrong: a Spec field, "Dest" or "tunnelTo"
	Problem string
}

func (e *SpecError) Error() string { return "dialer: " + e.Field + ": " + e.Problem }

// Dialer opens connections per its Spec. It is safe for concurrent use.
type Dialer struct {
	timeout time.Duration
	sources []netip.Addr // unmapped
	tls     *tls.Config  // base config with a session cache; nil = plain
	proxy   *url.URL
	invalid error // from Spec.Validate: fails every dial

	plain net.Dialer // kernel-chosen source address
	bound net.Dialer // explicit source address, IP_BIND_ADDRESS_NO_PORT

	readers sync.Pool // *bufio.Reader for CONNECT response heads
}

// New returns a Dialer for s. An invalid s (see Spec.Validate) yields a
// Dialer whose every dial fails with the *SpecError.
func New(s Spec) *Dialer {
	d := &Dialer{
		timeout: s.ConnectTimeout,
		proxy:   s.Proxy,
		invalid: s.Validate(),
		plain:   net.Dialer{Timeout: s.ConnectTimeout, KeepAlive: keepAlive},
		bound:   net.Dialer{Timeout: s.ConnectTimeout, KeepAlive: keepAlive, Control: bindNoPort},
	}
	for _, a := range s.SourceAddrs {
		d.sources = append(d.sources, a.Unmap())
	}
	if s.TLS != nil {
		d.tls = s.TLS.Clone()
		if d.tls.ClientSessionCache == nil {
			d.tls.ClientSessionCache = tls.NewLRUClientSessionCache(sessionCacheSize)
		}
	}
	return d
}

// Func returns the DialFunc for one destination. dest.Addr is what to connect to
// (the backend IP:port; or the proxy's IP:port when traffic is proxied).
// When d has a Proxy and tunnelTo != "" the DialFunc connects to dest.Addr (the
// proxy), sends "CONNECT tunnelTo HTTP/1.1" (Host: tunnelTo), requires a 2xx, and
// then (if TLS) does the TLS handshake with dest.ServerName over the tunnel.
// Without a proxy, tunnelTo is ignored. With a proxy and tunnelTo == "" the
// connection is plain TCP to the proxy (for HTTP requests in absolute form),
// without TLS.
//
// The DialFunc bounds the whole dial by ConnectTimeout and ctx, whichever
// ends first; on failure it closes any half-open connection and returns a
// *connpool.DialError. With TLS the conn it returns is the *tls.Conn after a
// completed handshake.
//
// The TLS server name is dest.ServerName; if that is empty, the configured
// ServerName, else the host of tunnelTo, else dest's IP (verified against
// the certificate's IP SANs).
func (d *Dialer) Func(dest connpool.Dest, tunnelTo string) connpool.DialFunc {
	t := &target{d: d, raddr: netip.AddrPortFrom(dest.Addr.Addr().Unmap(), dest.Addr.Port())}
	t.addr = t.raddr.String()
	t.label = t.addr
	t.bad = d.invalid

	tunnel := d.proxy != nil && tunnelTo != ""
	if tunnel {
		t.label = t.addr + " (CONNECT " + tunnelTo + ")"
		if !validTunnelTarget(tunnelTo) {
			t.bad = &SpecError{Field: "tunnelTo", Problem: "not host:port: " + strconv.Quote(tunnelTo)}
		}
		t.connectReq = connectRequest(tunnelTo, d.proxy.User)
	}
	if !t.raddr.IsValid() || t.raddr.Port() == 0 {
		t.bad = &SpecError{Field: "Dest", Problem: "no IP:port: " + dest.String()}
	}

	if len(d.sources) > 0 {
		for _, a := range d.sources {
			if a.Is4() == t.raddr.Addr().Is4() {
				t.sources = append(t.sources, a)
			}
		}
		if len(t.sources) == 0 && t.bad == nil {
			t.bad = &SpecError{Field: "SourceAddrs", Problem: "none of the address family of " + t.addr}
		}
	}

	if d.tls != nil && (d.proxy == nil || tunnel) {
		t.tls = d.tls.Clone()
		switch {
		case dest.ServerName != "":
			t.tls.ServerName = dest.ServerName
		case t.tls.ServerName != "":
		case tunnel:
			t.tls.ServerName, _, _ = net.SplitHostPort(tunnelTo)
		default:
			t.tls.ServerName = t.raddr.Addr().String()
		}
	}
	return t.dial
}

// target is everything one destination's dials share, computed once in Func.
type target struct {
	d          *Dialer
	raddr      netip.AddrPort // unmapped
	addr       string         // raddr as "ip:port"
	label      string         // DialError.Addr: addr, plus the CONNECT target when tunneling
	sources    []netip.Addr   // the Dialer's source addresses of raddr's family
	next       atomic.Uint32  // round-robin position in sources
	connectReq []byte         // the CONNECT request; nil = no tunnel
	tls        *tls.Config    // nil = plain
	bad        error          // fails every dial
}

// dial is the connpool.DialFunc of t.
func (t *target) dial(ctx context.Context) (net.Conn, error) {
	if t.bad != nil {
		return nil, &connpool.DialError{Kind: connpool.DialOther, Addr: t.label, Err: t.bad}
	}
	// One deadline covers every phase; the TCP connect applies the same
	// bound itself through net.Dialer.Timeout and ctx.
	var deadline time.Time
	if t.d.timeout > 0 {
		deadline = time.Now().Add(t.d.timeout)
	}
	if dl, ok := ctx.Deadline(); ok && (deadline.IsZero() || dl.Before(deadline)) {
		deadline = dl
	}

	conn, err := t.connect(ctx)
	if err != nil {
		return nil, &connpool.DialError{Kind: Classify(err), Addr: t.label, Err: err}
	}
	if t.connectReq == nil && t.tls == nil {
		return conn, nil
	}
	if !deadline.IsZero() {
		if err := conn.SetDeadline(deadline); err != nil {
			return nil, t.fail(conn, connpool.DialOther, err)
		}
	}
	if t.connectReq != nil {
		if err := t.tunnel(ctx, conn); err != nil {
			return nil, t.fail(conn, connpool.DialProxy, err)
		}
	}
	if t.tls != nil {
		tc := tls.Client(conn, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, t.fail(conn, connpool.DialTLS, err)
		}
		conn = tc
	}
	if !deadline.IsZero() {
		if err := conn.SetDeadline(time.Time{}); err != nil {
			return nil, t.fail(conn, connpool.DialOther, err)
		}
	}
	return conn, nil
}

// fail closes conn and classifies err; errors Classify cannot place are
// charged to the phase that failed (phase: DialProxy or DialTLS), except a
// cancelled context, which is the caller giving up.
func (t *target) fail(conn net.Conn, phase connpool.DialKind, err error) error {
	_ = conn.Close()
	kind := Classify(err)
	if kind == connpool.DialOther && !errors.Is(err, context.Canceled) {
		kind = phase
	}
	return &connpool.DialError{Kind: kind, Addr: t.label, Err: err}
}

// connect opens the TCP connection, from the next source address if any.
func (t *target) connect(ctx context.Context) (net.Conn, error) {
	if len(t.sources) == 0 {
		return t.d.plain.DialContext(ctx, "tcp", t.addr)
	}
	src := t.sources[(t.next.Add(1)-1)%uint32(len(t.sources))]
	c, err := t.d.bound.DialTCP(ctx, "tcp", netip.AddrPortFrom(src, 0), t.raddr)
	if err != nil {
		return nil, err // not c: a nil *TCPConn is a non-nil net.Conn
	}
	return c, nil
}

// tunnel runs the CONNECT exchange on conn, whose deadline is already set;
// a cancelled ctx interrupts it by moving the deadline to the past.
func (t *target) tunnel(ctx context.Context, conn net.Conn) error {
	if ctx.Done() == nil {
		return t.d.connect(conn, t.connectReq)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	err := t.d.connect(conn, t.connectReq)
	if !stop() {
		// ctx ended during the exchange: that is the cause, and conn's
		// deadline is now in the past.
		return ctx.Err()
	}
	return err
}

// connect writes req on conn and reads the proxy's answer.
func (d *Dialer) connect(conn net.Conn, req []byte) error {
	if _, err := conn.Write(req); err != nil {
		return err
	}
	br, _ := d.readers.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(conn, readerSize)
	} else {
		br.Reset(conn)
	}
	err := readConnectResponse(br)
	br.Reset(nil) // drop conn before pooling
	d.readers.Put(br)
	return err
}

// connectRequest renders the CONNECT request head for target.
func connectRequest(target string, user *url.Userinfo) []byte {
	b := make([]byte, 0, 64+2*len(target))
	b = append(b, "CONNECT "...)
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, target...)
	b = append(b, "\r\n"...)
	if user != nil {
		pass, _ := user.Password()
		b = append(b, "Proxy-Authorization: Basic "...)
		b = base64.StdEncoding.AppendEncode(b, []byte(user.Username()+":"+pass))
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// validTunnelTarget reports whether s is host:port with nothing that could
// break the request line or smuggle a header.
func validTunnelTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}
