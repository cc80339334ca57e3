package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirgw/weir/internal/store"
)

// Store metric names.
const (
	MetricStoreOps       = "weir_store_operations_total"
	MetricStoreErrors    = "weir_store_errors_total"
	MetricStoreAvailable = "weir_store_available"
	MetricStoreOutages   = "weir_store_outages_total"
	MetricStoreKeys      = "weir_store_keys"
	MetricStoreEvictions = "weir_store_evictions_total"
)

// storeCollector reads the open stores' counters at scrape time, so the
// request path pays nothing for them. Stores of one kind are summed (during
// a reload that changes the store settings, old and new are both open).
type storeCollector struct {
	stores                                         *store.Registry
	ops, errs, available, outages, keys, evictions *prometheus.Desc
}

func newStoreCollector(r *store.Registry) *storeCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"kind"}, nil)
	}
	return &storeCollector{
		stores:    r,
		ops:       d(MetricStoreOps, "Operations on the policies' store (memory or redis)."),
		errs:      d(MetricStoreErrors, "Store operations that failed, including those refused at once while the store was unavailable; each one was answered by the policy's on_store_error."),
		available: d(MetricStoreAvailable, "1 while the store is reachable, 0 while it is being reconnected."),
		outages:   d(MetricStoreOutages, "Times the store became unreachable."),
		keys:      d(MetricStoreKeys, "Keys a memory store holds."),
		evictions: d(MetricStoreEvictions, "Keys a full memory store dropped before they expired (each can only let more requests through: raise store.max_keys)."),
	}
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ops, c.errs, c.available, c.outages, c.keys, c.evictions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	sums := map[string]*store.Stats{}
	for _, s := range c.stores.Stats() {
		a := sums[s.Kind]
		if a == nil {
			a = &store.Stats{Kind: s.Kind, Available: true}
			sums[s.Kind] = a
		}
		a.Ops += s.Ops
		a.Errors += s.Errors
		a.Outages += s.Outages
		a.Keys += s.Keys
		a.Evictions += s.Evictions
		a.Available = a.Available && s.Available
	}
	for kind, s := range sums {
		up := 0.0
		if s.Available {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.ops, prometheus.CounterValue, float64(s.Ops), kind)
		ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.Errors), kind)
		ch <- prometheus.MustNewConstMetric(c.available, prometheus.GaugeValue, up, kind)
		ch <- prometheus.MustNewConstMetric(c.outages, prometheus.CounterValue, float64(s.Outages), kind)
		if kind == "memory" {
			ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(s.Keys), kind)
			ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(s.Evictions), kind)
		}
	}
}
