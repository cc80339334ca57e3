// Package h1 reads HTTP/1.1 responses (RFC 9112 message framing, RFC 9110
// semantics) from backend connections and writes the request-side pieces
// weir's forwarder needs (chunked bodies, header fields), without
// net/http.Transport and with few allocations: a typical response head costs
// two (one string holding the whole head, one []string backing every
// value), its body none.
//
// The parser is strict where leniency would let a backend and weir disagree
// on where a message ends (whitespace before a colon, bare CR, bad or
// conflicting Content-Length, chunk lines not ending in CRLF, Transfer-Encoding
// in HTTP/1.0), and lenient where RFC 9112 allows a recipient to be
// (bare LF ending a head line, obs-fold, which is replaced by one SP as RFC
// 9112 5.2 lets a proxy do, Content-Length as a list of identical values,
// status codes 600-999).
package h1

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"time"
)

// DefaultMaxHeaderBytes bounds a response head (status line, field lines
// and their line endings) and a chunked body's trailer section when
// Response.MaxHeaderBytes is 0.
const DefaultMaxHeaderBytes = 64 << 10

// ProtocolError reports a malformed response head or body framing: the
// connection is out of step with the backend and must be closed.
type ProtocolError struct {
	Msg string
}

// Error implements error.
func (e *ProtocolError) Error() string { return "h1: " + e.Msg }

// ErrHeaderTooLarge is returned when a response head or trailer section is
// larger than the limit. It is a *ProtocolError, so errors.As for
// *ProtocolError also matches it.
var ErrHeaderTooLarge error = &ProtocolError{Msg: "response head or trailer section too large"}

// WriteError wraps an error returned by the destination writer in
// Body.WriteTo, so that a caller can tell a failure of the side it writes
// to (the client) from one of the backend, which Body reports unwrapped.
type WriteError struct {
	Err error
}

// Error implements error.
func (e *WriteError) Error() string { return "h1: writing body: " + e.Err.Error() }

// Unwrap returns the writer's error.
func (e *WriteError) Unwrap() error { return e.Err }

// ErrClosed is returned by ChunkedWriter.Write and Close after Close.
var ErrClosed = errors.New("h1: chunked writer closed")

// ErrInvalidField is returned by ChunkedWriter.Close when a trailer field
// has an invalid name or a value containing CR, LF or NUL; nothing is
// written then.
var ErrInvalidField = errors.New("h1: invalid trailer field")

// errInvalidWrite is the error for a writer that reports an impossible count.
var errInvalidWrite = errors.New("h1: invalid write result")

func protoErr(msg string) error { return &ProtocolError{Msg: msg} }

// Response is one parsed response head and its framed body. Reuse a
// Response across exchanges (Reset) to avoid allocations. Do not copy a
// Response after ReadResponse: its Body refers back to it.
type Response struct {
	// ProtoMinor is 0 or 1 (HTTP/1.0 or HTTP/1.1). Later HTTP/1.x minor
	// versions are read as 1 (RFC 9110 2.5).
	ProtoMinor int
	// StatusCode is 100-999: codes 600-999 are outside RFC 9110 but in use,
	// and net/http can still write them.
	StatusCode int
	// Reason is the reason phrase, "" when absent. It does not allocate when
	// it equals http.StatusText(StatusCode).
	Reason string
	// Header receives the fields with canonical keys. The caller supplies the
	// map (nil makes ReadResponse allocate one); ReadResponse adds to it and
	// never clears it, so clear it between exchanges, including after a 1xx
	// response. Framing fields (Content-Length, Transfer-Encoding,
	// Connection, Keep-Alive, Trailer) are kept as received: a forwarder
	// must frame its own message from ContentLength and Chunked and drop
	// hop-by-hop fields.
	Header http.Header
	// ContentLength is the length of the body that follows on the wire: -1
	// when unknown (chunked or close-delimited), 0 for responses that have
	// no body (HEAD, 1xx, 204, 304, 2xx to CONNECT), whatever their
	// Content-Length field says (it stays in Header for HEAD and 304).
	ContentLength int64
	// Chunked reports a chunked body.
	Chunked bool
	// Close reports that the connection cannot carry another exchange after
	// this response: Connection: close, HTTP/1.0 without "Connection:
	// keep-alive", a close-delimited body, Transfer-Encoding together with
	// Content-Length (RFC 9112 6.3), 101 Switching Protocols or a 2xx
	// response to CONNECT.
	Close bool
	// KeepAliveTimeout is "Keep-Alive: timeout=N" (0 if absent or invalid).
	KeepAliveTimeout time.Duration
	// KeepAliveMax is "Keep-Alive: max=M" (0 if absent or invalid).
	KeepAliveMax int
	// Trailer receives the trailer fields of a chunked body once Body has
	// returned io.EOF. The caller may supply a map; when nil one is
	// allocated only if trailers arrive. Reset and ReadResponse clear its
	// contents and keep the map.
	Trailer http.Header
	// Body reads the framed body; valid until the next ReadResponse or
	// Reset.
	Body Body

	// MaxHeaderBytes bounds the head and the trailer section; 0 means
	// DefaultMaxHeaderBytes. Reset keeps it.
	MaxHeaderBytes int

	buf    []byte  // scratch: the head's lines, then the trailer's; reused
	fields []field // scratch: where each field's name and value are in buf
}

