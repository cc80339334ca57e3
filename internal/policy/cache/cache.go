// Package cache is weir's response cache: an RFC 9111 shared cache as the
// policy kinds cache (looks up and stores), cache-lookup (inbound: serves
// stored responses, revalidates stale ones) and cache-store (outbound:
// stores responses, invalidates on unsafe methods), and the storages that
// hold entries: Memory (an LRU bounded in bytes, per instance) and Shared
// (a store.Store such as Redis, shared by every instance).
//
// A GET or HEAD is looked up by its primary key (API, host, path, query);
// a response with Vary is stored twice, under the primary key (the latest
// variant) and under a variant key derived from the selecting request
// headers, so the common case costs one storage read. Invalidation deletes
// the primary entry; variants hang off an epoch the primary carries, so a
// new primary entry (with a new epoch) leaves old variants unreachable.
//
// Responses carry X-Cache: HIT (served from storage), MISS (fetched from
// the backend), REVALIDATED (the backend answered a conditional request
// with 304 and the stored body was served) or STALE (the backend failed
// and a stale stored response was served under stale_if_error).
//
// A cache-lookup hands its key settings and the URL's epoch to a later
// cache-store of the same request through the request's context, so the
// two agree on keys; a cache-store on its own uses its own settings.
package cache

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/policy"
)

// Cache status values of the X-Cache response header.
const (
	StatusHit         = "HIT"
	StatusMiss        = "MISS"
	StatusRevalidated = "REVALIDATED"
	StatusStale       = "STALE"
)

// Deps are what a cache policy needs besides its settings.
type Deps struct {
	// Storage holds the entries; required. Policies that must see each
	// other's entries (a cache-lookup and its cache-store, every instance
	// of a deployment) share one.
	Storage Storage
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics counts outcomes per API; nil means counts of the policy's
	// own (kept by the gateway's state, they survive reloads).
	Metrics *Metrics
}

// ErrNoStorage is returned by New without Deps.Storage.
var ErrNoStorage = errors.New("cache: no storage")

// KindError is returned by New for a policy that is not a cache kind or
// has no cache settings.
type KindError struct{ Kind string }

func (e *KindError) Error() string { return "cache: not a cache policy: " + e.Kind }

// Stats are an API's cache counters.
type Stats struct {
	Hits          int64 `json:"hits"`
	Misses        int64 `json:"misses"`
	Revalidated   int64 `json:"revalidated"`
	Stale         int64 `json:"stale"`
	Stored        int64 `json:"stored"`
	Invalidated   int64 `json:"invalidated"`
	StorageErrors int64 `json:"storage_errors"`
}

// Policy is a compiled cache, cache-lookup or cache-store policy. It is
// shared by all requests; per-request state lives in the exchange's Local
// slot.
type Policy struct {
	name, kind  string
	lookup      bool // serve stored responses, revalidate
	store       bool // store responses, invalidate on unsafe methods
	st          Storage
	now         func() time.Time
	varyHeaders []string // canonical, sorted
	varyQuery   []string // nil: the whole query
	defaultTTL  time.Duration
	keepStale   time.Duration
	staleErr    time.Duration // stale_if_error
	maxEntry    int64
	heuristic   bool
	reqDirs     bool
	surrogate   bool
	targets     []string // targeted_fields, canonical
	metrics     *Metrics
}

