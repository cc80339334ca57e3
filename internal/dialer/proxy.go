package dialer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

const (
	// maxConnectHead bounds the proxy's CONNECT response head.
	maxConnectHead = 16 << 10
	// readerSize is the buffer for that head; a longer line is refused.
	readerSize = 4 << 10
)

// ProxyError is an egress proxy that refused a CONNECT or answered it with
// something other than a well-formed response head alone. Classify maps it
// to DialProxy.
type ProxyError struct {
	// StatusCode is the proxy's status; 0 when its answer had none.
	StatusCode int
	// Detail is the reason phrase for a refusal, else what was wrong.
	Detail string
	// Err is the underlying cause, if any (io.EOF, bufio.ErrBufferFull).
	Err error
}

func (e *ProxyError) Error() string {
	s := "proxy CONNECT: "
	if e.StatusCode != 0 {
		s += "refused with " + strconv.Itoa(e.StatusCode) + " "
	}
	s += e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProxyError) Unwrap() error { return e.Err }

// readConnectResponse reads the proxy's answer to CONNECT from br: nil for a
// 2xx head with nothing after it in the buffer, a *ProxyError for a refusal
// or a malformed, oversized or truncated head, or the read error (timeouts,
// resets) as is. Bytes beyond the head would be lost to the caller, which
// reads the raw conn next, so they fail the tunnel.
func readConnectResponse(br *bufio.Reader) error {
	total := 0
	line, err := readHeadLine(br, &total)
	if err != nil {
		return err
	}
	code, reason, ok := parseStatusLine(line)
	if !ok {
		return &ProxyError{Detail: "malformed status line " + strconv.Quote(string(line))}
	}
	if code < 200 || code > 299 {
		// The status decides; the rest of the head does not matter.
		return &ProxyError{StatusCode: code, Detail: string(reason)}
	}
	for {
		line, err := readHeadLine(br, &total)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
	}
	if n := br.Buffered(); n > 0 {
		return &ProxyError{Detail: strconv.Itoa(n) + " bytes after the response head"}
	}
	return nil
}

// readHeadLine returns the next line of the head without its line ending,
// counting its bytes into *total.
func readHeadLine(br *bufio.Reader, total *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*total += len(line)
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || *total > maxConnectHead:
		return nil, &ProxyError{Detail: "response head over " + strconv.Itoa(maxConnectHead) + " bytes", Err: err}
	case errors.Is(err, io.EOF):
		return nil, &ProxyError{Detail: "connection closed before the response head ended", Err: io.ErrUnexpectedEOF}
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine splits "HTTP/1.x NNN reason" into code and reason.
func parseStatusLine(line []byte) (code int, reason []byte, ok bool) {
	const proto = len("HTTP/1.x")
	if len(line) < proto+4 || !bytes.HasPrefix(line, []byte("HTTP/1.")) ||
		line[proto-1] < '0' || line[proto-1] > '9' || line[proto] != ' ' {
		return 0, nil, false
	}
	for _, c := range line[proto+1 : proto+4] {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
		code = code*10 + int(c-'0')
	}
	rest := line[proto+4:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return 0, nil, false
		}
		rest = rest[1:]
	}
	return code, rest, code >= 100
}
