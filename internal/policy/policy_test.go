package policy_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/policy"
	"github.com/weirgw/weir/internal/telemetry"
)

// fake is a policy of every phase that logs what the chain asks of it.
type fake struct {
	name string
	log  *[]string
	// in decides Inbound; nil continues.
	in func(x *policy.Exchange) (policy.Outcome, error)
	// onErr decides OnError; nil continues.
	onErr func(x *policy.Exchange) (policy.Outcome, error)
	// wrap marks the response's headers with the policy's name.
	wrap bool
}

func (f *fake) Name() string { return f.name }
func (f *fake) Kind() string { return "fake" }

func (f *fake) Inbound(x *policy.Exchange) (policy.Outcome, error) {
	*f.log = append(*f.log, "in:"+f.name)
	if p := x.Local(); *p != nil {
		*f.log = append(*f.log, "stale local:"+f.name)
	} else {
		*p = f.name
	}
	if f.in != nil {
		return f.in(x)
	}
	return policy.Continue, nil
}

func (f *fake) Outbound(x *policy.Exchange, w http.ResponseWriter) http.ResponseWriter {
	*f.log = append(*f.log, "out:"+f.name)
	if !f.wrap {
		return w
	}
	return &marker{ResponseWriter: w, name: f.name}
}

func (f *fake) OnError(x *policy.Exchange) (policy.Outcome, error) {
	*f.log = append(*f.log, "err:"+f.name+":"+string(x.Failure.Reason))
	if f.onErr != nil {
		return f.onErr(x)
	}
	return policy.Continue, nil
}

func (f *fake) Finish(x *policy.Exchange) {
	local := ""
	if s, ok := (*x.Local()).(string); ok {
		local = "(" + s + ")"
	}
	*f.log = append(*f.log, "finish:"+f.name+local)
}

// marker appends its name to the X-Path response header as the response
// passes, so the order of wrappers shows.
type marker struct {
	http.ResponseWriter
	name string
}

func (m *marker) WriteHeader(code int) {
	m.Header().Add("X-Path", m.name)
	m.ResponseWriter.WriteHeader(code)
}

func (m *marker) Flush() { policy.Flush(m.ResponseWriter) }

// inboundOnly implements Inbounder only.
type inboundOnly struct{ name string }

func (p inboundOnly) Name() string { return p.name }
func (p inboundOnly) Kind() string { return "inbound-only" }
func (p inboundOnly) Inbound(*policy.Exchange) (policy.Outcome, error) {
	return policy.Continue, nil
}

func entries(ps ...*fake) []policy.Entry {
	var es []policy.Entry
	for _, p := range ps {
		es = append(es, policy.Entry{Policy: p})
	}
	return es
}

// run drives one request through c as the gateway does; backend writes a
// 200 through the chain's writer.
func run(t *testing.T, c *policy.Chain, r *http.Request, backendErr *failure.Error) (*httptest.ResponseRecorder, *telemetry.Record) {
	t.Helper()
	w := httptest.NewRecorder()
	rec := &telemetry.Record{}
	x := c.Start(w, r, rec, "api")
	defer c.End(x)
	out, fe := c.Inbound(x)
	if fe == nil && out == policy.Responded {
		return w, rec
	}
	var bw http.ResponseWriter
	if fe == nil {
		bw = c.Writer(x)
	}
	if fe == nil && backendErr == nil {
		bw.Header().Set("Content-Type", "text/plain")
		bw.WriteHeader(200)
		n, _ := bw.Write([]byte("ok"))
		rec.Status, rec.BytesOut = 200, int64(n)
		return w, rec
	}
	if fe == nil {
		fe = backendErr
	}
	out, fe = c.OnError(x, fe)
	if out == policy.Responded {
		return w, rec
	}
	rec.Error = string(fe.Reason)
	w.Header()["X-Failure-Header"] = fe.Header["X-Added"]
	w.WriteHeader(499)
	return w, rec
}

