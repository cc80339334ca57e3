package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// Error classes the tests expect.
const (
	errNone       = ""
	errEOF        = "EOF"
	errUnexpected = "ErrUnexpectedEOF"
	errProtocol   = "ProtocolError"
	errTooLarge   = "ErrHeaderTooLarge"
)

func errClass(err error) string {
	var pe *ProtocolError
	switch {
	case err == nil:
		return errNone
	case err == io.EOF:
		return errEOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errUnexpected
	case errors.Is(err, ErrHeaderTooLarge):
		return errTooLarge
	case errors.As(err, &pe):
		return errProtocol
	}
	return "other: " + err.Error()
}

// result is everything a parse produced, for comparison.
type result struct {
	headErr  string
	minor    int
	code     int
	reason   string
	header   http.Header
	cl       int64
	chunked  bool
	close    bool
	kaTime   time.Duration
	kaMax    int
	body     string
	bodyErr  string
	complete bool
	trailer  http.Header
}

// readMode says how a test reads the body.
type readMode int

const (
	viaRead    readMode = iota // Read with a 4 KiB buffer
	viaWriteTo                 // io.Copy, which uses WriteTo
	viaTiny                    // 1-byte Reads over a 1-byte-at-a-time connection and a 64-byte bufio buffer
)

func (m readMode) String() string { return [...]string{"Read", "WriteTo", "tiny"}[m] }

// parse reads one response from br and its body the way mode says.
func parse(br *bufio.Reader, method string, r *Response, mode readMode) result {
	if err := ReadResponse(br, method, r); err != nil {
		return result{headErr: errClass(err)}
	}
	res := result{
		minor: r.ProtoMinor, code: r.StatusCode, reason: r.Reason, header: r.Header,
		cl: r.ContentLength, chunked: r.Chunked, close: r.Close,
		kaTime: r.KeepAliveTimeout, kaMax: r.KeepAliveMax,
	}
	var body bytes.Buffer
	var err error
	switch mode {
	case viaWriteTo:
		_, err = io.Copy(&body, &r.Body)
		var we *WriteError
		if errors.As(err, &we) {
			panic("bytes.Buffer failed")
		}
	case viaTiny:
		p := make([]byte, 1)
		for {
			var n int
			n, err = r.Body.Read(p)
			body.Write(p[:n])
			if err == io.EOF {
				err = nil
				break
			}
			if err != nil {
				break
			}
		}
	default:
		p := make([]byte, 4096)
		for {
			var n int
			n, err = r.Body.Read(p)
			body.Write(p[:n])
			if err == io.EOF {
				err = nil
				break
			}
			if err != nil {
				break
			}
		}
	}
	res.body, res.bodyErr, res.complete = body.String(), errClass(err), r.Body.Complete()
	if len(r.Trailer) > 0 {
		res.trailer = r.Trailer
	}
	return res
}

func newReader(in string, mode readMode) *bufio.Reader {
	if mode == viaTiny {
		// 64 bytes: lines longer than the buffer are the common case,
		// and chunk-size lines (which must fit) still do.
		return bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 64)
	}
	return bufio.NewReader(strings.NewReader(in))
}

// next is pipelined after responses whose framing must leave the
// connection at the start of the following response.
const next = "HTTP/1.1 299 Next\r\nContent-Length: 0\r\n\r\n"