// New compiles a cache, cache-lookup or cache-store policy.
func New(pc config.Policy, d Deps) (*Policy, error) {
	c := pc.Cache
	if c == nil {
		return nil, &KindError{pc.Kind}
	}
	if d.Storage == nil {
		return nil, ErrNoStorage
	}
	p := &Policy{
		name: pc.Name, kind: pc.Kind, st: d.Storage, now: d.Now, metrics: d.Metrics,
		defaultTTL: c.DefaultTTL, keepStale: c.KeepStale, staleErr: c.StaleIfError, maxEntry: c.MaxEntryBytes,
		heuristic: c.Heuristic, reqDirs: c.RequestDirectives, surrogate: c.SurrogateControl,
	}
	switch pc.Kind {
	case config.KindCache:
		p.lookup, p.store = true, true
	case config.KindCacheLookup:
		p.lookup = true
	case config.KindCacheStore:
		p.store = true
	default:
		return nil, &KindError{pc.Kind}
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.metrics == nil {
		p.metrics = NewMetrics(nil)
	}
	if p.maxEntry <= 0 {
		p.maxEntry = config.DefaultCacheMaxEntryBytes
	}
	for _, h := range c.VaryByHeaders {
		p.varyHeaders = append(p.varyHeaders, http.CanonicalHeaderKey(h))
	}
	for _, h := range c.TargetedFields {
		p.targets = append(p.targets, http.CanonicalHeaderKey(h))
	}
	slices.Sort(p.varyHeaders)
	p.varyHeaders = slices.Compact(p.varyHeaders)
	if c.VaryByQuery != nil {
		p.varyQuery = slices.Clone(c.VaryByQuery)
		if p.varyQuery == nil {
			p.varyQuery = []string{}
		}
		slices.Sort(p.varyQuery)
		p.varyQuery = slices.Compact(p.varyQuery)
	}
	return p, nil
}

// Name implements policy.Policy.
func (p *Policy) Name() string { return p.name }

// Kind implements policy.Policy.
func (p *Policy) Kind() string { return p.kind }

// lookupInfo is what a cache-lookup tells a cache-store of the same
// request, through the request's context: its key settings, and for a GET
// the key and epoch it found.
type lookupInfo struct {
	key         string
	epoch       uint64
	varyHeaders []string
	varyQuery   []string
	reqTime     time.Time
}

type lookupInfoKey struct{}

// exchange is one request's state in one cache policy, and the writer that
// wraps the client's response.
type exchange struct {
	p *Policy
	x *policy.Exchange
	w http.ResponseWriter

	key         string
	epoch       uint64
	varyHeaders []string
	varyQuery   []string
	reqTime     time.Time

	stale        *Entry // the entry being revalidated
	revalidating bool
	fallback     *Entry      // a stored response to serve stale if the backend fails
	before       http.Header // the client's response fields before the backend's (fallback only)
	clientINM    []string    // the client's conditionals, replaced by ours
	clientIMS    []string

	wrote       bool
	status      int
	respTime    time.Time
	storing     bool
	hdr         http.Header // the response's fields to store
	targeted    string      // the targeted field that stands for Cache-Control
	body        []byte
	clen        int64 // Content-Length, -1 when unknown
	replaced    bool  // the response was replaced by a stored one
	finalStatus int   // the status sent when replaced
	discarded   int64 // backend body bytes dropped after a replacement
	fresh       *Entry
}

// Inbound implements policy.Inbounder: for a GET or HEAD it serves a
// usable stored response (Responded), or prepares a revalidation, or
// notes a miss. only-if-cached without a usable response is answered 504.
func (p *Policy) Inbound(x *policy.Exchange) (policy.Outcome, error) {
	r := x.Request
	if !p.lookup {
		return policy.Continue, nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !p.store && unsafeMethod(r.Method) {
			// A cache-store invalidates with this lookup's key settings.
			p.tell(x, &lookupInfo{varyHeaders: p.varyHeaders, varyQuery: p.varyQuery})
		}
		return policy.Continue, nil
	}
	var rd requestDirectives
	if p.reqDirs {
		rd = parseRequest(r.Header["Cache-Control"])
	}
	now := p.now()
	c := p.metrics.of(x.API)
	key := requestKey(x.API, r, p.varyQuery)
	var e *Entry
	var epoch uint64
	if !rd.noStore {
		primary, err := p.st.Get(r.Context(), key)
		if err != nil {
			c.errs.Add(1)
		}
		if primary != nil {
			epoch = primary.Epoch
			e = p.selectVariant(r, c, key, primary)
		}
	}
	if e != nil && len(r.Header["Authorization"]) > 0 && !e.facts.authOK {
		e = nil
	}
	fallback := e
	if e != nil {
		age := e.age(now)
		if usable(e, rd, age) {
			c.hit.Add(1)
			p.writeEntry(x, x.Writer, e, age, r.Header["If-None-Match"], r.Header["If-Modified-Since"], StatusHit)
			return policy.Responded, nil
		}
		if !e.facts.validator {
			e = nil
		}
	}
	if rd.onlyIfCached {
		c.miss.Add(1)
		notCached(x)
		return policy.Responded, nil
	}
	ex := &exchange{p: p, x: x, key: key, epoch: epoch, varyHeaders: p.varyHeaders, varyQuery: p.varyQuery, reqTime: now, clen: -1, fallback: fallback}
	if e != nil {
		// Revalidate with our own validators; the client's conditionals are
		// answered from the refreshed entry.
		ex.stale, ex.revalidating = e, true
		h := r.Header
		ex.clientINM, ex.clientIMS = h["If-None-Match"], h["If-Modified-Since"]
		delete(h, "If-None-Match")
		delete(h, "If-Modified-Since")
		if e.facts.etag != "" {
			h["If-None-Match"] = []string{e.facts.etag}
		}
		if e.facts.hasLM {
			h["If-Modified-Since"] = e.Header["Last-Modified"][:1:1]
		}
	}
	if p.surrogate {
		addCapability(r.Header)
	}
	if !p.store {
		p.tell(x, &lookupInfo{key: key, epoch: epoch, varyHeaders: p.varyHeaders, varyQuery: p.varyQuery, reqTime: now})
	}
	*x.Local() = ex
	return policy.Continue, nil
}

// tell passes info to a later cache-store of the same request.
func (p *Policy) tell(x *policy.Exchange, info *lookupInfo) {
	x.Request = x.Request.WithContext(context.WithValue(x.Request.Context(), lookupInfoKey{}, info))
}

// selectVariant returns the stored response that r selects, given the
// URL's primary entry; nil when none does.
func (p *Policy) selectVariant(r *http.Request, c *counts, key string, primary *Entry) *Entry {
	if len(primary.Vary) == 0 {
		return primary
	}
	if len(primary.Vary) == 1 && primary.Vary[0] == "*" {
		return nil
	}
	if matchVary(r, primary.Vary, primary.VaryValues) {
		return primary
	}
	v, err := p.st.Get(r.Context(), variantKey(key, primary.Epoch, primary.Vary, varyValues(r, primary.Vary)))
	if err != nil {
		c.errs.Add(1)
	}
	if v != nil && v.Epoch == primary.Epoch && slices.Equal(v.Vary, primary.Vary) && matchVary(r, v.Vary, v.VaryValues) {
		return v
	}
	return nil
}

// usable reports whether e may answer the request without contacting the
// backend (RFC 9111 4.2, 5.2.1).
func usable(e *Entry, rd requestDirectives, age time.Duration) bool {
	if e.facts.noCache || rd.noCache {
		return false
	}
	if rd.hasMaxAge && age > rd.maxAge {
		return false
	}
	fresh := e.facts.lifetime - age
	if rd.hasMinFresh && fresh < rd.minFresh {
		return false
	}
	if fresh > 0 {
		return true
	}
	return rd.hasMaxStale && !e.facts.noStale && -fresh <= rd.maxStale
}

// Outbound implements policy.Outbounder: it wraps the response when there
// is something to do with it (store it, answer a revalidation, invalidate,
// mark a miss).
func (p *Policy) Outbound(x *policy.Exchange, w http.ResponseWriter) http.ResponseWriter {
	slot := x.Local()
	ex, _ := (*slot).(*exchange)
	r := x.Request
	if ex == nil {
		if !p.store || r.Method == http.MethodHead || r.Method == http.MethodOptions || r.Method == http.MethodTrace {
			return w
		}
		ex = &exchange{p: p, x: x, varyHeaders: p.varyHeaders, varyQuery: p.varyQuery, reqTime: p.now(), clen: -1}
		if info, ok := r.Context().Value(lookupInfoKey{}).(*lookupInfo); ok {
			ex.varyHeaders, ex.varyQuery = info.varyHeaders, info.varyQuery
			ex.key, ex.epoch, ex.reqTime = info.key, info.epoch, info.reqTime
		}
		if ex.key == "" {
			ex.key = requestKey(x.API, r, ex.varyQuery)
		}
		*slot = ex
	}
	if p.store && p.surrogate && r.Method == http.MethodGet {
		addCapability(r.Header)
	}
	ex.w = w
	if ex.fallback != nil {
		// A stale answer may replace the backend's error: keep the fields
		// other policies set (RateLimit-*) to restore then.
		ex.before = w.Header().Clone()
	}
	return ex
}

// Header implements http.ResponseWriter.
func (ex *exchange) Header() http.Header { return ex.w.Header() }

// Flush implements http.Flusher.
func (ex *exchange) Flush() {
	if !ex.replaced {
		policy.Flush(ex.w)
	}
}

// Unwrap gives http.ResponseController the client's writer.
func (ex *exchange) Unwrap() http.ResponseWriter { return ex.w }

// WriteHeader implements http.ResponseWriter: the response's head decides
// what the cache does with it.
func (ex *exchange) WriteHeader(status int) {
	if ex.wrote {
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		// An interim response passes through: it is not the response,
		// and is never stored.
		ex.w.WriteHeader(status)
		return
	}
	ex.wrote = true
	p, x, r := ex.p, ex.x, ex.x.Request
	h := ex.w.Header()
	now := p.now()
	ex.status, ex.respTime = status, now
	if p.lookup && ex.revalidating && status == http.StatusNotModified {
		ex.serveRevalidated(h, now)
		return
	}
	if p.lookup && ex.fallback != nil && serverError(status) && p.staleOK(ex.fallback, now) {
		// The forwarder filled the head with the error's fields: serve the
		// stored response with only what policies had set before it.
		clear(h)
		for k, vs := range ex.before {
			h[k] = vs
		}
		ex.replaced = true
		ex.finalStatus = p.serveStale(x, ex, ex.w, ex.fallback, now)
		return
	}
	if p.store {
		switch {
		case unsafeMethod(r.Method):
			if status >= 200 && status < 400 {
				p.invalidate(x, r, h, ex.varyQuery)
			}
		case r.Method == http.MethodGet:
			cc, targeted := directivesFor(h, p.targets)
			if p.storable(r, status, h, cc, targeted) {
				ex.storing = true
				ex.hdr = storedHeader(h, cc)
				ex.targeted = targeted
				if cl, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && cl >= 0 {
					ex.clen = cl
					if cl > p.maxEntry {
						ex.storing = false
					} else {
						ex.body = make([]byte, 0, cl)
					}
				}
			}
		}
	}
	if p.lookup && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		p.metrics.of(x.API).miss.Add(1)
		h["X-Cache"] = []string{StatusMiss}
	}
	delete(h, weirCacheControl)
	ex.w.WriteHeader(status)
}

