package doctor_test

import (
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/doctor"
)

// stats is a ledger entry with every close reason present, as /pools gives.
func stats(mod func(*connpool.Stats)) connpool.Stats {
	s := connpool.Stats{Dest: "10.0.0.1:80", Profile: "http|b:80", ClosedByReason: map[string]uint64{}, Replays: map[string]uint64{}}
	for r := range connpool.NumCloseReasons {
		s.ClosedByReason[r.String()] = 0
	}
	mod(&s)
	return s
}

// TestLedgerEdges: the ledger rules' boundaries, on ledgers that the
// scenario tests cannot produce in a unit test's time (hours of sparse
// traffic, thousands of ports, several source IPs).
func TestLedgerEdges(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pools []connpool.Stats
		apis  []doctor.API
		opt   doctor.Options
		rule  string
		want  doctor.Severity
		fires bool
	}{
		{
			name: "sparse keep-alive traffic is not keep-alive off",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.RequestsTotal, s.OpenedTotal, s.ClosedTotal = 40, 40, 40
				s.ClosedByReason["idle_timeout"] = 40
				s.ClosedLast240s = 4 // one idle close a minute
			})},
			rule: doctor.RuleKeepaliveDisabled,
		},
		{
			name: "a connection per request closed by weir is keep-alive off",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.RequestsTotal, s.OpenedTotal, s.ClosedTotal = 40, 40, 40
				s.ClosedByReason["idle_timeout"] = 40
				s.ClosedLast240s = 40
			})},
			rule: doctor.RuleKeepaliveDisabled, want: doctor.Warning, fires: true,
		},
		{
			name: "port budget: half used is a warning",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.ClosedLast240s, s.Active, s.Idle = 14000, 100, 16
			})},
			rule: doctor.RulePortBudget, want: doctor.Warning, fires: true,
		},
		{
			name: "port budget: 80% used is critical",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.ClosedLast240s = 23000
			})},
			rule: doctor.RulePortBudget, want: doctor.Critical, fires: true,
		},
		{
			name: "port budget: two source IPs double it",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.ClosedLast240s = 30000 // 53% of two ranges; 106% of one
				s.Sources = []connpool.SourceStats{{SourceIP: "10.1.0.1"}, {SourceIP: "10.1.0.2"}}
			})},
			rule: doctor.RulePortBudget, want: doctor.Warning, fires: true,
		},
		{
			name: "port budget: a SNAT allocation of 1024",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.ClosedLast240s = 900
			})},
			opt:  doctor.Options{PortBudget: 1024},
			rule: doctor.RulePortBudget, want: doctor.Critical, fires: true,
		},
		{
			name: "no cap, no waiting finding",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.Waiting, s.PeakActive = 3, 50 // waiting for their own dials
			})},
			rule: doctor.RuleWaitingForConns,
		},
		{
			name: "single IP by profile: two IPs of one endpoint",
			pools: []connpool.Stats{
				stats(func(s *connpool.Stats) { s.NewPerSecond = 100 }),
				stats(func(s *connpool.Stats) { s.Dest, s.NewPerSecond = "10.0.0.2:80", 100 }),
			},
			rule: doctor.RuleSingleBackendIP,
		},
		{
			name:  "single IP by profile: one IP",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) { s.NewPerSecond = 100 })},
			rule:  doctor.RuleSingleBackendIP, want: doctor.Warning, fires: true,
		},
		{
			name:  "single IP below the rate",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) { s.NewPerSecond = 5 })},
			rule:  doctor.RuleSingleBackendIP,
		},
		{
			name: "single IP from the config: the API has two IPs",
			pools: []connpool.Stats{
				stats(func(s *connpool.Stats) { s.NewPerSecond = 100 }),
				stats(func(s *connpool.Stats) { s.Dest, s.Profile, s.NewPerSecond = "10.0.0.2:80", "other", 100 }),
			},
			apis: []doctor.API{{Name: "a", KeepaliveTimeoutMS: 60000, Destinations: []string{"10.0.0.1:80", "10.0.0.2:80"}}},
			rule: doctor.RuleSingleBackendIP,
		},
		{
			name: "backend idle term learned, with weir's keep-alive as evidence",
			pools: []connpool.Stats{stats(func(s *connpool.Stats) {
				s.LearnedIdleTimeoutMS = 5000
			})},
			apis: []doctor.API{{Name: "a", KeepaliveTimeoutMS: 60000, Destinations: []string{"10.0.0.1:80"}}},
			rule: doctor.RuleBackendIdleShorter, want: doctor.Info, fires: true,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := doctor.Diagnose(doctor.Input{Pools: tt.pools, APIs: tt.apis}, tt.opt)
			var got *doctor.Finding
			for i := range fs {
				if fs[i].Rule == tt.rule {
					got = &fs[i]
				}
			}
			if (got != nil) != tt.fires {
				t.Fatalf("finding %s: got %v, want %v; findings:\n%s", tt.rule, got != nil, tt.fires, dump(fs))
			}
			if got != nil && got.Severity != tt.want {
				t.Errorf("finding %s: got severity %s, want %s", tt.rule, got.Severity, tt.want)
			}
		})
	}
}

// TestPortBudgetInstances: the ledger is one instance's; with several
// serving the backend, the finding says how many and what they would hold
// together behind one NAT address.
func TestPortBudgetInstances(t *testing.T) {
	pools := []connpool.Stats{stats(func(s *connpool.Stats) { s.ClosedLast240s = 900 })}
	for _, tt := range []struct {
		instances int
		evidence  bool
		together  string
	}{
		{0, false, ""},
		{1, false, ""},
		{3, true, "together hold about 2700"},
	} {
		fs := doctor.Diagnose(doctor.Input{Pools: pools, Instances: tt.instances}, doctor.Options{PortBudget: 1024})
		var f *doctor.Finding
		for i := range fs {
			if fs[i].Rule == doctor.RulePortBudget {
				f = &fs[i]
			}
		}
		if f == nil {
			t.Fatalf("instances %d: no port_budget finding in %+v", tt.instances, fs)
		}
		has := false
		for _, e := range f.Evidence {
			has = has || e.Name == "instances" && e.Value == float64(tt.instances)
		}
		if has != tt.evidence || !strings.Contains(f.Mitigation, tt.together) || tt.evidence != strings.Contains(f.Summary, "on this instance of 3") {
			t.Errorf("instances %d: evidence %v, summary %q, mitigation %q; want instances in the evidence: %v, %q", tt.instances, f.Evidence, f.Summary, f.Mitigation, tt.evidence, tt.together)
		}
	}
}