func TestChainOrder(t *testing.T) {
	var log []string
	f := func(name string, wrap bool) *fake { return &fake{name: name, log: &log, wrap: wrap} }
	gw := policy.Lists{Inbound: entries(f("gw-in", true)), Outbound: entries(f("gw-out", true))}
	api := policy.Lists{Inbound: entries(f("api-in", false), f("api-in2", true)), Outbound: entries(f("api-out", true))}
	c, err := policy.NewChain(policy.Merge(gw, api))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := run(t, c, httptest.NewRequest("GET", "/x", nil), nil)
	// Outbound wrappers are built innermost (the client's side) first.
	want := []string{
		"in:gw-in", "in:api-in", "in:api-in2",
		"out:gw-in", "out:api-in", "out:api-in2", "out:gw-out", "out:api-out",
		"finish:api-out", "finish:gw-out", "finish:api-in2(api-in2)", "finish:api-in(api-in)", "finish:gw-in(gw-in)",
	}
	if !slices.Equal(log, want) {
		t.Errorf("calls:\n got %v\nwant %v", log, want)
	}
	// The response passes the outbound list in order, then inbound policies
	// that also wrap, last first: the first inbound policy is outermost.
	if got, want := w.Header()["X-Path"], []string{"api-out", "gw-out", "api-in2", "gw-in"}; !slices.Equal(got, want) {
		t.Errorf("response path: got %v, want %v", got, want)
	}

	// The pooled exchange starts clean: no policy sees its Local from the
	// last request.
	log = nil
	run(t, c, httptest.NewRequest("GET", "/x", nil), nil)
	for _, l := range log {
		if strings.HasPrefix(l, "stale local") {
			t.Errorf("second request: %s", l)
		}
	}
}

func TestChainOutcomes(t *testing.T) {
	reject := func(x *policy.Exchange) (policy.Outcome, error) {
		fe := failure.New(failure.RateLimitExceeded, "no", nil)
		fe.Header = http.Header{"X-Added": {"1"}}
		return policy.Continue, fe
	}
	respond := func(x *policy.Exchange) (policy.Outcome, error) {
		x.Writer.Header().Set("X-Cache", "HIT")
		x.Respond(203, []byte("cached"))
		return policy.Responded, nil
	}
	broken := func(x *policy.Exchange) (policy.Outcome, error) { return policy.Continue, errors.New("boom") }
	cases := []struct {
		name       string
		in         func(x *policy.Exchange) (policy.Outcome, error)
		onErr      func(x *policy.Exchange) (policy.Outcome, error)
		backendErr *failure.Error
		wantLog    []string
		wantCode   int
		wantError  string
		wantHeader string
	}{
		{
			name:     "rejection skips the rest and the backend; on_error sees it",
			in:       reject,
			wantLog:  []string{"in:a", "in:b", "err:e:RateLimitExceeded", "finish:e", "finish:a(a)"},
			wantCode: 499, wantError: "RateLimitExceeded", wantHeader: "1",
		},
		{
			name:     "a response from inbound skips the rest, the backend and outbound",
			in:       respond,
			wantLog:  []string{"in:a", "in:b", "finish:b(b)", "finish:a(a)"},
			wantCode: 203,
		},
		{
			name:      "a plain error is an InternalError",
			in:        broken,
			wantLog:   []string{"in:a", "in:b", "err:e:InternalError", "finish:e", "finish:a(a)"},
			wantCode:  499,
			wantError: "InternalError",
		},
		{
			name:       "a backend failure runs on_error after outbound was set up",
			backendErr: failure.New(failure.BackendTimeout, "", nil),
			wantLog:    []string{"in:a", "in:b", "in:c", "out:a", "out:b", "out:c", "out:o", "err:e:BackendTimeout", "finish:e", "finish:o", "finish:c(c)", "finish:b(b)", "finish:a(a)"},
			wantCode:   499, wantError: "BackendTimeout",
		},
		{
			name:       "on_error may answer itself",
			backendErr: failure.New(failure.BackendTimeout, "", nil),
			onErr:      respond,
			wantLog:    []string{"in:a", "in:b", "in:c", "out:a", "out:b", "out:c", "out:o", "err:e:BackendTimeout", "finish:e", "finish:o", "finish:c(c)", "finish:b(b)", "finish:a(a)"},
			wantCode:   203,
		},
		{
			name:       "on_error may replace the failure",
			backendErr: failure.New(failure.BackendTimeout, "", nil),
			onErr: func(x *policy.Exchange) (policy.Outcome, error) {
				return policy.Continue, failure.New(failure.StoreUnavailable, "", nil)
			},
			wantLog:   []string{"in:a", "in:b", "in:c", "out:a", "out:b", "out:c", "out:o", "err:e:BackendTimeout", "finish:e", "finish:o", "finish:c(c)", "finish:b(b)", "finish:a(a)"},
			wantCode:  499,
			wantError: "StoreUnavailable",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			b := &fake{name: "b", log: &log, in: tc.in}
			c, err := policy.NewChain(policy.Lists{
				Inbound:  entries(&fake{name: "a", log: &log}, b, &fake{name: "c", log: &log}),
				Outbound: entries(&fake{name: "o", log: &log}),
				OnError:  entries(&fake{name: "e", log: &log, onErr: tc.onErr}),
			})
			if err != nil {
				t.Fatal(err)
			}
			w, rec := run(t, c, httptest.NewRequest("GET", "/x", nil), tc.backendErr)
			if !slices.Equal(log, tc.wantLog) {
				t.Errorf("calls:\n got %v\nwant %v", log, tc.wantLog)
			}
			if w.Code != tc.wantCode {
				t.Errorf("status: got %d, want %d", w.Code, tc.wantCode)
			}
			if rec.Error != tc.wantError {
				t.Errorf("error: got %q, want %q", rec.Error, tc.wantError)
			}
			if got := w.Header().Get("X-Failure-Header"); got != tc.wantHeader {
				t.Errorf("failure header: got %q, want %q", got, tc.wantHeader)
			}
		})
	}
}

