package cache

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	MetricResponses     = "weir_cache_responses_total"
	MetricStored        = "weir_cache_stored_total"
	MetricInvalidated   = "weir_cache_invalidations_total"
	MetricStorageErrors = "weir_cache_storage_errors_total"
	MetricMemoryBytes   = "weir_cache_memory_bytes"
	MetricMemoryEntries = "weir_cache_memory_entries"
	MetricEvictions     = "weir_cache_memory_evictions_total"
)

// counts are one API's cache counters.
type counts struct {
	hit, miss, revalidated, stale, stored, invalidated, errs atomic.Int64
}

// Metrics counts cache outcomes per API. It belongs to the gateway's
// state, not to a config, so counts survive reloads; it is a
// prometheus.Collector. Safe for concurrent use; nil counts nothing.
type Metrics struct {
	mu    sync.Mutex                         // serialises additions to apis
	apis  atomic.Pointer[map[string]*counts] // copy on write: reads take no lock
	mem   func() *Memory
	descs descs
}

type descs struct {
	responses, stored, invalidated, errs, memBytes, memEntries, evictions *prometheus.Desc
}

// NewMetrics returns empty metrics; mem, if not nil, gives the memory
// storage whose size is reported (nil until there is one).
func NewMetrics(mem func() *Memory) *Metrics {
	m := &Metrics{mem: mem, descs: descs{
		responses: prometheus.NewDesc(MetricResponses,
			"Responses to GET and HEAD requests through a cache policy, by API and result: hit (from storage), miss (from the backend), revalidated (backend 304, stored body), stale (a stored response standing in for a failed backend).",
			[]string{"api", "result"}, nil),
		stored:      prometheus.NewDesc(MetricStored, "Responses stored (or refreshed) in the cache, by API.", []string{"api"}, nil),
		invalidated: prometheus.NewDesc(MetricInvalidated, "Stored URLs dropped after a successful unsafe request (POST, PUT, DELETE ...), by API.", []string{"api"}, nil),
		errs:        prometheus.NewDesc(MetricStorageErrors, "Failed cache storage operations (Redis unreachable, a value that does not decode), by API; each is a miss or a response not stored.", []string{"api"}, nil),
		memBytes:    prometheus.NewDesc(MetricMemoryBytes, "Bytes held by the memory cache storage (store.cache_max_bytes bounds it).", nil, nil),
		memEntries:  prometheus.NewDesc(MetricMemoryEntries, "Entries held by the memory cache storage.", nil, nil),
		evictions:   prometheus.NewDesc(MetricEvictions, "Entries the memory cache storage dropped before they expired, least recently used first, to stay within store.cache_max_bytes.", nil, nil),
	}}
	m.apis.Store(&map[string]*counts{})
	return m
}

// of returns api's counters, adding them on first use.
func (m *Metrics) of(api string) *counts {
	if c := (*m.apis.Load())[api]; c != nil {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.apis.Load()
	if c := old[api]; c != nil {
		return c
	}
	next := make(map[string]*counts, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	c := &counts{}
	next[api] = c
	m.apis.Store(&next)
	return c
}

// Stats returns api's counters.
func (m *Metrics) Stats(api string) Stats {
	c := m.of(api)
	return Stats{
		Hits: c.hit.Load(), Misses: c.miss.Load(), Revalidated: c.revalidated.Load(), Stale: c.stale.Load(),
		Stored: c.stored.Load(), Invalidated: c.invalidated.Load(), StorageErrors: c.errs.Load(),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	d := &m.descs
	for _, d := range []*prometheus.Desc{d.responses, d.stored, d.invalidated, d.errs, d.memBytes, d.memEntries, d.evictions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	d := &m.descs
	for api, c := range *m.apis.Load() {
		for _, r := range []struct {
			result string
			v      int64
		}{{"hit", c.hit.Load()}, {"miss", c.miss.Load()}, {"revalidated", c.revalidated.Load()}, {"stale", c.stale.Load()}} {
			ch <- prometheus.MustNewConstMetric(d.responses, prometheus.CounterValue, float64(r.v), api, r.result)
		}
		ch <- prometheus.MustNewConstMetric(d.stored, prometheus.CounterValue, float64(c.stored.Load()), api)
		ch <- prometheus.MustNewConstMetric(d.invalidated, prometheus.CounterValue, float64(c.invalidated.Load()), api)
		ch <- prometheus.MustNewConstMetric(d.errs, prometheus.CounterValue, float64(c.errs.Load()), api)
	}
	if m.mem == nil {
		return
	}
	if mem := m.mem(); mem != nil {
		st := mem.Stats()
		ch <- prometheus.MustNewConstMetric(d.memBytes, prometheus.GaugeValue, float64(st.Bytes))
		ch <- prometheus.MustNewConstMetric(d.memEntries, prometheus.GaugeValue, float64(st.Entries))
		ch <- prometheus.MustNewConstMetric(d.evictions, prometheus.CounterValue, float64(st.Evictions))
	}
}