func TestReadResponseFraming(t *testing.T) {
	big := strings.Repeat("x", 70<<10)
	long := strings.Repeat("l", 300) // longer than the tiny mode's buffer
	tests := []struct {
		name   string
		method string // "" means GET
		in     string
		max    int    // MaxHeaderBytes
		want   result // header nil means "not checked"
		// pipelined appends next and checks it is read after the body.
		pipelined bool
	}{
		{
			name:      "content-length",
			in:        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 5, body: "hello", complete: true, header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"5"}}},
			pipelined: true,
		},
		{
			name:      "content-length zero",
			in:        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 0, complete: true},
			pipelined: true,
		},
		{
			name: "chunked with extensions and trailers",
			in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
				"5;name=val\r\nhello\r\n6 ; foo=\"bar\"\r\n world\r\n0;last\r\nX-Checksum: abc\r\nx-other:  1 \r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "hello world", complete: true,
				trailer: http.Header{"X-Checksum": {"abc"}, "X-Other": {"1"}}},
			pipelined: true,
		},
		{
			name:      "chunked upper-case hex, case-insensitive coding",
			in:        "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "abcdefghijklmnopqrstuvwxyz", complete: true},
			pipelined: true,
		},
		{
			name:      "chunked with trailing whitespace on the size line",
			in:        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 \t\r\nabc\r\n0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "abc", complete: true},
			pipelined: true,
		},
		{
			name:      "gzip then chunked is chunked",
			in:        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "zz", complete: true},
			pipelined: true,
		},
		{
			name: "close-delimited",
			in:   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end\r\nHTTP/1.1 200 OK\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, close: true, body: "until the end\r\nHTTP/1.1 200 OK\r\n", complete: true},
		},
		{
			name: "transfer coding other than chunked is close-delimited",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, close: true, body: "raw", complete: true},
		},
		{
			name:      "HEAD with Content-Length",
			method:    "HEAD",
			in:        "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 0, complete: true, header: http.Header{"Content-Length": {"1234"}}},
			pipelined: true,
		},
		{
			name:      "HEAD with chunked",
			method:    "HEAD",
			in:        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 0, complete: true},
			pipelined: true,
		},
		{
			name:      "204 ignores Content-Length",
			in:        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
			want:      result{minor: 1, code: 204, reason: "No Content", cl: 0, complete: true},
			pipelined: true,
		},
		{
			name:      "304 ignores Transfer-Encoding",
			in:        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nEtag: \"x\"\r\n\r\n",
			want:      result{minor: 1, code: 304, reason: "Not Modified", cl: 0, complete: true, header: http.Header{"Transfer-Encoding": {"chunked"}, "Etag": {`"x"`}}},
			pipelined: true,
		},
		{
			name:      "100 Continue has no body",
			in:        "HTTP/1.1 100 Continue\r\n\r\n",
			want:      result{minor: 1, code: 100, reason: "Continue", cl: 0, complete: true},
			pipelined: true,
		},
		{
			name: "101 Switching Protocols closes",
			in:   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
			want: result{minor: 1, code: 101, reason: "Switching Protocols", cl: 0, close: true, complete: true},
		},
		{
			name:   "2xx to CONNECT is a tunnel",
			method: "CONNECT",
			in:     "HTTP/1.1 200 Connection Established\r\n\r\n",
			want:   result{minor: 1, code: 200, reason: "Connection Established", cl: 0, close: true, complete: true},
		},
		{
			name: "HTTP/1.0 without keep-alive closes",
			in:   "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
			want: result{minor: 0, code: 200, reason: "OK", cl: 2, close: true, body: "hi", complete: true},
		},
		{
			name:      "HTTP/1.0 with keep-alive",
			in:        "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi",
			want:      result{minor: 0, code: 200, reason: "OK", cl: 2, body: "hi", complete: true},
			pipelined: true,
		},
		{
			name: "HTTP/1.0 keep-alive without length is close-delimited",
			in:   "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nall",
			want: result{minor: 0, code: 200, reason: "OK", cl: -1, close: true, body: "all", complete: true},
		},
		{
			name: "Connection: close",
			in:   "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
			want: result{minor: 1, code: 200, reason: "OK", cl: 2, close: true, body: "hi", complete: true},
		},
		{
			name: "close among Connection tokens in several fields",
			in:   "HTTP/1.1 200 OK\r\nConnection: Upgrade\r\nConnection: foo, CLOSE ,bar\r\nContent-Length: 0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: 0, close: true, complete: true},
		},
		{
			name:      "Keep-Alive parameters",
			in:        "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 0, kaTime: 5 * time.Second, kaMax: 100, complete: true},
			pipelined: true,
		},
		{
			name:      "Keep-Alive quoted and upper-case",
			in:        "HTTP/1.1 200 OK\r\nKeep-Alive: TIMEOUT=\"7\"\r\nContent-Length: 0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 0, kaTime: 7 * time.Second, complete: true},
			pipelined: true,
		},
		{
			name:      "Keep-Alive invalid parameters are ignored",
			in:        "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=abc, max=-1, timeout=9999999999, max\r\nContent-Length: 0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 0, complete: true},
			pipelined: true,
		},
		{
			name:      "identical Content-Length values",
			in:        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 03\r\n\r\nabc",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 3, body: "abc", complete: true},
			pipelined: true,
		},
		{
			name: "conflicting Content-Length fields",
			in:   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
			want: result{headErr: errProtocol},
		},
		{
			name: "conflicting Content-Length list",
			in:   "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
			want: result{headErr: errProtocol},
		},
		{name: "Content-Length not a number", in: "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "Content-Length negative", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "Content-Length with sign", in: "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", want: result{headErr: errProtocol}},
		{name: "Content-Length empty", in: "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", want: result{headErr: errProtocol}},
		{name: "Content-Length overflows", in: "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", want: result{headErr: errProtocol}},
		{
			name:      "Transfer-Encoding and Content-Length: chunked wins, close",
			in:        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			want:      result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, close: true, body: "abc", complete: true},
			pipelined: true,
		},
		{name: "chunked not last", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "chunked twice", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "empty Transfer-Encoding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "Transfer-Encoding in HTTP/1.0", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: result{headErr: errProtocol}},
		{
			name: "truncated Content-Length body",
			in:   "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
			want: result{minor: 1, code: 200, reason: "OK", cl: 10, body: "hello", bodyErr: errUnexpected},
		},
		{
			name: "truncated chunk data",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "hel", bodyErr: errUnexpected},
		},
		{
			name: "truncated in chunk-size line",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "hello", bodyErr: errUnexpected},
		},
		{
			name: "truncated before the last chunk",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "hello", bodyErr: errUnexpected},
		},
		{
			name: "truncated in the trailer",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errUnexpected},
		},
		{
			name: "missing final CRLF",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errUnexpected},
		},
		{
			name: "chunk size not hex",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk size missing",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk size with junk",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk size with 0x prefix",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk size over 16 hex digits",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk size over int64",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk-size line ending in bare LF",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "bare CR in chunk-size line",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk data not followed by CRLF",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: "hello", bodyErr: errProtocol},
		},
		{
			name: "chunk-size line longer than the read buffer",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 5000) + "\r\nx\r\n0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{
			name: "chunk extensions outweigh the data",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("e", 40)+"\r\nx\r\n", 1000) + "0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, body: strings.Repeat("x", 630), bodyErr: errProtocol},
		},
		{
			name: "trailer over the limit",
			max:  100,
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Big: " + strings.Repeat("b", 100) + "\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errTooLarge},
		},
		{
			name: "malformed trailer",
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", cl: -1, chunked: true, bodyErr: errProtocol},
		},
		{name: "oversize head", in: "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\n\r\n", want: result{headErr: errTooLarge}},
		{name: "oversize head, many fields", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 10000) + "\r\n", want: result{headErr: errTooLarge}},
		{name: "head over a custom limit", max: 40, in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", want: result{headErr: errTooLarge}},
		{
			name: "head exactly at a custom limit",
			max:  len("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			in:   "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", complete: true},
		},
		{name: "no response at all", in: "", want: result{headErr: errEOF}},
		{name: "truncated status line", in: "HTTP/1.1 200", want: result{headErr: errUnexpected}},
		{name: "truncated head", in: "HTTP/1.1 200 OK\r\nContent-Le", want: result{headErr: errUnexpected}},
		{name: "head without its empty line", in: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", want: result{headErr: errUnexpected}},
		{name: "two-digit status", in: "HTTP/1.1 20 OK\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "four-digit status", in: "HTTP/1.1 2000 OK\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "status below 100", in: "HTTP/1.1 099 Low\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "HTTP/2.0", in: "HTTP/2.0 200 OK\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "lower-case protocol", in: "http/1.1 200 OK\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "not HTTP", in: "ICY 200 OK\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "no space after status", in: "HTTP/1.1 200OK\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "two spaces before status", in: "HTTP/1.1  200 OK\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "NUL in reason", in: "HTTP/1.1 200 O\x00K\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "bare CR in reason", in: "HTTP/1.1 200 OK\r\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "whitespace before colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "field line without colon", in: "HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "empty field name", in: "HTTP/1.1 200 OK\r\n: x\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "non-token field name", in: "HTTP/1.1 200 OK\r\nX(A): x\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "bare CR in value", in: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "NUL in value", in: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "DEL in value", in: "HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\n\r\n", want: result{headErr: errProtocol}},
		{name: "obs-fold on the first field line", in: "HTTP/1.1 200 OK\r\n X-A: b\r\n\r\n", want: result{headErr: errProtocol}},
		{
			name: "obs-fold replaced by SP",
			in:   "HTTP/1.1 200 OK\r\nX-Folded: a \r\n  b\r\n\tc\t\r\nX-Empty:\r\n  d\r\nX-Tail: e\r\n \r\nContent-Length: 0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", complete: true, header: http.Header{
				"X-Folded": {"a b c"}, "X-Empty": {"d"}, "X-Tail": {"e"}, "Content-Length": {"0"},
			}},
			pipelined: true,
		},
		{
			name:      "bare LF line endings in the head",
			in:        "HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nhi",
			want:      result{minor: 1, code: 200, reason: "OK", cl: 2, body: "hi", complete: true, header: http.Header{"Content-Length": {"2"}, "X-A": {"b"}}},
			pipelined: true,
		},
		{
			name: "canonical names, repeated fields, obs-text, empty value",
			in:   "HTTP/1.1 200 OK\r\ncontent-type: a/b\r\nx-custom-HEADER: 1\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Utf8: caf\xc3\xa9\r\nX-None:\r\nX-Long: " + long + "\r\nContent-Length: 0\r\n\r\n",
			want: result{minor: 1, code: 200, reason: "OK", complete: true, header: http.Header{
				"Content-Type": {"a/b"}, "X-Custom-Header": {"1"}, "Set-Cookie": {"a=1", "b=2"},
				"X-Utf8": {"caf\xc3\xa9"}, "X-None": {""}, "X-Long": {long}, "Content-Length": {"0"},
			}},
			pipelined: true,
		},
		{name: "status without reason", in: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", want: result{minor: 1, code: 200, complete: true}, pipelined: true},
		{name: "status with empty reason", in: "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", want: result{minor: 1, code: 200, complete: true}, pipelined: true},
		{name: "custom reason", in: "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n", want: result{minor: 1, code: 200, reason: "Fine Thanks", complete: true}, pipelined: true},
		{name: "status 799", in: "HTTP/1.1 799 Custom\r\nContent-Length: 0\r\n\r\n", want: result{minor: 1, code: 799, reason: "Custom", complete: true}, pipelined: true},
		{name: "HTTP/1.2 reads as 1.1", in: "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", want: result{minor: 1, code: 200, reason: "OK", complete: true}, pipelined: true},
	}
	for _, tt := range tests {
		for _, mode := range []readMode{viaRead, viaWriteTo, viaTiny} {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				method := tt.method
				if method == "" {
					method = "GET"
				}
				in := tt.in
				if tt.pipelined {
					in += next
				}
				br := newReader(in, mode)
				r := &Response{Header: http.Header{}, MaxHeaderBytes: tt.max}
				got := parse(br, method, r, mode)
				want := tt.want
				if want.bodyErr == errNone && want.headErr == errNone {
					want.complete = true
				}
				if want.header == nil {
					got.header = nil
				}
				if want.headErr == errNone && want.header != nil && len(want.header) == 0 {
					want.header = http.Header{}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got  %+v\nwant %+v", got, want)
				}
				if !tt.pipelined {
					return
				}
				clear(r.Header)
				if err := ReadResponse(br, "GET", r); err != nil || r.StatusCode != 299 {
					t.Fatalf("next response: got %d, %v, want 299, nil", r.StatusCode, err)
				}
				if _, err := r.Body.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("next body: got %v, want EOF", err)
				}
			})
		}
	}
}

