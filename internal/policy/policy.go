// Package policy is weir's policy chain: the interfaces a policy kind
// implements, the per-request Exchange they share, conditions (`when:`),
// and the Chain that runs an API's compiled inbound, outbound and on_error
// lists around the backend call.
//
// A request's passage through a chain, as gateway.Server drives it:
//
//	x := chain.Start(w, r, rec, api)       // pooled Exchange
//	defer chain.End(x)                     // Finishers, then x is recycled
//	out, fe := chain.Inbound(x)            // inbound list, in order
//	  - fe != nil: a policy rejected; chain.OnError(x, fe), then the error response
//	  - out == Responded: a policy wrote the whole response (a cache hit); done
//	err := forward(chain.Writer(x), r)     // the backend's response flows through
//	                                       // the outbound wrappers to the client
//	  - failure before the response started: chain.OnError(x, fe), then the error response
//
// Policies are built once per config load, shared by all requests and safe
// for concurrent use; per-request state lives in the Exchange (Local).
//
// Kinds live in subpackages (ratelimit/, and later cache/ ...); this package
// knows none of them. gateway maps a config kind name to a constructor.
package policy

import (
	"net/http"
	"strings"
	"sync"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/telemetry"
)

// Policy is one compiled step of a chain.
type Policy interface {
	// Name is the policy's name from the config, unique within its list;
	// it appears in failure details and in store keys.
	Name() string
	// Kind is the config kind, such as "rate-limit-by-key".
	Kind() string
}

// Outcome is what an inbound or on_error step decided when it did not fail.
type Outcome uint8

const (
	// Continue goes on to the next policy, and after the last one to the
	// backend (inbound) or to weir's error response (on_error).
	Continue Outcome = iota
	// Responded means the policy wrote a complete response to x.Writer
	// (status, headers, body) and set x.Record.Status and BytesOut; the
	// rest of the chain and the backend call are skipped. Outbound
	// wrappers do not see such a response; Finishers still run.
	Responded
)

// Inbounder is a policy that runs before the backend call.
type Inbounder interface {
	Policy
	// Inbound decides on one request. It may
	//   - edit x.Request.Header: the backend gets the edited headers (a cache
	//     adds If-None-Match / If-Modified-Since here to revalidate);
	//   - add headers to the client's response through x.Writer.Header()
	//     (RateLimit-* on an allowed request); a backend header of the same
	//     name replaces them;
	//   - write a complete response and return Responded (a cache hit);
	//   - reject the request with a *failure.Error (whose Header, if any, is
	//     added to the error response); any other error counts as
	//     failure.InternalError.
	Inbound(x *Exchange) (Outcome, error)
}

// Outbounder is a policy that sees the backend's response as it streams to
// the client. A policy in the outbound list must implement it; a policy in
// the inbound list may also implement it (one `cache` policy that looks up
// and stores), and is then wrapped around the response too.
type Outbounder interface {
	Policy
	// Outbound is called once per request, after every inbound policy
	// passed and before the backend is called. It returns the writer the
	// backend's response will be written to: w itself to see nothing, or a
	// wrapper around w. The forwarder fills Header() with the backend's
	// end-to-end headers, calls WriteHeader(status), then Write for each
	// piece of the body (and Flush, for bodies of unknown length, when the
	// writer is an http.Flusher; after the body it may add trailers to
	// Header() under http.TrailerPrefix). A wrapper may therefore
	//   - inspect or change the status and headers in WriteHeader before
	//     passing them on;
	//   - tee the body as it passes (a cache stores it, committing in Finish
	//     only when x.Record.Error is empty);
	//   - replace the response: on a 304 answer to its own conditional
	//     request, a cache writes the stored response to w instead, sets
	//     x.Record.Status, and drops what the forwarder writes after.
	// Before the final head, the forwarder may pass on an interim response
	// (103 Early Hints, 102): WriteHeader with a 1xx status and its fields
	// in Header() (taken out again after); a wrapper passes it to w as it
	// is and waits for the final one.
	// A wrapper must return w.Header() from Header() (or copy its map into
	// w's before writing), implement http.Flusher by calling Flush(w), and
	// never write to w after the forwarder returned.
	//
	// Outbound is not called when the request was rejected or answered
	// inbound, and the wrapper sees nothing when the backend failed before
	// its response started (OnError runs then).
	Outbound(x *Exchange, w http.ResponseWriter) http.ResponseWriter
}

