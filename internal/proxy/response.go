package proxy

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/upstream"
)

// Response is a backend's response read into memory by Do.
type Response struct {
	StatusCode int
	// Header holds the end-to-end fields (hop-by-hop ones removed).
	Header http.Header
	Body   []byte
	// Trailer holds the trailer fields of a chunked body; nil for none.
	Trailer http.Header
}

// TooLargeError is the cause of Do's failure when the response body is
// larger than the caller takes.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return "response body over " + strconv.FormatInt(e.Limit, 10) + " bytes"
}

// Do sends req to t over the same pools, exchanges, replay rules and
// failure classification as Forward, and reads the response into memory:
// the client of weir's own requests (service callouts, token and key
// fetches). A body over maxBody bytes fails the call. rec receives what
// the attempts learned (destination, reuse, durations, verdict) and the
// status. On failure it returns a *failure.Error.
func (f *Forwarder) Do(ctx context.Context, t *upstream.Target, req *Request, maxBody int64, rec *telemetry.Record) (*Response, error) {
	c := f.get()
	defer f.put(c)
	c.req = *req
	if fe := f.send(ctx, c, t, rec); fe != nil {
		return nil, fe
	}
	resp, fe := c.readAll(ctx, maxBody, rec)
	if fe != nil {
		return nil, fe
	}
	return resp, nil
}

// readAll reads the response into memory, up to maxBody body bytes, and
// releases or closes the connection.
func (c *call) readAll(ctx context.Context, maxBody int64, rec *telemetry.Record) (*Response, *failure.Error) {
	h := &c.a.resp
	rec.Status = h.status
	if h.length > maxBody {
		c.close(connpool.Error)
		rec.BackendDuration += time.Since(c.a.start)
		return nil, classifyExchange(&TooLargeError{Limit: maxBody})
	}
	resp := &Response{StatusCode: h.status, Header: make(http.Header, len(h.header))}
	copyEndToEnd(resp.Header, h.header)
	dst := &boundedBuffer{max: maxBody}
	if h.length > 0 {
		dst.b = make([]byte, 0, h.length)
	}
	switch werr, rerr := c.copyBody(dst, nil, rec); {
	case werr != nil:
		return nil, classifyExchange(werr)
	case rerr != nil:
		return nil, bodyFailure(ctx, rerr)
	}
	resp.Body = dst.b
	if len(h.trailer) > 0 {
		resp.Trailer = h.trailer.Clone()
	}
	c.release()
	return resp, nil
}

// boundedBuffer collects a body up to max bytes.
type boundedBuffer struct {
	b   []byte
	max int64
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if int64(len(w.b)+len(p)) > w.max {
		return 0, &TooLargeError{Limit: w.max}
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
