package h1

import (
	"bufio"
	"encoding/binary"
	"io"
	"net/http"
)

// readLine appends the next line from br to dst without its terminator (LF,
// or CRLF) and returns the extended dst and the number of bytes consumed
// from br, terminator included. Lines longer than br's buffer are
// accumulated. It fails with ErrHeaderTooLarge once more than budget bytes
// would be consumed, and returns io.EOF unchanged (n tells whether anything
// was read before it).
func readLine(br *bufio.Reader, dst []byte, budget int) (_ []byte, n int, err error) {
	start := len(dst)
	for {
		frag, err := br.ReadSlice('\n')
		n += len(frag)
		if n > budget {
			return dst, n, ErrHeaderTooLarge
		}
		dst = append(dst, frag...)
		switch err {
		case nil:
			dst = dst[:len(dst)-1]
			if len(dst) > start && dst[len(dst)-1] == '\r' {
				dst = dst[:len(dst)-1]
			}
			return dst, n, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return dst, n, err
		}
	}
}

// readFields reads field lines up to and including the empty line that
// ends a head or trailer section, appending them to buf and their positions
// to fields. Names are validated as tokens and canonicalized in place;
// values are OWS-trimmed; obs-fold is replaced by one SP (RFC 9112 5.2
// allows this of a proxy); whitespace before the colon, a bare CR, NUL or
// another control byte is a *ProtocolError.
func readFields(br *bufio.Reader, buf []byte, fields []field, budget int) ([]byte, []field, error) {
	for {
		start := len(buf)
		var n int
		var err error
		buf, n, err = readLine(br, buf, budget)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, fields, err
		}
		budget -= n
		line := buf[start:]
		if len(line) == 0 {
			return buf, fields, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) == 0 {
				return buf, fields, protoErr("obs-fold or whitespace before the first field line")
			}
			if !validValue(line) {
				return buf, fields, protoErr("invalid byte in field value")
			}
			buf = fold(buf, start, &fields[len(fields)-1])
			continue
		}
		colon := canonicalName(line)
		if colon <= 0 {
			// Includes whitespace before the colon (RFC 9112 5.1).
			return buf, fields, protoErr("malformed field name")
		}
		if !validValue(line[colon+1:]) {
			return buf, fields, protoErr("invalid byte in field value")
		}
		name := line[:colon]
		f := field{nameStart: start, nameEnd: start + colon, valStart: start + colon + 1, valEnd: len(buf)}
		f.trim(buf)
		f.key = commonName(name)
		switch f.key {
		case "Connection":
			f.kind = kindConnection
		case "Keep-Alive":
			f.kind = kindKeepAlive
		case "Content-Length":
			f.kind = kindContentLength
		case "Transfer-Encoding":
			f.kind = kindTransferEncoding
		}
		fields = append(fields, f)
	}
}

// fold appends the obs-fold continuation line at buf[start:] to the value
// of f, which ends buf before the line, joined by one SP.
func fold(buf []byte, start int, f *field) []byte {
	cs, ce := start, len(buf)
	for cs < ce && isOWS(buf[cs]) {
		cs++
	}
	// cs > start (the line starts with whitespace) and f.valEnd <= start, so
	// the move below only copies bytes backwards.
	buf[f.valEnd] = ' '
	n := copy(buf[f.valEnd+1:], buf[cs:ce])
	buf = buf[:f.valEnd+1+n]
	f.valEnd = len(buf)
	f.trim(buf)
	return buf
}

// trim narrows f's value to exclude leading and trailing OWS.
func (f *field) trim(buf []byte) {
	for f.valStart < f.valEnd && isOWS(buf[f.valStart]) {
		f.valStart++
	}
	for f.valEnd > f.valStart && isOWS(buf[f.valEnd-1]) {
		f.valEnd--
	}
}