// field locates one field line in Response.buf.
type field struct {
	nameStart, nameEnd, valStart, valEnd int
	key                                  string // interned canonical name, "" when uncommon
	kind                                 fieldKind
}

// fieldKind marks the fields that decide framing.
type fieldKind uint8

const (
	kindOther fieldKind = iota
	kindConnection
	kindKeepAlive
	kindContentLength
	kindTransferEncoding
)

// Reset clears r for reuse. It keeps the Header map and its contents (the
// caller clears it if it wants), keeps the Trailer map but clears its
// contents, keeps MaxHeaderBytes and the scratch buffers (unless a huge
// head grew them), and drops the reference to the previous connection's
// reader.
func (r *Response) Reset() {
	r.ProtoMinor = 0
	r.StatusCode = 0
	r.Reason = ""
	r.ContentLength = 0
	r.Chunked = false
	r.Close = false
	r.KeepAliveTimeout = 0
	r.KeepAliveMax = 0
	clear(r.Trailer)
	r.Body = Body{}
}

// Scratch larger than this is not kept for the next exchange: a backend
// that once sent a huge head must not pin memory in every pooled Response.
const (
	keepBufBytes = 8 << 10
	keepFields   = 128
)

func (r *Response) dropLargeScratch() {
	if cap(r.buf) > keepBufBytes {
		r.buf = nil
	}
	if cap(r.fields) > keepFields {
		r.fields = nil
	}
}

