// Package ratelimit holds the policy kinds that count calls: rate-limit-by-key
// and spike-arrest (GCRA), and quota-by-key (fixed calendar or rolling
// windows, calls and response bytes).
//
// # Algorithms
//
// rate-limit-by-key is GCRA: a bucket of burst calls (default: calls) that
// refills continuously at calls/period. It has no window edges: over any
// span d at most burst + d*calls/period calls pass, so the classic fixed
// window's 2x burst across a boundary cannot happen, and after a burst the
// client gets exactly one call per period/calls. spike-arrest is the same
// with a small burst (default 1): it spaces calls evenly.
//
// quota-by-key counts calls (and response bytes) per calendar window (UTC
// hour, day, ISO week, month: reset at the next one) or per rolling window
// (the last hour, day, 7 or 30 days, in 60 slots: a call leaves the window
// between period and period*61/60 after it was made, so the rolling count
// never under-counts).
//
// # Error bound with Redis
//
// Every decision is one atomic Lua script on Redis: two instances sharing a
// Redis share one bucket exactly as if they were one instance, with two
// exceptions, both bounded. (1) Each instance passes its own clock: an
// instance whose clock is s ahead of another's may let up to s*calls/period
// more calls through (1 call per 100 ms of skew at 10 calls/s). (2) While
// Redis is unreachable, policies with on_store_error: allow let every call
// through. (3) With `batch: B` (default 1: none) an instance takes B calls
// from Redis at once and spends them locally for up to 1 s: N instances may
// let up to N*(B-1) calls more through in any span, and leased calls that
// expire, or are dropped by a reload or by the lease table's bound, are
// lost (fewer calls pass, never more); RateLimit-Remaining may be stale by
// what other instances spent. Response bytes of a quota are added after the
// response, so concurrent responses may overshoot the byte limit by what was
// in flight when it was reached.
package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/policy"
	"github.com/weirgw/weir/internal/store"
)

// Deps are what a counting policy needs besides its settings.
type Deps struct {
	// Store holds the counters.
	Store store.Store
	// Scope names the policy's owner in store keys: "api/NAME" for an
	// API's policy, "gateway" for a gateway-wide one.
	Scope string
}

// Stats are a policy's counters since it was built.
type Stats struct {
	Rejected    uint64 `json:"rejected"`
	StoreErrors uint64 `json:"store_errors"`
}

// common is what all three kinds share.
type common struct {
	name, kind string
	store      store.Store
	deny       bool // on_store_error: deny
	key        key
	rejected   atomic.Uint64
	storeErrs  atomic.Uint64
}

// init sets c up for spec; tag names the kind's counters in keys.
func (c *common) init(spec config.Policy, d Deps, tag string, sources, def []string, onStoreError string) error {
	if d.Store == nil {
		return errors.New("no store")
	}
	k, err := newKey(d.Scope+"/"+spec.Name+"/"+tag+"/", sources, def)
	if err != nil {
		return err
	}
	c.name, c.kind, c.store, c.deny, c.key = spec.Name, spec.Kind, d.Store, onStoreError == config.OnStoreErrorDeny, k
	return nil
}

// Name implements policy.Policy.
func (c *common) Name() string { return c.name }

// Kind implements policy.Policy.
func (c *common) Kind() string { return c.kind }

// Stats returns the policy's counters.
func (c *common) Stats() Stats {
	return Stats{Rejected: c.rejected.Load(), StoreErrors: c.storeErrs.Load()}
}

// storeFailed applies on_store_error to a failed store call.
func (c *common) storeFailed(x *policy.Exchange, err error) (policy.Outcome, error) {
	c.storeErrs.Add(1)
	if c.deny {
		return policy.Continue, failure.New(failure.StoreUnavailable, c.kind+" "+c.name, err)
	}
	if x.Record.Detail == "" {
		x.Record.Detail = c.kind + " " + c.name + ": store unavailable, allowed by on_store_error"
	}
	return policy.Continue, nil
}

// reject builds a 429.
func (c *common) reject(reason failure.Reason, detail string, h http.Header) error {
	c.rejected.Add(1)
	fe := failure.New(reason, c.kind+" "+c.name+detail, nil)
	fe.Header = h
	return fe
}

// seconds renders d as whole seconds, rounded up (a client told to come
// back after 0 s would come back too early).
func seconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// HTTP header names (canonical, as they are set straight into the map).
const (
	hdrRetryAfter = "Retry-After"
	hdrLimit      = "Ratelimit-Limit"
	hdrRemaining  = "Ratelimit-Remaining"
	hdrReset      = "Ratelimit-Reset"
	hdrPolicy     = "Ratelimit-Policy"
)

// limitHeaders sets the RateLimit-* fields in h. limit and pol are shared,
// immutable one-element slices.
func limitHeaders(h http.Header, limit, pol []string, remaining int64, reset time.Duration) {
	h[hdrLimit] = limit
	h[hdrPolicy] = pol
	vals := []string{strconv.FormatInt(max(remaining, 0), 10), seconds(reset)} // one allocation for both
	h[hdrRemaining] = vals[0:1:1]
	h[hdrReset] = vals[1:2:2]
}

