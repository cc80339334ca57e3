package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/h1"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/upstream"
)

func TestHopByHop(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"connection", "Connection", true},
		{"keep-alive", "Keep-Alive", true},
		{"proxy-connection", "Proxy-Connection", true},
		{"proxy-authorization", "Proxy-Authorization", true},
		{"proxy-authenticate", "Proxy-Authenticate", true},
		{"te", "Te", true},
		{"trailer", "Trailer", true},
		{"transfer-encoding", "Transfer-Encoding", true},
		{"upgrade", "Upgrade", true},
		{"end-to-end", "Content-Type", false},
		{"authorization is end-to-end", "Authorization", false},
		// Keys reach hopByHop canonical: other spellings are not matched.
		{"non-canonical", "connection", false},
		{"prefix", "Connections", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hopByHop(tt.key); got != tt.want {
				t.Errorf("hopByHop(%q): got %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestCompressedTransfer(t *testing.T) {
	tests := []struct {
		name string
		vs   []string
		want bool
	}{
		{"chunked", []string{"chunked"}, false},
		{"empty elements", []string{" , chunked ,"}, false},
		{"gzip then chunked", []string{"gzip, chunked"}, true},
		{"two fields", []string{"GZIP", "chunked"}, true},
		{"deflate alone", []string{"deflate"}, true},
		{"unknown coding", []string{"x-custom"}, false},
		{"prefix", []string{"gzipx"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compressedTransfer(tt.vs); got != tt.want {
				t.Errorf("compressedTransfer(%q): got %v, want %v", tt.vs, got, tt.want)
			}
		})
	}
}

func TestForbiddenTrailer(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"framing", "Content-Length", true},
		{"routing", "Host", true},
		{"auth", "Authorization", true},
		{"cookie", "Set-Cookie", true},
		{"checksum", "X-Checksum", false},
		{"server timing", "Server-Timing", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forbiddenTrailer(tt.key); got != tt.want {
				t.Errorf("forbiddenTrailer(%q): got %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestAppendJoinPath(t *testing.T) {
	tests := []struct{ name, base, rest, want string }{
		{"base and rest", "/v1", "/echo", "/v1/echo"},
		{"no rest", "/v1", "", "/v1"},
		{"neither", "", "", "/"},
		{"root base, no rest", "/", "", "/"},
		{"no base", "", "/x", "/x"},
		{"root base", "/", "/x", "/x"},
		{"base with slash", "/v1/", "/x", "/v1/x"},
		{"base with slash, no rest", "/v1/", "", "/v1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendJoinPath([]byte("GET "), tt.base, tt.rest)); got != "GET "+tt.want {
				t.Errorf("appendJoinPath(%q, %q): got %q, want %q", tt.base, tt.rest, got, "GET "+tt.want)
			}
		})
	}
}

// head is an outbound request head split into its request line and its
// field lines, sorted (the forwarder writes fields in map order).
type head struct {
	line   string
	fields []string
}

func splitHead(t *testing.T, b []byte) head {
	t.Helper()
	s := string(b)
	body, ok := strings.CutSuffix(s, "\r\n\r\n")
	if !ok {
		t.Fatalf("head %q does not end with an empty line", s)
	}
	lines := strings.Split(body, "\r\n")
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n\x00") {
			t.Fatalf("head line %q holds CR, LF or NUL", l)
		}
	}
	f := lines[1:]
	slices.Sort(f)
	return head{line: lines[0], fields: f}
}