// storeFields adds the fields to h, slicing names and values from head (the
// string form of the buffer they were read into). Common names use interned
// constants; all single values share one []string backing array.
func storeFields(h http.Header, head string, fields []field) {
	vals := make([]string, len(fields))
	for i, f := range fields {
		key := f.key
		if key == "" {
			key = head[f.nameStart:f.nameEnd]
		}
		vals[i] = head[f.valStart:f.valEnd]
		if vs, ok := h[key]; ok {
			h[key] = append(vs, vals[i])
		} else {
			// Capacity 1: appending a repeated field must not overwrite the
			// next value.
			h[key] = vals[i : i+1 : i+1]
		}
	}
}

// canonicalName validates the field name that starts line as a token,
// rewrites it in place into the form net/textproto uses (upper case first
// and after each '-', lower case elsewhere), and returns the index of the
// colon that ends it, or -1 if a byte before the colon is not a token
// character or there is no colon.
func canonicalName(line []byte) int {
	upper := true
	for i, c := range line {
		if c == ':' {
			return i
		}
		if !isToken(c) {
			return -1
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
			line[i] = c
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			line[i] = c
		}
		upper = c == '-'
	}
	return -1
}

// validValue reports whether every byte of p is allowed in a field value
// (isValueByte). It tests eight bytes at a time and looks at single bytes
// only around a control byte (HTAB, or an error) or DEL.
func validValue(p []byte) bool {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	for len(p) >= 8 {
		x := binary.LittleEndian.Uint64(p)
		del := x ^ (0x7f * lo)
		// Exact tests for "some byte < 0x20" and "some byte == 0x7f".
		if (x-0x20*lo)&^x&hi != 0 || (del-lo)&^del&hi != 0 {
			for _, c := range p[:8] {
				if !isValueByte(c) {
					return false
				}
			}
		}
		p = p[8:]
	}
	for _, c := range p {
		if !isValueByte(c) {
			return false
		}
	}
	return true
}

// AppendHeaderField appends "name: value\r\n" to dst. It returns dst
// unchanged and false when name is not a valid field name (an RFC 9110
// token) or value contains CR, LF or NUL, which would let the value split
// the message.
func AppendHeaderField(dst []byte, name, value string) ([]byte, bool) {
	if !validFieldName(name) || !validFieldValue(value) {
		return dst, false
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...), true
}

func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isToken(name[i]) {
			return false
		}
	}
	return true
}

