package cache

import (
	"net/http"
	"strconv"
	"time"
)

// Entry is one stored response. It is immutable once built: the memory
// storage hands the same *Entry to every reader, so nothing may change it
// (a revalidation builds a new one).
type Entry struct {
	// Status is the response's status code.
	Status int
	// Header holds the stored end-to-end header fields: no hop-by-hop ones,
	// no Age (recomputed on use), and none of weir's own (X-Request-Id,
	// X-Cache). Every value slice has cap == len, so an append by a reader
	// copies.
	Header http.Header
	// Body is the complete response body.
	Body []byte
	// RequestTime is when the request that fetched the response was sent,
	// ResponseTime when its head arrived (RFC 9111 4.2.3).
	RequestTime, ResponseTime time.Time
	// Vary lists the selecting request headers (canonical, sorted): the
	// response's Vary plus the policy's vary_by_headers. ["*"] never
	// matches.
	Vary []string
	// VaryValues are the normalised values of Vary's headers in the
	// request that fetched the response (absent: "\x01").
	VaryValues []string
	// Epoch is the generation of the URL's entries: invalidation drops the
	// primary entry, and variants of an older epoch become unreachable.
	Epoch uint64
	// DefaultTTL is the store policy's default_ttl, and Heuristic and
	// Surrogate its switches, as they were when the response was stored:
	// freshness is computed from the entry alone, by any instance.
	DefaultTTL time.Duration
	Heuristic  bool
	Surrogate  bool
	// Targeted is the targeted cache-control field (RFC 9213) whose
	// directives stand in for Cache-Control and Expires, as the storing
	// policy chose it from its targeted_fields ("" = none).
	Targeted string

	facts facts
}

// facts are what an entry's fields imply, computed once by analyze.
type facts struct {
	lifetime     time.Duration // freshness lifetime
	initialAge   time.Duration // corrected initial age (RFC 9111 4.2.3)
	noCache      bool          // every use needs revalidation
	noStale      bool          // must-revalidate, proxy-revalidate, s-maxage: never served stale
	staleIfError time.Duration // the response's own stale-if-error
	authOK       bool          // may answer requests with Authorization
	etag         string
	lastModified time.Time // Last-Modified, or Date, or ResponseTime
	hasLM        bool      // a Last-Modified header was there
	validator    bool      // an ETag or Last-Modified to revalidate with
	size         int64     // bytes held, for the memory bound
}

// absentValue stands for a selecting header the request did not have.
const absentValue = "\x01"

// entryOverhead approximates the bytes of an entry beyond its strings.
const entryOverhead = 256

// analyze computes e.facts from its fields.
func (e *Entry) analyze() {
	h := e.Header
	f := facts{}
	var cc responseDirectives
	if e.Targeted != "" {
		cc, _ = parseTargeted(h[e.Targeted])
	} else {
		cc = parseResponse(h["Cache-Control"])
	}
	var sd surrogateDirectives
	if e.Surrogate {
		sd = parseSurrogate(h["Surrogate-Control"])
	}

	date, dateOK := parseHTTPTime(h["Date"], e.ResponseTime)
	if !dateOK {
		date = e.ResponseTime
	}
	// An Age that is not a number is ignored (parseAge), not taken as
	// stale; an over-large one is 2^31 s, stale.
	age, _ := parseAge(h["Age"])
	apparent := max(0, e.ResponseTime.Sub(date))
	corrected := age + max(0, e.ResponseTime.Sub(e.RequestTime))
	f.initialAge = min(max(apparent, corrected), maxDelta)

	switch {
	case sd.hasMaxAge:
		f.lifetime = sd.maxAge
	case cc.hasSMaxAge:
		f.lifetime = cc.sMaxAge
	case cc.hasMaxAge:
		f.lifetime = cc.maxAge
	case e.Targeted == "" && len(h["Expires"]) > 0:
		// Not one valid HTTP-date (two lines, a one-digit hour, extra
		// spaces): already expired.
		if exp, ok := parseHTTPTime(h["Expires"], e.ResponseTime); ok && len(h["Expires"]) == 1 {
			f.lifetime = max(0, exp.Sub(date))
		}
	case e.DefaultTTL > 0 && cacheableByDefault(e.Status):
		f.lifetime = e.DefaultTTL
	case e.Heuristic && (cacheableByDefault(e.Status) || cc.public):
		if lm, ok := parseHTTPTime(h["Last-Modified"], e.ResponseTime); ok && lm.Before(date) {
			f.lifetime = min(date.Sub(lm)/10, 24*time.Hour)
		}
	}

	// Past 2^31 s a lifetime means "forever"; capping keeps sums of
	// durations from overflowing.
	f.lifetime = min(f.lifetime, maxDelta)
	f.noCache = cc.noCache && !sd.hasMaxAge
	f.noStale = cc.mustRevalidate || cc.proxyRevalidate || cc.hasSMaxAge
	f.authOK = cc.public || cc.hasSMaxAge || cc.mustRevalidate
	f.staleIfError = cc.staleIfError
	if et := h["Etag"]; len(et) > 0 {
		f.etag = et[0]
	}
	f.lastModified, f.hasLM = parseHTTPTime(h["Last-Modified"], e.ResponseTime)
	if !f.hasLM {
		f.lastModified = date
	}
	f.validator = f.etag != "" || f.hasLM

	size := int64(entryOverhead + len(e.Body))
	for k, vs := range h {
		size += int64(len(k))
		for _, v := range vs {
			size += int64(len(v)) + 16
		}
	}
	for i := range e.Vary {
		size += int64(len(e.Vary[i]) + len(e.VaryValues[i]))
	}
	f.size = size
	e.facts = f
}

// age is the entry's current age at now (RFC 9111 4.2.3).
func (e *Entry) age(now time.Time) time.Duration {
	if e.facts.initialAge >= maxDelta {
		return maxDelta
	}
	return e.facts.initialAge + max(0, now.Sub(e.ResponseTime))
}

// ageHeader formats an age in whole seconds for the Age header.
func ageHeader(age time.Duration) string {
	return strconv.FormatInt(int64(age/time.Second), 10)
}

// parseHTTPTime parses the first line of a date field, strictly
// (parseHTTPDate); now places a two-digit year.
func parseHTTPTime(lines []string, now time.Time) (time.Time, bool) {
	if len(lines) == 0 {
		return time.Time{}, false
	}
	return parseHTTPDate(lines[0], now)
}

// cacheableByDefault reports the statuses RFC 9110 15.1 defines as
// heuristically cacheable (206 aside: weir does not store partial content).
func cacheableByDefault(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understood reports status codes whose semantics weir knows (for
// must-understand): the registered ones.
func understood(status int) bool { return http.StatusText(status) != "" }