func TestAppendRequestHead(t *testing.T) {
	ep := &upstream.Endpoint{Scheme: "http", Host: "backend:8080", Path: "/v1"}
	// base are the fields weir always sends for a plain GET from
	// 192.0.2.1 to "gw.example" with request id "rid".
	base := []string{
		"Host: backend:8080",
		"Via: 1.1 weir",
		"X-Forwarded-For: 192.0.2.1",
		"X-Forwarded-Host: gw.example",
		"X-Forwarded-Proto: http",
		"X-Request-Id: rid",
	}
	// with returns base with the given fields: one named like a base field
	// replaces it, others are added.
	with := func(extra ...string) []string {
		out := slices.Clone(base)
		for _, e := range extra {
			name, _, _ := strings.Cut(e, ":")
			if i := slices.IndexFunc(base, func(f string) bool { return strings.HasPrefix(f, name+":") }); i >= 0 {
				out[i] = e
			} else {
				out = append(out, e)
			}
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name   string
		ep     *upstream.Endpoint
		method string
		target string // request URI as received (its query is used)
		rest   string
		hdr    http.Header
		cl     int64
		tls    bool
		client string // the client's address as the gateway derived it
		line   string
		fields []string
	}{
		{
			name: "plain GET", method: "GET", target: "/api/x", rest: "/x",
			line: "GET /v1/x HTTP/1.1", fields: with(),
		},
		{
			name: "query kept raw", method: "GET", target: "/api/x?q=a%20b&r=%2F&flag", rest: "/x",
			line: "GET /v1/x?q=a%20b&r=%2F&flag HTTP/1.1", fields: with(),
		},
		{
			name: "empty rest and base", ep: &upstream.Endpoint{Host: "b"}, method: "GET", target: "/api", rest: "",
			line: "GET / HTTP/1.1", fields: with("Host: b"),
		},
		{
			name: "absolute form through an egress proxy", ep: &upstream.Endpoint{Scheme: "http", Host: "backend:8080", Path: "/v1", AbsoluteForm: true},
			method: "GET", target: "/api/x?a=1", rest: "/x",
			line: "GET http://backend:8080/v1/x?a=1 HTTP/1.1", fields: with(),
		},
		{
			name: "content length", method: "POST", target: "/api/x", rest: "/x", cl: 5,
			hdr:  http.Header{"Content-Length": {"999"}},
			line: "POST /v1/x HTTP/1.1", fields: with("Content-Length: 5"),
		},
		{
			name: "chunked", method: "POST", target: "/api/x", rest: "/x", cl: -1,
			hdr:  http.Header{"Transfer-Encoding": {"chunked"}, "Content-Length": {"3"}, "Trailer": {"X-Sum"}},
			line: "POST /v1/x HTTP/1.1", fields: with("Transfer-Encoding: chunked"),
		},
		{
			name: "POST without body says 0", method: "POST", target: "/api/x", rest: "/x",
			line: "POST /v1/x HTTP/1.1", fields: with("Content-Length: 0"),
		},
		{
			name: "PUT without body says 0", method: "PUT", target: "/api/x", rest: "/x",
			line: "PUT /v1/x HTTP/1.1", fields: with("Content-Length: 0"),
		},
		{
			name: "PATCH without body says 0", method: "PATCH", target: "/api/x", rest: "/x",
			line: "PATCH /v1/x HTTP/1.1", fields: with("Content-Length: 0"),
		},
		{
			name: "DELETE without body says nothing", method: "DELETE", target: "/api/x", rest: "/x",
			line: "DELETE /v1/x HTTP/1.1", fields: with(),
		},
		{
			name: "X-Forwarded-For appended", method: "GET", target: "/api/x", rest: "/x",
			hdr:  http.Header{"X-Forwarded-For": {"203.0.113.9", "198.51.100.1, 10.0.0.1"}},
			line: "GET /v1/x HTTP/1.1", fields: with("X-Forwarded-For: 203.0.113.9, 198.51.100.1, 10.0.0.1, 192.0.2.1"),
		},
		{
			name: "Via appended", method: "GET", target: "/api/x", rest: "/x",
			hdr:  http.Header{"Via": {"1.0 edge", "1.1 cdn"}},
			line: "GET /v1/x HTTP/1.1", fields: with("Via: 1.0 edge, 1.1 cdn, 1.1 weir"),
		},
		{
			name: "client's forwarding fields replaced", method: "GET", target: "/api/x", rest: "/x",
			hdr: http.Header{
				"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil"},
				"X-Request-Id": {"other"}, "Expect": {"100-continue"},
			},
			line: "GET /v1/x HTTP/1.1", fields: with(),
		},
		{
			name: "hop-by-hop dropped", method: "GET", target: "/api/x", rest: "/x",
			hdr: http.Header{
				"Connection": {"keep-alive"}, "Keep-Alive": {"timeout=5"}, "Proxy-Connection": {"keep-alive"},
				"Proxy-Authorization": {"Basic eA=="}, "Upgrade": {"websocket"}, "Te": {"gzip"},
				"Authorization": {"Bearer t"},
			},
			line: "GET /v1/x HTTP/1.1", fields: with("Authorization: Bearer t"),
		},
		{
			name: "fields listed in Connection dropped", method: "GET", target: "/api/x", rest: "/x",
			hdr: http.Header{
				"Connection": {"X-A, x-b", "X-D"}, "X-A": {"1"}, "X-B": {"2"}, "X-C": {"3"}, "X-D": {"4"},
			},
			line: "GET /v1/x HTTP/1.1", fields: with("X-C: 3"),
		},
		{
			name: "TE trailers kept", method: "GET", target: "/api/x", rest: "/x",
			hdr:  http.Header{"Te": {"deflate, trailers"}},
			line: "GET /v1/x HTTP/1.1", fields: with("TE: trailers", "Connection: TE"),
		},
		{
			name: "TE trailers kept when listed in Connection", method: "GET", target: "/api/x", rest: "/x",
			hdr:  http.Header{"Te": {"trailers"}, "Connection": {"TE"}},
			line: "GET /v1/x HTTP/1.1", fields: with("TE: trailers", "Connection: TE"),
		},
		{
			name: "repeated field kept in order", method: "GET", target: "/api/x", rest: "/x",
			hdr:  http.Header{"X-Multi": {"a", "b"}},
			line: "GET /v1/x HTTP/1.1", fields: with("X-Multi: a", "X-Multi: b"),
		},
		{
			name: "invalid fields dropped", method: "GET", target: "/api/x", rest: "/x",
			hdr:  http.Header{"X-Nul": {"a\x00b"}, "X-Crlf": {"a\r\nInjected: 1"}, "Bad Name": {"v"}, "X-Ok": {"v"}},
			line: "GET /v1/x HTTP/1.1", fields: with("X-Ok: v"),
		},
		{
			name: "TLS client", method: "GET", target: "/api/x", rest: "/x", tls: true,
			line: "GET /v1/x HTTP/1.1", fields: with("X-Forwarded-Proto: https"),
		},
		{
			name: "IPv6 client", method: "GET", target: "/api/x", rest: "/x", client: "2001:db8::7",
			line: "GET /v1/x HTTP/1.1", fields: with("X-Forwarded-For: 2001:db8::7"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(tt.method, "http://gw.example"+tt.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.hdr != nil {
				r.Header = tt.hdr
			}
			r.ContentLength = tt.cl
			client := "192.0.2.1"
			if tt.client != "" {
				client = tt.client
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			e := tt.ep
			if e == nil {
				e = ep
			}
			got := splitHead(t, appendRequestHead(nil, outbound(r, tt.rest, client), e))
			if got.line != tt.line {
				t.Errorf("request line: got %q, want %q", got.line, tt.line)
			}
			if !slices.Equal(got.fields, tt.fields) {
				t.Errorf("fields:\ngot  %q\nwant %q", got.fields, tt.fields)
			}
		})
	}
}

// outbound describes the client's request r as the forwarder does, for
// request id "rid".
func outbound(r *http.Request, rest, clientIP string) *Request {
	c := &call{}
	c.fromClient(r, rest, &telemetry.Record{RequestID: "rid", ClientIP: clientIP})
	return &c.req
}

// TestAppendRequestHeadAppends checks that the head is appended to what dst
// holds, so a reused buffer works.
func TestAppendRequestHeadAppends(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://gw/api/x", nil)
	ep := &upstream.Endpoint{Host: "b"}
	got := appendRequestHead([]byte("prefix"), outbound(r, "/x", "192.0.2.1"), ep)
	if !strings.HasPrefix(string(got), "prefixGET /x HTTP/1.1\r\n") {
		t.Errorf("got %q, want the head after the prefix", got)
	}
}

// FuzzAppendRequestHead feeds header fields the net/http server would
// accept and checks that the head is one well-formed request that net/http
// parses back with the same fields.
func FuzzAppendRequestHead(f *testing.F) {
	f.Add("X-Custom", "value", "203.0.113.9", "1.0 edge", "a=1")
	f.Add("Connection", "X-Custom", "", "", "")
	f.Add("Te", "trailers", "a, b", "x", "q=%20")
	f.Fuzz(func(t *testing.T, name, value, xff, via, query string) {
		// The server rejects what these filters drop before the forwarder
		// sees a request.
		if !validToken(name) || !validValue(value) || !validValue(xff) || !validValue(via) ||
			strings.ContainsAny(query, " #\t\x7f") || !validValue(query) {
			return
		}
		key := http.CanonicalHeaderKey(name)
		if key == "Host" {
			return // the server moves Host out of the header map
		}
		r, err := http.NewRequest("GET", "http://gw.example/api/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.RawQuery = query
		r.Header[key] = []string{value}
		if xff != "" {
			r.Header["X-Forwarded-For"] = []string{xff}
		}
		if via != "" {
			r.Header["Via"] = []string{via}
		}
		b := appendRequestHead(nil, outbound(r, "/x", "192.0.2.1"), &upstream.Endpoint{Host: "backend", Path: "/v1"})
		got, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(b))))
		if err != nil {
			t.Fatalf("net/http cannot read the head %q: %v", b, err)
		}
		if got.Host != "backend" {
			t.Errorf("Host: got %q, want backend", got.Host)
		}
		if got.URL.RawQuery != query {
			t.Errorf("query: got %q, want %q", got.URL.RawQuery, query)
		}
		if n := len(got.Header["X-Request-Id"]); n != 1 {
			t.Errorf("X-Request-Id: got %d fields, want 1 (head %q)", n, b)
		}
		if vs := got.Header["Via"]; len(vs) != 1 || !strings.HasSuffix(vs[0], "1.1 weir") {
			t.Errorf("Via: got %q, want one field ending in 1.1 weir", vs)
		}
		if vs := got.Header["X-Forwarded-For"]; len(vs) != 1 || !strings.HasSuffix(vs[0], "192.0.2.1") {
			t.Errorf("X-Forwarded-For: got %q, want one field ending in the client", vs)
		}
		switch {
		case hopByHop(key) || slices.Contains([]string{"X-Forwarded-For", "X-Forwarded-Proto",
			"X-Forwarded-Host", "X-Request-Id", "Content-Length", "Expect", "Via"}, key):
		case h1.HasToken(r.Header["Connection"], key):
		default:
			// Go trims the value's surrounding whitespace when reading.
			if vs := got.Header[key]; len(vs) != 1 || vs[0] != strings.Trim(value, " \t") {
				t.Errorf("%s: got %q, want [%q]", key, vs, value)
			}
		}
	})
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func TestCopyResponseHeader(t *testing.T) {
	tests := []struct {
		name string
		src  http.Header
		want http.Header
	}{
		{
			name: "end-to-end kept, Via added",
			src:  http.Header{"Content-Type": {"text/plain"}, "X-Multi": {"a", "b"}},
			want: http.Header{"Content-Type": {"text/plain"}, "X-Multi": {"a", "b"}, "Via": {"1.1 weir"}},
		},
		{
			name: "hop-by-hop dropped, Trailer kept",
			src: http.Header{
				"Connection": {"close"}, "Keep-Alive": {"timeout=5"}, "Transfer-Encoding": {"chunked"},
				"Upgrade": {"h2c"}, "Proxy-Authenticate": {"Basic"}, "Trailer": {"X-Sum"},
			},
			want: http.Header{"Trailer": {"X-Sum"}, "Via": {"1.1 weir"}},
		},
		{
			name: "listed in Connection dropped",
			src:  http.Header{"Connection": {"x-hop, close"}, "X-Hop": {"secret"}, "X-End": {"kept"}},
			want: http.Header{"X-End": {"kept"}, "Via": {"1.1 weir"}},
		},
		{
			name: "backend Via appended to",
			src:  http.Header{"Via": {"1.1 app"}},
			want: http.Header{"Via": {"1.1 app", "1.1 weir"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := http.Header{}
			copyResponseHeader(got, tt.src)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReplayable(t *testing.T) {
	tests := []struct {
		name     string
		verdict  connpool.Verdict
		method   string
		key      string // Idempotency-Key
		streamed bool
		want     bool
	}{
		{"nothing written POST", connpool.VerdictNothingWritten, "POST", "", false, true},
		{"nothing written GET", connpool.VerdictNothingWritten, "GET", "", false, true},
		{"nothing written but streamed", connpool.VerdictNothingWritten, "GET", "", true, false},
		{"no response GET", connpool.VerdictNoResponse, "GET", "", false, true},
		{"no response HEAD", connpool.VerdictNoResponse, "HEAD", "", false, true},
		{"no response OPTIONS", connpool.VerdictNoResponse, "OPTIONS", "", false, true},
		{"no response TRACE", connpool.VerdictNoResponse, "TRACE", "", false, true},
		{"no response PUT", connpool.VerdictNoResponse, "PUT", "", false, true},
		{"no response DELETE", connpool.VerdictNoResponse, "DELETE", "", false, true},
		{"no response POST", connpool.VerdictNoResponse, "POST", "", false, false},
		{"no response PATCH", connpool.VerdictNoResponse, "PATCH", "", false, false},
		{"no response POST with key", connpool.VerdictNoResponse, "POST", "k-1", false, true},
		{"no response POST with key, streamed", connpool.VerdictNoResponse, "POST", "k-1", true, false},
		{"no response GET streamed", connpool.VerdictNoResponse, "GET", "", true, false},
		{"partial response GET", connpool.VerdictPartialResponse, "GET", "", false, false},
		{"partial response with key", connpool.VerdictPartialResponse, "POST", "k-1", false, false},
		{"no verdict", connpool.VerdictNone, "GET", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{Method: tt.method}
			if tt.key != "" {
				r.Header = http.Header{"Idempotency-Key": {tt.key}}
			}
			if got := replayable(tt.verdict, r, tt.streamed); got != tt.want {
				t.Errorf("replayable(%v, %s, key %q, streamed %v): got %v, want %v", tt.verdict, tt.method, tt.key, tt.streamed, got, tt.want)
			}
		})
	}
}

// timeoutError is a net.Error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// loopbackPool returns a pool whose connections go to a real loopback
// listener, and a channel delivering the server end of each accepted
// connection.
func loopbackPool(t *testing.T) (*connpool.Pool, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	addr := ln.Addr().String()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	p := connpool.New(connpool.Dest{Addr: netip.MustParseAddrPort(addr)}, connpool.Settings{IdleTimeout: time.Minute}, dial)
	t.Cleanup(func() {
		p.Drain(connpool.Shutdown)
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	return p, accepted
}

func TestStaleVerdict(t *testing.T) {
	p, accepted := loopbackPool(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		reused bool
		write  bool // flush request bytes to the backend
		answer bool // the backend sends one response byte, which is read
		err    error
		want   connpool.Verdict
	}{
		{"fresh connection", false, true, false, io.EOF, connpool.VerdictNone},
		{"reused, dead before writing", true, false, false, syscall.EPIPE, connpool.VerdictNothingWritten},
		{"reused, written, no response", true, true, false, io.EOF, connpool.VerdictNoResponse},
		{"reused, partial response", true, true, true, io.ErrUnexpectedEOF, connpool.VerdictPartialResponse},
		{"reused, timeout is not stale", true, true, false, timeoutError{}, connpool.VerdictNone},
		{"reused, deadline is not stale", true, false, false, fmt.Errorf("read: %w", os.ErrDeadlineExceeded), connpool.VerdictNone},
		{"reused, client body failure is not stale", true, true, false, clientBodyError{io.ErrUnexpectedEOF}, connpool.VerdictNone},
		{"reused, wrapped client body failure", true, true, false, fmt.Errorf("copy: %w", clientBodyError{io.EOF}), connpool.VerdictNone},
		{"reused, malformed response is an answer", true, true, true, &h1.ProtocolError{Msg: "bad status line"}, connpool.VerdictNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := p.Get(ctx, true) // a new connection
			if err != nil {
				t.Fatal(err)
			}
			srv := <-accepted
			defer srv.Close()
			if tt.reused {
				c.Release(connpool.BackendTerms{})
				if c, err = p.Get(ctx, false); err != nil {
					t.Fatal(err)
				}
			}
			if c.Reused() != tt.reused {
				t.Fatalf("Reused: got %v, want %v", c.Reused(), tt.reused)
			}
			if tt.write {
				if _, err := io.WriteString(c.W, "GET / HTTP/1.1\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				if err := c.W.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.answer {
				if _, err := io.WriteString(srv, "H"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.R.ReadByte(); err != nil {
					t.Fatal(err)
				}
			}
			got := staleVerdict(&attempt{conn: c}, &h1Exchange{}, tt.err)
			c.Close(connpool.Error)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClassifyGet(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	dest := connpool.Dest{Addr: netip.MustParseAddrPort("127.0.0.1:9")}
	dialErr := func(k connpool.DialKind) error {
		return &connpool.DialError{Kind: k, Addr: "127.0.0.1:9", Err: errors.New("cause")}
	}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want failure.Reason
	}{
		{"limit", context.Background(), &connpool.LimitError{Dest: dest, Waited: time.Second}, failure.ConnectionLimitReached},
		{"limit wrapped", context.Background(), fmt.Errorf("get: %w", &connpool.LimitError{Dest: dest}), failure.ConnectionLimitReached},
		{"dial timeout", context.Background(), dialErr(connpool.DialTimeout), failure.BackendTimeout},
		{"dial refused", context.Background(), dialErr(connpool.DialRefused), failure.BackendConnectionFailure},
		{"no ports", context.Background(), dialErr(connpool.DialNoPorts), failure.BackendConnectionFailure},
		{"tls", context.Background(), dialErr(connpool.DialTLS), failure.BackendConnectionFailure},
		{"proxy", context.Background(), dialErr(connpool.DialProxy), failure.BackendConnectionFailure},
		{"other", context.Background(), dialErr(connpool.DialOther), failure.BackendConnectionFailure},
		{"unknown kind", context.Background(), dialErr(connpool.DialKind(200)), failure.BackendConnectionFailure},
		{"dial timeout wrapped", context.Background(), fmt.Errorf("x: %w", dialErr(connpool.DialTimeout)), failure.BackendTimeout},
		// The dial's own classification wins over a client that left.
		{"dial timeout, client gone", cancelled, dialErr(connpool.DialTimeout), failure.BackendTimeout},
		{"client gone", cancelled, context.Canceled, failure.ClientConnectionFailure},
		{"pool closed", context.Background(), connpool.ErrClosed, failure.BackendConnectionFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := classifyGet(tt.ctx, tt.err)
			if fe.Reason != tt.want {
				t.Errorf("reason: got %s, want %s", fe.Reason, tt.want)
			}
			if !errors.Is(fe, tt.err) {
				t.Errorf("got %v, want it to wrap %v", fe, tt.err)
			}
		})
	}
}

func TestClassifyExchange(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failure.Reason
	}{
		{"client body", clientBodyError{io.ErrUnexpectedEOF}, failure.ClientConnectionFailure},
		// A client that is too slow with its body is the client's failure.
		{"client body timeout", clientBodyError{timeoutError{}}, failure.ClientConnectionFailure},
		{"timeout", timeoutError{}, failure.BackendTimeout},
		{"deadline", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, failure.BackendTimeout},
		{"protocol error", &h1.ProtocolError{Msg: "malformed status line"}, failure.BackendConnectionFailure},
		{"head too large", h1.ErrHeaderTooLarge, failure.BackendConnectionFailure},
		{"protocol error wrapped", fmt.Errorf("read: %w", &h1.ProtocolError{Msg: "x"}), failure.BackendConnectionFailure},
		{"eof", io.EOF, failure.BackendConnectionFailure},
		{"unexpected eof", io.ErrUnexpectedEOF, failure.BackendConnectionFailure},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, failure.BackendConnectionFailure},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, failure.BackendConnectionFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := classifyExchange(tt.err)
			if fe.Reason != tt.want {
				t.Errorf("reason: got %s, want %s", fe.Reason, tt.want)
			}
			if !errors.Is(fe, tt.err) {
				t.Errorf("got %v, want it to wrap %v", fe, tt.err)
			}
		})
	}
}