// ErrorHandler is a policy of the on_error list: it runs when the request
// failed before a response started, whether a policy rejected it or the
// backend failed.
type ErrorHandler interface {
	Policy
	// OnError sees the failure in x.Failure. It may add headers to
	// x.Failure.Header, replace x.Failure (a different reason), or write a
	// complete response itself and return Responded. An error return
	// replaces x.Failure as Inbound's does.
	OnError(x *Exchange) (Outcome, error)
}

// Fallback is implemented by inbound policies that may answer a request
// that failed before its response started in their own way, such as a
// cache with a stale response when the backend is down. Chain.OnError asks
// them before the on_error list, in inbound order, and only those whose
// Inbound ran; Fallback sees the failure in x.Failure and returns
// Responded when it wrote a complete response.
type Fallback interface {
	Fallback(x *Exchange) Outcome
}

// Finisher is implemented by policies that act once the exchange is over:
// a quota charging the response bytes, a cache committing the entry it
// teed. Finish runs exactly once for every policy whose Inbound returned
// without error or whose Outbound was called (whichever applies; once even
// if both), in the reverse of the order they ran, after the response was
// complete, failed or cut short. x.Record then holds the final Status,
// BytesOut and Error ("" when the response was complete).
type Finisher interface {
	Finish(x *Exchange)
}

// Flush flushes w when it is an http.Flusher; outbound wrappers call it from
// their own Flush.
func Flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// Exchange is one request's passage through a chain. It is pooled: a policy
// must not keep it, or anything from Local, past Finish.
type Exchange struct {
	// Request is the client's request. Inbound policies may edit its
	// headers, which the backend then receives.
	Request *http.Request
	// Writer is the client's response writer (not the outbound wrappers).
	// A policy that answers by itself writes here.
	Writer http.ResponseWriter
	// Record is the request's log record.
	Record *telemetry.Record
	// API is the name of the API the request was routed to.
	API string
	// Consumer identifies the caller once an authentication policy has
	// recognised one (its API key or client id); "" when none has. Keys of
	// rate limits and quotas may use it.
	Consumer string
	// Failure is the failure being handled while the on_error list runs;
	// nil otherwise.
	Failure *failure.Error

	chain  *Chain
	cur    int      // index (in chain.all) of the policy being called
	locals []any    // per-policy request state, indexed like chain.all
	ran    []bool   // which policies must Finish, indexed like chain.all
	order  []uint16 // the order policies became due to Finish
	writer http.ResponseWriter
}

// Local returns the running policy's per-request slot: a policy may keep
// what its Outbound or Finish needs to know from its Inbound (a cache key,
// a quota's counter key). The slot is nil at the start of each request.
func (x *Exchange) Local() *any { return &x.locals[x.cur] }

// Respond writes a complete response with the given status, the headers
// already in x.Writer.Header(), and body, and records it. Inbound and
// on_error policies that answer by themselves may use it and return
// Responded.
func (x *Exchange) Respond(status int, body []byte) {
	x.Writer.WriteHeader(status)
	n, _ := x.Writer.Write(body)
	x.Record.Status = status
	x.Record.BytesOut += int64(n)
}

// Entry is one policy of a list with its condition.
type Entry struct {
	Policy Policy
	// When is the policy's condition; nil means always.
	When *Condition
}

// Lists are the entries of a chain, in config order.
type Lists struct {
	Inbound, Outbound, OnError []Entry
}

// Chain is an API's compiled policy lists (the gateway-wide ones merged in).
// Immutable and safe for concurrent use.
type Chain struct {
	all      []Entry // inbound, then outbound, then on_error
	inbound  []int   // indexes into all
	outbound []int   // in the order the response passes them, backend first
	onError  []int
	fallback []int  // inbound indexes whose policy implements Fallback
	finisher []bool // all[i] implements Finisher
	pool     sync.Pool
}

// Merge returns the lists of an API under gateway-wide ones: gateway
// inbound policies run before the API's, the API's outbound and on_error
// ones before the gateway's (the gateway's wrap the API's).
func Merge(gateway, api Lists) Lists {
	return Lists{
		Inbound:  append(append([]Entry(nil), gateway.Inbound...), api.Inbound...),
		Outbound: append(append([]Entry(nil), api.Outbound...), gateway.Outbound...),
		OnError:  append(append([]Entry(nil), api.OnError...), gateway.OnError...),
	}
}