// RateLimit is kind rate-limit-by-key.
type RateLimit struct {
	common
	rate    store.Rate
	batch   int     // calls taken from the store at once
	leases  *leases // nil when batch is 1
	headers bool
	limit   []string // RateLimit-Limit value
	pol     []string // RateLimit-Policy value
}

// NewRateLimit builds a rate-limit-by-key policy from spec (validated by
// config).
func NewRateLimit(spec config.Policy, d Deps) (*RateLimit, error) {
	r := spec.RateLimit
	if r == nil || r.Calls <= 0 || r.Period <= 0 {
		return nil, errors.New("rate-limit-by-key needs calls and a period")
	}
	burst := r.Burst
	if burst <= 0 {
		burst = r.Calls
	}
	calls := strconv.Itoa(r.Calls)
	p := &RateLimit{
		rate:    store.Rate{Interval: max(r.Period/time.Duration(r.Calls), 1), Burst: burst},
		batch:   min(max(r.Batch, 1), burst),
		headers: r.Headers,
		limit:   []string{calls},
		pol:     []string{calls + ";w=" + seconds(r.Period)},
	}
	if err := p.init(spec, d, "rl", r.Key, []string{config.KeyIP}, r.OnStoreError); err != nil {
		return nil, err
	}
	if p.batch > 1 {
		p.leases = newLeases()
	}
	return p, nil
}

// Inbound implements policy.Inbounder: one GCRA decision, or a call
// spent from this instance's lease when batch > 1.
func (p *RateLimit) Inbound(x *policy.Exchange) (policy.Outcome, error) {
	key, now := p.key.build(x, -1, ""), time.Now()
	if p.leases != nil {
		if rem, reset, ok := p.leases.take(key, now); ok {
			if p.headers {
				limitHeaders(x.Writer.Header(), p.limit, p.pol, rem, reset)
			}
			return policy.Continue, nil
		}
	}
	g, err := p.store.Take(x.Request.Context(), key, p.rate, now, p.batch)
	if err != nil {
		return p.storeFailed(x, err)
	}
	if g.Granted == 0 {
		h := http.Header{hdrRetryAfter: {seconds(g.RetryAfter)}}
		limitHeaders(h, p.limit, p.pol, 0, g.Reset)
		return policy.Continue, p.reject(failure.RateLimitExceeded, "", h)
	}
	if g.Granted > 1 {
		p.leases.add(key, g.Granted-1, now, int64(g.Remaining), g.Reset)
	}
	if p.headers {
		limitHeaders(x.Writer.Header(), p.limit, p.pol, int64(g.Remaining+g.Granted-1), g.Reset)
	}
	return policy.Continue, nil
}

// SpikeArrest is kind spike-arrest.
type SpikeArrest struct {
	common
	rate store.Rate
}

// NewSpikeArrest builds a spike-arrest policy from spec.
func NewSpikeArrest(spec config.Policy, d Deps) (*SpikeArrest, error) {
	s := spec.SpikeArrest
	if s == nil {
		return nil, errors.New("spike-arrest settings missing")
	}
	calls, per, err := config.ParseRate(s.Rate)
	if err != nil {
		return nil, err
	}
	p := &SpikeArrest{rate: store.Rate{Interval: max(per/time.Duration(calls), 1), Burst: max(s.Burst, 1)}}
	if err := p.init(spec, d, "sa", s.Key, nil, s.OnStoreError); err != nil {
		return nil, err
	}
	return p, nil
}

// Inbound implements policy.Inbounder.
func (p *SpikeArrest) Inbound(x *policy.Exchange) (policy.Outcome, error) {
	g, err := p.store.Take(x.Request.Context(), p.key.build(x, -1, ""), p.rate, time.Now(), 1)
	if err != nil {
		return p.storeFailed(x, err)
	}
	if g.Granted == 0 {
		return policy.Continue, p.reject(failure.RateLimitExceeded, "", http.Header{hdrRetryAfter: {seconds(g.RetryAfter)}})
	}
	return policy.Continue, nil
}

// Quota is kind quota-by-key.
type Quota struct {
	common
	calls, bytes int64
	batch        int64   // calls taken from the store at once
	leases       *leases // nil when batch is 1
	period       string
	rolling      bool
	length       time.Duration // rolling window length
	headers      bool
	limit        []string
	pol          []string
}

// rollingSlots is how many slots a rolling quota window is counted in.
const rollingSlots = 60