// Write implements http.ResponseWriter, teeing the body when it is being
// stored.
func (ex *exchange) Write(b []byte) (int, error) {
	if ex.replaced {
		ex.discarded += int64(len(b)) // the forwarder counts it as sent
		return len(b), nil
	}
	if !ex.wrote {
		ex.WriteHeader(http.StatusOK)
	}
	if ex.storing {
		if int64(len(ex.body)+len(b)) > ex.p.maxEntry {
			ex.storing, ex.body = false, nil
		} else {
			ex.body = append(ex.body, b...)
		}
	}
	return ex.w.Write(b)
}

// Finish implements policy.Finisher: it commits what the exchange stored
// or refreshed, only when the response completed.
func (p *Policy) Finish(x *policy.Exchange) {
	ex, _ := (*x.Local()).(*exchange)
	if ex == nil {
		return
	}
	if ex.replaced {
		// The forwarder logged the backend's 304 (or error) and counted its
		// body as sent; the client got ours.
		x.Record.Status = ex.finalStatus
		x.Record.BytesOut -= ex.discarded
	}
	if x.Record.Error != "" {
		return
	}
	ctx := context.WithoutCancel(x.Request.Context())
	c := p.metrics.of(x.API)
	if ex.fresh != nil {
		p.save(ctx, c, ex.key, ex.fresh)
		return
	}
	if !ex.storing || ex.clen >= 0 && int64(len(ex.body)) != ex.clen {
		return
	}
	r := x.Request
	e := &Entry{
		Status: ex.status, Header: ex.hdr, Body: ex.body[:len(ex.body):len(ex.body)],
		RequestTime: ex.reqTime, ResponseTime: ex.respTime,
		DefaultTTL: p.defaultTTL, Heuristic: p.heuristic, Surrogate: p.surrogate, Targeted: ex.targeted,
	}
	e.Vary = parseVary(e.Header["Vary"], ex.varyHeaders)
	e.VaryValues = varyValues(r, e.Vary)
	e.analyze()
	e.Epoch = ex.epoch
	if e.Epoch == 0 && len(e.Vary) > 0 {
		// A cache-store on its own: variants join the URL's current epoch.
		cur, err := p.st.Get(ctx, ex.key)
		if err != nil {
			c.errs.Add(1)
		} else if cur != nil {
			e.Epoch = cur.Epoch
		}
	}
	if e.Epoch == 0 {
		e.Epoch = rand.Uint64() | 1
	}
	p.save(ctx, c, ex.key, e)
}

