package ratelimit

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/policy"
)

// sourceKind is where one part of a counter key comes from.
type sourceKind uint8

const (
	srcIP sourceKind = iota
	srcConsumer
	srcHeader
	srcQuery
)

type source struct {
	kind sourceKind
	name string // canonical header name or query parameter
}

// key builds counter keys: a fixed prefix (scope, policy, and whatever the
// kind adds) followed by the request's values of the sources, separated by
// 0x1f (a control character no header value may hold).
type key struct {
	prefix  string
	sources []source
}

// newKey compiles sources (nil: def) behind prefix.
func newKey(prefix string, sources, def []string) (key, error) {
	if sources == nil {
		sources = def
	}
	k := key{prefix: prefix}
	for _, s := range sources {
		switch {
		case s == config.KeyIP:
			k.sources = append(k.sources, source{kind: srcIP})
		case s == config.KeyConsumer:
			k.sources = append(k.sources, source{kind: srcConsumer})
		case strings.HasPrefix(s, config.KeyHeader) && len(s) > len(config.KeyHeader):
			k.sources = append(k.sources, source{kind: srcHeader, name: http.CanonicalHeaderKey(s[len(config.KeyHeader):])})
		case strings.HasPrefix(s, config.KeyQuery) && len(s) > len(config.KeyQuery):
			k.sources = append(k.sources, source{kind: srcQuery, name: s[len(config.KeyQuery):]})
		default:
			return key{}, fmt.Errorf("unknown key source %q", s)
		}
	}
	return k, nil
}

// build returns x's counter key: the prefix, then the window's number and
// "/" when window >= 0, then tag, then the sources' values.
func (k *key) build(x *policy.Exchange, window int64, tag string) string {
	if len(k.sources) == 0 && window < 0 && tag == "" {
		return k.prefix
	}
	var buf [128]byte
	b := append(buf[:0], k.prefix...)
	if window >= 0 {
		b = strconv.AppendInt(b, window, 10)
		b = append(b, '/')
	}
	b = append(b, tag...)
	for i, s := range k.sources {
		if i > 0 {
			b = append(b, 0x1f)
		}
		switch s.kind {
		case srcIP:
			b = append(b, x.Record.ClientIP...)
		case srcConsumer:
			b = append(b, x.Consumer...)
		case srcHeader:
			if vs := x.Request.Header[s.name]; len(vs) > 0 {
				b = append(b, vs[0]...)
			}
		case srcQuery:
			b = append(b, queryValue(x.Request.URL.RawQuery, s.name)...)
		}
	}
	return string(b)
}

// queryValue returns the first value of name in q, unescaped, without
// parsing the whole query. Unescaping matters: "%61bc" and "abc" (and
// "api%5Fkey" for "api_key") must be the same, or a client could spread its
// calls over spellings of its key.
func queryValue(q, name string) string {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if u, err := url.QueryUnescape(k); err != nil || u != name {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			if u, err := url.QueryUnescape(v); err == nil {
				return u
			}
		}
		return v
	}
	return ""
}
