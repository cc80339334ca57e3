package cache

import (
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// entryVersion starts every encoded entry; a reader that sees another
// version treats the value as a miss.
const entryVersion = 2

// Limits on what a decoded entry may hold, so that a damaged or hostile
// value cannot make a reader allocate without bound.
const (
	maxEncodedFields = 1 << 12
	maxEncodedString = 1 << 20
)

// appendEntry appends e's encoding to b: a version byte, then varints and
// length-prefixed strings (status, times, epoch, settings, the targeted
// field, Vary, header fields, body).
func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, uint64(e.Status))
	b = binary.AppendVarint(b, e.RequestTime.UnixNano())
	b = binary.AppendVarint(b, e.ResponseTime.UnixNano())
	b = binary.AppendUvarint(b, e.Epoch)
	b = binary.AppendVarint(b, int64(e.DefaultTTL))
	var flags byte
	if e.Heuristic {
		flags |= 1
	}
	if e.Surrogate {
		flags |= 2
	}
	b = append(b, flags)
	b = appendString(b, e.Targeted)
	b = binary.AppendUvarint(b, uint64(len(e.Vary)))
	for i := range e.Vary {
		b = appendString(b, e.Vary[i])
		b = appendString(b, e.VaryValues[i])
	}
	b = binary.AppendUvarint(b, uint64(len(e.Header)))
	for k, vs := range e.Header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.Body)))
	return append(b, e.Body...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errDecode = errors.New("malformed entry")

// decoder reads an encoded entry.
type entryDecoder struct {
	b   []byte
	err error
}

func (d *entryDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errDecode
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errDecode
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) count(limit uint64) int {
	n := d.uvarint()
	if n > limit {
		d.err = errDecode
		return 0
	}
	return int(n)
}

func (d *entryDecoder) bytes(limit uint64) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > limit || n > uint64(len(d.b)) {
		d.err = errDecode
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) string() string { return string(d.bytes(maxEncodedString)) }

// decodeEntry decodes an entry written by appendEntry and analyzes it.
func decodeEntry(b []byte) (*Entry, error) {
	if len(b) == 0 || b[0] != entryVersion {
		return nil, errDecode
	}
	d := entryDecoder{b: b[1:]}
	e := &Entry{}
	status := d.uvarint()
	if status < 100 || status > 999 {
		return nil, errDecode
	}
	e.Status = int(status)
	e.RequestTime = time.Unix(0, d.varint())
	e.ResponseTime = time.Unix(0, d.varint())
	e.Epoch = d.uvarint()
	e.DefaultTTL = time.Duration(d.varint())
	if d.err != nil || len(d.b) == 0 {
		return nil, errDecode
	}
	flags := d.b[0]
	d.b = d.b[1:]
	e.Heuristic, e.Surrogate = flags&1 != 0, flags&2 != 0
	e.Targeted = d.string()
	if n := d.count(maxEncodedFields); n > 0 {
		e.Vary, e.VaryValues = make([]string, n), make([]string, n)
		for i := 0; i < n; i++ {
			e.Vary[i] = d.string()
			e.VaryValues[i] = d.string()
		}
	}
	n := d.count(maxEncodedFields)
	e.Header = make(http.Header, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.string()
		m := d.count(maxEncodedFields)
		vs := make([]string, 0, m)
		for j := 0; j < m; j++ {
			vs = append(vs, d.string())
		}
		if d.err == nil {
			e.Header[k] = vs[:len(vs):len(vs)]
		}
	}
	body := d.bytes(uint64(len(d.b)))
	if d.err != nil || len(d.b) != 0 {
		return nil, errDecode
	}
	e.Body = body
	e.analyze()
	return e, nil
}
