package cache

import (
	"net/http"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/h1"
)

// maxDelta is what an over-large delta-seconds value becomes (RFC 9111
// 1.2.2: 2^31 seconds).
const maxDelta = 2147483648 * time.Second

// responseDirectives is what a response's Cache-Control says to a shared
// cache. Directive names are case-insensitive; for a directive given more
// than once the first occurrence counts (RFC 9111 4.2.1).
type responseDirectives struct {
	maxAge, sMaxAge       time.Duration
	hasMaxAge, hasSMaxAge bool
	noStore               bool
	noCache               bool     // unqualified: revalidate on every use
	noCacheFields         []string // no-cache="A, B": those fields need revalidation
	private               bool     // unqualified: a shared cache must not store it
	privateFields         []string // private="A": a shared cache must not store those fields
	public                bool
	mustRevalidate        bool
	proxyRevalidate       bool
	mustUnderstand        bool
	staleIfError          time.Duration // RFC 5861
}

// requestDirectives is what a request's Cache-Control asks of the cache.
type requestDirectives struct {
	noCache, noStore, onlyIfCached bool
	maxAge, maxStale, minFresh     time.Duration
	hasMaxAge, hasMaxStale         bool
	hasMinFresh                    bool
}

// surrogateDirectives is the part of a Surrogate-Control header (W3C Edge
// Architecture) meant for weir: directives without a target or targeted
// at weir's device token.
type surrogateDirectives struct {
	maxAge    time.Duration
	hasMaxAge bool
	noStore   bool
}

// surrogateToken is weir's device token in Surrogate-Capability and
// Surrogate-Control targets.
const surrogateToken = "weir"

// surrogateCapability is the Surrogate-Capability request header value weir
// sends to backends.
const surrogateCapability = surrogateToken + `="Surrogate/1.0"`

// directive is one parsed directive of a Cache-Control-like field.
type directive struct {
	name   string // as written; compare with equalFold
	value  string // unquoted
	hasVal bool
	target string // Surrogate-Control ";target", "" when none
	bad    bool   // malformed (junk after the value, empty value)
}

// directiveScanner walks the directives of all lines of a field without
// allocating (except to unescape a quoted-string with backslashes).
type directiveScanner struct {
	lines []string
	s     string
	i     int
}

func newScanner(lines []string) directiveScanner { return directiveScanner{lines: lines} }

// next returns the next directive; ok is false at the end.
func (sc *directiveScanner) next() (d directive, ok bool) {
	for {
		for sc.i < len(sc.s) && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t' || sc.s[sc.i] == ',') {
			sc.i++
		}
		if sc.i < len(sc.s) {
			break
		}
		if len(sc.lines) == 0 {
			return directive{}, false
		}
		sc.s, sc.lines, sc.i = sc.lines[0], sc.lines[1:], 0
	}
	s := sc.s
	start := sc.i
	for sc.i < len(s) && isTchar(s[sc.i]) {
		sc.i++
	}
	d.name = s[start:sc.i]
	if d.name == "" {
		d.bad = true
	}
	if sc.i < len(s) && s[sc.i] == '=' {
		sc.i++
		d.hasVal = true
		if sc.i < len(s) && s[sc.i] == '"' {
			v, n, closed := unquote(s[sc.i:])
			d.value = v
			sc.i += n
			if !closed {
				d.bad = true
			}
		} else {
			vs := sc.i
			for sc.i < len(s) && isTchar(s[sc.i]) {
				sc.i++
			}
			d.value = s[vs:sc.i]
			if d.value == "" {
				d.bad = true
			}
		}
	}
	if sc.i < len(s) && s[sc.i] == ';' {
		sc.i++
		ts := sc.i
		for sc.i < len(s) && isTchar(s[sc.i]) {
			sc.i++
		}
		d.target = s[ts:sc.i]
	}
	// Anything else before the next comma is junk that spoils the directive
	// ("max-age =60"); skip it, minding quoted strings.
	for sc.i < len(s) && s[sc.i] != ',' {
		c := s[sc.i]
		if c != ' ' && c != '\t' {
			d.bad = true
		}
		if c == '"' {
			_, n, _ := unquote(s[sc.i:])
			sc.i += n
			continue
		}
		sc.i++
	}
	return d, true
}

// unquote reads the quoted-string at the start of s (s[0] == '"'): its
// value, the bytes consumed, and whether it was closed.
func unquote(s string) (v string, n int, closed bool) {
	esc := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			esc = true
			i++
		case '"':
			v = s[1:i]
			if esc {
				v = unescape(v)
			}
			return v, i + 1, true
		}
	}
	return s[1:], len(s), false
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isTchar reports RFC 9110 token characters.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// deltaSeconds parses 1*DIGIT; ok is false for anything else. Values past
// 2^31 seconds become 2^31 seconds.
func deltaSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= int64(maxDelta/time.Second) {
			n = n*10 + int64(c-'0')
		}
	}
	if n >= int64(maxDelta/time.Second) {
		return maxDelta, true
	}
	return time.Duration(n) * time.Second, true
}

// weirCacheControl is the targeted cache-control field (RFC 9213) meant for
// weir alone: a cache policy uses it and never passes it to the client.
const weirCacheControl = "Weir-Cache-Control"

// directivesFor returns what a response with header h says to weir's
// cache: the directives of the first of targets (canonical field names,
// RFC 9213's target list) present in h with a valid, non-empty value,
// whose name is returned too, in place of Cache-Control and Expires; else
// Cache-Control's, and "".
func directivesFor(h http.Header, targets []string) (responseDirectives, string) {
	for _, name := range targets {
		if lines := h[name]; len(lines) > 0 {
			if rd, ok := parseTargeted(lines); ok {
				return rd, name
			}
		}
	}
	return parseResponse(h["Cache-Control"]), ""
}