// save stores e under key (and its variant key when it varies), for as long
// as it is fresh plus keep_stale.
func (p *Policy) save(ctx context.Context, c *counts, key string, e *Entry) {
	ttl := max(0, e.facts.lifetime-e.age(p.now())) + p.keepStale
	if ttl <= 0 {
		return
	}
	if len(e.Vary) > 0 {
		if err := p.st.Set(ctx, variantKey(key, e.Epoch, e.Vary, e.VaryValues), e, ttl); err != nil {
			c.errs.Add(1)
			return
		}
	}
	if err := p.st.Set(ctx, key, e, ttl); err != nil {
		c.errs.Add(1)
		return
	}
	c.stored.Add(1)
}

// serverError reports the statuses under which a stale response may stand
// in for the backend's.
func serverError(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// staleOK reports whether e may be served when the backend failed: not when
// it forbids serving stale, and at most stale_if_error (or the response's
// own stale-if-error) past its freshness.
func (p *Policy) staleOK(e *Entry, now time.Time) bool {
	if e.facts.noStale || e.facts.noCache {
		return false
	}
	return e.age(now)-e.facts.lifetime <= max(p.staleErr, e.facts.staleIfError)
}

// serveStale answers from e in place of a failed backend.
func (p *Policy) serveStale(x *policy.Exchange, ex *exchange, w http.ResponseWriter, e *Entry, now time.Time) int {
	p.metrics.of(x.API).stale.Add(1)
	r := x.Request
	inm, ims := r.Header["If-None-Match"], r.Header["If-Modified-Since"]
	if ex != nil && ex.revalidating {
		inm, ims = ex.clientINM, ex.clientIMS
	}
	return p.writeEntry(x, w, e, e.age(now), inm, ims, StatusStale)
}

// Fallback implements policy.Fallback: when the backend could not be
// reached or did not answer in time (failure.IsBackendFault), a stored
// response within stale_if_error answers instead.
func (p *Policy) Fallback(x *policy.Exchange) policy.Outcome {
	ex, _ := (*x.Local()).(*exchange)
	if ex == nil || ex.fallback == nil || x.Failure == nil || !failure.IsBackendFault(x.Failure.Reason) {
		return policy.Continue
	}
	now := p.now()
	if !p.staleOK(ex.fallback, now) {
		return policy.Continue
	}
	ex.replaced = true
	ex.finalStatus = p.serveStale(x, ex, x.Writer, ex.fallback, now)
	return policy.Responded
}

// storable reports whether a response to r may be stored (RFC 9111 3), as
// far as its head tells; the body must then complete within max_entry_bytes
// and the entry be fresh or revalidatable.
// cc are the response's directives for weir, from the targeted field
// named targeted ("" for Cache-Control).
func (p *Policy) storable(r *http.Request, status int, h http.Header, cc responseDirectives, targeted string) bool {
	if status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return false
	}
	if p.reqDirs && parseRequest(r.Header["Cache-Control"]).noStore {
		return false
	}
	if cc.mustUnderstand && !understood(status) {
		return false
	}
	var sd surrogateDirectives
	if p.surrogate {
		sd = parseSurrogate(h["Surrogate-Control"])
	}
	if sd.noStore {
		return false
	}
	// Surrogate-Control speaks to weir over Cache-Control.
	if !sd.hasMaxAge && (cc.noStore || cc.private) {
		return false
	}
	if len(r.Header["Authorization"]) > 0 && !(cc.public || cc.hasSMaxAge || cc.mustRevalidate) {
		return false
	}
	if v := parseVary(h["Vary"], nil); len(v) == 1 && v[0] == "*" {
		return false
	}
	explicit := sd.hasMaxAge || cc.hasSMaxAge || cc.hasMaxAge || targeted == "" && len(h["Expires"]) > 0
	// A response that sets a cookie is stored only when the backend opted
	// in explicitly: heuristic freshness or default_ttl would otherwise
	// replay one user's cookie to everyone.
	if len(h["Set-Cookie"]) > 0 && !(explicit || cc.public) {
		return false
	}
	return explicit || cc.public || cacheableByDefault(status)
}