func (r *Response) maxHeaderBytes() int {
	if r.MaxHeaderBytes > 0 {
		return r.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

// ReadResponse reads one response head from br for a request with the given
// method and sets up r.Body.
//
// 1xx responses other than 101 are returned as they are with an empty body:
// the caller loops to read the final response. A 101 response (and a 2xx
// response to CONNECT) is returned with an empty body and Close set: what
// follows on the connection, starting with any bytes already in br, is not
// HTTP/1.1. Responses to HEAD, 1xx, 204 and 304 have no body whatever their
// fields say. With both Content-Length and Transfer-Encoding,
// Transfer-Encoding wins and Close is set (RFC 9112 6.3). Several differing
// Content-Length values are an error. A Transfer-Encoding whose last coding
// is not chunked makes the body close-delimited (RFC 9112 6.3 rule 4).
//
// Errors: io.EOF when the connection ended before the first byte of the
// response (the backend closed it; on a reused connection, the stale
// keep-alive race), io.ErrUnexpectedEOF when it ended within the head,
// ErrHeaderTooLarge, *ProtocolError for a malformed head, or the error of
// br's underlying reader.
func ReadResponse(br *bufio.Reader, method string, r *Response) error {
	r.Reset()
	defer r.dropLargeScratch()
	budget := r.maxHeaderBytes()

	buf, n, err := readLine(br, r.buf[:0], budget)
	r.buf = buf
	if err != nil {
		if err == io.EOF && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	budget -= n
	statusEnd := len(buf)
	reasonStart, err := r.parseStatusLine(buf)
	if err != nil {
		return err
	}

	buf, r.fields, err = readFields(br, buf, r.fields[:0], budget)
	r.buf = buf
	if err != nil {
		return err
	}

	// One string holds every value, the reason phrase and the uncommon
	// names: a single allocation for the head.
	var head string
	reason := buf[reasonStart:statusEnd]
	if std := http.StatusText(r.StatusCode); string(reason) == std {
		r.Reason = std
	} else {
		head = string(buf)
		r.Reason = head[reasonStart:statusEnd]
	}
	if len(r.fields) > 0 {
		if head == "" {
			head = string(buf)
		}
		if r.Header == nil {
			r.Header = make(http.Header, len(r.fields))
		}
		storeFields(r.Header, head, r.fields)
	}
	return r.frame(br, method, head)
}

// parseStatusLine parses "HTTP/1.x NNN[ reason]" and returns where the reason
// starts in line.
func (r *Response) parseStatusLine(line []byte) (reasonStart int, err error) {
	const minLen = len("HTTP/1.1 200")
	if len(line) < minLen || string(line[:7]) != "HTTP/1." || !isDigit(line[7]) || line[8] != ' ' {
		return 0, protoErr("malformed status line")
	}
	r.ProtoMinor = min(int(line[7]-'0'), 1)
	c0, c1, c2 := line[9], line[10], line[11]
	if c0 < '1' || c0 > '9' || !isDigit(c1) || !isDigit(c2) {
		return 0, protoErr("malformed status code")
	}
	r.StatusCode = int(c0-'0')*100 + int(c1-'0')*10 + int(c2-'0')
	if len(line) == minLen {
		return minLen, nil
	}
	if line[minLen] != ' ' {
		return 0, protoErr("malformed status code")
	}
	for _, c := range line[minLen+1:] {
		if !isValueByte(c) {
			return 0, protoErr("invalid byte in reason phrase")
		}
	}
	return minLen + 1, nil
}

// frame decides the body's framing from the status, the method and the
// framing fields (RFC 9112 6.3), and sets up r.Body. head holds the field
// values at the offsets in r.fields.
func (r *Response) frame(br *bufio.Reader, method, head string) error {
	var closeTok, keepAliveTok, hasCL, hasTE bool
	for _, f := range r.fields {
		switch f.kind {
		case kindConnection:
			for v := head[f.valStart:f.valEnd]; v != ""; {
				var tok string
				tok, v = nextElem(v)
				switch {
				case EqualFold(tok, "close"):
					closeTok = true
				case EqualFold(tok, "keep-alive"):
					keepAliveTok = true
				}
			}
		case kindKeepAlive:
			r.parseKeepAlive(head[f.valStart:f.valEnd])
		case kindContentLength:
			hasCL = true
		case kindTransferEncoding:
			hasTE = true
		}
	}
	r.Close = closeTok || (r.ProtoMinor == 0 && !keepAliveTok)
	r.Body = Body{br: br, resp: r}

	code := r.StatusCode
	switch {
	case code == http.StatusSwitchingProtocols,
		method == http.MethodConnect && code/100 == 2:
		// The connection now carries something other than HTTP/1.1.
		r.Close = true
		r.Body.setNone()
		return nil
	case method == http.MethodHead || code/100 == 1 || code == http.StatusNoContent || code == http.StatusNotModified:
		r.Body.setNone()
		return nil
	}

	if hasTE {
		if r.ProtoMinor == 0 {
			// RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has
			// faulty framing.
			return protoErr("Transfer-Encoding in an HTTP/1.0 response")
		}
		chunked, err := r.chunkedLast(head)
		if err != nil {
			return err
		}
		r.ContentLength = -1
		if hasCL {
			// RFC 9112 6.3 rule 3: possibly smuggling; never reuse.
			r.Close = true
		}
		if chunked {
			r.Chunked = true
			r.Body.mode = modeChunked
			return nil
		}
		r.Close = true
		r.Body.mode = modeClose
		return nil
	}
	if hasCL {
		n, err := r.contentLength(head)
		if err != nil {
			return err
		}
		r.ContentLength = n
		if n == 0 {
			r.Body.setNone()
			return nil
		}
		r.Body.mode = modeLength
		r.Body.n = n
		return nil
	}
	r.ContentLength = -1
	r.Close = true
	r.Body.mode = modeClose
	return nil
}

// parseKeepAlive reads the timeout and max parameters of a Keep-Alive field
// value; invalid parameters are ignored.
func (r *Response) parseKeepAlive(v string) {
	for v != "" {
		var elem string
		elem, v = nextElem(v)
		name, val, ok := cutByte(elem, '=')
		if !ok {
			continue
		}
		name, val = trimOWS(name), trimOWS(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		// Nine digits: over 31 years, and no overflow.
		n, ok := parseDecimal(val, 9)
		if !ok {
			continue
		}
		switch {
		case EqualFold(name, "timeout"):
			r.KeepAliveTimeout = time.Duration(n) * time.Second
		case EqualFold(name, "max"):
			r.KeepAliveMax = int(n)
		}
	}
}

// chunkedLast reports whether chunked is the last of the transfer codings
// listed in the Transfer-Encoding fields; chunked anywhere else is an error
// (it must be applied once, and last).
func (r *Response) chunkedLast(head string) (bool, error) {
	var chunked, chunkedAt, count int
	for _, f := range r.fields {
		if f.kind != kindTransferEncoding {
			continue
		}
		for v := head[f.valStart:f.valEnd]; v != ""; {
			var elem string
			if elem, v = nextElem(v); elem == "" {
				continue
			}
			count++
			if name, _, _ := cutByte(elem, ';'); EqualFold(trimOWS(name), "chunked") {
				chunked++
				chunkedAt = count
			}
		}
	}
	switch {
	case count == 0:
		return false, protoErr("empty Transfer-Encoding")
	case chunked > 1:
		return false, protoErr("chunked applied more than once")
	case chunked == 1 && chunkedAt != count:
		return false, protoErr("chunked is not the last transfer coding")
	}
	return chunked == 1, nil
}

// contentLength parses the Content-Length fields, each possibly a list: all
// elements must be the same decimal number (RFC 9110 8.6).
func (r *Response) contentLength(head string) (int64, error) {
	n := int64(-1)
	for _, f := range r.fields {
		if f.kind != kindContentLength {
			continue
		}
		empty := true
		for v := head[f.valStart:f.valEnd]; v != ""; {
			var elem string
			if elem, v = nextElem(v); elem == "" {
				continue
			}
			empty = false
			m, ok := parseDecimal(elem, 19)
			if !ok {
				return 0, protoErr("invalid Content-Length")
			}
			if n >= 0 && m != n {
				return 0, protoErr("conflicting Content-Length values")
			}
			n = m
		}
		if empty {
			return 0, protoErr("empty Content-Length")
		}
	}
	return n, nil
}

// parseDecimal parses 1 to maxDigits ASCII digits into a non-negative
// int64; false on anything else or on overflow.
func parseDecimal(s string, maxDigits int) (int64, bool) {
	if len(s) == 0 || len(s) > maxDigits {
		return 0, false
	}
	const maxInt64 = 1<<63 - 1
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// nextElem splits off the first element of a comma-separated list (RFC
// 9110 5.6.1), OWS-trimmed and possibly empty. Quoted strings are not
// special: none of the lists read here (Connection, Content-Length,
// Transfer-Encoding codings, Keep-Alive numbers) needs them.
func nextElem(v string) (elem, rest string) {
	elem, rest, _ = cutByte(v, ',')
	return trimOWS(elem), rest
}

func cutByte(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