// PhaseError says a policy was placed in a list its kind cannot run in.
type PhaseError struct {
	Name, Kind, List string
}

func (e *PhaseError) Error() string {
	return "policy " + e.Name + " (" + e.Kind + ") cannot run in " + e.List
}

// NewChain compiles lists into a chain. It returns nil, nil when all lists
// are empty: the gateway then skips the chain entirely. A policy that does
// not implement its list's interface is a *PhaseError.
//
// The backend's response passes the outbound list in order, then the
// inbound policies that also implement Outbounder, last one first (so the
// first inbound policy is outermost, nearest the client).
func NewChain(l Lists) (*Chain, error) {
	n := len(l.Inbound) + len(l.Outbound) + len(l.OnError)
	if n == 0 {
		return nil, nil
	}
	if n > 1<<16-1 {
		return nil, &PhaseError{Name: "(too many)", Kind: "", List: "one chain"}
	}
	c := &Chain{all: make([]Entry, 0, n)}
	for _, e := range l.Inbound {
		if _, ok := e.Policy.(Inbounder); !ok {
			return nil, &PhaseError{e.Policy.Name(), e.Policy.Kind(), "inbound"}
		}
		c.inbound = append(c.inbound, len(c.all))
		c.all = append(c.all, e)
	}
	for _, e := range l.Outbound {
		if _, ok := e.Policy.(Outbounder); !ok {
			return nil, &PhaseError{e.Policy.Name(), e.Policy.Kind(), "outbound"}
		}
		c.outbound = append(c.outbound, len(c.all))
		c.all = append(c.all, e)
	}
	for i := len(c.inbound) - 1; i >= 0; i-- {
		if _, ok := c.all[c.inbound[i]].Policy.(Outbounder); ok {
			c.outbound = append(c.outbound, c.inbound[i])
		}
	}
	for _, i := range c.inbound {
		if _, ok := c.all[i].Policy.(Fallback); ok {
			c.fallback = append(c.fallback, i)
		}
	}
	for _, e := range l.OnError {
		if _, ok := e.Policy.(ErrorHandler); !ok {
			return nil, &PhaseError{e.Policy.Name(), e.Policy.Kind(), "on_error"}
		}
		c.onError = append(c.onError, len(c.all))
		c.all = append(c.all, e)
	}
	c.finisher = make([]bool, len(c.all))
	for i, e := range c.all {
		_, c.finisher[i] = e.Policy.(Finisher)
	}
	c.pool.New = func() any {
		return &Exchange{chain: c, locals: make([]any, len(c.all)), ran: make([]bool, len(c.all)), order: make([]uint16, 0, len(c.all))}
	}
	return c, nil
}

// Start begins r's passage through the chain. Every Start must be followed
// by exactly one End.
func (c *Chain) Start(w http.ResponseWriter, r *http.Request, rec *telemetry.Record, api string) *Exchange {
	x := c.pool.Get().(*Exchange)
	x.Request, x.Writer, x.Record, x.API = r, w, rec, api
	return x
}

// Inbound runs the inbound list in order. It stops at the first policy that
// responds (Responded) or rejects (a non-nil failure, never a bare error).
func (c *Chain) Inbound(x *Exchange) (Outcome, *failure.Error) {
	for _, i := range c.inbound {
		e := c.all[i]
		if e.When != nil && !e.When.Match(x.Request) {
			continue
		}
		x.cur = i
		out, err := e.Policy.(Inbounder).Inbound(x)
		if err != nil {
			return Continue, asFailure(e.Policy, err)
		}
		x.due(i)
		if out == Responded {
			return Responded, nil
		}
	}
	return Continue, nil
}

// Writer returns the writer the backend's response must be written to: the
// outbound wrappers around x.Writer (x.Writer itself when there are none).
// Call it once, after Inbound continued.
func (c *Chain) Writer(x *Exchange) http.ResponseWriter {
	w := x.Writer
	for k := len(c.outbound) - 1; k >= 0; k-- {
		i := c.outbound[k]
		e := c.all[i]
		if i < len(c.inbound) {
			// An inbound policy that also wraps the response does so when
			// its Inbound ran: its condition was decided then, before it
			// may have edited the request (a cache's conditional headers).
			if !x.ran[i] {
				continue
			}
		} else if e.When != nil && !e.When.Match(x.Request) {
			continue
		}
		x.cur = i
		w = e.Policy.(Outbounder).Outbound(x, w)
		x.due(i)
	}
	x.writer = w
	return w
}

