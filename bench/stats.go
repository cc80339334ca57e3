package bench

import (
	"slices"
)

// Stat is a figure over a cell's runs.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// newStat summarises vs (N = 0 when vs is empty).
func newStat(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	s := slices.Sorted(slices.Values(vs))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Cell is one peer in one scenario and mode, over its rounds.
type Cell struct {
	Mode     Mode
	Scenario string
	Peer     string
	// Runs that count (no problem); Failed those that do not.
	Runs, Failed []*Run
	// Figures over the counted runs.
	RPS, PerCPUSecond, CPUSeconds, P50, P90, P99, P999, PeakRSS, BackendAccepts, BackendRequests, TimeWait Stat
	// Errors summed over every run.
	Errors LoadErrors
}

// Cell gathers the runs of peer in scenario and mode; nil when it has
// none.
func (r *Results) Cell(m Mode, scenario, peer string) *Cell {
	c := &Cell{Mode: m, Scenario: scenario, Peer: peer}
	var rps, per, cpu, p50, p90, p99, p999, rss, acc, breq, tw []float64
	for _, run := range r.Runs {
		if run.Mode != m || run.Scenario != scenario || run.Peer != peer {
			continue
		}
		e := &c.Errors
		e.Connect += run.Errors.Connect
		e.Read += run.Errors.Read
		e.Write += run.Errors.Write
		e.Timeout += run.Errors.Timeout
		e.Status += run.Errors.Status
		if run.Problem != "" {
			c.Failed = append(c.Failed, run)
			continue
		}
		c.Runs = append(c.Runs, run)
		rps = append(rps, run.RPS)
		per = append(per, run.PerCPUSecond)
		cpu = append(cpu, run.CPUSeconds)
		p50 = append(p50, run.P50)
		p90 = append(p90, run.P90)
		p99 = append(p99, run.P99)
		p999 = append(p999, run.P999)
		rss = append(rss, float64(run.PeakRSS))
		acc = append(acc, float64(run.BackendAccepts))
		breq = append(breq, float64(run.BackendRequests))
		tw = append(tw, float64(run.TimeWait))
	}
	if len(c.Runs) == 0 && len(c.Failed) == 0 {
		return nil
	}
	c.RPS, c.PerCPUSecond, c.CPUSeconds = newStat(rps), newStat(per), newStat(cpu)
	c.P50, c.P90, c.P99, c.P999 = newStat(p50), newStat(p90), newStat(p99), newStat(p999)
	c.PeakRSS, c.BackendAccepts, c.BackendRequests, c.TimeWait = newStat(rss), newStat(acc), newStat(breq), newStat(tw)
	return c
}

// ratio is a/b, or 0 when either is missing.
func ratio(a, b Stat) float64 {
	if a.N == 0 || b.N == 0 || b.Median == 0 {
		return 0
	}
	return a.Median / b.Median
}
