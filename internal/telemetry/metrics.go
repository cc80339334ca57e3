package telemetry

import (
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weirgw/weir/internal/connpool"
)

// Metric names, so tests, the dashboard check and the README agree.
const (
	MetricRequests          = "weir_http_requests_total"
	MetricRequestDuration   = "weir_http_request_duration_seconds"
	MetricBackendDuration   = "weir_backend_request_duration_seconds"
	MetricConnectDuration   = "weir_backend_connect_duration_seconds"
	MetricPoolConnections   = "weir_pool_connections"
	MetricPoolWaiting       = "weir_pool_waiting_requests"
	MetricPoolOpened        = "weir_pool_connections_opened_total"
	MetricPoolClosed        = "weir_pool_connections_closed_total"
	MetricPoolPortsHeld     = "weir_pool_ports_held"
	MetricPoolRequests      = "weir_pool_requests_total"
	MetricPoolReused        = "weir_pool_reused_requests_total"
	MetricPoolReuseRatio    = "weir_pool_reuse_ratio"
	MetricPoolReplays       = "weir_pool_replays_total"
	MetricPoolLearnedIdle   = "weir_pool_learned_idle_timeout_seconds"
	MetricPoolAnnouncedIdle = "weir_pool_announced_keepalive_seconds"
	MetricPoolMaxConns      = "weir_pool_max_connections"
	MetricPoolPeakActive    = "weir_pool_peak_active_connections"
	MetricReloads           = "weir_config_reloads_total"
	MetricReloadSuccessful  = "weir_config_last_reload_successful"
	MetricReloadTimestamp   = "weir_config_last_reload_success_timestamp_seconds"
	MetricBuildInfo         = "weir_build_info"
)

// requestBuckets are the request and backend duration buckets, in
// seconds: from sub-millisecond answers to the 55 s default response
// timeout.
func requestBuckets() []float64 {
	return []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
}

// connectBuckets are the connect duration buckets, in seconds: a TCP (and
// TLS) handshake, up to the 3 s default connect timeout.
func connectBuckets() []float64 {
	return []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 3}
}

// numClasses is the number of status_class values: 1xx..5xx and "other"
// (a status outside 100..599, or none).
const numClasses = 6

// className is the status_class label of class index c (see classOf).
func className(c int) string {
	if c >= 0 && c < 5 {
		return string(rune('1'+c)) + "xx"
	}
	return "other"
}

// classOf is the class index of status: 0 for 1xx ... 4 for 5xx, 5 for
// anything else.
func classOf(status int) int {
	if status < 100 || status > 599 {
		return numClasses - 1
	}
	return status/100 - 1
}

// Metrics is weir's Prometheus registry and what it measures. One lives in
// the gateway's long-lived state, so counters survive config reloads. The
// request path only touches pre-resolved children (APIMetrics); the pool
// gauges are read from the connection registry at scrape time.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // api, status_class, reason
	duration *prometheus.HistogramVec // api
	backend  *prometheus.HistogramVec // api
	connect  *prometheus.HistogramVec // api
	build    *prometheus.GaugeVec     // version, goversion

	reloads       *prometheus.CounterVec // result
	reloadOK      prometheus.Gauge
	reloadOKAt    prometheus.Gauge
	reloadsOK     prometheus.Counter
	reloadsFailed prometheus.Counter
	unrouted      *APIMetrics
	mu            sync.Mutex // guards apis
	apis          map[string]*APIMetrics
	buildInfoOnce sync.Once
}

