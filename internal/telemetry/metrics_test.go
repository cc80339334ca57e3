package telemetry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/weirgw/weir/internal/connpool"
)

// families gathers m's registry by name.
func families(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// sample finds the series of name whose labels include want ("k=v"
// pairs), failing when there is none.
func sample(t *testing.T, m *Metrics, name string, want ...string) *dto.Metric {
	t.Helper()
	mf := families(t, m)[name]
	if mf == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, s := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range s.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if got, ok := have[k]; !ok || got != v {
				continue next
			}
		}
		return s
	}
	t.Fatalf("no series %s%v", name, want)
	return nil
}

// value is the counter or gauge value of a series.
func value(t *testing.T, m *Metrics, name string, labels ...string) float64 {
	t.Helper()
	s := sample(t, m, name, labels...)
	switch {
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	}
	t.Fatalf("%s%v is neither counter nor gauge", name, labels)
	return 0
}

// count is a histogram series' observation count.
func count(t *testing.T, m *Metrics, name string, labels ...string) uint64 {
	t.Helper()
	return sample(t, m, name, labels...).GetHistogram().GetSampleCount()
}

func TestClassOf(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		want   string
	}{
		{"continue", 100, "1xx"},
		{"ok", 200, "2xx"},
		{"no content", 204, "2xx"},
		{"redirect", 302, "3xx"},
		{"not found", 404, "4xx"},
		{"client closed", StatusClientClosed, "4xx"},
		{"bad gateway", 502, "5xx"},
		{"last 5xx", 599, "5xx"},
		{"none", 0, "other"},
		{"too big", 600, "other"},
		{"negative", -1, "other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := className(classOf(tt.status)); got != tt.want {
				t.Errorf("class of %d: got %q, want %q", tt.status, got, tt.want)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	m := NewMetrics(nil)
	a := m.API("orders")
	if again := m.API("orders"); again != a {
		t.Fatalf("API(orders) twice: got two sets of children, want one (counters must survive reloads)")
	}
	dest := netip.MustParseAddrPort("127.0.0.1:9000")
	recs := []Record{
		{Metrics: a, Status: 200, Duration: 3 * time.Millisecond, BackendDuration: 2 * time.Millisecond, ConnectDuration: 500 * time.Microsecond, Destination: dest},
		{Metrics: a, Status: 200, Duration: 2 * time.Millisecond, BackendDuration: time.Millisecond, Destination: dest, Reused: true},
		{Metrics: a, Status: 502, Error: "BackendConnectionFailure", Duration: time.Millisecond, ConnectDuration: time.Millisecond, Destination: dest},
		{Metrics: a, Status: 502, Error: "BackendConnectionFailure", Duration: time.Millisecond},
		{Metrics: a, Status: 503, Error: "ConnectionLimitReached", Duration: 5 * time.Second},
		{Metrics: a, Status: StatusClientClosed, Error: "ClientConnectionFailure"},
		{Status: 404, Error: "RouteNotFound"},
	}
	for i := range recs {
		m.Observe(&recs[i])
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"successes", []string{"api=orders", "status_class=2xx", "reason="}, 2},
		{"connection failures", []string{"api=orders", "status_class=5xx", "reason=BackendConnectionFailure"}, 2},
		{"limit", []string{"api=orders", "status_class=5xx", "reason=ConnectionLimitReached"}, 1},
		{"client gone", []string{"api=orders", "status_class=4xx", "reason=ClientConnectionFailure"}, 1},
		{"unrouted", []string{"api=", "status_class=4xx", "reason=RouteNotFound"}, 1},
		{"pre-resolved zero", []string{"api=orders", "status_class=3xx", "reason="}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := value(t, m, MetricRequests, tt.labels...); got != tt.want {
				t.Errorf("%s%v: got %v, want %v", MetricRequests, tt.labels, got, tt.want)
			}
		})
	}
	if got := count(t, m, MetricRequestDuration, "api=orders"); got != 6 {
		t.Errorf("request durations: got %d, want 6", got)
	}
	if got := count(t, m, MetricBackendDuration, "api=orders"); got != 3 {
		t.Errorf("backend durations (requests with a destination): got %d, want 3", got)
	}
	if got := count(t, m, MetricConnectDuration, "api=orders"); got != 2 {
		t.Errorf("connect durations (requests that dialed): got %d, want 2", got)
	}
	if got := sample(t, m, MetricRequestDuration, "api=orders").GetHistogram().GetSampleSum(); got < 5.007 || got > 5.0071 {
		t.Errorf("request duration sum: got %v, want 5.007", got)
	}
}

