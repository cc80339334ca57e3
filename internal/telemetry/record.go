// Package telemetry holds the per-request record, the request log and the
// Prometheus metrics (an explicit registry, no globals).
package telemetry

import (
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// StatusClientClosed is the status logged when the client went away before a
// response could be written (nginx's 499 convention; never sent).
const StatusClientClosed = 499

// Record is what weir knows about one request. The gateway fills it along
// the request's path and writes it to the request log once at the end.
type Record struct {
	Start           time.Time
	RequestID       string
	API             string
	Method          string
	Path            string
	ClientIP        string
	Status          int
	BytesIn         int64
	BytesOut        int64
	Duration        time.Duration
	BackendDuration time.Duration // request written -> response complete, summed over attempts
	ConnectDuration time.Duration // dial time of the connection used (0 when reused)
	Destination     netip.AddrPort
	Reused          bool
	Error           string // the failure reason, "" on success
	Detail          string // what exactly failed, for operators ("" on success)
	Verdict         string // the stale-connection verdict of a replayed attempt, "" normally
	// Metrics is the routed API's pre-resolved metric children (nil before
	// routing: Metrics.Observe then counts the request under api="").
	Metrics *APIMetrics
}

// Reset clears r for reuse.
func (r *Record) Reset() { *r = Record{} }

// NewRequestID returns a random 128-bit id in hex. math/rand/v2's global
// source is per-thread ChaCha8: no lock shared by all requests.
func NewRequestID() string {
	var b [32]byte
	const hex = "0123456789abcdef"
	for half := 0; half < 2; half++ {
		v := rand.Uint64()
		for i := 0; i < 16; i++ {
			b[half*16+i] = hex[v&0xf]
			v >>= 4
		}
	}
	return string(b[:])
}

// ValidRequestID reports whether an incoming X-Request-Id may be honoured:
// 1..128 visible ASCII characters, so it is safe in logs and headers.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// RequestLog writes one JSON object per request to w. Each record is
// encoded into a pooled buffer and written with a single Write, so lines
// from concurrent requests never interleave (os.File writes are atomic for
// a single call).
type RequestLog struct {
	w    io.Writer
	bufs sync.Pool
}

// NewRequestLog returns a log writing to w; a nil w discards records.
func NewRequestLog(w io.Writer) *RequestLog {
	return &RequestLog{w: w, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

// Write logs r. Write errors are dropped: the request log must never fail a
// request.
func (l *RequestLog) Write(r *Record) {
	if l == nil || l.w == nil {
		return
	}
	bp := l.bufs.Get().(*[]byte)
	b := r.AppendJSON((*bp)[:0])
	b = append(b, '\n')
	_, _ = l.w.Write(b)
	*bp = b
	l.bufs.Put(bp)
}

// AppendJSON appends r as one JSON object.
func (r *Record) AppendJSON(b []byte) []byte {
	b = append(b, `{"time":`...)
	b = append(b, '"')
	b = r.Start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "request_id", r.RequestID)
	b = appendField(b, "api", r.API)
	b = appendField(b, "method", r.Method)
	b = appendField(b, "path", r.Path)
	b = appendField(b, "client_ip", r.ClientIP)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, r.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, r.BytesOut, 10)
	b = appendMillis(b, "duration_ms", r.Duration)
	b = appendMillis(b, "backend_duration_ms", r.BackendDuration)
	b = appendMillis(b, "connect_duration_ms", r.ConnectDuration)
	b = append(b, `,"destination":"`...)
	if r.Destination.IsValid() {
		b = r.Destination.AppendTo(b)
	}
	b = append(b, `","reused":`...)
	b = strconv.AppendBool(b, r.Reused)
	b = appendField(b, "error", r.Error)
	b = appendField(b, "detail", r.Detail)
	b = appendField(b, "verdict", r.Verdict)
	return append(b, '}')
}

func appendMillis(b []byte, key string, d time.Duration) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

func appendField(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return AppendJSONString(b, val)
}

// AppendJSONString appends s as a JSON string literal, escaping quotes,
// backslashes, control characters and invalid UTF-8.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