// storedHeader copies the response's fields to store: not weir's own, not
// the ones private="..." or no-cache="..." of its directives cc withhold.
// Values are copied (the forwarder's slices are reused) into slices with
// cap == len.
func storedHeader(h http.Header, cc responseDirectives) http.Header {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	all := make([]string, 0, n)
	out := make(http.Header, len(h))
	for k, vs := range h {
		switch k {
		case "X-Request-Id", "X-Cache":
			continue
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || slices.Contains(cc.privateFields, k) || slices.Contains(cc.noCacheFields, k) {
			continue
		}
		start := len(all)
		all = append(all, vs...)
		out[k] = all[start:len(all):len(all)]
	}
	return out
}

// notUpdated are the fields a 304 does not replace in a stored response:
// they describe the stored body, not the resource's metadata.
var notUpdated = [...]string{"Content-Length", "Content-Encoding", "Content-Md5", "Content-Range", "Etag"}

// serveRevalidated answers the client from the stored response refreshed
// with a 304's fields (RFC 9111 4.3.4), and drops the backend's 304.
func (ex *exchange) serveRevalidated(h http.Header, now time.Time) {
	old := ex.stale
	ne := &Entry{
		Status: old.Status, Body: old.Body, RequestTime: ex.reqTime, ResponseTime: now,
		Vary: old.Vary, VaryValues: old.VaryValues, Epoch: old.Epoch,
		DefaultTTL: old.DefaultTTL, Heuristic: old.Heuristic, Surrogate: old.Surrogate,
	}
	upd304, _ := directivesFor(h, ex.p.targets)
	upd := storedHeader(h, upd304)
	ne.Header = make(http.Header, len(old.Header)+len(upd))
	for k, vs := range old.Header {
		ne.Header[k] = vs
	}
	delete(ne.Header, "Age") // the 304's Age, if any, is the current one
	for k, vs := range upd {
		if !slices.Contains(notUpdated[:], k) {
			ne.Header[k] = vs
		}
	}
	var cc responseDirectives
	cc, ne.Targeted = directivesFor(ne.Header, ex.p.targets)
	ne.analyze()
	// The 304 may itself forbid storing; the client still gets the body.
	if !cc.noStore && !cc.private {
		ex.fresh = ne
	}
	for _, k := range notUpdated {
		if _, ok := ne.Header[k]; !ok {
			delete(h, k)
		}
	}
	ex.replaced = true
	ex.p.metrics.of(ex.x.API).revalidated.Add(1)
	ex.finalStatus = ex.p.writeEntry(ex.x, ex.w, ne, ne.age(now), ex.clientINM, ex.clientIMS, StatusRevalidated)
}

// writeEntry answers the request from e: the stored fields over those
// already in w's header (other policies' own), Age, X-Cache; a 304 when the
// client's conditionals (inm, ims) hold, a 206 for a single byte range.
// It records and returns the status.
func (p *Policy) writeEntry(x *policy.Exchange, w http.ResponseWriter, e *Entry, age time.Duration, inm, ims []string, cacheStatus string) int {
	r := x.Request
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	delete(h, weirCacheControl)
	h["Age"] = []string{ageHeader(age)}
	h["X-Cache"] = []string{cacheStatus}
	if x.Record.RequestID != "" {
		h["X-Request-Id"] = []string{x.Record.RequestID}
	}
	status, body := e.Status, e.Body
	switch {
	case status >= 200 && status < 300 && notModified(e, inm, ims):
		status, body = http.StatusNotModified, nil
		delete(h, "Content-Length")
		delete(h, "Content-Type")
	case status == http.StatusOK && r.Method == http.MethodGet:
		if start, end, ok := rangeOf(r, e); ok {
			status, body = http.StatusPartialContent, body[start:end+1]
			h["Content-Range"] = []string{"bytes " + strconv.Itoa(start) + "-" + strconv.Itoa(end) + "/" + strconv.Itoa(len(e.Body))}
		}
	}
	if bodyAllowed(status) && (r.Method != http.MethodHead || len(h["Content-Length"]) == 0) {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	x.Record.Status = status
	if r.Method != http.MethodHead && bodyAllowed(status) && len(body) > 0 {
		n, _ := w.Write(body)
		x.Record.BytesOut += int64(n)
	}
	return status
}

// bodyAllowed reports statuses that carry content.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// notModified evaluates If-None-Match (weak comparison), or else
// If-Modified-Since against Last-Modified (or Date, RFC 9111 4.3.2).
func notModified(e *Entry, inm, ims []string) bool {
	if len(inm) > 0 {
		return e.facts.etag != "" && etagListMatch(inm, e.facts.etag)
	}
	if len(ims) > 0 {
		t, err := http.ParseTime(ims[0])
		return err == nil && !e.facts.lastModified.After(t)
	}
	return false
}

// etagListMatch reports whether an If-None-Match list holds "*" or an
// entity-tag weakly equal to etag (RFC 9110 8.8.3.2). Tags missing their
// quotes (on either side) are compared as if quoted.
func etagListMatch(lines []string, etag string) bool {
	want := strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	for _, l := range lines {
		for {
			l = strings.TrimLeft(l, " \t,")
			if l == "" {
				break
			}
			if l[0] == '*' {
				return true
			}
			tag := strings.TrimPrefix(l, "W/")
			n := len(tag)
			if strings.HasPrefix(tag, `"`) {
				if i := strings.IndexByte(tag[1:], '"'); i >= 0 {
					n = i + 2
				}
			} else if i := strings.IndexByte(tag, ','); i >= 0 {
				n = i
			}
			if strings.Trim(strings.TrimSpace(tag[:n]), `"`) == want {
				return true
			}
			l = tag[n:]
		}
	}
	return false
}

// rangeOf returns the byte range [start, end] of e.Body that r asks for
// with a single "bytes=" range; ok is false when the whole response
// should be sent instead (no Range, several ranges, an If-Range that does
// not hold, an unsatisfiable range: a server may always ignore Range).
func rangeOf(r *http.Request, e *Entry) (start, end int, ok bool) {
	rs := r.Header["Range"]
	if len(rs) != 1 || len(e.Body) == 0 {
		return 0, 0, false
	}
	if ir := r.Header["If-Range"]; len(ir) > 0 {
		etag := e.facts.etag
		if ir[0] != etag || etag == "" || strings.HasPrefix(etag, "W/") {
			if lm := e.Header["Last-Modified"]; len(lm) == 0 || ir[0] != lm[0] {
				return 0, 0, false
			}
		}
	}
	spec, found := strings.CutPrefix(rs[0], "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	size := len(e.Body)
	if first == "" {
		n, err := strconv.Atoi(last)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(0, size-n), size - 1, true
	}
	s, err := strconv.Atoi(first)
	if err != nil || s < 0 || s >= size {
		return 0, 0, false
	}
	end = size - 1
	if last != "" {
		l, err := strconv.Atoi(last)
		if err != nil || l < s {
			return 0, 0, false
		}
		end = min(l, size-1)
	}
	return s, end, true
}

// unsafeMethod reports methods that may change the resource (RFC 9110
// 9.2.1): all but GET, HEAD, OPTIONS and TRACE.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// invalidate drops the stored responses for r's URL and the same-origin
// URLs in the response's Location and Content-Location (RFC 9111 4.4).
// The URLs are taken in the client's URL space, within the request's API.
func (p *Policy) invalidate(x *policy.Exchange, r *http.Request, h http.Header, varyQuery []string) {
	ctx := context.WithoutCancel(r.Context())
	c := p.metrics.of(x.API)
	p.drop(ctx, c, requestKey(x.API, r, varyQuery))
	for _, name := range [...]string{"Location", "Content-Location"} {
		v := h[name]
		if len(v) == 0 {
			continue
		}
		u, err := url.Parse(v[0])
		if err != nil || u.Host != "" && !strings.EqualFold(u.Host, r.Host) || u.Scheme != "" && !strings.EqualFold(u.Scheme, scheme(r)) {
			continue
		}
		ref := (&url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath}).ResolveReference(u)
		p.drop(ctx, c, primaryKey(x.API, r.Host, ref.EscapedPath(), ref.RawQuery, varyQuery))
	}
}

func (p *Policy) drop(ctx context.Context, c *counts, key string) {
	if err := p.st.Delete(ctx, key); err != nil {
		c.errs.Add(1)
		return
	}
	c.invalidated.Add(1)
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// addCapability announces weir as a surrogate to the backend, once.
func addCapability(h http.Header) {
	for _, v := range h["Surrogate-Capability"] {
		if strings.Contains(v, surrogateCapability) {
			return
		}
	}
	h["Surrogate-Capability"] = append(h["Surrogate-Capability"], surrogateCapability)
}

// notCached answers only-if-cached without a usable stored response: 504
// (RFC 9111 5.2.1.7), with weir's error body.
func notCached(x *policy.Exchange) {
	h := x.Writer.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Cache"] = []string{StatusMiss}
	h["X-Request-Id"] = []string{x.Record.RequestID}
	x.Respond(http.StatusGatewayTimeout, []byte(`{"error":"`+string(failure.NotCached)+`","request_id":"`+x.Record.RequestID+"\"}\n"))
}