func TestObserveConcurrentNewReasons(t *testing.T) {
	m := NewMetrics(nil)
	a := m.API("x")
	reasons := []string{"A", "B", "C", "D"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				r := Record{Metrics: a, Status: 500 + g%2, Error: reasons[(i+g)%len(reasons)]}
				m.Observe(&r)
			}
		}()
	}
	wg.Wait()
	total := 0.0
	for _, r := range reasons {
		total += value(t, m, MetricRequests, "api=x", "reason="+r)
	}
	if total != 800 {
		t.Errorf("failures counted: got %v, want 800", total)
	}
}

func TestObserveAllocatesNothing(t *testing.T) {
	m := NewMetrics(nil)
	a := m.API("x")
	for _, tt := range []struct {
		name string
		rec  Record
	}{
		{"success", Record{Metrics: a, Status: 200, Duration: time.Millisecond, BackendDuration: time.Millisecond, ConnectDuration: time.Millisecond, Destination: netip.MustParseAddrPort("127.0.0.1:1")}},
		{"known failure", Record{Metrics: a, Status: 502, Error: "BackendTimeout", Duration: time.Millisecond}},
		{"unrouted", Record{Status: 404, Error: "RouteNotFound"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m.Observe(&tt.rec) // first sight of a failure pair resolves it
			if got := testing.AllocsPerRun(100, func() { m.Observe(&tt.rec) }); got != 0 {
				t.Errorf("allocations per Observe: got %v, want 0", got)
			}
		})
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Observe(&Record{Status: 200})
	m.ObserveReload(true, time.Now())
	if a := m.API("x"); a != nil {
		t.Errorf("nil Metrics API: got %v, want nil", a)
	}
}

func TestReloadAndBuildInfo(t *testing.T) {
	m := NewMetrics(nil)
	m.SetBuildInfo("v1.2.3")
	m.SetBuildInfo("ignored")
	if got := value(t, m, MetricBuildInfo, "version=v1.2.3"); got != 1 {
		t.Errorf("build info: got %v, want 1", got)
	}
	if n := len(families(t, m)[MetricBuildInfo].GetMetric()); n != 1 {
		t.Errorf("build info series: got %d, want 1", n)
	}
	if got := value(t, m, MetricReloadSuccessful); got != 1 {
		t.Errorf("successful before any reload: got %v, want 1", got)
	}
	at := time.Unix(1700000000, 0)
	m.ObserveReload(true, at)
	m.ObserveReload(false, at.Add(time.Minute))
	for _, tt := range []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{"successes", MetricReloads, []string{"result=success"}, 1},
		{"failures", MetricReloads, []string{"result=failure"}, 1},
		{"last failed", MetricReloadSuccessful, nil, 0},
		{"serving since", MetricReloadTimestamp, nil, 1700000000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := value(t, m, tt.metric, tt.labels...); got != tt.want {
				t.Errorf("%s%v: got %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

func TestPoolCollector(t *testing.T) {
	reasons := func(kv ...any) map[string]uint64 {
		m := map[string]uint64{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = uint64(kv[i+1].(int))
		}
		return m
	}
	stats := []connpool.Stats{
		{Dest: "10.0.0.1:80", Profile: "plain", Active: 2, Idle: 3, Dialing: 1, Waiting: 4,
			OpenedTotal: 10, ClosedByReason: reasons("idle_timeout", 2, "backend_close", 3), ClosedLast240s: 5,
			RequestsTotal: 100, ReusedTotal: 90, Replays: reasons("nothing_written", 1, "no_response", 0),
			LearnedIdleTimeoutMS: 5000, AnnouncedKeepaliveMS: 0, MaxConnections: 8, PeakActive: 6},
		{Dest: "10.0.0.1:80", Profile: "via-src", Active: 1, OpenedTotal: 2, ClosedByReason: reasons("idle_timeout", 1, "backend_close", 0),
			ClosedLast240s: 1, RequestsTotal: 100, ReusedTotal: 0, Replays: reasons("nothing_written", 2, "no_response", 1),
			LearnedIdleTimeoutMS: 3000, AnnouncedKeepaliveMS: 4000, MaxConnections: 0, PeakActive: 1},
		{Dest: "10.0.0.2:443/api.example", Idle: 1, OpenedTotal: 1, MaxConnections: 16,
			ClosedByReason: reasons("idle_timeout", 0), Replays: reasons("nothing_written", 0)},
	}
	m := NewMetrics(func() []connpool.Stats { return stats })
	const d1, d2 = "destination=10.0.0.1:80", "destination=10.0.0.2:443/api.example"
	for _, tt := range []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{"active summed", MetricPoolConnections, []string{d1, "state=active"}, 3},
		{"idle", MetricPoolConnections, []string{d1, "state=idle"}, 3},
		{"dialing", MetricPoolConnections, []string{d1, "state=dialing"}, 1},
		{"waiting", MetricPoolWaiting, []string{d1}, 4},
		{"opened", MetricPoolOpened, []string{d1}, 12},
		{"closed idle", MetricPoolClosed, []string{d1, "reason=idle_timeout"}, 3},
		{"closed backend", MetricPoolClosed, []string{d1, "reason=backend_close"}, 3},
		{"ports held", MetricPoolPortsHeld, []string{d1}, 6},
		{"requests", MetricPoolRequests, []string{d1}, 200},
		{"reused", MetricPoolReused, []string{d1}, 90},
		{"reuse ratio over both profiles", MetricPoolReuseRatio, []string{d1}, 0.45},
		{"replays", MetricPoolReplays, []string{d1, "verdict=nothing_written"}, 3},
		{"replays no_response", MetricPoolReplays, []string{d1, "verdict=no_response"}, 1},
		{"learned: shortest", MetricPoolLearnedIdle, []string{d1}, 3},
		{"announced: the one known", MetricPoolAnnouncedIdle, []string{d1}, 4},
		{"cap: one profile unlimited", MetricPoolMaxConns, []string{d1}, 0},
		{"peak", MetricPoolPeakActive, []string{d1}, 7},
		{"second destination cap", MetricPoolMaxConns, []string{d2}, 16},
		{"second destination idle", MetricPoolConnections, []string{d2, "state=idle"}, 1},
		{"no requests: ratio 0", MetricPoolReuseRatio, []string{d2}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := value(t, m, tt.metric, tt.labels...); got != tt.want {
				t.Errorf("%s%v: got %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	if n := len(families(t, m)[MetricPoolOpened].GetMetric()); n != 2 {
		t.Errorf("opened series: got %d, want one per destination (2)", n)
	}
}

func TestMetricsLintAndExposition(t *testing.T) {
	m := NewMetrics(func() []connpool.Stats {
		return []connpool.Stats{{Dest: "127.0.0.1:9000", ClosedByReason: map[string]uint64{"idle_timeout": 1}, Replays: map[string]uint64{"nothing_written": 0}}}
	})
	m.SetBuildInfo("dev")
	m.ObserveReload(false, time.Now())
	r := Record{Metrics: m.API("a"), Status: 200, Destination: netip.MustParseAddrPort("127.0.0.1:9000"), ConnectDuration: time.Millisecond}
	m.Observe(&r)

	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "weir_") {
			ours = append(ours, mf)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}

	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var names []string
	for _, mf := range ours {
		names = append(names, mf.GetName())
	}
	sort.Strings(names)
	for _, name := range append(names, "go_goroutines", "process_open_fds") {
		if !strings.Contains(string(body), "\n# TYPE "+name+" ") {
			t.Errorf("exposition: no %s", name)
		}
	}
	if len(names) != len(allMetricNames()) {
		t.Errorf("weir metrics exposed: got %d %v, want %d", len(names), names, len(allMetricNames()))
	}
}

// allMetricNames is every weir metric, as the README lists them.
func allMetricNames() []string {
	return []string{MetricRequests, MetricRequestDuration, MetricBackendDuration, MetricConnectDuration,
		MetricPoolConnections, MetricPoolWaiting, MetricPoolOpened, MetricPoolClosed, MetricPoolPortsHeld,
		MetricPoolRequests, MetricPoolReused, MetricPoolReuseRatio, MetricPoolReplays, MetricPoolLearnedIdle,
		MetricPoolAnnouncedIdle, MetricPoolMaxConns, MetricPoolPeakActive, MetricReloads, MetricReloadSuccessful,
		MetricReloadTimestamp, MetricBuildInfo}
}

// BenchmarkObserve is the metrics cost of one request on the hot path.
func BenchmarkObserve(b *testing.B) {
	m := NewMetrics(nil)
	dest := netip.MustParseAddrPort("127.0.0.1:9000")
	for _, bb := range []struct {
		name string
		rec  Record
	}{
		{"reused", Record{Metrics: m.API("a"), Status: 200, Duration: time.Millisecond, BackendDuration: time.Millisecond, Destination: dest, Reused: true}},
		{"dialed", Record{Metrics: m.API("a"), Status: 200, Duration: time.Millisecond, BackendDuration: time.Millisecond, ConnectDuration: time.Millisecond, Destination: dest}},
		{"failed", Record{Metrics: m.API("a"), Status: 504, Error: "BackendTimeout", Duration: time.Millisecond}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := bb.rec
				for pb.Next() {
					m.Observe(&r)
				}
			})
		})
	}
}
