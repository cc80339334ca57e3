package doctor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/weirgw/weir/internal/failure"
)

// maxLogLine bounds one request log line; longer lines are skipped.
const maxLogLine = 1 << 20

// rateWindow is the window new-connection rates are taken over, like the
// ledger's new_per_second.
const rateWindow = 10 * time.Second

// Log is a request log summarised for the rules: per destination and per
// API.
type Log struct {
	Records int                 // request records read
	Skipped int                 // non-blank lines that were not request records
	Dests   map[string]*DestLog // by destination "ip:port"
	APIs    map[string]*APILog  // by API name ("" for requests no API matched)
}

// DestLog is what the request log says about one backend destination.
type DestLog struct {
	Requests  int            // requests sent (or attempted) to it
	New       int            // ...on a new connection (reused false)
	ConnectMS []float64      // connect_duration_ms of the new connections that have one
	Verdicts  map[string]int // stale-connection verdicts of replayed requests
	APIs      map[string]int // requests per API
	newAt     []time.Time    // start times of the requests on new connections
}

// APILog is what the request log says about one API.
type APILog struct {
	Requests int               // requests
	Failures map[string]int    // by failure reason
	Details  map[string]string // the first detail seen per reason
	Dests    map[string]int    // requests per destination
}

// record is the part of a request log line the rules read.
type record struct {
	Time        time.Time `json:"time"`
	RequestID   string    `json:"request_id"`
	API         string    `json:"api"`
	Status      int       `json:"status"`
	ConnectMS   float64   `json:"connect_duration_ms"`
	Destination string    `json:"destination"`
	Reused      bool      `json:"reused"`
	Error       string    `json:"error"`
	Detail      string    `json:"detail"`
	Verdict     string    `json:"verdict"`
}

// ReadLog reads a request log (one JSON object per line, as weir writes
// it) and summarises it. Lines that are not request records (other output
// sharing the stream, a truncated last line) are counted in Skipped, not
// failed on; only a read error fails.
func ReadLog(r io.Reader) (*Log, error) {
	l := &Log{Dests: map[string]*DestLog{}, APIs: map[string]*APILog{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			l.add(line)
		}
		if err == io.EOF {
			return l, nil
		}
		if err != nil {
			return l, err
		}
	}
}

// readLine returns the next line, trimmed; a line over maxLogLine comes
// back as "-" so that it is counted as skipped.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > maxLogLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return []byte("-"), err
		}
		return bytes.TrimSpace(buf), err
	}
}

func (l *Log) add(line []byte) {
	var rec record
	if line[0] != '{' || json.Unmarshal(line, &rec) != nil || rec.RequestID == "" || rec.Status == 0 || rec.Time.IsZero() {
		l.Skipped++
		return
	}
	l.Records++
	a := l.APIs[rec.API]
	if a == nil {
		a = &APILog{Failures: map[string]int{}, Details: map[string]string{}, Dests: map[string]int{}}
		l.APIs[rec.API] = a
	}
	a.Requests++
	if rec.Error != "" {
		a.Failures[rec.Error]++
		if _, ok := a.Details[rec.Error]; !ok {
			a.Details[rec.Error] = rec.Detail
		}
	}
	if rec.Destination == "" {
		return
	}
	a.Dests[rec.Destination]++
	d := l.Dests[rec.Destination]
	if d == nil {
		d = &DestLog{Verdicts: map[string]int{}, APIs: map[string]int{}}
		l.Dests[rec.Destination] = d
	}
	d.Requests++
	d.APIs[rec.API]++
	if !rec.Reused {
		d.New++
		d.newAt = append(d.newAt, rec.Time)
		if rec.ConnectMS > 0 {
			d.ConnectMS = append(d.ConnectMS, rec.ConnectMS)
		}
	}
	if rec.Verdict != "" {
		d.Verdicts[rec.Verdict]++
	}
}

