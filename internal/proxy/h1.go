package proxy

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/h1"
	"github.com/weirgw/weir/internal/upstream"
)

// h1Exchange is the HTTP/1.1 exchange: weir writes the request head itself
// with one buffered write, sends the body from memory or streams it
// (chunked when its length is unknown), and reads the response with package
// h1. It is part of the pooled call, so its buffers are reused.
type h1Exchange struct {
	head []byte
	resp h1.Response
	cw   h1.ChunkedWriter
}

// roundTrip implements exchange.
func (x *h1Exchange) roundTrip(a *attempt) error {
	conn, req := a.conn, a.req
	nc := conn.NetConn()
	x.head = appendRequestHead(x.head[:0], req, a.ep)
	if _, err := conn.W.Write(x.head); err != nil {
		return err
	}
	var err error
	switch n := req.length(); {
	case req.Body != nil:
		_, err = conn.W.Write(req.Body)
	case n > 0:
		a.sent, err = copyClientBody(conn.W, io.LimitReader(req.Stream, n), a.buf)
		a.streamed = a.sent > 0
		if err == nil && a.sent < n {
			err = clientBodyError{io.ErrUnexpectedEOF}
		}
	case n < 0:
		x.cw.Reset(conn.W)
		a.sent, err = copyClientBody(&x.cw, req.Stream, a.buf)
		a.streamed = a.sent > 0
		if err == nil {
			var trailer http.Header
			if req.Trailer != nil {
				trailer = *req.Trailer
			}
			err = x.cw.Close(trailer)
		}
	}
	if err == nil {
		err = conn.W.Flush()
	}
	if err != nil {
		// A backend that refuses an upload (413, 401) may answer and close
		// before reading it all: forward its answer rather than a 502.
		if errors.As(err, new(clientBodyError)) || !x.readEarlyResponse(conn, req.Method) {
			return err
		}
		return x.result(a)
	}
	// response_timeout runs from the request's last byte to the response
	// head: an upload of any length is not held against it.
	if a.timeout > 0 {
		_ = nc.SetReadDeadline(time.Now().Add(a.timeout))
	}
	if err := x.readHead(conn, req.Method, a.interim); err != nil {
		return err
	}
	_ = nc.SetReadDeadline(time.Time{})
	return x.result(a)
}

// result hands the response read over to a, or refuses one weir cannot
// pass on: the connection must then close.
func (x *h1Exchange) result(a *attempt) error {
	r := &x.resp
	if r.StatusCode == http.StatusSwitchingProtocols {
		return &h1.ProtocolError{Msg: "backend switched protocols without an upgrade request"}
	}
	if te := r.Header["Transfer-Encoding"]; len(te) > 0 && compressedTransfer(te) {
		// Transfer-Encoding is hop-by-hop: forwarding a gzip-coded body
		// without it would hand the client bytes it cannot read. Codings
		// weir does not know are passed through as they came.
		return &h1.ProtocolError{Msg: "unsupported transfer coding " + strings.Join(te, ", ")}
	}
	a.resp = respHead{
		status: r.StatusCode, header: r.Header, length: r.ContentLength, body: &r.Body, trailer: r.Trailer,
		terms: connpool.BackendTerms{Close: r.Close, IdleTimeout: r.KeepAliveTimeout, MaxRequests: r.KeepAliveMax},
	}
	return nil
}

// verdict implements exchange: one exchange at a time runs on the
// connection, so its byte counts tell how far this one got. A malformed
// response is an answer, not a stale connection.
func (x *h1Exchange) verdict(a *attempt, err error) connpool.Verdict {
	var pe *h1.ProtocolError
	switch {
	case errors.As(err, &pe):
		return connpool.VerdictNone
	case a.conn.BytesRead() > 0:
		return connpool.VerdictPartialResponse
	case a.conn.BytesWritten() == 0:
		return connpool.VerdictNothingWritten
	default:
		return connpool.VerdictNoResponse
	}
}

// readHead reads the final response head into x.resp. Interim responses
// before it go on to interim when it is not nil (103 Early Hints, 102 ...),
// except 100 Continue: weir answers the client's Expect itself.
func (x *h1Exchange) readHead(conn *connpool.Conn, method string, interim http.ResponseWriter) error {
	clear(x.resp.Header)
	x.resp.Reset()
	for {
		if err := h1.ReadResponse(conn.R, method, &x.resp); err != nil {
			return err
		}
		if x.resp.StatusCode >= 200 || x.resp.StatusCode == http.StatusSwitchingProtocols {
			return nil
		}
		if x.resp.StatusCode != http.StatusContinue && interim != nil {
			forwardInterim(interim, x.resp.StatusCode, x.resp.Header)
		}
		clear(x.resp.Header)
		x.resp.Reset()
	}
}

// earlyResponseWait bounds the wait for the answer of a backend that
// stopped reading the request body.
const earlyResponseWait = time.Second