func validFieldValue(value string) bool {
	for i := 0; i < len(value); i++ {
		switch value[i] {
		case '\r', '\n', 0:
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// isValueByte reports the bytes allowed in a field line or reason phrase:
// HTAB, SP, VCHAR and obs-text (RFC 9110 5.5); every other control byte,
// bare CR and DEL included, is not.
func isValueByte(c byte) bool { return c == '\t' || (c >= 0x20 && c != 0x7f) }

// tchar (RFC 9110 5.6.2) as two 64-bit masks over bytes 0-63 and 64-127.
const (
	tokenLo uint64 = 1<<'!' | 1<<'#' | 1<<'$' | 1<<'%' | 1<<'&' | 1<<'\'' | 1<<'*' | 1<<'+' |
		1<<'-' | 1<<'.' | (1<<10-1)<<'0'
	tokenHi uint64 = (1<<26-1)<<('A'-64) | 1<<('^'-64) | 1<<('_'-64) | 1<<('`'-64) |
		(1<<26-1)<<('a'-64) | 1<<('|'-64) | 1<<('~'-64)
)

func isToken(c byte) bool {
	if c < 64 {
		return tokenLo&(1<<c) != 0
	}
	if c < 128 {
		return tokenHi&(1<<(c-64)) != 0
	}
	return false
}

// commonName returns an interned constant equal to the canonical name, or
// "" for names not in the table. The switch on string(name) does not
// allocate.
func commonName(name []byte) string {
	switch string(name) {
	case "Accept-Ch":
		return "Accept-Ch"
	case "Accept-Patch":
		return "Accept-Patch"
	case "Accept-Post":
		return "Accept-Post"
	case "Accept-Ranges":
		return "Accept-Ranges"
	case "Access-Control-Allow-Credentials":
		return "Access-Control-Allow-Credentials"
	case "Access-Control-Allow-Headers":
		return "Access-Control-Allow-Headers"
	case "Access-Control-Allow-Methods":
		return "Access-Control-Allow-Methods"
	case "Access-Control-Allow-Origin":
		return "Access-Control-Allow-Origin"
	case "Access-Control-Expose-Headers":
		return "Access-Control-Expose-Headers"
	case "Access-Control-Max-Age":
		return "Access-Control-Max-Age"
	case "Age":
		return "Age"
	case "Allow":
		return "Allow"
	case "Alt-Svc":
		return "Alt-Svc"
	case "Cache-Control":
		return "Cache-Control"
	case "Cache-Status":
		return "Cache-Status"
	case "Cdn-Cache-Control":
		return "Cdn-Cache-Control"
	case "Connection":
		return "Connection"
	case "Content-Disposition":
		return "Content-Disposition"
	case "Content-Encoding":
		return "Content-Encoding"
	case "Content-Language":
		return "Content-Language"
	case "Content-Length":
		return "Content-Length"
	case "Content-Location":
		return "Content-Location"
	case "Content-Range":
		return "Content-Range"
	case "Content-Security-Policy":
		return "Content-Security-Policy"
	case "Content-Security-Policy-Report-Only":
		return "Content-Security-Policy-Report-Only"
	case "Content-Type":
		return "Content-Type"
	case "Cross-Origin-Embedder-Policy":
		return "Cross-Origin-Embedder-Policy"
	case "Cross-Origin-Opener-Policy":
		return "Cross-Origin-Opener-Policy"
	case "Cross-Origin-Resource-Policy":
		return "Cross-Origin-Resource-Policy"
	case "Date":
		return "Date"
	case "Etag":
		return "Etag"
	case "Expires":
		return "Expires"
	case "Keep-Alive":
		return "Keep-Alive"
	case "Last-Modified":
		return "Last-Modified"
	case "Link":
		return "Link"
	case "Location":
		return "Location"
	case "Nel":
		return "Nel"
	case "Permissions-Policy":
		return "Permissions-Policy"
	case "Pragma":
		return "Pragma"
	case "Proxy-Authenticate":
		return "Proxy-Authenticate"
	case "Proxy-Connection":
		return "Proxy-Connection"
	case "Referrer-Policy":
		return "Referrer-Policy"
	case "Refresh":
		return "Refresh"
	case "Report-To":
		return "Report-To"
	case "Retry-After":
		return "Retry-After"
	case "Server":
		return "Server"
	case "Server-Timing":
		return "Server-Timing"
	case "Set-Cookie":
		return "Set-Cookie"
	case "Strict-Transport-Security":
		return "Strict-Transport-Security"
	case "Timing-Allow-Origin":
		return "Timing-Allow-Origin"
	case "Traceparent":
		return "Traceparent"
	case "Tracestate":
		return "Tracestate"
	case "Trailer":
		return "Trailer"
	case "Transfer-Encoding":
		return "Transfer-Encoding"
	case "Upgrade":
		return "Upgrade"
	case "Vary":
		return "Vary"
	case "Via":
		return "Via"
	case "Warning":
		return "Warning"
	case "Www-Authenticate":
		return "Www-Authenticate"
	case "X-Cache":
		return "X-Cache"
	case "X-Content-Type-Options":
		return "X-Content-Type-Options"
	case "X-Correlation-Id":
		return "X-Correlation-Id"
	case "X-Dns-Prefetch-Control":
		return "X-Dns-Prefetch-Control"
	case "X-Frame-Options":
		return "X-Frame-Options"
	case "X-Powered-By":
		return "X-Powered-By"
	case "X-Ratelimit-Limit":
		return "X-Ratelimit-Limit"
	case "X-Ratelimit-Remaining":
		return "X-Ratelimit-Remaining"
	case "X-Ratelimit-Reset":
		return "X-Ratelimit-Reset"
	case "X-Request-Id":
		return "X-Request-Id"
	case "X-Response-Time":
		return "X-Response-Time"
	case "X-Runtime":
		return "X-Runtime"
	case "X-Served-By":
		return "X-Served-By"
	case "X-Trace-Id":
		return "X-Trace-Id"
	case "X-Xss-Protection":
		return "X-Xss-Protection"
	}
	return ""
}