// peak returns the most new connections whose start falls in any window of
// length w, and the rate over the busiest window of rateWindow (the
// ledger's new_per_second, at its peak).
func (d *DestLog) peak(w time.Duration) (inWindow int, perSecond float64) {
	ts := slices.Clone(d.newAt)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	most := func(w time.Duration) int {
		best, j := 0, 0
		for i := range ts {
			for ts[i].Sub(ts[j]) >= w {
				j++
			}
			best = max(best, i-j+1)
		}
		return best
	}
	return most(w), float64(most(rateWindow)) / rateWindow.Seconds()
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of v.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// logRules applies the request log rules.
func logRules(l *Log, opt Options) []Finding {
	var fs []Finding
	for _, name := range sortedKeys(l.Dests) {
		d := l.Dests[name]
		subj := "dest " + name
		if f := logChurn(d, subj); f != nil {
			fs = append(fs, *f)
		}
		if f := logStale(d, subj); f != nil {
			fs = append(fs, *f)
		}
		if f := logConnectTime(d, subj); f != nil {
			fs = append(fs, *f)
		}
		fs = append(fs, logPorts(d, subj, l.singleIP(name), opt)...)
	}
	for _, name := range sortedKeys(l.APIs) {
		fs = append(fs, logFailures(l.APIs[name], name)...)
	}
	return fs
}

func logChurn(d *DestLog, subj string) *Finding {
	per := ratio(float64(d.New), float64(d.Requests))
	if d.Requests < MinRequests || per < ChurnNewPerRequest {
		return nil
	}
	return &Finding{
		Rule: RuleConnectionChurn, Severity: Warning, Subject: subj, Source: "log",
		Summary: fmt.Sprintf("Connection churn: %d of %d requests (%.0f%%) opened a new connection", d.New, d.Requests, 100*per),
		Evidence: []Fact{
			{Name: "requests", Value: float64(d.Requests)},
			{Name: "new_connections", Value: float64(d.New)},
			{Name: "new_per_request", Value: per},
		},
		Mitigation: "Either keep-alive is off for this target (`keepalive_timeout: 0`), or the backend closes connections (`Connection: close`, an idle timeout shorter than the gaps between requests). " +
			"`weir doctor --admin URL` reads the close reasons from the ledger and tells which. Every new connection pays a handshake and holds an outbound port for 240 s once closed.",
	}
}

func logStale(d *DestLog, subj string) *Finding {
	n := 0
	for _, c := range d.Verdicts {
		n += c
	}
	if n == 0 {
		return nil
	}
	ev := []Fact{{Name: "requests", Value: float64(d.Requests)}}
	for _, v := range sortedKeys(d.Verdicts) {
		ev = append(ev, Fact{Name: "verdict." + v, Value: float64(d.Verdicts[v])})
	}
	return &Finding{
		Rule: RuleBackendIdleShorter, Severity: Warning, Subject: subj, Source: "log",
		Summary:  fmt.Sprintf("%d requests hit a reused connection the backend had closed (stale keep-alive)", n),
		Evidence: ev,
		Mitigation: "The backend's idle timeout is shorter than weir's `keepalive_timeout`: set this target's below the backend's, or raise the backend's. " +
			"`nothing_written` and idempotent `no_response` requests were replayed; `partial_response` ones reached the client as 502 BackendConnectionFailure.",
	}
}

func logConnectTime(d *DestLog, subj string) *Finding {
	if len(d.ConnectMS) < MinConnects {
		return nil
	}
	p95 := percentile(d.ConnectMS, 95)
	high, crit := float64(HighConnectTime.Milliseconds()), float64(CriticalConnectTime.Milliseconds())
	if p95 < high {
		return nil
	}
	sev := Warning
	if p95 >= crit {
		sev = Critical
	}
	return &Finding{
		Rule: RuleHighConnectTime, Severity: sev, Subject: subj, Source: "log",
		Summary: fmt.Sprintf("Slow connects: p95 %.0f ms over %d new connections (threshold %.0f ms)", p95, len(d.ConnectMS), high),
		Evidence: []Fact{
			{Name: "connects", Value: float64(len(d.ConnectMS))},
			{Name: "connect_p50", Value: percentile(d.ConnectMS, 50), Unit: "ms"},
			{Name: "connect_p95", Value: p95, Unit: "ms"},
			{Name: "connect_max", Value: percentile(d.ConnectMS, 100), Unit: "ms"},
		},
		Mitigation: "Connect time is TCP plus TLS (plus CONNECT through an egress proxy). Around 1 s or 3 s it is SYN retransmission: dropped SYNs at a NAT out of ports or a backend accept queue that is full; " +
			"otherwise a slow TLS handshake or a distant backend. Reuse connections so fewer requests pay it (keep-alive, a longer `keepalive_timeout`), and check the backend's listen backlog and the NAT's port usage.",
	}
}

// logPorts: the port budget and the single-IP rate, from the times of new
// connections. A log is one instance's, so one source IP is assumed.
func logPorts(d *DestLog, subj string, singleIP bool, opt Options) []Finding {
	inWindow, rate := d.peak(PortHoldSeconds * time.Second)
	budget := opt.portBudget()
	var fs []Finding
	if share := float64(inWindow) / float64(budget); share >= PortBudgetWarnShare {
		sev := Warning
		if share >= PortBudgetCriticalShare {
			sev = Critical
		}
		fs = append(fs, Finding{
			Rule: RulePortBudget, Severity: sev, Subject: subj, Source: "log",
			Summary: fmt.Sprintf("Outbound ports near exhaustion: %d new connections within 240 s, %.0f%% of the %d-port budget", inWindow, 100*share, budget),
			Evidence: []Fact{
				{Name: "new_in_240s_peak", Value: float64(inWindow)},
				{Name: "port_budget", Value: float64(budget)},
				{Name: "budget_used", Value: 100 * share, Unit: "%"},
			},
			Mitigation: "Each connection holds its (source, destination) port until 240 s after it closes. Reuse connections (keep-alive), cap them with `max_connections`, " +
				"spread over more backend IPs or `transport.source_addresses`, or raise the budget (net.ipv4.ip_local_port_range, more SNAT ports).",
		})
	}
	sustainable := float64(budget) / PortHoldSeconds
	if singleIP && rate >= SingleIPRateShare*sustainable {
		fs = append(fs, Finding{
			Rule: RuleSingleBackendIP, Severity: Warning, Subject: subj, Source: "log",
			Summary: fmt.Sprintf("%.1f new connections/s at peak to a single backend IP: %.0f%% of the %.1f/s its port range sustains",
				rate, 100*rate/sustainable, sustainable),
			Evidence: []Fact{
				{Name: "new_per_second_peak", Value: rate, Unit: "/s"},
				{Name: "sustainable_per_second", Value: sustainable, Unit: "/s"},
				{Name: "backend_ips", Value: 1},
				{Name: "port_budget", Value: float64(budget)},
			},
			Mitigation: singleIPFix,
		})
	}
	return fs
}

// singleIP reports whether every API that sent requests to dest sent all
// of them to dest's IP: the backend has one address.
func (l *Log) singleIP(dest string) bool {
	ip, _ := splitDest(dest)
	for api := range l.Dests[dest].APIs {
		for other := range l.APIs[api].Dests {
			if oip, _ := splitDest(other); oip != ip {
				return false
			}
		}
	}
	return true
}

// failureAdvice is what the failures rule says about reason, from
// failure's table: how bad (Info for the client's or a policy's doing, else
// by share) and what to do. A reason this weir has no row for (a log from
// another version) gets a warning and a pointer to the log's detail.
func failureAdvice(reason string) (Severity, string) {
	info, known := failure.Lookup(failure.Reason(reason))
	switch {
	case !known:
		return Warning, "See the request log's `detail` for this reason."
	case info.Fault == failure.ClientFault || info.Fault == failure.PolicyFault:
		return Info, info.Mitigation
	}
	return Warning, info.Mitigation
}

func logFailures(a *APILog, name string) []Finding {
	subj := "api " + name
	if name == "" {
		subj = "api (none)"
	}
	var fs []Finding
	for _, reason := range sortedKeys(a.Failures) {
		n := a.Failures[reason]
		share := ratio(float64(n), float64(a.Requests))
		sev, fix := failureAdvice(reason)
		if sev != Info && share >= FailureCriticalShare {
			sev = Critical
		}
		sum := fmt.Sprintf("%d of %d requests (%.1f%%) failed with %s", n, a.Requests, 100*share, reason)
		if d := a.Details[reason]; d != "" {
			sum += fmt.Sprintf(", e.g. %q", d)
		}
		fs = append(fs, Finding{
			Rule: RuleFailures, Severity: sev, Subject: subj, Source: "log",
			Summary: sum,
			Evidence: []Fact{
				{Name: "failures." + reason, Value: float64(n)},
				{Name: "requests", Value: float64(a.Requests)},
				{Name: "failure_share", Value: 100 * share, Unit: "%"},
			},
			Mitigation: fix,
		})
		if reason == string(failure.ConnectionLimitReached) {
			fs = append(fs, Finding{
				Rule: RuleWaitingForConns, Severity: Critical, Subject: subj, Source: "log",
				Summary: fmt.Sprintf("%d requests waited for a connection under max_connections until queue_timeout and failed (503)", n),
				Evidence: []Fact{
					{Name: "failures.ConnectionLimitReached", Value: float64(n)},
					{Name: "requests", Value: float64(a.Requests)},
				},
				Mitigation: "Raise `max_connections` if the backend has capacity, or `queue_timeout` to ride out bursts; `weir doctor --admin URL` shows waiting, active and peak_active per destination.",
			})
		}
	}
	return fs
}