// TestReadResponseInterim reads 1xx responses and then the final one, as the
// forwarder loops.
func TestReadResponseInterim(t *testing.T) {
	in := "HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	br := bufio.NewReader(strings.NewReader(in))
	r := &Response{Header: http.Header{}}
	var codes []int
	for {
		if err := ReadResponse(br, "POST", r); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, r.StatusCode)
		if r.StatusCode >= 200 {
			break
		}
		if !r.Body.Complete() {
			t.Errorf("%d: got Complete false, want true", r.StatusCode)
		}
		if r.StatusCode == 103 && r.Header.Get("Link") != "</style.css>; rel=preload" {
			t.Errorf("103 Link: got %q", r.Header.Get("Link"))
		}
		clear(r.Header)
	}
	if want := []int{100, 103, 200}; !reflect.DeepEqual(codes, want) {
		t.Errorf("got codes %v, want %v", codes, want)
	}
	body, err := io.ReadAll(&r.Body)
	if string(body) != "ok" || err != nil {
		t.Errorf("got body %q, %v, want \"ok\", nil", body, err)
	}
	if _, ok := r.Header["Link"]; ok {
		t.Errorf("got Link in the final header, want it cleared with the 103")
	}
}

// TestReadResponseHeaderMap checks that ReadResponse adds to a non-empty
// caller map, allocates one when nil, and that Reset keeps Header but
// clears Trailer.
func TestReadResponseHeaderMap(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nX-A: 2\r\nX-B: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: t\r\n\r\n"
	r := &Response{Header: http.Header{"X-A": {"1"}, "X-Keep": {"k"}}}
	if err := ReadResponse(bufio.NewReader(strings.NewReader(in)), "GET", r); err != nil {
		t.Fatal(err)
	}
	want := http.Header{"X-A": {"1", "2"}, "X-B": {"3"}, "X-Keep": {"k"}, "Transfer-Encoding": {"chunked"}}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("got %v, want %v", r.Header, want)
	}
	if _, err := io.Copy(io.Discard, &r.Body); err != nil {
		t.Fatal(err)
	}
	if got := r.Trailer.Get("X-T"); got != "t" {
		t.Errorf("got trailer %q, want \"t\"", got)
	}
	trailer := r.Trailer
	r.Reset()
	if len(r.Header) != len(want) {
		t.Errorf("Reset: got %d header keys, want %d", len(r.Header), len(want))
	}
	if len(trailer) != 0 || r.Trailer == nil {
		t.Errorf("Reset: got trailer %v (nil %v), want empty and kept", trailer, r.Trailer == nil)
	}
	if r.Body.Complete() || r.StatusCode != 0 {
		t.Errorf("Reset: got Complete %v, StatusCode %d, want false, 0", r.Body.Complete(), r.StatusCode)
	}
	if n, err := r.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Reset body: got %d, %v, want 0, EOF", n, err)
	}

	r = &Response{}
	if err := ReadResponse(bufio.NewReader(strings.NewReader(in)), "GET", r); err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("X-B") != "3" {
		t.Errorf("nil Header: got %v, want X-B: 3", r.Header)
	}
}