// NewMetrics returns metrics in a fresh registry, with the Go runtime and
// process collectors, and a collector that reads pools (the connection
// registry's ledger, connpool.Registry.Stats) at every scrape. pools may be
// nil.
func NewMetrics(pools func() []connpool.Stats) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRequests,
			Help: "Client requests answered, by API (\"\" when none matched), status class and failure reason (\"\" on success).",
		}, []string{"api", "status_class", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricRequestDuration,
			Help:    "Time from a request's arrival to its last response byte, by API.",
			Buckets: requestBuckets(),
		}, []string{"api"}),
		backend: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricBackendDuration,
			Help:    "Time from the request written to the backend to the response complete, all attempts, by API (requests that reached a backend).",
			Buckets: requestBuckets(),
		}, []string{"api"}),
		connect: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricConnectDuration,
			Help:    "Dial time (TCP connect, TLS handshake, proxy CONNECT) of the new backend connections requests used, by API.",
			Buckets: connectBuckets(),
		}, []string{"api"}),
		build: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricBuildInfo,
			Help: "Always 1; the labels say which weir this is.",
		}, []string{"version", "goversion"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricReloads,
			Help: "Config reload attempts, by result (success: the new config serves; failure: rejected, the old one keeps serving).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricReloadSuccessful,
			Help: "1 if the latest config reload attempt succeeded (or none was made), 0 if it was rejected.",
		}),
		reloadOKAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricReloadTimestamp,
			Help: "Unix time the serving config started serving.",
		}),
		apis: make(map[string]*APIMetrics),
	}
	m.reloadsOK = m.reloads.WithLabelValues("success")
	m.reloadsFailed = m.reloads.WithLabelValues("failure")
	m.reloadOK.Set(1)
	m.reloadOKAt.SetToCurrentTime()
	m.reg.MustRegister(m.requests, m.duration, m.backend, m.connect, m.build,
		m.reloads, m.reloadOK, m.reloadOKAt,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pools != nil {
		m.reg.MustRegister(newPoolCollector(pools))
	}
	m.unrouted = m.API("")
	return m
}

// Registry returns the registry, for tests and for registering more
// collectors (a store's metrics).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// SetBuildInfo sets weir_build_info{version, goversion} to 1. The second
// and later calls do nothing.
func (m *Metrics) SetBuildInfo(version string) {
	m.buildInfoOnce.Do(func() {
		gov := ""
		if bi, ok := debug.ReadBuildInfo(); ok {
			gov = bi.GoVersion
		}
		m.build.WithLabelValues(version, gov).Set(1)
	})
}

// ObserveReload counts a reload attempt; at is when a successful one
// started serving.
func (m *Metrics) ObserveReload(ok bool, at time.Time) {
	if m == nil {
		return
	}
	if ok {
		m.reloadsOK.Inc()
		m.reloadOK.Set(1)
		m.reloadOKAt.Set(float64(at.UnixNano()) / 1e9)
		return
	}
	m.reloadsFailed.Inc()
	m.reloadOK.Set(0)
}

// API returns the metric children for the API name, creating them on
// first use: the gateway resolves them once per API when it builds a
// config, and the request path uses them without label lookups. The same
// name always gets the same children, so counts survive reloads.
func (m *Metrics) API(name string) *APIMetrics {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.apis[name]; a != nil {
		return a
	}
	a := &APIMetrics{
		name:     name,
		requests: m.requests,
		duration: m.duration.WithLabelValues(name),
		backend:  m.backend.WithLabelValues(name),
		connect:  m.connect.WithLabelValues(name),
	}
	for c := range numClasses {
		a.ok[c] = m.requests.WithLabelValues(name, className(c), "")
	}
	empty := map[failKey]prometheus.Counter{}
	a.failed.Store(&empty)
	m.apis[name] = a
	return a
}

// Observe counts a finished request: its status class and reason, its
// duration, its backend time (when it reached a backend) and its connect
// time (when it dialed). No allocation and no label lookup on the common
// paths; a (status class, reason) pair an API has not failed with before
// takes a lock once.
func (m *Metrics) Observe(r *Record) {
	if m == nil {
		return
	}
	a := r.Metrics
	if a == nil {
		a = m.unrouted
	}
	a.observe(r)
}

