package lab

import (
	"fmt"
	"strings"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/failure"
)

// check evaluates every scenario's expectations on the rows.
func check(o Options, rows []*Row) []Check {
	var cs []Check
	add := func(r *Row, what string, ok bool, format string, args ...any) {
		cs = append(cs, Check{ID: r.ID, What: what, OK: ok, Got: fmt.Sprintf(format, args...)})
	}
	byID := make(map[string]*Row, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	p := o.Ports
	capConns := p * 3 / 4
	for _, r := range rows {
		failed := r.Load.FailedTotal()
		if r.Gateway == gwWeir {
			hung := r.Load.Failed[ReasonClientTimeout] + r.Load.Failed[ReasonClientError]
			add(r, "weir answers every request, never hangs or drops a client", hung == 0,
				"%d client timeouts, %d client errors", r.Load.Failed[ReasonClientTimeout], r.Load.Failed[ReasonClientError])
		}
		switch r.ID {
		case "1", "5":
			add(r, "the whole burst succeeds", failed == 0 && r.Load.Sent == o.Requests,
				"sent %d of %d, failed %d", r.Load.Sent, o.Requests, failed)
			add(r, fmt.Sprintf("weir opens at most max_connections (%d) backend connections", capConns),
				r.Opened() <= uint64(capConns) && r.BackendConns <= uint64(capConns) && r.Opened() > 0,
				"opened_total %d, NAT saw %d", r.Opened(), r.BackendConns)
			add(r, "the NAT drops no SYN", r.SYNDropped == 0, "%d dropped", r.SYNDropped)
			held := r.pool(func(s *connpool.Stats) int64 { return s.ClosedLast240s })
			peak := r.pool(func(s *connpool.Stats) int64 { return int64(s.PeakActive) })
			add(r, "the port ledger shows no churn: nothing closed, peak active within the cap",
				held == 0 && peak <= int64(capConns), "closed_last_240s %d, peak_active %d", held, peak)
		case "2", "3", "4":
			add(r, "the burst fails once the NAT's ports are used up", failed > 0 && r.SYNDropped > 0,
				"failed %d, SYNs dropped %d", failed, r.SYNDropped)
			bad := 0
			for k, v := range r.Load.Failed {
				if k != string(failure.BackendTimeout) && k != string(failure.BackendConnectionFailure) {
					bad += v
				}
			}
			add(r, "clients get BackendTimeout/BackendConnectionFailure, nothing else", bad == 0,
				"failed by reason: %s", failedString(r.Load.Failed))
			ct := r.LogTally["BackendTimeout: connect timeout"]
			add(r, "the request log names the dropped SYNs: BackendTimeout, detail connect timeout", ct > 0,
				"%d log lines", ct)
			held := r.pool(func(s *connpool.Stats) int64 { return s.ClosedLast240s })
			add(r, "/pools shows the ports held by closed connections (closed_last_240s >= served)",
				held >= int64(r.Load.OK) && held > 0, "closed_last_240s %d, served %d", held, r.Load.OK)
		}
		switch r.ID {
		case "2":
			lo, hi := p/2, 2*p
			add(r, fmt.Sprintf("about P=%d requests are served before exhaustion", p), r.Load.OK >= lo && r.Load.OK <= hi,
				"served %d (want %d..%d)", r.Load.OK, lo, hi)
			warned := strings.Contains(r.Validate, "warning:") && strings.Contains(r.Validate, "keep-alive is off")
			add(r, "weir validate warned that keep-alive is off", warned, "%q", strings.TrimSpace(r.Validate))
		case "3":
			bc := r.pool(func(s *connpool.Stats) int64 { return int64(s.ClosedByReason[connpool.BackendClose.String()]) })
			reused := r.pool(func(s *connpool.Stats) int64 { return int64(s.ReusedTotal) })
			add(r, "weir's figures show the backend refuses keep-alive: every connection closed backend_close, none reused",
				bc >= int64(r.Load.OK) && bc > 0 && reused == 0, "backend_close %d, served %d, reused %d", bc, r.Load.OK, reused)
		case "4":
			if base := byID["2"]; base != nil && base.Load.OK > 0 {
				ratio := float64(r.Load.OK) / float64(base.Load.OK)
				add(r, "two backend IPs serve about twice the requests of one before exhaustion", ratio >= 1.6 && ratio <= 2.4,
					"served %d vs %d with one IP: x%.2f", r.Load.OK, base.Load.OK, ratio)
			} else {
				add(r, "two backend IPs serve about twice the requests of one before exhaustion", false, "no one-IP figure (run 2)")
			}
		case "5":
			add(r, "the egress proxy opened no more backend connections than weir's pooled tunnels",
				r.BackendConns <= r.Opened(), "proxy->backend %d, weir tunnels %d", r.BackendConns, r.Opened())
		case "6a":
			add(r, "weir with its defaults serves the whole burst", failed == 0 && r.Load.Sent == o.Requests,
				"sent %d of %d, failed %d", r.Load.Sent, o.Requests, failed)
			held := r.pool(func(s *connpool.Stats) int64 { return s.ClosedLast240s })
			// A connection per concurrent request, plus dials that a
			// release overtook (the waiter takes the released connection,
			// the dialed one goes idle), and none closed: no churn. A
			// churning gateway opens one per request, here all 1000 ports.
			limit := 2 * o.Concurrency
			add(r, fmt.Sprintf("weir with its defaults does not churn: at most 2 connections per concurrent request (%d), none closed", limit),
				r.Opened() <= uint64(limit) && held == 0, "opened_total %d, closed_last_240s %d", r.Opened(), held)
		case "6b":
			np := r.LogTally["BackendConnectionFailure: local ports exhausted (EADDRNOTAVAIL)"]
			add(r, "keep-alive off runs the gateway out of local ports, and the log says so", failed > 0 && np > 0,
				"failed %d; log: local ports exhausted %d", failed, np)
			add(r, "clients get BackendConnectionFailure", r.Load.Failed[string(failure.BackendConnectionFailure)] > 0,
				"failed by reason: %s", failedString(r.Load.Failed))
		case "7a":
			add(r, "the NAT model bites a proxy that opens a connection per request", failed > 0 && r.SYNDropped > 0,
				"failed %d, SYNs dropped %d", failed, r.SYNDropped)
		}
	}
	return cs
}