func TestChainConditions(t *testing.T) {
	var log []string
	c, err := policy.NewChain(policy.Lists{Inbound: []policy.Entry{
		{Policy: &fake{name: "get-only", log: &log}, When: policy.NewCondition(config.When{Methods: []string{"get"}})},
		{Policy: &fake{name: "always", log: &log}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, httptest.NewRequest("POST", "/x", nil), nil)
	if want := []string{"in:always", "out:always", "finish:always(always)"}; !slices.Equal(log, want) {
		t.Errorf("POST: got %v, want %v", log, want)
	}
}

func TestNewChain(t *testing.T) {
	if c, err := policy.NewChain(policy.Lists{}); c != nil || err != nil {
		t.Errorf("empty lists: got %v, %v; want nil, nil (no chain, no cost)", c, err)
	}
	cases := []struct {
		name  string
		lists policy.Lists
		list  string
	}{
		{"inbound-only policy in outbound", policy.Lists{Outbound: []policy.Entry{{Policy: inboundOnly{"p"}}}}, "outbound"},
		{"inbound-only policy in on_error", policy.Lists{OnError: []policy.Entry{{Policy: inboundOnly{"p"}}}}, "on_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.NewChain(tc.lists)
			var pe *policy.PhaseError
			if !errors.As(err, &pe) || pe.List != tc.list || pe.Name != "p" {
				t.Errorf("got %v, want a PhaseError for p in %s", err, tc.list)
			}
		})
	}
}

func TestCondition(t *testing.T) {
	cases := []struct {
		name   string
		when   config.When
		method string
		target string
		header string // "Name: value" or ""
		want   bool
	}{
		{name: "empty is nil", want: true},
		{name: "method any of", when: config.When{Methods: []string{"GET", "head"}}, method: "HEAD", target: "/", want: true},
		{name: "method not listed", when: config.When{Methods: []string{"GET"}}, method: "POST", target: "/", want: false},
		{name: "exact path", when: config.When{Paths: []string{"/a"}}, method: "GET", target: "/a", want: true},
		{name: "exact path is not a prefix", when: config.When{Paths: []string{"/a"}}, method: "GET", target: "/a/b", want: false},
		{name: "prefix path", when: config.When{Paths: []string{"/x", "/a/*"}}, method: "GET", target: "/a/b", want: true},
		{name: "header present", when: config.When{HeadersPresent: []string{"x-api-key"}}, method: "GET", target: "/", header: "X-Api-Key: k", want: true},
		{name: "header missing", when: config.When{HeadersPresent: []string{"x-api-key"}}, method: "GET", target: "/", want: false},
		{name: "header absent", when: config.When{HeadersAbsent: []string{"Authorization"}}, method: "GET", target: "/", want: true},
		{name: "header not absent", when: config.When{HeadersAbsent: []string{"Authorization"}}, method: "GET", target: "/", header: "Authorization: x", want: false},
		{name: "all parts must match", when: config.When{Methods: []string{"GET"}, Paths: []string{"/a"}}, method: "GET", target: "/b", want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := policy.NewCondition(tc.when)
			if tc.method == "" {
				if c != nil {
					t.Errorf("got %+v, want nil", c)
				}
				return
			}
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if k, v, ok := strings.Cut(tc.header, ": "); ok {
				r.Header.Set(k, v)
			}
			if got := c.Match(r); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
