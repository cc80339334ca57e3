package cache

import (
	"encoding/hex"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// keyPrefix starts every cache key in the store.
const keyPrefix = "cache:"

// primaryKey is the key of a URL's entry: the API, the host (lower case,
// without a port: instances behind a load balancer, or one listener
// reached by several ports, share entries), the escaped path and the query
// (all of it as sent, or only the vary_by_query parameters in a normal
// order when varyQuery is non-nil).
func primaryKey(api, host, path, rawQuery string, varyQuery []string) string {
	host = stripPort(host)
	var b strings.Builder
	b.Grow(len(keyPrefix) + len(api) + len(host) + len(path) + len(rawQuery) + 3)
	b.WriteString(keyPrefix)
	b.WriteString(api)
	b.WriteByte(0)
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	b.WriteByte(0)
	b.WriteString(path)
	switch {
	case varyQuery == nil:
		if rawQuery != "" {
			b.WriteByte('?')
			b.WriteString(rawQuery)
		}
	case len(varyQuery) > 0:
		q, _ := url.ParseQuery(rawQuery)
		b.WriteByte('?')
		for i, name := range varyQuery { // sorted by New
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(name))
			for _, v := range q[name] {
				b.WriteByte('=')
				b.WriteString(url.QueryEscape(v))
			}
		}
	}
	return b.String()
}

// stripPort drops a ":port" from a Host value (IPv6 literals keep their
// brackets).
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.IndexByte(host[i:], ']') >= 0 {
		return host
	}
	return host[:i]
}

// requestKey is the primary key of r in api.
func requestKey(api string, r *http.Request, varyQuery []string) string {
	return primaryKey(api, r.Host, r.URL.EscapedPath(), r.URL.RawQuery, varyQuery)
}

// variantKey is where the variant of key with the given selecting headers
// and values is kept, under the URL's epoch: a digest keeps long header
// values out of the key.
func variantKey(key string, epoch uint64, vary, values []string) string {
	h := fnv.New128a()
	for i := range vary {
		h.Write([]byte(vary[i]))
		h.Write([]byte{0})
		h.Write([]byte(values[i]))
		h.Write([]byte{0})
	}
	var sum [16]byte
	return key + "\x00v" + strconv.FormatUint(epoch, 16) + ":" + hex.EncodeToString(h.Sum(sum[:0]))
}

// parseVary returns the selecting header names of a response's Vary lines
// merged with extra (canonical, sorted, without duplicates); ["*"] when
// Vary holds "*".
func parseVary(lines []string, extra []string) []string {
	var names []string
	for _, l := range lines {
		for l != "" {
			var name string
			name, l = nextElement(l)
			switch {
			case name == "*":
				return []string{"*"}
			case name != "":
				names = append(names, http.CanonicalHeaderKey(name))
			}
		}
	}
	if len(names) == 0 && len(extra) == 0 {
		return nil
	}
	names = append(names, extra...)
	slices.Sort(names)
	names = slices.Compact(names)
	return names[:len(names):len(names)]
}

// varyValues returns r's normalised values of the selecting headers.
func varyValues(r *http.Request, vary []string) []string {
	vals := make([]string, len(vary))
	for i, name := range vary {
		vals[i] = normalizeValue(name, r.Header[name])
	}
	return vals
}

// matchVary reports whether r selects the variant stored with values.
func matchVary(r *http.Request, vary, values []string) bool {
	if len(vary) == 1 && vary[0] == "*" {
		return false
	}
	for i, name := range vary {
		if normalizeValue(name, r.Header[name]) != values[i] {
			return false
		}
	}
	return true
}

// normalizeValue makes equivalent values of a selecting header equal
// (RFC 9111 4.1): field lines are combined and list elements trimmed of
// whitespace; for the Accept-* headers, whose tokens are case-insensitive,
// elements are also lower-cased and stripped of inner spaces. Element
// order is kept: a backend may read it as a preference. Absent is
// absentValue, distinct from empty.
func normalizeValue(name string, lines []string) string {
	if len(lines) == 0 {
		return absentValue
	}
	if len(lines) == 1 && simpleValue(lines[0]) && !acceptHeader(name) {
		return lines[0]
	}
	var elems []string
	for _, l := range lines {
		for l != "" {
			var e string
			e, l = nextElement(l)
			if e != "" {
				elems = append(elems, e)
			}
		}
	}
	if acceptHeader(name) {
		for i, e := range elems {
			elems[i] = strings.ToLower(strings.ReplaceAll(e, " ", ""))
		}
	}
	return strings.Join(elems, ",")
}

// simpleValue reports a value with no list separators or whitespace: it is
// its own normal form.
func simpleValue(v string) bool {
	return strings.IndexAny(v, ", \t") < 0
}

// acceptHeader reports the content-negotiation headers whose list order
// and case do not matter.
func acceptHeader(name string) bool {
	switch name {
	case "Accept", "Accept-Language", "Accept-Encoding", "Accept-Charset":
		return true
	}
	return false
}
