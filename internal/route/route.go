// Package route matches a request's host and path to an API: host first
// (exact names, then wildcards, then APIs with no hosts), then the longest
// base path that is a prefix of the path on a segment boundary.
package route

import (
	"sort"
	"strings"
)

// Route is one API's match rule.
type Route struct {
	// Hosts restricts the route to these host names ("*.example.com"
	// matches exactly one extra label); empty matches any host.
	Hosts []string
	// BasePath is the path prefix ("/" matches everything).
	BasePath string
	// Index is returned by Match; it identifies the API to the caller.
	Index int
}

type entry struct {
	basePath string
	index    int
}

// Table is an immutable routing table, safe for concurrent use.
type Table struct {
	exact    map[string][]entry // lower-case host -> entries, longest base path first
	wildcard map[string][]entry // lower-case suffix after "*." -> entries
	any      []entry
}

// New compiles routes. Duplicate (host, base path) pairs are the caller's
// to reject (config.Validate does); here the first one wins.
func New(routes []Route) *Table {
	t := &Table{exact: map[string][]entry{}, wildcard: map[string][]entry{}}
	for _, r := range routes {
		e := entry{basePath: normalize(r.BasePath), index: r.Index}
		if len(r.Hosts) == 0 {
			t.any = append(t.any, e)
			continue
		}
		for _, h := range r.Hosts {
			h = strings.ToLower(h)
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				t.wildcard[suffix] = append(t.wildcard[suffix], e)
			} else {
				t.exact[h] = append(t.exact[h], e)
			}
		}
	}
	byLength := func(es []entry) {
		sort.SliceStable(es, func(i, j int) bool { return len(es[i].basePath) > len(es[j].basePath) })
	}
	byLength(t.any)
	for _, es := range t.exact {
		byLength(es)
	}
	for _, es := range t.wildcard {
		byLength(es)
	}
	return t
}

func normalize(bp string) string {
	if len(bp) > 1 {
		bp = strings.TrimRight(bp, "/")
	}
	if bp == "" {
		bp = "/"
	}
	return bp
}

// Match returns the index of the API serving host and path, and the rest of
// the path after the base path ("" when the path equals the base path).
// Rewriting the rest into the outbound request-target is the forwarder's
// (proxy): route only matches.
func (t *Table) Match(host, path string) (index int, rest string, ok bool) {
	host = hostOnly(host)
	if len(t.exact) > 0 || len(t.wildcard) > 0 {
		lower := lowerASCII(host)
		if es, found := t.exact[lower]; found {
			if i, rest, ok := matchPath(es, path); ok {
				return i, rest, true
			}
		}
		if dot := strings.IndexByte(lower, '.'); dot > 0 {
			if es, found := t.wildcard[lower[dot+1:]]; found {
				if i, rest, ok := matchPath(es, path); ok {
					return i, rest, true
				}
			}
		}
	}
	return matchPath(t.any, path)
}

func matchPath(es []entry, path string) (int, string, bool) {
	for _, e := range es {
		if e.basePath == "/" {
			return e.index, path, true
		}
		if strings.HasPrefix(path, e.basePath) && (len(path) == len(e.basePath) || path[len(e.basePath)] == '/') {
			return e.index, path[len(e.basePath):], true
		}
	}
	return 0, "", false
}

// hostOnly strips a port and IPv6 brackets from a Host header value
// without allocating (net.SplitHostPort allocates an error for the common
// port-less Host).
func hostOnly(h string) string {
	if h == "" {
		return h
	}
	if h[0] == '[' {
		if end := strings.IndexByte(h, ']'); end > 0 {
			return h[1:end]
		}
		return h
	}
	if i := strings.IndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i+1:], ':') < 0 {
		return h[:i]
	}
	return h
}

// lowerASCII lower-cases s, allocating only when it has upper-case letters.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
