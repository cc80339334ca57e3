package grafana

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/telemetry"
)

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int                      `json:"id"`
	Type    string                   `json:"type"`
	Title   string                   `json:"title"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
}

// family is what the registry exports under one name.
type family struct {
	typ    dto.MetricType
	labels map[string]bool
}

// exported returns every weir metric family with its label names, from a
// registry in which every family has at least one series.
func exported(t *testing.T) map[string]family {
	t.Helper()
	m := telemetry.NewMetrics(func() []connpool.Stats {
		return []connpool.Stats{{Dest: "127.0.0.1:9000",
			ClosedByReason: map[string]uint64{"idle_timeout": 1}, Replays: map[string]uint64{"nothing_written": 1}}}
	})
	m.SetBuildInfo("test")
	m.ObserveReload(true, time.Now())
	rec := telemetry.Record{Metrics: m.API("a"), Status: 502, Error: "BackendConnectionFailure",
		Destination: netip.MustParseAddrPort("127.0.0.1:9000"), ConnectDuration: time.Millisecond}
	m.Observe(&rec)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for _, mf := range mfs {
		f := family{typ: mf.GetType(), labels: map[string]bool{}}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				f.labels[lp.GetName()] = true
			}
		}
		out[mf.GetName()] = f
	}
	return out
}

// promQL holds the patterns that pick metric names, label matchers,
// groupings and legend labels out of a query.
type promQL struct {
	selector, matcher, by, legend *regexp.Regexp
}

func newPromQL() promQL {
	return promQL{
		selector: regexp.MustCompile(`\b(weir_[a-zA-Z0-9_]+)(\{([^}]*)\})?`),
		matcher:  regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`),
		by:       regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`),
		legend:   regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`),
	}
}

// resolve maps a name used in a query to its family and the labels it
// carries: a histogram's _bucket series add "le".
func resolve(fams map[string]family, name string) (family, bool) {
	if f, ok := fams[name]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if f, found := fams[base]; ok && found && f.typ == dto.MetricType_HISTOGRAM {
			if suffix != "_bucket" {
				return f, true
			}
			labels := map[string]bool{"le": true}
			for l := range f.labels {
				labels[l] = true
			}
			return family{typ: f.typ, labels: labels}, true
		}
	}
	return family{}, false
}

// checkExpr returns the metric names expr uses and its problems: metrics
// and labels that weir does not export.
func checkExpr(fams map[string]family, where, expr, legend string) (used, problems []string) {
	q := newPromQL()
	complain := func(format string, args ...any) {
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	labels := map[string]bool{}
	for _, m := range q.selector.FindAllStringSubmatch(expr, -1) {
		f, ok := resolve(fams, m[1])
		if !ok {
			complain("query uses %s, which weir does not export", m[1])
			continue
		}
		used = append(used, m[1])
		for l := range f.labels {
			labels[l] = true
		}
		for _, mm := range q.matcher.FindAllStringSubmatch(m[3], -1) {
			if !f.labels[mm[1]] {
				complain("%s has no label %q", m[1], mm[1])
			}
		}
	}
	for _, m := range q.by.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !labels[l] {
				complain("groups by %q, which none of its metrics has", l)
			}
		}
	}
	for _, m := range q.legend.FindAllStringSubmatch(legend, -1) {
		if !labels[m[1]] {
			complain("legend uses {{%s}}, which none of its metrics has", m[1])
		}
	}
	return used, problems
}

// check reports expr's problems as test errors and records its metrics.
func check(t *testing.T, fams map[string]family, used map[string]bool, where, expr, legend string) {
	t.Helper()
	names, problems := checkExpr(fams, where, expr, legend)
	for _, p := range problems {
		t.Error(p)
	}
	for _, n := range names {
		used[n] = true
	}
}

// TestDashboardQueriesExist checks every metric, label matcher, grouping
// and legend label the dashboard's queries use against what weir's
// registry exports, so a renamed metric breaks this test, not a
// dashboard in production.
func TestDashboardQueriesExist(t *testing.T) {
	data, err := os.ReadFile("weir.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("weir.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard: got uid %q title %q, want both", d.UID, d.Title)
	}
	fams := exported(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			check(t, fams, used, "panel "+p.Title, tg.Expr, tg.LegendFormat)
		}
	}
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil || q.Query == "" {
			var s string
			if json.Unmarshal(v.Query, &s) == nil && s == "prometheus" {
				continue // the data source variable
			}
			t.Errorf("variable %s: unreadable query %s", v.Name, v.Query)
			continue
		}
		check(t, fams, used, "variable "+v.Name, q.Query, "")
		if !strings.Contains(q.Query, v.Name) {
			t.Errorf("variable %s: query %q does not read label %s", v.Name, q.Query, v.Name)
		}
	}
	if queries < 10 {
		t.Errorf("queries: got %d, want the dashboard's (at least 10)", queries)
	}
	// The point of the dashboard: the port ledger per destination.
	for _, want := range []string{telemetry.MetricPoolPortsHeld, telemetry.MetricPoolConnections, telemetry.MetricPoolOpened, telemetry.MetricPoolClosed} {
		if !used[want] {
			t.Errorf("dashboard does not plot %s", want)
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	slices.Sort(names)
	t.Logf("%d queries over %d metrics: %v", queries, len(names), names)
}

func TestCheckExprCatchesMistakes(t *testing.T) {
	fams := exported(t)
	for _, tt := range []struct {
		name, expr, legend string
	}{
		{"unknown metric", `rate(weir_pool_ports_total[5m])`, ""},
		{"unknown label", `weir_pool_ports_held{dest="x"}`, ""},
		{"bad grouping", `sum by (api) (weir_pool_ports_held)`, ""},
		{"bad legend", `weir_pool_ports_held`, "{{api}}"},
		{"le on a gauge", `weir_pool_connections{le="1"}`, ""},
		{"_bucket of a counter", `weir_http_requests_total_bucket`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, problems := checkExpr(fams, tt.name, tt.expr, tt.legend); len(problems) == 0 {
				t.Errorf("%s %q: got no complaint, want one", tt.name, tt.expr)
			}
		})
	}
}