// APIMetrics are one API's metric children, resolved once.
type APIMetrics struct {
	name     string
	requests *prometheus.CounterVec
	ok       [numClasses]prometheus.Counter // reason "" by status class
	// failed maps (class, reason) to its counter: read lock-free,
	// replaced whole (copy on write) under mu when a pair is new. Reasons
	// are a closed set, so the map stays small.
	failed   atomic.Pointer[map[failKey]prometheus.Counter]
	mu       sync.Mutex
	duration prometheus.Observer
	backend  prometheus.Observer
	connect  prometheus.Observer
}

// failKey is a (status class, failure reason) pair.
type failKey struct {
	class  uint8
	reason string
}

func (a *APIMetrics) observe(r *Record) {
	c := classOf(r.Status)
	if r.Error == "" {
		a.ok[c].Inc()
	} else {
		a.failure(c, r.Error).Inc()
	}
	a.duration.Observe(r.Duration.Seconds())
	if r.Destination.IsValid() {
		a.backend.Observe(r.BackendDuration.Seconds())
	}
	if r.ConnectDuration > 0 {
		a.connect.Observe(r.ConnectDuration.Seconds())
	}
}

// failure returns the counter of (class, reason).
func (a *APIMetrics) failure(class int, reason string) prometheus.Counter {
	k := failKey{uint8(class), reason}
	if c, ok := (*a.failed.Load())[k]; ok {
		return c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := *a.failed.Load()
	if c, ok := cur[k]; ok {
		return c
	}
	next := make(map[failKey]prometheus.Counter, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	c := a.requests.WithLabelValues(a.name, className(class), reason)
	next[k] = c
	a.failed.Store(&next)
	return c
}

// poolCollector turns the connection registry's ledger into metrics at
// scrape time, so the request path pays nothing for them. Pools to one
// destination under different dial profiles are summed into one series
// per destination, keeping the labels to what an operator can name.
type poolCollector struct {
	pools func() []connpool.Stats

	conns, waiting, opened, closed, portsHeld *prometheus.Desc
	requests, reused, ratio, replays          *prometheus.Desc
	learned, announced, maxConns, peakActive  *prometheus.Desc
	connStates                                [3]string
}

func newPoolCollector(pools func() []connpool.Stats) *poolCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"destination"}, labels...), nil)
	}
	return &poolCollector{
		pools:      pools,
		conns:      d(MetricPoolConnections, "Connections to the destination now, by state: active (serving a request), idle (kept for reuse), dialing.", "state"),
		waiting:    d(MetricPoolWaiting, "Requests waiting for a connection to the destination (under max_connections, or for their own dial)."),
		opened:     d(MetricPoolOpened, "Connections opened to the destination."),
		closed:     d(MetricPoolClosed, "Connections to the destination closed, by reason (idle_timeout, backend_close, max_requests, max_lifetime, stale_on_reuse, error, dns_drain, shutdown).", "reason"),
		portsHeld:  d(MetricPoolPortsHeld, "Connections to the destination closed in the last 240 s: the local ports TIME_WAIT or a NAT still holds (closed_last_240s in /pools)."),
		requests:   d(MetricPoolRequests, "Requests that got a connection to the destination."),
		reused:     d(MetricPoolReused, "Requests that got a connection to the destination that had served before."),
		ratio:      d(MetricPoolReuseRatio, "Share of the destination's requests served on a reused connection, since its pool began (0..1)."),
		replays:    d(MetricPoolReplays, "Requests replayed on a fresh connection after a reused one to the destination failed, by stale-connection verdict.", "verdict"),
		learned:    d(MetricPoolLearnedIdle, "The destination's idle term as weir observed it: the shortest idle time after which it closed a connection, or what a probe found since (0 = not learned, or forgotten); weir retires connections before it."),
		announced:  d(MetricPoolAnnouncedIdle, "The destination's latest Keep-Alive: timeout (0 = none announced)."),
		maxConns:   d(MetricPoolMaxConns, "The destination's max_connections cap (0 = unlimited)."),
		peakActive: d(MetricPoolPeakActive, "The most connections to the destination active at once."),
		connStates: [3]string{"active", "idle", "dialing"},
	}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.waiting, c.opened, c.closed, c.portsHeld,
		c.requests, c.reused, c.ratio, c.replays, c.learned, c.announced, c.maxConns, c.peakActive} {
		ch <- d
	}
}