// readEarlyResponse tries to read the response of a backend that failed the
// request body's write; the connection must close after it.
func (x *h1Exchange) readEarlyResponse(conn *connpool.Conn, method string) bool {
	if conn.BytesWritten() == 0 {
		return false // nothing reached the backend: no answer to wait for
	}
	_ = conn.NetConn().SetReadDeadline(time.Now().Add(earlyResponseWait))
	if err := x.readHead(conn, method, nil); err != nil {
		return false
	}
	_ = conn.NetConn().SetReadDeadline(time.Time{})
	x.resp.Close = true
	return true
}

// copyClientBody copies the request body's source to dst, telling source
// read errors apart from backend write errors. n counts what was taken from
// the source, written or not: once it is above zero the body cannot be
// replayed.
func copyClientBody(dst io.Writer, src io.Reader, buf []byte) (n int64, err error) {
	for {
		m, rerr := src.Read(buf)
		if m > 0 {
			n += int64(m)
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, clientBodyError{rerr}
		}
	}
}

// appendRequestHead appends the outbound request line and header fields of
// req to the endpoint ep.
func appendRequestHead(b []byte, req *Request, ep *upstream.Endpoint) []byte {
	b = append(b, req.Method...)
	b = append(b, ' ')
	if ep.AbsoluteForm {
		b = append(b, "http://"...)
		b = append(b, ep.Host...)
	}
	b = appendJoinPath(b, ep.Path, req.Path)
	if req.RawQuery != "" {
		b = append(b, '?')
		b = append(b, req.RawQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, ep.Host...)
	b = append(b, "\r\n"...)

	fw := req.Forwarded
	conn := req.Header["Connection"]
	var xff, via []string
	for k, vs := range req.Header {
		if hopByHop(k) || h1.HasToken(conn, k) {
			if k == "Te" && h1.HasToken(vs, "trailers") {
				// RFC 9110 10.1.4: whoever sends TE names it in Connection.
				b = append(b, "TE: trailers\r\nConnection: TE\r\n"...)
			}
			continue
		}
		switch k {
		case "Content-Length", "Expect":
			continue
		case "X-Forwarded-For", "Via":
			if fw != nil {
				if k == "Via" {
					via = vs
				} else {
					xff = vs
				}
				continue
			}
		case "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-Id":
			if fw != nil {
				continue
			}
		}
		for _, v := range vs {
			var ok bool
			if b, ok = h1.AppendHeaderField(b, k, v); !ok {
				// The server already rejects CR/LF; a NUL is dropped here.
				continue
			}
		}
	}
	if fw != nil {
		b = appendForwarded(b, fw, xff, via)
	}
	switch n := req.length(); {
	case n > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, "\r\n"...)
	case n < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendForwarded appends the fields weir adds as a forwarder; xff and via
// are the client's own X-Forwarded-For and Via fields, extended.
func appendForwarded(b []byte, fw *Forwarded, xff, via []string) []byte {
	if len(xff) > 0 || fw.ClientIP != "" {
		b = append(b, "X-Forwarded-For: "...)
		for i, v := range xff {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, v...)
		}
		if fw.ClientIP != "" {
			if len(xff) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, fw.ClientIP...)
		}
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Forwarded-Proto: "...)
	if fw.TLS {
		b = append(b, "https"...)
	} else {
		b = append(b, "http"...)
	}
	b = append(b, "\r\nX-Forwarded-Host: "...)
	b = append(b, fw.Host...)
	b = append(b, "\r\nVia: "...)
	for _, v := range via {
		b = append(b, v...)
		b = append(b, ", "...)
	}
	b = append(b, "1.1 weir\r\nX-Request-Id: "...)
	b = append(b, fw.RequestID...)
	return append(b, "\r\n"...)
}

// appendJoinPath appends the request-target path: the endpoint's base path
// joined with the rest of the client's path (after the API's base path),
// without doubling or losing the slash between them. Rewriting the
// request-target is the forwarder's job; route only matches.
func appendJoinPath(dst []byte, base, rest string) []byte {
	switch {
	case rest == "":
		if base == "" {
			return append(dst, '/')
		}
		return append(dst, base...)
	case base == "" || base == "/":
		return append(dst, rest...)
	case base[len(base)-1] == '/' && rest[0] == '/':
		return append(append(dst, base...), rest[1:]...)
	default:
		return append(append(dst, base...), rest...)
	}
}

// compressedTransfer reports whether a Transfer-Encoding header lists a
// registered coding that transforms the bytes (gzip, deflate, compress).
func compressedTransfer(vs []string) bool {
	for _, v := range vs {
		for len(v) > 0 {
			var tok string
			tok, v = h1.NextToken(v)
			for _, c := range [...]string{"gzip", "x-gzip", "deflate", "compress", "x-compress"} {
				if h1.EqualFold(tok, c) {
					return true
				}
			}
		}
	}
	return false
}
