package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
)

// bodyMode is how a body's end is found (RFC 9112 6.3).
type bodyMode uint8

const (
	modeNone    bodyMode = iota // no body
	modeLength                  // Content-Length
	modeChunked                 // chunked transfer coding
	modeClose                   // read until the connection closes
)

// chunkState is where a chunked body reader is.
type chunkState uint8

const (
	chunkSize    chunkState = iota // next: a chunk-size line
	chunkData                      // Body.n bytes of chunk data left
	chunkDataEnd                   // next: the CRLF after chunk data
	chunkTrailer                   // next: the trailer section and final CRLF
)

const (
	// maxChunkLineBytes bounds a chunk-size line with its extensions, as
	// net/http does.
	maxChunkLineBytes = 4096
	// maxChunkOverhead bounds framing bytes beyond 16 per chunk plus twice
	// the chunk's data (net/http's rule): one-byte chunks are fine, long
	// extensions on tiny chunks are not.
	maxChunkOverhead = 16 << 10
)

// Body reads a response's framed body from the connection's reader. Read
// returns io.EOF at the clean end of the message (then Complete is true and
// a chunked body's trailer fields are in the Response's Trailer),
// io.ErrUnexpectedEOF when the connection ends early, a *ProtocolError on bad
// chunked framing (ErrHeaderTooLarge for an oversize trailer section), or
// the underlying reader's error. Errors are sticky. Read may return n > 0
// together with io.EOF when the end of the message was already buffered, so
// that a connection can be released without one more call.
//
// Body is a value inside Response and costs nothing to set up. The zero
// Body is empty. It is valid until the next ReadResponse or Reset.
type Body struct {
	br     *bufio.Reader
	resp   *Response // for the trailer and its limit
	mode   bodyMode
	state  chunkState
	done   bool
	err    error // sticky; io.EOF once done
	n      int64 // bytes left in a Content-Length body or the current chunk
	excess int64 // chunk framing overhead beyond the allowance
}

func (b *Body) setNone() {
	b.mode = modeNone
	b.finish()
}

func (b *Body) finish() {
	b.done = true
	b.err = io.EOF
}

func (b *Body) fail(err error) error {
	b.err = err
	return err
}

// Complete reports whether the whole message has been read: the connection
// is at the start of the next response.
func (b *Body) Complete() bool { return b.done }

// unexpected turns an io.EOF in the middle of a message into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Read implements io.Reader.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	switch b.mode {
	case modeNone:
		return 0, io.EOF
	case modeClose:
		n, err := b.br.Read(p)
		if err == io.EOF {
			b.finish()
		} else if err != nil {
			b.fail(err)
		}
		return n, err
	case modeChunked:
		if b.state != chunkData {
			if err := b.advance(true); err != nil {
				return 0, b.fail(err)
			}
			if b.done {
				return 0, io.EOF
			}
		}
	}
	// A Content-Length body or chunk data: b.n > 0 bytes left.
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	// With an empty buffer and a large p, bufio reads straight into p.
	n, err := b.br.Read(p)
	if cerr := b.consumed(n); cerr != nil {
		return n, b.fail(cerr)
	}
	if b.done {
		return n, io.EOF
	}
	if err != nil {
		return n, b.fail(unexpected(err))
	}
	return n, nil
}

// consumed accounts for n bytes of data taken from br and, at the end of a
// chunk, moves on through whatever framing is already buffered.
func (b *Body) consumed(n int) error {
	switch b.mode {
	case modeLength:
		if b.n -= int64(n); b.n == 0 {
			b.finish()
		}
	case modeChunked:
		if b.n -= int64(n); b.n == 0 {
			b.state = chunkDataEnd
			return b.advance(false)
		}
	}
	return nil
}