// destAgg is the ledger of one destination summed over its pools.
type destAgg struct {
	dest                      string
	active, idle, dialing     int
	waiting                   int
	opened, requests, reused  uint64
	closedBy, replays         map[string]uint64
	portsHeld                 int64
	learnedMS, announcedMS    int64
	maxConns, peak            int
	unlimited                 bool
	closedOrder, replaysOrder []string
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	stats := c.pools()
	aggs := make([]*destAgg, 0, len(stats))
	byDest := make(map[string]*destAgg, len(stats))
	for i := range stats {
		s := &stats[i]
		a := byDest[s.Dest]
		if a == nil {
			a = &destAgg{dest: s.Dest, closedBy: map[string]uint64{}, replays: map[string]uint64{}}
			byDest[s.Dest] = a
			aggs = append(aggs, a)
		}
		a.active += s.Active
		a.idle += s.Idle
		a.dialing += s.Dialing
		a.waiting += s.Waiting
		a.opened += s.OpenedTotal
		a.requests += s.RequestsTotal
		a.reused += s.ReusedTotal
		a.portsHeld += s.ClosedLast240s
		for r, n := range s.ClosedByReason {
			if _, seen := a.closedBy[r]; !seen {
				a.closedOrder = append(a.closedOrder, r)
			}
			a.closedBy[r] += n
		}
		for v, n := range s.Replays {
			if _, seen := a.replays[v]; !seen {
				a.replaysOrder = append(a.replaysOrder, v)
			}
			a.replays[v] += n
		}
		a.learnedMS = minPositive(a.learnedMS, s.LearnedIdleTimeoutMS)
		a.announcedMS = minPositive(a.announcedMS, s.AnnouncedKeepaliveMS)
		if s.MaxConnections == 0 {
			a.unlimited = true
		}
		a.maxConns += s.MaxConnections
		a.peak += s.PeakActive
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	for _, a := range aggs {
		for i, n := range [3]int{a.active, a.idle, a.dialing} {
			ch <- prometheus.MustNewConstMetric(c.conns, gauge, float64(n), a.dest, c.connStates[i])
		}
		ch <- prometheus.MustNewConstMetric(c.waiting, gauge, float64(a.waiting), a.dest)
		ch <- prometheus.MustNewConstMetric(c.opened, counter, float64(a.opened), a.dest)
		for _, r := range a.closedOrder {
			ch <- prometheus.MustNewConstMetric(c.closed, counter, float64(a.closedBy[r]), a.dest, r)
		}
		ch <- prometheus.MustNewConstMetric(c.portsHeld, gauge, float64(a.portsHeld), a.dest)
		ch <- prometheus.MustNewConstMetric(c.requests, counter, float64(a.requests), a.dest)
		ch <- prometheus.MustNewConstMetric(c.reused, counter, float64(a.reused), a.dest)
		ratio := 0.0
		if a.requests > 0 {
			ratio = float64(a.reused) / float64(a.requests)
		}
		ch <- prometheus.MustNewConstMetric(c.ratio, gauge, ratio, a.dest)
		for _, v := range a.replaysOrder {
			ch <- prometheus.MustNewConstMetric(c.replays, counter, float64(a.replays[v]), a.dest, v)
		}
		ch <- prometheus.MustNewConstMetric(c.learned, gauge, float64(a.learnedMS)/1000, a.dest)
		ch <- prometheus.MustNewConstMetric(c.announced, gauge, float64(a.announcedMS)/1000, a.dest)
		maxConns := a.maxConns
		if a.unlimited {
			maxConns = 0
		}
		ch <- prometheus.MustNewConstMetric(c.maxConns, gauge, float64(maxConns), a.dest)
		ch <- prometheus.MustNewConstMetric(c.peakActive, gauge, float64(a.peak), a.dest)
	}
}

// minPositive is the smaller of a and b ignoring zeros (0 = unknown).
func minPositive(a, b int64) int64 {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}
