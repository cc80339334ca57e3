package config

import (
	"net/textproto"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// The response cache's policy kinds. One "cache" policy (inbound list)
// looks up and stores; or "cache-lookup" (inbound) and "cache-store"
// (outbound) split the two, like Azure API Management's policies.
const (
	KindCache       = "cache"
	KindCacheLookup = "cache-lookup"
	KindCacheStore  = "cache-store"
)

// Defaults of the response cache.
const (
	// DefaultCacheMaxEntryBytes is the default Cache.MaxEntryBytes.
	DefaultCacheMaxEntryBytes = 1 << 20
	// DefaultCacheMaxBytes is the default Store.CacheMaxBytes.
	DefaultCacheMaxBytes = 64 << 20
	// DefaultCacheFrontBytes is the default Store.CacheFrontBytes.
	DefaultCacheFrontBytes = 16 << 20
	// DefaultCacheKeepStale is the default Cache.KeepStale.
	DefaultCacheKeepStale = time.Hour
)

// Cache holds the settings of kinds cache, cache-lookup and cache-store: an
// RFC 9111 shared cache of backend responses, kept in the store (memory,
// or Redis and shared by every instance). Which settings a kind takes:
// lookup ones (cache, cache-lookup), store ones (cache, cache-store), and
// key ones (all three; a cache-store after a cache-lookup uses the
// lookup's key settings).
type Cache struct {
	// VaryByHeaders (key) adds request headers to the cache key, as if the
	// backend had listed them in Vary: responses are stored per value of
	// each. Default none.
	VaryByHeaders []string `yaml:"vary_by_headers"`
	// VaryByQuery (key) keys responses by these query parameters only, in
	// a normal order; the others are ignored. Default (nil) the whole query
	// string as sent, so any difference is another entry.
	VaryByQuery []string `yaml:"vary_by_query"`
	// DefaultTTL (store) is the freshness given to a response that carries
	// none (no Cache-Control max-age or s-maxage, no Expires) and nothing
	// that forbids storing it (no-store, private, no-cache, an
	// Authorization request without public). Only statuses cacheable by
	// default (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501).
	// Default 0: none; such responses get the RFC 9111 heuristic (10% of
	// the time since Last-Modified) when Heuristic is on.
	DefaultTTL time.Duration `yaml:"default_ttl"`
	// Heuristic (store) allows heuristic freshness: 10% of the time since
	// Last-Modified, at most a day, for statuses cacheable by default and
	// responses with public. Default true.
	Heuristic bool `yaml:"heuristic"`
	// MaxEntryBytes (store) is the largest response body stored; a larger
	// one passes to the client and is not stored. Default 1MiB. Must be > 0.
	MaxEntryBytes int64 `yaml:"max_entry_bytes"`
	// KeepStale (store) is how long a response is kept after it became
	// stale: to be revalidated with a conditional request (when it has an
	// ETag or Last-Modified) instead of fetched again, or served under
	// StaleIfError. Default 1h; 0 drops responses when they become stale.
	KeepStale time.Duration `yaml:"keep_stale"`
	// StaleIfError (lookup) is how stale a stored response may be and
	// still be served (X-Cache: STALE) when the backend cannot be reached
	// (BackendConnectionFailure, BackendTimeout, ConnectionLimitReached) or
	// answers 500, 502, 503 or 504 (RFC 9111 4.2.4).
	// Never for responses with must-revalidate, proxy-revalidate, s-maxage
	// or no-cache. A response's own stale-if-error=N (RFC 5861) allows N
	// seconds whatever this is. Default 0: only then.
	StaleIfError time.Duration `yaml:"stale_if_error"`
	// RequestDirectives (lookup) honours the client's Cache-Control request
	// directives (no-cache, no-store, max-age, min-fresh, max-stale,
	// only-if-cached). Default true. false shields the backend: clients
	// cannot force a fetch past a fresh stored response.
	RequestDirectives bool `yaml:"request_directives"`
	// SurrogateControl (lookup and store) sends "Surrogate-Capability:
	// weir=\"Surrogate/1.0\"" to the backend and obeys the max-age and
	// no-store of a Surrogate-Control response header (untargeted or
	// targeted ";weir") over Cache-Control. The header still reaches the
	// client. Default true.
	SurrogateControl bool `yaml:"surrogate_control"`
	// TargetedFields (store) is RFC 9213's target list: the targeted
	// cache-control fields weir's cache obeys, in order. The first present
	// with a valid value (a Structured Field Dictionary) is used instead of
	// Cache-Control and Expires; an invalid one is ignored. Default
	// [Weir-Cache-Control, CDN-Cache-Control]; [] obeys none (say, when a
	// CDN in front should have CDN-Cache-Control to itself).
	// Weir-Cache-Control is meant for weir alone: a cache policy never
	// passes it to the client; CDN-Cache-Control passes on to CDNs in front.
	TargetedFields []string `yaml:"targeted_fields"`
}

// DefaultTargetedFields is the default Cache.TargetedFields.
func DefaultTargetedFields() []string {
	return []string{"Weir-Cache-Control", "CDN-Cache-Control"}
}

// cacheFields, cacheLookupFields and cacheStoreFields allocate p's cache
// settings with their defaults and return the rows of the keys each kind
// takes.
func (d *decoder) cacheFields(p *Policy) []field { return d.cacheKindFields(p, true, true) }

func (d *decoder) cacheLookupFields(p *Policy) []field { return d.cacheKindFields(p, true, false) }

func (d *decoder) cacheStoreFields(p *Policy) []field { return d.cacheKindFields(p, false, true) }

func (d *decoder) cacheKindFields(p *Policy, lookup, store bool) []field {
	c := &Cache{Heuristic: true, MaxEntryBytes: DefaultCacheMaxEntryBytes, KeepStale: DefaultCacheKeepStale, RequestDirectives: true, SurrogateControl: true}
	p.Cache = c
	fields := []field{
		d.listField("vary_by_headers", &c.VaryByHeaders).about("Request headers added to the cache key, as if the backend had listed them in Vary."),
		{name: "vary_by_query", decode: func(p string, n *yaml.Node) {
			// Unlike listField, an empty list stays non-nil: "vary_by_query:
			// []" ignores the whole query, an absent one keeps it all.
			var l []string
			d.list(p, n, &l)
			if l == nil {
				l = []string{}
			}
			c.VaryByQuery = l
		}, schema: func() jsonSchema { return listSchema(stringSchema()) }, doc: "Key by these query parameters only, ignoring the others; [] ignores the query. Default: the whole query."},
		d.boolField("surrogate_control", &c.SurrogateControl).about(`Send Surrogate-Capability: weir="Surrogate/1.0" and obey a Surrogate-Control response header's max-age and no-store over Cache-Control.`),
	}
	if lookup {
		fields = append(fields,
			d.boolField("request_directives", &c.RequestDirectives).about("Honour the client's Cache-Control (no-cache, max-age, only-if-cached ...); false shields the backend."),
			d.durationField("stale_if_error", &c.StaleIfError).about("How stale a stored response may be and still be served when the backend fails (unreachable, or 500, 502, 503, 504); 0: only by the response's own stale-if-error."),
		)
	}
	if store {
		c.TargetedFields = DefaultTargetedFields()
		fields = append(fields,
			d.durationField("default_ttl", &c.DefaultTTL).about("Freshness for a response that has none and nothing forbidding storage; 0: none (the heuristic applies)."),
			d.boolField("heuristic", &c.Heuristic).about("Without explicit freshness: 10% of the time since Last-Modified, at most a day."),
			d.sizeField("max_entry_bytes", &c.MaxEntryBytes).about("The largest body stored; larger responses pass unstored. Must be > 0."),
			d.durationField("keep_stale", &c.KeepStale).about("How long a response is kept after it became stale, to be revalidated or served under stale_if_error; 0: dropped when stale."),
			d.listField("targeted_fields", &c.TargetedFields).about("RFC 9213's target list: the first of these fields present with a valid value is obeyed instead of Cache-Control and Expires; [] obeys none. Weir-Cache-Control never reaches the client."),
		)
	}
	return fields
}

// cache validates the settings of a cache kind at path.
func (k *checker) cache(path string, p *Policy) {
	c := p.Cache
	if c == nil {
		k.errorf(path, "%s settings missing", p.Kind)
		return
	}
	seen := make(map[string]bool)
	for i, h := range c.VaryByHeaders {
		hp := join(path, "vary_by_headers/"+strconv.Itoa(i))
		if !validToken(h) {
			k.errorf(hp, "invalid header name %q", h)
		}
		if seen[textproto.CanonicalMIMEHeaderKey(h)] {
			k.errorf(hp, "header %q given twice", h)
		}
		seen[textproto.CanonicalMIMEHeaderKey(h)] = true
	}
	seen = make(map[string]bool)
	for i, f := range c.TargetedFields {
		fp := join(path, "targeted_fields/"+strconv.Itoa(i))
		canon := textproto.CanonicalMIMEHeaderKey(f)
		switch {
		case !validToken(f):
			k.errorf(fp, "invalid header name %q", f)
		case canon == "Cache-Control" || canon == "Surrogate-Control":
			k.errorf(fp, "%s is not a targeted field: it is read anyway (surrogate_control for Surrogate-Control)", f)
		case seen[canon]:
			k.errorf(fp, "header %q given twice", f)
		}
		seen[canon] = true
	}
	for i, q := range c.VaryByQuery {
		if q == "" {
			k.errorf(join(path, "vary_by_query/"+strconv.Itoa(i)), "empty query parameter name")
		}
	}
	if c.DefaultTTL < 0 {
		k.errorf(join(path, "default_ttl"), "default_ttl must not be negative, got %s", c.DefaultTTL)
	}
	if c.StaleIfError < 0 {
		k.errorf(join(path, "stale_if_error"), "stale_if_error must not be negative, got %s", c.StaleIfError)
	}
	if c.KeepStale < 0 {
		k.errorf(join(path, "keep_stale"), "keep_stale must not be negative, got %s", c.KeepStale)
	}
	if c.MaxEntryBytes <= 0 && !k.isBad(join(path, "max_entry_bytes")) {
		k.errorf(join(path, "max_entry_bytes"), "max_entry_bytes must be > 0, got %d", c.MaxEntryBytes)
	} else if s := k.c.Store; (s.Kind == StoreMemory || s.Kind == "") && s.CacheMaxBytes > 0 && c.MaxEntryBytes > s.CacheMaxBytes {
		k.errorf(join(path, "max_entry_bytes"), "max_entry_bytes %d is more than the store's cache_max_bytes %d", c.MaxEntryBytes, s.CacheMaxBytes)
	}
}

// cacheStore validates the store's cache settings.
func (k *checker) cacheStore() {
	s := &k.c.Store
	if s.Kind == StoreRedis {
		if _, set := k.places["store/cache_max_bytes"]; set {
			k.errorf("store/cache_max_bytes", "cache_max_bytes is a setting of a memory store; with redis, bound the cache with Redis's maxmemory")
		}
	} else if _, set := k.places["store/cache_front_bytes"]; set {
		k.errorf("store/cache_front_bytes", "cache_front_bytes is a setting of a redis store: a memory store holds every cached response in memory anyway")
	}
}
