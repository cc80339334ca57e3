package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
)

// passing returns rows with the figures of a lab run where everything
// held (P=64, burst 20000, concurrency 256).
func passing() map[string]*Row {
	pool := func(opened, held, peak int, by map[string]uint64, reused uint64) []connpool.Stats {
		return []connpool.Stats{{OpenedTotal: uint64(opened), ClosedLast240s: int64(held), PeakActive: peak, ClosedByReason: by, ReusedTotal: reused}}
	}
	timeouts := map[string]int{"BackendTimeout": 2560}
	log := map[string]int{"BackendTimeout: connect timeout": 2560}
	return map[string]*Row{
		"1":  {ID: "1", Gateway: gwWeir, Load: LoadResult{Sent: 20000, OK: 20000}, BackendConns: 48, Pools: pool(48, 0, 48, nil, 19952)},
		"2":  {ID: "2", Gateway: gwWeir, Load: LoadResult{Sent: 2626, OK: 66, Failed: timeouts}, SYNDropped: 2799, Pools: pool(66, 66, 38, nil, 0), LogTally: log, Validate: "x.yaml:11:3: warning: keep-alive is off for every target"},
		"3":  {ID: "3", Gateway: gwWeir, Load: LoadResult{Sent: 2625, OK: 65, Failed: timeouts}, SYNDropped: 3198, Pools: pool(65, 65, 24, map[string]uint64{"backend_close": 65}, 0), LogTally: log},
		"4":  {ID: "4", Gateway: gwWeir, Load: LoadResult{Sent: 2692, OK: 132, Failed: timeouts}, SYNDropped: 2931, Pools: pool(132, 132, 56, nil, 0), LogTally: log},
		"5":  {ID: "5", Gateway: gwWeir, Load: LoadResult{Sent: 20000, OK: 20000}, BackendConns: 48, Pools: pool(48, 0, 48, nil, 19952)},
		"6a": {ID: "6a", Gateway: gwWeir, Load: LoadResult{Sent: 20000, OK: 20000}, Pools: pool(257, 0, 256, nil, 19743)},
		"6b": {ID: "6b", Gateway: gwWeir, Load: LoadResult{Sent: 11235, OK: 1000, Failed: map[string]int{"BackendConnectionFailure": 10235}}, Pools: pool(1000, 1000, 181, nil, 0),
			LogTally: map[string]int{"BackendConnectionFailure: local ports exhausted (EADDRNOTAVAIL)": 10235}},
		"7a": {ID: "7a", Gateway: gwNginx, Load: LoadResult{Sent: 2568, OK: 67, Failed: map[string]int{"HTTP 504": 2501}}, SYNDropped: 3309},
	}
}

func runCheck(rows map[string]*Row) []Check {
	o := Options{Weir: "w", Helper: "h", Dir: "d"}
	_ = o.defaults()
	var list []*Row
	for _, id := range []string{"1", "2", "3", "4", "5", "6a", "6b", "7a"} {
		if r := rows[id]; r != nil {
			list = append(list, r)
		}
	}
	return check(o, list)
}

func TestCheckPasses(t *testing.T) {
	for _, c := range runCheck(passing()) {
		if !c.OK {
			t.Errorf("run %s: %s: failed on passing figures (%s)", c.ID, c.What, c.Got)
		}
	}
}

