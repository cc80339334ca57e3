package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCacheDecode(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
store: {cache_max_bytes: 8MiB}
`+withPolicies(`      inbound:
        - kind: cache-lookup
          vary_by_headers: [accept-language]
          vary_by_query: [page, size]
          request_directives: false
          stale_if_error: 30s
      outbound:
        - kind: cache-store
          default_ttl: 10s
          max_entry_bytes: 64KiB
          keep_stale: 0s
          heuristic: false
          surrogate_control: false
`), nil)
	if got := c.Store.CacheMaxBytes; got != 8<<20 {
		t.Errorf("cache_max_bytes: got %d, want %d", got, 8<<20)
	}
	lookup := c.APIs[0].Policies.Inbound[0]
	wantLookup := &Cache{VaryByHeaders: []string{"accept-language"}, VaryByQuery: []string{"page", "size"}, StaleIfError: 30 * time.Second,
		Heuristic: true, MaxEntryBytes: DefaultCacheMaxEntryBytes, KeepStale: DefaultCacheKeepStale, SurrogateControl: true}
	if lookup.Name != KindCacheLookup || !reflect.DeepEqual(lookup.Cache, wantLookup) {
		t.Errorf("cache-lookup: got %s %+v, want %+v", lookup.Name, lookup.Cache, wantLookup)
	}
	store := c.APIs[0].Policies.Outbound[0]
	wantStore := &Cache{DefaultTTL: 10 * time.Second, MaxEntryBytes: 64 << 10, RequestDirectives: true, TargetedFields: DefaultTargetedFields()}
	if store.Name != KindCacheStore || !reflect.DeepEqual(store.Cache, wantStore) {
		t.Errorf("cache-store: got %s %+v, want %+v", store.Name, store.Cache, wantStore)
	}

	d := mustParse(t, withPolicies("      inbound:\n        - {kind: cache, vary_by_query: []}\n"), nil)
	if got := d.Store.CacheMaxBytes; got != DefaultCacheMaxBytes {
		t.Errorf("default cache_max_bytes: got %d, want %d", got, DefaultCacheMaxBytes)
	}
	if got := d.APIs[0].Policies.Inbound[0].Cache; got.VaryByQuery == nil || len(got.VaryByQuery) != 0 || got.VaryByHeaders != nil {
		t.Errorf("vary_by_query: []: got %#v, want an empty non-nil list", got.VaryByQuery)
	}
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{"{kind: cache}", []string{"Weir-Cache-Control", "CDN-Cache-Control"}},
		{"{kind: cache, targeted_fields: []}", nil},
		{"{kind: cache, targeted_fields: [Akamai-Cache-Control, CDN-Cache-Control]}", []string{"Akamai-Cache-Control", "CDN-Cache-Control"}},
	} {
		c := mustParse(t, withPolicies("      inbound:\n        - "+tc.src+"\n"), nil)
		if got := c.APIs[0].Policies.Inbound[0].Cache.TargetedFields; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: targeted_fields got %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestCacheErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "bad settings, each at its place",
			src: withPolicies(`      inbound:
        - kind: cache
          vary_by_headers: ["bad header", X-A, x-a]
          vary_by_query: [""]
          default_ttl: -1s
          keep_stale: -1s
          stale_if_error: -1s
          max_entry_bytes: 0
`),
			want: []string{
				`t.yaml:10:29: invalid header name "bad header"`,
				`t.yaml:10:48: header "x-a" given twice`,
				`t.yaml:11:27: empty query parameter name`,
				`t.yaml:12:24: default_ttl must not be negative, got -1s`,
				`t.yaml:13:23: keep_stale must not be negative, got -1s`,
				`t.yaml:14:27: stale_if_error must not be negative, got -1s`,
				`t.yaml:15:28: max_entry_bytes must be > 0, got 0`,
			},
		},
		{
			name: "store keys belong to cache and cache-store, lookup keys to cache and cache-lookup",
			src: withPolicies(`      inbound:
        - {kind: cache-lookup, default_ttl: 1s}
      outbound:
        - {kind: cache-store, stale_if_error: 1s}
`),
			want: []string{
				`t.yaml:9:32: unknown key "default_ttl"`,
				`t.yaml:11:31: unknown key "stale_if_error"`,
			},
		},
		{
			name: "lists",
			src: withPolicies(`      inbound:
        - kind: cache-store
      outbound:
        - kind: cache-lookup
`),
			want: []string{
				`t.yaml:9:17: a cache-store policy cannot be in inbound (it can be in: outbound)`,
				`t.yaml:11:17: a cache-lookup policy cannot be in outbound (it can be in: inbound)`,
			},
		},
		{
			name: "targeted fields",
			src:  withPolicies("      inbound:\n        - {kind: cache, targeted_fields: [Cache-Control, \"a b\", X-CC, x-cc]}\n"),
			want: []string{
				`t.yaml:9:43: Cache-Control is not a targeted field: it is read anyway (surrogate_control for Surrogate-Control)`,
				`t.yaml:9:58: invalid header name "a b"`,
				`t.yaml:9:71: header "x-cc" given twice`,
			},
		},
		{
			name: "the front is a redis store's",
			src:  "store: {cache_front_bytes: 1MiB}\n" + withPolicies("      inbound:\n        - {kind: cache}\n"),
			want: []string{`t.yaml:1:28: cache_front_bytes is a setting of a redis store: a memory store holds every cached response in memory anyway`},
		},
		{
			name: "an entry larger than the memory store",
			src:  "store: {cache_max_bytes: 1KiB}\n" + withPolicies("      inbound:\n        - {kind: cache, max_entry_bytes: 2KiB}\n"),
			want: []string{`t.yaml:10:42: max_entry_bytes 2048 is more than the store's cache_max_bytes 1024`},
		},
		{
			name: "cache_max_bytes is for memory stores",
			src:  `store: {kind: redis, address: "127.0.0.1:6379", cache_max_bytes: 1MiB}` + "\n" + oneAPI,
			want: []string{`t.yaml:1:66: cache_max_bytes is a setting of a memory store; with redis, bound the cache with Redis's maxmemory`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problemLines(t, tc.src, nil)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
