package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/weirgw/weir/internal/h1"
)

// Request is what the backend needs of a request: how to answer it.
type Request struct {
	// Size is the response body's length (query size=N; default 1024).
	Size int
	// Delay is how long to wait before answering (query delay=MS).
	Delay time.Duration
	// MaxAge, when > 0, makes the response cacheable for that many seconds
	// (query max_age=S: Cache-Control: public, max-age=S).
	MaxAge int
	// KeepAlive is false when the connection closes after the response:
	// the client asked (Connection: close, or HTTP/1.0 without keep-alive)
	// or the query did (close=1, answered with Connection: close).
	KeepAlive bool
}

// DefaultSize is the response body's length when the query names none.
const DefaultSize = 1024

// RequestError is a request the backend refuses; Status is its answer.
type RequestError struct {
	Status int
	Reason string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("bad request (%d): %s", e.Status, e.Reason)
}

func badRequest(format string, args ...any) error {
	return &RequestError{Status: http.StatusBadRequest, Reason: fmt.Sprintf(format, args...)}
}

// ReadRequest reads one request from br, its body included (read and
// dropped, with Content-Length or chunked), and returns how to answer it.
// A malformed request is a *RequestError; a connection that ends between
// requests is io.EOF, one that ends inside a request
// io.ErrUnexpectedEOF, and other read errors are returned as they are.
func ReadRequest(br *bufio.Reader) (Request, error) {
	req := Request{Size: DefaultSize}
	line, err := readLine(br, 0)
	if err != nil {
		return req, err
	}
	total := len(line)
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || target[0] != '/' {
		return req, badRequest("malformed request line %q", line)
	}
	switch string(version) {
	case "HTTP/1.1":
		req.KeepAlive = true
	case "HTTP/1.0":
	default:
		return req, &RequestError{Status: http.StatusHTTPVersionNotSupported, Reason: fmt.Sprintf("version %q", version)}
	}
	closeAsked := false
	if _, query, ok := bytes.Cut(target, []byte("?")); ok {
		if closeAsked, err = parseQuery(string(query), &req); err != nil {
			return req, err
		}
	}
	var (
		length      int64 = -1
		chunked     bool
		connections []string
	)
	for {
		line, err := readLine(br, total)
		if err != nil {
			return req, unexpected(err)
		}
		total += len(line)
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return req, badRequest("malformed header line %q", line)
		}
		value = bytes.Trim(value, " \t")
		switch {
		case h1.EqualFold(string(name), "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || value[0] == '+' || length >= 0 && n != length {
				return req, badRequest("Content-Length %q", value)
			}
			length = n
		case h1.EqualFold(string(name), "Transfer-Encoding"):
			if !h1.EqualFold(string(value), "chunked") || chunked {
				return req, &RequestError{Status: http.StatusNotImplemented, Reason: fmt.Sprintf("Transfer-Encoding %q", value)}
			}
			chunked = true
		case h1.EqualFold(string(name), "Connection"):
			connections = append(connections, string(value))
		}
	}
	if chunked && length >= 0 {
		return req, badRequest("both Content-Length and Transfer-Encoding")
	}
	switch {
	case h1.HasToken(connections, "close"):
		req.KeepAlive = false
	case h1.HasToken(connections, "keep-alive"):
		req.KeepAlive = true
	}
	if closeAsked {
		req.KeepAlive = false
	}
	switch {
	case chunked:
		err = discardChunked(br)
	case length > 0:
		_, err = br.Discard(int(min(length, 1<<40)))
	}
	return req, unexpected(err)
}

// parseQuery reads the backend's parameters into req: size, delay,
// max_age and close. It reports whether close=1 was given; unknown
// parameters are ignored, bad values are errors.
func parseQuery(q string, req *Request) (closeAsked bool, err error) {
	for q != "" {
		var kv string
		kv, q, _ = cut(q, '&')
		k, v, _ := cut(kv, '=')
		n, err := strconv.Atoi(v)
		bad := err != nil || n < 0
		switch k {
		case "size":
			if bad || n > MaxSize {
				return false, badRequest("size must be 0..%d, got %q", MaxSize, v)
			}
			req.Size = n
		case "delay":
			if bad || time.Duration(n)*time.Millisecond > MaxDelay {
				return false, badRequest("delay must be 0..%d ms, got %q", MaxDelay.Milliseconds(), v)
			}
			req.Delay = time.Duration(n) * time.Millisecond
		case "max_age":
			if bad {
				return false, badRequest("max_age must be >= 0, got %q", v)
			}
			req.MaxAge = n
		case "close":
			closeAsked = v == "1"
		}
	}
	return closeAsked, nil
}

// cut is strings.Cut on one byte.
func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// readLine reads one CRLF-terminated line without its CRLF; headSoFar is
// what the head already took, bounded by maxHead (more is 431). The line
// is valid until the next read.
func readLine(br *bufio.Reader, headSoFar int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || headSoFar+len(line) > maxHead {
		return nil, &RequestError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request head too large"}
	}
	if err != nil {
		if err == io.EOF && (len(line) > 0 || headSoFar > 0) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, badRequest("line not ending in CRLF")
	}
	return line[:len(line)-2], nil
}

// discardChunked reads and drops a chunked body and its trailer section.
func discardChunked(br *bufio.Reader) error {
	total := 0
	for {
		line, err := readLine(br, 0)
		if err != nil {
			return unexpected(err)
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimRight(size, " \t")), 16, 64)
		if err != nil || n < 0 || len(size) == 0 || size[0] == '+' || size[0] == '-' {
			return badRequest("chunk size %q", line)
		}
		if n == 0 {
			break
		}
		if _, err := br.Discard(int(min(n, 1<<40))); err != nil {
			return unexpected(err)
		}
		if line, err = readLine(br, 0); err != nil {
			return unexpected(err)
		} else if len(line) != 0 {
			return badRequest("chunk data longer than its size")
		}
	}
	for {
		line, err := readLine(br, total)
		if err != nil {
			return unexpected(err)
		}
		total += len(line)
		if len(line) == 0 {
			return nil
		}
	}
}

// unexpected turns io.EOF inside a request into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
