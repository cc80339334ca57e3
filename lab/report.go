package lab

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// WriteTable writes the per-run table as Markdown.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "| run | scenario | gateway | sent | ok | failed by reason | backend conns opened | peak NAT ports | SYNs dropped | duration |\n")
	fmt.Fprintf(w, "|---|---|---|--:|--:|---|--:|--:|--:|--:|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(w, "| %s | %s | %s: %s | %d | %d | %s | %d | %d | %d | %s |\n",
			row.ID, row.Title, row.Gateway, row.Setup, row.Load.Sent, row.Load.OK, failedString(row.Load.Failed),
			row.BackendConns, row.NATPeak, row.SYNDropped, row.Duration.Round(100*time.Millisecond))
	}
}

// Findings are the lab's reading of the rows: weir's own figures and what
// they mean, one line per run that has something to say.
func (r *Report) Findings() []string {
	var out []string
	var oneIP int
	for _, row := range r.Rows {
		if row.ID == "2" {
			oneIP = row.Load.OK
		}
	}
	for _, row := range r.Rows {
		var parts []string
		if len(row.Pools) > 0 {
			parts = append(parts, ledger(row))
		}
		if len(row.LogTally) > 0 {
			what := "request log"
			if row.Gateway != gwWeir {
				what = row.Gateway + " error log"
			}
			parts = append(parts, what+": "+failedString(row.LogTally))
		}
		switch row.ID {
		case "2":
			if strings.Contains(row.Validate, "warning:") {
				parts = append(parts, "weir validate warned: keep-alive is off")
			}
		case "3":
			parts = append(parts, "the backend refuses keep-alive (every close is backend_close): the fix is on the backend")
		case "4":
			if oneIP > 0 {
				parts = append(parts, fmt.Sprintf("served before exhaustion: %d with two IPs vs %d with one (x%.2f)",
					row.Load.OK, oneIP, float64(row.Load.OK)/float64(oneIP)))
			}
		}
		parts = append(parts, row.Notes...)
		if len(parts) > 0 {
			out = append(out, row.ID+": "+strings.Join(parts, "; "))
		}
	}
	return out
}

// ledger summarises weir's /pools for a row.
func ledger(row *Row) string {
	var opened, closed, held, reqs, reused uint64
	peak := 0
	by := make(map[string]int)
	for _, p := range row.Pools {
		opened += p.OpenedTotal
		closed += p.ClosedTotal
		held += uint64(max(p.ClosedLast240s, 0))
		reqs += p.RequestsTotal
		reused += p.ReusedTotal
		peak += p.PeakActive
		for k, v := range p.ClosedByReason {
			if v > 0 {
				by[k] += int(v)
			}
		}
	}
	ratio := 0.0
	if reqs > 0 {
		ratio = float64(reused) / float64(reqs)
	}
	s := fmt.Sprintf("/pools: opened %d, peak_active %d, closed_last_240s %d, reuse_ratio %.3f", opened, peak, held, ratio)
	if len(by) > 0 {
		s += ", closed_by_reason " + failedString(by)
	}
	return s
}

// WriteReport writes the table, the findings and every check with its
// verdict, then the overall verdict.
func (r *Report) WriteReport(w io.Writer) {
	o := r.Options
	fmt.Fprintf(w, "weir port-exhaustion lab: P=%d NAT ports per destination (held 240 s), burst %d requests at concurrency %d\n\n",
		o.Ports, o.Requests, o.Concurrency)
	r.WriteTable(w)
	if f := r.Findings(); len(f) > 0 {
		fmt.Fprintln(w)
		for _, l := range f {
			fmt.Fprintln(w, "- "+l)
		}
	}
	fmt.Fprintln(w)
	checks := slices.Clone(r.Checks)
	failed := 0
	for _, c := range checks {
		verdict := "PASS"
		if !c.OK {
			verdict = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "%s %-3s %s: %s\n", verdict, c.ID, c.What, c.Got)
	}
	fmt.Fprintln(w)
	if r.OK() {
		fmt.Fprintf(w, "lab: all %d expectations hold (%s)\n", len(checks), r.Took.Round(time.Second))
	} else {
		fmt.Fprintf(w, "lab: %d of %d expectations failed (%s)\n", failed, len(checks), r.Took.Round(time.Second))
	}
}