// OnError asks the inbound Fallbacks, then runs the on_error list for fe.
// It returns Responded when a policy wrote the response itself; otherwise the failure the gateway must answer
// with (fe, possibly changed or replaced).
func (c *Chain) OnError(x *Exchange, fe *failure.Error) (Outcome, *failure.Error) {
	x.Failure = fe
	for _, i := range c.fallback {
		if x.ran[i] {
			x.cur = i
			if c.all[i].Policy.(Fallback).Fallback(x) == Responded {
				return Responded, nil
			}
		}
	}
	for _, i := range c.onError {
		e := c.all[i]
		if e.When != nil && !e.When.Match(x.Request) {
			continue
		}
		x.cur = i
		out, err := e.Policy.(ErrorHandler).OnError(x)
		x.due(i)
		if err != nil {
			x.Failure = asFailure(e.Policy, err)
		}
		if out == Responded {
			return Responded, nil
		}
	}
	return Continue, x.Failure
}

// End runs the Finishers that are due, last first, then recycles x. The
// record must be final (status, bytes, error) before End.
func (c *Chain) End(x *Exchange) {
	for k := len(x.order) - 1; k >= 0; k-- {
		i := int(x.order[k])
		if c.finisher[i] {
			x.cur = i
			c.all[i].Policy.(Finisher).Finish(x)
		}
	}
	clear(x.locals)
	clear(x.ran)
	x.order = x.order[:0]
	x.Request, x.Writer, x.Record, x.API, x.Consumer, x.Failure, x.writer = nil, nil, nil, "", "", nil, nil
	c.pool.Put(x)
}

// due marks policy i as owed a Finish, once.
func (x *Exchange) due(i int) {
	if !x.ran[i] {
		x.ran[i] = true
		x.order = append(x.order, uint16(i))
	}
}

// asFailure turns a policy's error into the failure the client sees.
func asFailure(p Policy, err error) *failure.Error {
	if fe, ok := err.(*failure.Error); ok {
		return fe
	}
	return failure.New(failure.InternalError, "policy "+p.Name()+" ("+p.Kind()+")", err)
}

// Condition is a compiled `when:`: a policy runs only for requests that
// match every part given.
type Condition struct {
	methods  []string // any of; empty = any method
	exact    []string // path equals one of these ...
	prefixes []string // ... or starts with one of these; both empty = any path
	present  []string // canonical header names that must all be present
	absent   []string // canonical header names that must all be absent
}

// NewCondition compiles w; nil when w sets nothing.
func NewCondition(w config.When) *Condition {
	if len(w.Methods) == 0 && len(w.Paths) == 0 && len(w.HeadersPresent) == 0 && len(w.HeadersAbsent) == 0 {
		return nil
	}
	c := &Condition{}
	for _, m := range w.Methods {
		c.methods = append(c.methods, strings.ToUpper(m))
	}
	for _, p := range w.Paths {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			c.prefixes = append(c.prefixes, pre)
		} else {
			c.exact = append(c.exact, p)
		}
	}
	for _, h := range w.HeadersPresent {
		c.present = append(c.present, http.CanonicalHeaderKey(h))
	}
	for _, h := range w.HeadersAbsent {
		c.absent = append(c.absent, http.CanonicalHeaderKey(h))
	}
	return c
}

// Match reports whether r meets the condition.
func (c *Condition) Match(r *http.Request) bool {
	if len(c.methods) > 0 && !contains(c.methods, r.Method) {
		return false
	}
	if len(c.exact)+len(c.prefixes) > 0 {
		p := r.URL.Path
		ok := contains(c.exact, p)
		for _, pre := range c.prefixes {
			if ok {
				break
			}
			ok = strings.HasPrefix(p, pre)
		}
		if !ok {
			return false
		}
	}
	for _, h := range c.present {
		if len(r.Header[h]) == 0 {
			return false
		}
	}
	for _, h := range c.absent {
		if len(r.Header[h]) > 0 {
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