// advance reads chunked framing until chunk data is next or the message
// ends. Unless block, it stops, without error, before any step whose bytes
// are not all buffered yet.
func (b *Body) advance(block bool) error {
	for !b.done && b.state != chunkData {
		switch b.state {
		case chunkDataEnd:
			if !block && b.br.Buffered() < 2 {
				return nil
			}
			crlf, err := b.br.Peek(2)
			if err != nil {
				return unexpected(err)
			}
			if crlf[0] != '\r' || crlf[1] != '\n' {
				return protoErr("chunk data not followed by CRLF")
			}
			b.br.Discard(2)
			b.state = chunkSize
		case chunkSize:
			if !block && bytes.IndexByte(buffered(b.br), '\n') < 0 {
				return nil
			}
			line, err := b.br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				return protoErr("chunk-size line longer than the read buffer")
			}
			if err != nil {
				return unexpected(err)
			}
			size, err := b.chunkSize(line)
			if err != nil {
				return err
			}
			if size == 0 {
				b.state = chunkTrailer
			} else {
				b.state, b.n = chunkData, size
			}
		case chunkTrailer:
			if !block {
				// Only the common case, no trailer fields, is handled
				// without blocking.
				if p := buffered(b.br); len(p) < 2 || p[0] != '\r' || p[1] != '\n' {
					return nil
				}
			}
			if err := b.readTrailer(); err != nil {
				return err
			}
			b.finish()
		}
	}
	return nil
}

// chunkSize parses a chunk-size line (with its LF): hex digits, then
// optional BWS and ignored extensions, ending in CRLF with no other CR (a
// bare LF is not accepted here, RFC 9112 erratum 7633).
func (b *Body) chunkSize(line []byte) (int64, error) {
	if len(line) > maxChunkLineBytes {
		return 0, protoErr("chunk-size line too long")
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return 0, protoErr("chunk-size line not ending in CRLF")
	}
	line = line[:len(line)-2]
	if bytes.IndexByte(line, '\r') >= 0 {
		return 0, protoErr("bare CR in chunk-size line")
	}
	var size uint64
	i := 0
	for ; i < len(line); i++ {
		d, ok := hexDigit(line[i])
		if !ok {
			break
		}
		if i == 16 {
			return 0, protoErr("chunk size too large")
		}
		size = size<<4 | uint64(d)
	}
	if i == 0 {
		return 0, protoErr("missing chunk size")
	}
	if size > 1<<63-1 {
		return 0, protoErr("chunk size too large")
	}
	rest := line[i:]
	for len(rest) > 0 && isOWS(rest[0]) {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, protoErr("malformed chunk-size line")
	}
	b.excess += int64(len(line)) + 2 // this line, and the CRLF after the data
	if size > maxChunkOverhead {
		b.excess = 0
	} else {
		b.excess = max(b.excess-16-2*int64(size), 0)
	}
	if b.excess > maxChunkOverhead {
		return 0, protoErr("too much chunked framing overhead")
	}
	return int64(size), nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// readTrailer reads the trailer section and the final CRLF into the
// Response's Trailer, reusing the head's scratch buffers.
func (b *Body) readTrailer() error {
	r := b.resp
	defer r.dropLargeScratch()
	buf, fields, err := readFields(b.br, r.buf[:0], r.fields[:0], r.maxHeaderBytes())
	r.buf, r.fields = buf, fields
	if err != nil || len(fields) == 0 {
		return err
	}
	if r.Trailer == nil {
		r.Trailer = make(http.Header, len(fields))
	}
	storeFields(r.Trailer, string(buf), fields)
	return nil
}

// buffered returns br's buffered bytes without reading.
func buffered(br *bufio.Reader) []byte {
	p, _ := br.Peek(br.Buffered())
	return p
}

// WriteTo implements io.WriterTo: it writes the rest of the body to w
// straight from the reader's buffer, without a buffer of its own. Errors
// of the body are returned as Read returns them; errors of w are wrapped in
// *WriteError. It returns nil at the clean end of the message.
func (b *Body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if b.err != nil {
			if b.err == io.EOF {
				return total, nil
			}
			return total, b.err
		}
		switch b.mode {
		case modeNone:
			return total, nil
		case modeChunked:
			if b.state != chunkData {
				if err := b.advance(true); err != nil {
					b.fail(err)
				}
				continue
			}
		}
		if b.br.Buffered() == 0 {
			// One read of the underlying reader.
			if _, err := b.br.Peek(1); err != nil {
				if b.mode == modeClose && err == io.EOF {
					b.finish()
				} else {
					b.fail(unexpected(err))
				}
				continue
			}
		}
		data := buffered(b.br)
		if b.mode != modeClose && int64(len(data)) > b.n {
			data = data[:b.n]
		}
		nw, werr := w.Write(data)
		if nw < 0 || nw > len(data) {
			nw, werr = 0, errInvalidWrite
		}
		b.br.Discard(nw)
		total += int64(nw)
		if err := b.consumed(nw); err != nil {
			b.fail(err)
		}
		if werr == nil && nw < len(data) {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return total, &WriteError{Err: werr}
		}
	}
}