// TestCheckFails: each expectation fails when its figure is wrong.
func TestCheckFails(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(map[string]*Row)
		id   string
		what string // a piece of the failing check's text
	}{
		{"errors in the keep-alive burst", func(m map[string]*Row) { m["1"].Load.Failed = map[string]int{"BackendTimeout": 1} }, "1", "whole burst"},
		{"burst cut short", func(m map[string]*Row) { m["1"].Load.Sent = 19000; m["1"].Load.OK = 19000 }, "1", "whole burst"},
		{"over the cap", func(m map[string]*Row) { m["1"].Pools[0].OpenedTotal = 49 }, "1", "at most max_connections"},
		{"SYN dropped with keep-alive", func(m map[string]*Row) { m["5"].SYNDropped = 1 }, "5", "drops no SYN"},
		{"churn with keep-alive", func(m map[string]*Row) { m["1"].Pools[0].ClosedLast240s = 5 }, "1", "no churn"},
		{"weir hung", func(m map[string]*Row) { m["2"].Load.Failed = map[string]int{ReasonClientTimeout: 1} }, "2", "never hangs"},
		{"no failure without keep-alive", func(m map[string]*Row) { m["2"].Load.Failed = nil; m["2"].SYNDropped = 0 }, "2", "fails once"},
		{"wrong reason", func(m map[string]*Row) { m["2"].Load.Failed = map[string]int{"ConnectionLimitReached": 3} }, "2", "nothing else"},
		{"log silent", func(m map[string]*Row) { m["2"].LogTally = nil }, "2", "request log names"},
		{"ledger forgets", func(m map[string]*Row) { m["2"].Pools[0].ClosedLast240s = 10 }, "2", "ports held"},
		{"far more than P served", func(m map[string]*Row) { m["2"].Load.OK = 500; m["2"].Pools[0].ClosedLast240s = 500 }, "2", "about P="},
		{"no validate warning", func(m map[string]*Row) { m["2"].Validate = "x.yaml: ok (1 APIs)" }, "2", "validate warned"},
		{"backend close not seen", func(m map[string]*Row) { m["3"].Pools[0].ClosedByReason = map[string]uint64{"idle_timeout": 65} }, "3", "refuses keep-alive"},
		{"second IP no help", func(m map[string]*Row) { m["4"].Load.OK = 70; m["4"].Pools[0].ClosedLast240s = 70 }, "4", "twice"},
		{"no one-IP figure", func(m map[string]*Row) { delete(m, "2") }, "4", "twice"},
		{"defaults churn", func(m map[string]*Row) { m["6a"].Pools[0].OpenedTotal = 5000 }, "6a", "does not churn"},
		{"ports never run out", func(m map[string]*Row) { m["6b"].LogTally = nil }, "6b", "local ports"},
		{"model does not bite", func(m map[string]*Row) { m["7a"].Load.Failed = nil; m["7a"].SYNDropped = 0 }, "7a", "bites"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows := passing()
			tt.edit(rows)
			found := false
			for _, c := range runCheck(rows) {
				if c.ID == tt.id && strings.Contains(c.What, tt.what) {
					found = true
					if c.OK {
						t.Errorf("run %s: %s: got a pass (%s), want a failure", c.ID, c.What, c.Got)
					}
				}
			}
			if !found {
				t.Errorf("no check of run %s mentions %q", tt.id, tt.what)
			}
		})
	}
}

func TestReport(t *testing.T) {
	if (&Report{}).OK() {
		t.Error("a report without checks: got OK, want not OK")
	}
	rows := passing()
	rep := &Report{Options: Options{Ports: 64, Requests: 20000, Concurrency: 256}, Took: 90 * time.Second}
	for _, id := range []string{"1", "2", "4"} {
		rows[id].Title, rows[id].Setup, rows[id].Duration = "t"+id, "s"+id, 3*time.Second
		rep.Rows = append(rep.Rows, rows[id])
	}
	rep.Checks = []Check{{ID: "1", What: "a", Got: "b", OK: true}, {ID: "2", What: "c", Got: "d", OK: false}}
	var b strings.Builder
	rep.WriteReport(&b)
	out := b.String()
	for _, want := range []string{
		"| 1 | t1 | weir: s1 | 20000 | 20000 | 0 | 48 | 0 | 0 | 3s |",
		"| 2 | t2 | weir: s2 | 2626 | 66 | BackendTimeout 2560 |",
		"served before exhaustion: 132 with two IPs vs 66 with one (x2.00)",
		"weir validate warned",
		"PASS 1   a: b",
		"FAIL 2   c: d",
		"lab: 1 of 2 expectations failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestFailedString(t *testing.T) {
	for _, tt := range []struct {
		name string
		m    map[string]int
		want string
	}{
		{"none", nil, "0"},
		{"largest first, then by name", map[string]int{"b": 1, "a": 1, "c": 5}, "c 5, a 1, b 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := failedString(tt.m); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