// TestReadResponseBufferedEnd checks that Read reports io.EOF together
// with the last bytes when the end of the message is already buffered,
// so a connection can be released without another call.
func TestReadResponseBufferedEnd(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Response{}
			if err := ReadResponse(bufio.NewReader(strings.NewReader(tt.in)), "GET", r); err != nil {
				t.Fatal(err)
			}
			n, err := r.Body.Read(make([]byte, 100))
			if n != 5 || err != io.EOF || !r.Body.Complete() {
				t.Errorf("got %d, %v, complete %v, want 5, EOF, true", n, err, r.Body.Complete())
			}
		})
	}
}

// errWriter fails every write after accepting limit bytes.
type errWriter struct{ limit int }

var errSink = errors.New("sink failed")

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, errSink
	}
	w.limit -= len(p)
	return len(p), nil
}

// TestBodyWriteToWriterError checks that errors of the destination are
// wrapped in *WriteError and that the body can still tell how far it got.
func TestBodyWriteToWriterError(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"
	r := &Response{}
	if err := ReadResponse(bufio.NewReader(strings.NewReader(in)), "GET", r); err != nil {
		t.Fatal(err)
	}
	n, err := r.Body.WriteTo(&errWriter{limit: 4})
	var we *WriteError
	if n != 4 || !errors.As(err, &we) || !errors.Is(err, errSink) {
		t.Fatalf("got %d, %v, want 4, *WriteError wrapping errSink", n, err)
	}
	rest, err := io.ReadAll(&r.Body)
	if string(rest) != "456789" || err != nil || !r.Body.Complete() {
		t.Errorf("rest: got %q, %v, complete %v, want \"456789\", nil, true", rest, err, r.Body.Complete())
	}
}

