package h1

import (
	"bufio"
	"net/http"
	"strconv"
)

// ChunkedWriter writes a chunked request body (RFC 9112 7.1): each Write is
// one chunk; Close writes the last chunk, the trailer fields and the final
// CRLF. It allocates nothing per chunk and does not flush: the caller
// flushes the bufio.Writer. The zero value is closed until Reset.
type ChunkedWriter struct {
	w      *bufio.Writer
	open   bool
	header [18]byte // scratch for "<hex size>\r\n"
}

// Reset makes cw write a new chunked body to w.
func (cw *ChunkedWriter) Reset(w *bufio.Writer) {
	cw.w = w
	cw.open = w != nil
}

// Write writes p as one chunk. An empty p writes nothing: a zero-size
// chunk would end the body.
func (cw *ChunkedWriter) Write(p []byte) (int, error) {
	if !cw.open {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	h := strconv.AppendUint(cw.header[:0], uint64(len(p)), 16)
	h = append(h, '\r', '\n')
	if _, err := cw.w.Write(h); err != nil {
		return 0, err
	}
	n, err := cw.w.Write(p)
	if err != nil {
		return n, err
	}
	_, err = cw.w.WriteString("\r\n")
	return n, err
}

// Close writes the last chunk, the trailer fields (trailer may be nil) and
// the final CRLF. If a trailer field is invalid (see AppendHeaderField) it
// writes nothing and returns ErrInvalidField, and cw stays open.
func (cw *ChunkedWriter) Close(trailer http.Header) error {
	if !cw.open {
		return ErrClosed
	}
	for k, vs := range trailer {
		if !validFieldName(k) {
			return ErrInvalidField
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				return ErrInvalidField
			}
		}
	}
	cw.open = false
	w := cw.w
	// bufio.Writer errors are sticky: the last write reports any.
	w.WriteString("0\r\n")
	for k, vs := range trailer {
		for _, v := range vs {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	_, err := w.WriteString("\r\n")
	return err
}