// NewQuota builds a quota-by-key policy from spec.
func NewQuota(spec config.Policy, d Deps) (*Quota, error) {
	q := spec.Quota
	if q == nil || q.Calls <= 0 && q.Bytes <= 0 {
		return nil, errors.New("quota-by-key needs calls or bytes")
	}
	length, ok := map[string]time.Duration{
		config.PeriodHour: time.Hour, config.PeriodDay: 24 * time.Hour,
		config.PeriodWeek: 7 * 24 * time.Hour, config.PeriodMonth: 30 * 24 * time.Hour,
	}[q.Period]
	if !ok {
		return nil, errors.New("quota period must be hour, day, week or month")
	}
	window := q.Window
	if window == "" {
		window = config.WindowCalendar
	}
	calls := strconv.Itoa(q.Calls)
	p := &Quota{
		calls: int64(q.Calls), bytes: q.Bytes, period: q.Period, batch: int64(max(min(q.Batch, q.Calls), 1)),
		rolling: window == config.WindowRolling, length: length, headers: q.Headers,
		limit: []string{calls}, pol: []string{calls + ";w=" + seconds(length)},
	}
	if err := p.init(spec, d, "q/"+q.Period+"/"+window, q.Key, []string{config.KeyIP}, q.OnStoreError); err != nil {
		return nil, err
	}
	if p.batch > 1 {
		p.leases = newLeases()
	}
	return p, nil
}

// window returns the window now falls in and its number for keys (the
// unix second it started; -1 for a rolling window, which has one key).
func (p *Quota) window(now time.Time) (store.Window, int64) {
	if p.rolling {
		return store.Window{Length: p.length, Slots: rollingSlots}, -1
	}
	start, end := CalendarWindow(p.period, now)
	return store.Window{End: end}, start.Unix()
}

// CalendarWindow returns the UTC calendar period (hour, day, week starting
// Monday, month) that holds t.
func CalendarWindow(period string, t time.Time) (start, end time.Time) {
	t = t.UTC()
	y, m, d := t.Date()
	switch period {
	case config.PeriodHour:
		start = t.Truncate(time.Hour)
		return start, start.Add(time.Hour)
	case config.PeriodWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		start = time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 7)
	case config.PeriodMonth:
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 0, 1)
}

// Inbound implements policy.Inbounder: a call is counted when it is
// allowed; with a bytes limit, a call is refused once the bytes are used
// up.
func (p *Quota) Inbound(x *policy.Exchange) (policy.Outcome, error) {
	now := time.Now()
	w, num := p.window(now)
	ctx := x.Request.Context()
	// Bytes first: that check counts nothing, so a refusal leaves the
	// calls untouched.
	if p.bytes > 0 {
		bt, err := p.store.Count(ctx, p.key.build(x, num, "b"), w, now, 0, p.bytes-1)
		if err != nil {
			return p.storeFailed(x, err)
		}
		if !bt.Added {
			return policy.Continue, p.refuse(bt, " (bytes)", false)
		}
	}
	if p.calls <= 0 {
		return policy.Continue, nil
	}
	key := p.key.build(x, num, "c")
	if p.leases != nil {
		if rem, reset, ok := p.leases.take(key, now); ok {
			if p.headers {
				limitHeaders(x.Writer.Header(), p.limit, p.pol, rem, reset)
			}
			return policy.Continue, nil
		}
	}
	n := p.batch
	tl, err := p.store.Count(ctx, key, w, now, n, p.calls)
	if err == nil && !tl.Added && n > 1 {
		// Too few calls left for a whole batch: take them one by one.
		n = 1
		tl, err = p.store.Count(ctx, key, w, now, n, p.calls)
	}
	if err != nil {
		return p.storeFailed(x, err)
	}
	if !tl.Added {
		return policy.Continue, p.refuse(tl, " (calls)", true)
	}
	if n > 1 {
		p.leases.add(key, int(n-1), now, p.calls-tl.Count, tl.Reset)
	}
	if p.headers {
		limitHeaders(x.Writer.Header(), p.limit, p.pol, p.calls-tl.Count+n-1, tl.Reset)
	}
	return policy.Continue, nil
}

// refuse builds a quota 429; RateLimit-* describe the calls quota, so they
// come only when that is what ran out.
func (p *Quota) refuse(tl store.Tally, what string, calls bool) error {
	h := http.Header{}
	if tl.RetryAfter > 0 {
		h[hdrRetryAfter] = []string{seconds(tl.RetryAfter)}
	}
	if calls {
		limitHeaders(h, p.limit, p.pol, 0, tl.Reset)
	}
	return p.reject(failure.QuotaExceeded, what, h)
}

// Finish implements policy.Finisher: it charges the response bytes sent to
// the current window.
func (p *Quota) Finish(x *policy.Exchange) {
	if p.bytes <= 0 || x.Record.BytesOut <= 0 {
		return
	}
	now := time.Now()
	w, num := p.window(now)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.Request.Context()), time.Second)
	defer cancel()
	if _, err := p.store.Count(ctx, p.key.build(x, num, "b"), w, now, x.Record.BytesOut, -1); err != nil {
		p.storeErrs.Add(1)
	}
}

// Interface checks.
var (
	_ policy.Inbounder = (*RateLimit)(nil)
	_ policy.Inbounder = (*SpikeArrest)(nil)
	_ policy.Inbounder = (*Quota)(nil)
	_ policy.Finisher  = (*Quota)(nil)
)