func TestProtocolErrorClasses(t *testing.T) {
	var pe *ProtocolError
	if !errors.As(ErrHeaderTooLarge, &pe) {
		t.Errorf("got ErrHeaderTooLarge not a *ProtocolError, want one")
	}
	if got := (&WriteError{Err: errSink}).Error(); !strings.Contains(got, errSink.Error()) {
		t.Errorf("got %q, want it to mention %q", got, errSink)
	}
}

// TestValidValue checks the eight-bytes-at-a-time test against the
// byte-by-byte rule for every byte at every position of a word and of the
// tail.
func TestValidValue(t *testing.T) {
	for c := range 256 {
		for pos := range 19 {
			p := []byte(strings.Repeat("a", 19))
			p[pos] = byte(c)
			if got, want := validValue(p), isValueByte(byte(c)); got != want {
				t.Fatalf("byte %#x at %d: got %v, want %v", c, pos, got, want)
			}
		}
	}
}

// TestLargeScratchDropped checks that a huge head does not leave its
// scratch space pinned in a reused Response.
func TestLargeScratchDropped(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 1000) + "X-Big: " + strings.Repeat("v", 10<<10) + "\r\nContent-Length: 0\r\n\r\n"
	r := &Response{}
	if err := ReadResponse(bufio.NewReader(strings.NewReader(in)), "GET", r); err != nil {
		t.Fatal(err)
	}
	if len(r.Header["X-A"]) != 1000 || len(r.Header.Get("X-Big")) != 10<<10 {
		t.Fatalf("got %d X-A values and X-Big of %d bytes, want 1000 and %d", len(r.Header["X-A"]), len(r.Header.Get("X-Big")), 10<<10)
	}
	if cap(r.buf) > keepBufBytes || cap(r.fields) > keepFields {
		t.Errorf("got scratch of %d bytes and %d fields kept, want at most %d and %d", cap(r.buf), cap(r.fields), keepBufBytes, keepFields)
	}
}