// parseAge reads an Age field: the first value of the first line (after
// a list's first comma, before any parameter), if it is 1*DIGIT. ok is
// false for anything else (none, non-numeric, negative, a fraction): such
// an Age is ignored, the response is not taken as stale for it.
func parseAge(lines []string) (time.Duration, bool) {
	if len(lines) == 0 {
		return 0, false
	}
	v, _ := nextElement(lines[0])
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimRight(v[:i], " \t")
	}
	return deltaSeconds(v)
}

// parseResponse reads a response's Cache-Control lines. An invalid max-age
// or s-maxage makes the response stale (0), as RFC 9111 4.2.1 allows.
func parseResponse(lines []string) responseDirectives {
	var rd responseDirectives
	sc := newScanner(lines)
	for {
		d, ok := sc.next()
		if !ok {
			return rd
		}
		switch {
		case h1.EqualFold(d.name, "max-age"):
			if !rd.hasMaxAge {
				rd.hasMaxAge = true
				if v, ok := deltaSeconds(d.value); ok && !d.bad {
					rd.maxAge = v
				}
			}
		case h1.EqualFold(d.name, "s-maxage"):
			if !rd.hasSMaxAge {
				rd.hasSMaxAge = true
				if v, ok := deltaSeconds(d.value); ok && !d.bad {
					rd.sMaxAge = v
				}
			}
		case h1.EqualFold(d.name, "no-store"):
			rd.noStore = true
		case h1.EqualFold(d.name, "no-cache"):
			if d.hasVal && !d.bad {
				rd.noCacheFields = appendFieldNames(rd.noCacheFields, d.value)
			} else {
				rd.noCache = true
			}
		case h1.EqualFold(d.name, "private"):
			if d.hasVal && !d.bad {
				rd.privateFields = appendFieldNames(rd.privateFields, d.value)
			} else {
				rd.private = true
			}
		case h1.EqualFold(d.name, "public"):
			rd.public = true
		case h1.EqualFold(d.name, "must-revalidate"):
			rd.mustRevalidate = true
		case h1.EqualFold(d.name, "proxy-revalidate"):
			rd.proxyRevalidate = true
		case h1.EqualFold(d.name, "must-understand"):
			rd.mustUnderstand = true
		case h1.EqualFold(d.name, "stale-if-error"):
			if v, ok := deltaSeconds(d.value); ok && !d.bad && rd.staleIfError == 0 {
				rd.staleIfError = v
			}
		}
	}
}

// appendFieldNames adds the canonical field names of a comma-separated list.
func appendFieldNames(dst []string, list string) []string {
	for list != "" {
		var name string
		name, list = nextElement(list)
		if name != "" {
			dst = append(dst, http.CanonicalHeaderKey(name))
		}
	}
	return dst
}

// parseRequest reads a request's Cache-Control lines. max-stale without a
// value accepts any staleness.
func parseRequest(lines []string) requestDirectives {
	var rd requestDirectives
	sc := newScanner(lines)
	for {
		d, ok := sc.next()
		if !ok {
			return rd
		}
		switch {
		case h1.EqualFold(d.name, "no-cache"):
			rd.noCache = true
		case h1.EqualFold(d.name, "no-store"):
			rd.noStore = true
		case h1.EqualFold(d.name, "only-if-cached"):
			rd.onlyIfCached = true
		case h1.EqualFold(d.name, "max-age"):
			if v, ok := deltaSeconds(d.value); ok && !d.bad && !rd.hasMaxAge {
				rd.maxAge, rd.hasMaxAge = v, true
			}
		case h1.EqualFold(d.name, "max-stale"):
			if rd.hasMaxStale {
				break
			}
			if !d.hasVal {
				rd.maxStale, rd.hasMaxStale = maxDelta, true
			} else if v, ok := deltaSeconds(d.value); ok && !d.bad {
				rd.maxStale, rd.hasMaxStale = v, true
			}
		case h1.EqualFold(d.name, "min-fresh"):
			if v, ok := deltaSeconds(d.value); ok && !d.bad && !rd.hasMinFresh {
				rd.minFresh, rd.hasMinFresh = v, true
			}
		}
	}
}

// parseSurrogate reads the Surrogate-Control directives meant for weir;
// malformed ones are ignored (Cache-Control then applies).
func parseSurrogate(lines []string) surrogateDirectives {
	var sd surrogateDirectives
	sc := newScanner(lines)
	for {
		d, ok := sc.next()
		if !ok {
			return sd
		}
		if d.bad || d.target != "" && !h1.EqualFold(d.target, surrogateToken) {
			continue
		}
		switch {
		case h1.EqualFold(d.name, "max-age"):
			if v, ok := deltaSeconds(d.value); ok && !sd.hasMaxAge {
				sd.maxAge, sd.hasMaxAge = v, true
			}
		case h1.EqualFold(d.name, "no-store"):
			sd.noStore = true
		}
	}
}

// nextElement splits off the next element of a comma-separated list,
// trimmed of optional whitespace.
func nextElement(v string) (elem, rest string) {
	i := strings.IndexByte(v, ',')
	if i < 0 {
		elem, rest = v, ""
	} else {
		elem, rest = v[:i], v[i+1:]
	}
	return strings.Trim(elem, " \t"), rest
}