// TestCommonName checks that every interned name is spelled canonically
// (a non-canonical entry would never match) and that lookups of other
// names miss.
func TestCommonName(t *testing.T) {
	for _, lower := range []string{
		"accept-ch",
		"accept-patch",
		"accept-post",
		"accept-ranges",
		"access-control-allow-credentials",
		"access-control-allow-headers",
		"access-control-allow-methods",
		"access-control-allow-origin",
		"access-control-expose-headers",
		"access-control-max-age",
		"age",
		"allow",
		"alt-svc",
		"cache-control",
		"cache-status",
		"cdn-cache-control",
		"connection",
		"content-disposition",
		"content-encoding",
		"content-language",
		"content-length",
		"content-location",
		"content-range",
		"content-security-policy",
		"content-security-policy-report-only",
		"content-type",
		"cross-origin-embedder-policy",
		"cross-origin-opener-policy",
		"cross-origin-resource-policy",
		"date",
		"etag",
		"expires",
		"keep-alive",
		"last-modified",
		"link",
		"location",
		"nel",
		"permissions-policy",
		"pragma",
		"proxy-authenticate",
		"proxy-connection",
		"referrer-policy",
		"refresh",
		"report-to",
		"retry-after",
		"server",
		"server-timing",
		"set-cookie",
		"strict-transport-security",
		"timing-allow-origin",
		"traceparent",
		"tracestate",
		"trailer",
		"transfer-encoding",
		"upgrade",
		"vary",
		"via",
		"warning",
		"www-authenticate",
		"x-cache",
		"x-content-type-options",
		"x-correlation-id",
		"x-dns-prefetch-control",
		"x-frame-options",
		"x-powered-by",
		"x-ratelimit-limit",
		"x-ratelimit-remaining",
		"x-ratelimit-reset",
		"x-request-id",
		"x-response-time",
		"x-runtime",
		"x-served-by",
		"x-trace-id",
		"x-xss-protection",
	} {
		want := textproto.CanonicalMIMEHeaderKey(lower)
		line := []byte(lower + ": v")
		colon := canonicalName(line)
		if got := commonName(line[:colon]); got != want {
			t.Errorf("%s: got %q, want %q", lower, got, want)
		}
	}
	for _, name := range []string{"X-Unknown", "Content-Typ", "ETag", ""} {
		if got := commonName([]byte(name)); got != "" {
			t.Errorf("%s: got %q, want \"\"", name, got)
		}
	}
	if got := (&ProtocolError{Msg: "bad"}).Error(); got != "h1: bad" {
		t.Errorf("got %q, want \"h1: bad\"", got)
	}
}
