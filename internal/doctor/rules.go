package doctor

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/connpool"
)

// Thresholds. Ratio rules judge a destination only after MinRequests, so a
// handful of requests never makes a finding.
const (
	// MinRequests is the fewest requests a destination (or an API, in the
	// log) must have served before ratio rules (reuse, churn, closes) judge
	// it.
	MinRequests = 20

	// MinCloses is the fewest closes in the last 240 s before the
	// keep-alive-off and backend-close rules judge a destination: with
	// keep-alive on and sparse traffic, an idle connection closes at most
	// every keepalive_timeout (60 s by default), so fewer than this many
	// closes in 240 s cannot be a connection per request.
	MinCloses = 10

	// KeepaliveOffCloseShare is the share of closes that must be weir's
	// own idle_timeout (which is also the reason counted when keep-alive is
	// off and a connection closes after its one exchange) for a destination
	// with no reuse at all to be judged keep-alive off.
	KeepaliveOffCloseShare = 0.9

	// BackendCloseShare is the share of requests after which the backend
	// closed the connection (closed_by_reason.backend_close / requests)
	// above which the backend is judged to refuse keep-alive.
	BackendCloseShare = 0.5

	// LowReuseRatio is the reuse ratio below which backend closes are
	// judged to cost a handshake per request.
	LowReuseRatio = 0.5

	// ChurnNewPerRequest is the new connections per request at or above
	// which a destination churns connections (1 = one per request).
	ChurnNewPerRequest = 0.5

	// DefaultPortBudget is the ports one (source IP, destination) tuple can
	// use on Linux by default: net.ipv4.ip_local_port_range 32768-60999.
	DefaultPortBudget = 28232

	// PortHoldSeconds is how long a closed connection keeps its port: the
	// ledger's closed_last_240s window (TIME_WAIT, a NAT's hold).
	PortHoldSeconds = 240

	// PortBudgetWarnShare is the share of the port budget held (open plus
	// closed in the last 240 s) at which port_budget warns.
	PortBudgetWarnShare = 0.5

	// PortBudgetCriticalShare is the share at which port_budget is
	// critical: a burst away from EADDRNOTAVAIL or dropped SYNs at a NAT.
	PortBudgetCriticalShare = 0.8

	// SingleIPRateShare is the share of the sustainable new-connection rate
	// (port budget / 240 s per source IP) above which new connections to an
	// endpoint with a single backend IP are a finding: they all draw on one
	// port range.
	SingleIPRateShare = 0.25

	// HighConnectTime is the 95th percentile connect time (TCP + TLS) above
	// which connects are judged slow. On a LAN a connect takes well under
	// 10 ms; across regions, tens of ms.
	HighConnectTime = 100 * time.Millisecond

	// CriticalConnectTime is the 95th percentile connect time above which
	// SYNs are being dropped and retransmitted (Linux retransmits a SYN
	// after 1 s): the classic symptom of SNAT port exhaustion or a full
	// accept queue.
	CriticalConnectTime = time.Second

	// MinConnects is the fewest new connections in the log before the
	// connect-time rule judges a destination.
	MinConnects = 5

	// FailureCriticalShare is the share of an API's requests failing for
	// one reason at or above which the failure is critical (below it, a
	// warning).
	FailureCriticalShare = 0.05
)

// poolRules applies the ledger rules to every pool, and the config rules
// to every API.
func poolRules(pools []connpool.Stats, apis []API, instances int, opt Options) []Finding {
	var fs []Finding
	byDest := make(map[string]*connpool.Stats, len(pools))
	for i := range pools {
		byDest[pools[i].Dest] = &pools[i]
	}
	// The config saying keep-alive is off is the finding; the ledger's
	// inference for the same destinations would repeat it.
	offInConfig := map[string]bool{}
	keepalive := map[string]int64{} // dest -> the shortest keepalive_timeout_ms of the APIs using it
	for _, a := range apis {
		if f := configKeepaliveOff(a, byDest); f != nil {
			fs = append(fs, *f)
		}
		for _, d := range a.Destinations {
			if a.KeepaliveTimeoutMS == 0 {
				offInConfig[d] = true
			}
			if k, ok := keepalive[d]; !ok || a.KeepaliveTimeoutMS < k {
				keepalive[d] = a.KeepaliveTimeoutMS
			}
		}
	}
	for i := range pools {
		s := &pools[i]
		off := keepaliveDisabled(s)
		if offInConfig[s.Dest] {
			off = nil
		}
		closes := backendCloses(s)
		k, known := keepalive[s.Dest]
		for _, f := range []*Finding{off, closes, backendIdleShorter(s, k, known), portBudget(s, opt, instances), waiting(s)} {
			if f != nil {
				fs = append(fs, *f)
			}
		}
		if off == nil && closes == nil && !offInConfig[s.Dest] {
			// Churn with a named cause is that cause's finding.
			if f := churn(s); f != nil {
				fs = append(fs, *f)
			}
		}
	}
	return append(fs, singleBackendIP(pools, singleIPDests(pools, apis), opt)...)
}

// configKeepaliveOff: the serving config turns keep-alive off for an API.
func configKeepaliveOff(a API, byDest map[string]*connpool.Stats) *Finding {
	if a.KeepaliveTimeoutMS != 0 {
		return nil
	}
	var req, opened uint64
	var recent int64
	for _, d := range a.Destinations {
		if s := byDest[d]; s != nil {
			req += s.RequestsTotal
			opened += s.OpenedTotal
			recent += s.ClosedLast240s
		}
	}
	return &Finding{
		Rule: RuleKeepaliveDisabled, Severity: Warning, Subject: "api " + a.Name, Source: "apis",
		Summary: fmt.Sprintf("Keep-alive is off in the config (keepalive_timeout 0): every request to its %d destination(s) opens a new connection; %d opened for %d requests",
			len(a.Destinations), opened, req),
		Evidence: []Fact{
			{Name: "keepalive_timeout_ms", Value: 0, Unit: "ms"},
			{Name: "destinations", Value: float64(len(a.Destinations))},
			{Name: "requests_total", Value: float64(req)},
			{Name: "opened_total", Value: float64(opened)},
			{Name: "closed_last_240s", Value: float64(recent)},
		},
		Mitigation: keepaliveFix,
	}
}

const keepaliveFix = "Turn keep-alive on for this target: remove `keepalive_timeout: 0` (or `keepalive.timeout.millis: 0`) from its transport, or set it to the backend's idle timeout minus a margin (default 60s). " +
	"Each request now pays a TCP (and TLS) handshake, and each closed connection holds an outbound port for 240 s."

func destSubject(s *connpool.Stats) string { return "dest " + s.Dest }

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// keepaliveDisabled: no connection ever reused, and (nearly) every close
// is weir's own idle_timeout, many of them recently: a connection per
// request, closed by weir right after its exchange.
func keepaliveDisabled(s *connpool.Stats) *Finding {
	idleCloses := s.ClosedByReason[connpool.IdleTimeout.String()]
	if s.RequestsTotal < MinRequests || s.ReusedTotal != 0 || s.Idle != 0 ||
		s.ClosedLast240s < MinCloses ||
		float64(idleCloses) < KeepaliveOffCloseShare*float64(s.ClosedTotal) {
		return nil
	}
	return &Finding{
		Rule:     RuleKeepaliveDisabled,
		Severity: Warning,
		Subject:  destSubject(s),
		Source:   "pools",
		Summary: fmt.Sprintf("Keep-alive is off: none of %d requests reused a connection and %d of %d closes were weir's own right after the exchange",
			s.RequestsTotal, idleCloses, s.ClosedTotal),
		Evidence: []Fact{
			{Name: "requests_total", Value: float64(s.RequestsTotal)},
			{Name: "opened_total", Value: float64(s.OpenedTotal)},
			{Name: "reuse_ratio", Value: s.ReuseRatio},
			{Name: "closed_by_reason.idle_timeout", Value: float64(idleCloses)},
			{Name: "closed_last_240s", Value: float64(s.ClosedLast240s)},
			{Name: "new_per_second", Value: s.NewPerSecond, Unit: "/s"},
		},
		Mitigation: keepaliveFix,
	}
}

// backendCloses: the backend closed the connection after most requests,
// so few are reused.
func backendCloses(s *connpool.Stats) *Finding {
	bc := s.ClosedByReason[connpool.BackendClose.String()]
	share := ratio(float64(bc), float64(s.RequestsTotal))
	if s.RequestsTotal < MinRequests || s.ClosedLast240s < MinCloses || share < BackendCloseShare || s.ReuseRatio >= LowReuseRatio {
		return nil
	}
	return &Finding{
		Rule:     RuleBackendCloses,
		Severity: Warning,
		Subject:  destSubject(s),
		Source:   "pools",
		Summary: fmt.Sprintf("The backend closes connections: %d closes after %d requests (%.0f%%), reuse ratio %.2f",
			bc, s.RequestsTotal, 100*share, s.ReuseRatio),
		Evidence: []Fact{
			{Name: "requests_total", Value: float64(s.RequestsTotal)},
			{Name: "closed_by_reason.backend_close", Value: float64(bc)},
			{Name: "backend_close_share", Value: 100 * share, Unit: "%"},
			{Name: "reuse_ratio", Value: s.ReuseRatio},
			{Name: "closed_last_240s", Value: float64(s.ClosedLast240s)},
			{Name: "learned_idle_timeout_ms", Value: float64(s.LearnedIdleTimeoutMS), Unit: "ms"},
		},
		Mitigation: "The backend answers `Connection: close`, speaks HTTP/1.0, or closes connections right after a response. " +
			"Enable keep-alive on the backend (its server's keep-alive or idle timeout; a load balancer in front of it may strip it). " +
			"weir cannot reuse a connection the backend closes.",
	}
}

// backendIdleShorter: the backend closed idle connections before weir
// would have (a learned idle term), or reused connections turned out
// stale and requests were replayed.
// keepaliveMS is weir's keepalive_timeout for the destination when known.
func backendIdleShorter(s *connpool.Stats, keepaliveMS int64, known bool) *Finding {
	var replays uint64
	for _, n := range s.Replays {
		replays += n
	}
	stale := s.ClosedByReason[connpool.StaleOnReuse.String()]
	if s.LearnedIdleTimeoutMS == 0 && replays == 0 && stale == 0 {
		return nil
	}
	sev := Info
	if replays > 0 || stale > 0 {
		sev = Warning
	}
	var sum string
	if s.LearnedIdleTimeoutMS > 0 {
		sum = fmt.Sprintf("The backend closes idle connections after about %d ms, before weir's keep-alive does", s.LearnedIdleTimeoutMS)
	} else {
		sum = "Reused connections were found closed by the backend"
	}
	if replays > 0 || stale > 0 {
		sum += fmt.Sprintf("; %d reused connections failed stale and %d requests were replayed", stale, replays)
	}
	ev := []Fact{
		{Name: "learned_idle_timeout_ms", Value: float64(s.LearnedIdleTimeoutMS), Unit: "ms"},
		{Name: "announced_keepalive_ms", Value: float64(s.AnnouncedKeepaliveMS), Unit: "ms"},
	}
	if known {
		ev = append(ev, Fact{Name: "keepalive_timeout_ms", Value: float64(keepaliveMS), Unit: "ms"})
	}
	ev = append(ev, []Fact{
		{Name: "closed_by_reason.backend_close", Value: float64(s.ClosedByReason[connpool.BackendClose.String()])},
		{Name: "closed_by_reason.stale_on_reuse", Value: float64(stale)},
	}...)
	for _, v := range sortedKeys(s.Replays) {
		ev = append(ev, Fact{Name: "replays." + v, Value: float64(s.Replays[v])})
	}
	return &Finding{
		Rule: RuleBackendIdleShorter, Severity: sev, Subject: destSubject(s), Source: "pools",
		Summary:  sum,
		Evidence: ev,
		Mitigation: "Set this target's `keepalive_timeout` below the backend's idle timeout (the learned figure minus a margin), or raise the backend's idle timeout above weir's. " +
			"weir retires connections a margin before the learned term once it has seen one close; a `partial_response` verdict is never replayed and reaches the client as a 502.",
	}
}

// churn: many new connections per request for another reason than
// keep-alive off or backend closes (max_requests, max_lifetime, errors,
// idle connections evicted by max_idle).
func churn(s *connpool.Stats) *Finding {
	per := ratio(float64(s.OpenedTotal), float64(s.RequestsTotal))
	if s.RequestsTotal < MinRequests || per < ChurnNewPerRequest {
		return nil
	}
	ev := []Fact{
		{Name: "requests_total", Value: float64(s.RequestsTotal)},
		{Name: "opened_total", Value: float64(s.OpenedTotal)},
		{Name: "new_per_request", Value: per},
		{Name: "new_per_second", Value: s.NewPerSecond, Unit: "/s"},
		{Name: "closed_last_240s", Value: float64(s.ClosedLast240s)},
	}
	top, topN := "", uint64(0)
	for _, r := range sortedKeys(s.ClosedByReason) {
		n := s.ClosedByReason[r]
		if n == 0 {
			continue
		}
		ev = append(ev, Fact{Name: "closed_by_reason." + r, Value: float64(n)})
		if n > topN {
			top, topN = r, n
		}
	}
	fix := map[string]string{
		"max_requests":   "Most closes are `max_requests_per_connection` (or the backend's `Keep-Alive: max`): raise it, or remove it.",
		"max_lifetime":   "Most closes are `max_connection_lifetime`: raise it to minutes, not seconds.",
		"idle_timeout":   "Most closes are idle timeouts: bursts leave more idle connections than `max_idle` keeps, or `keepalive_timeout` is shorter than the gaps between requests; raise them.",
		"error":          "Most closes are errors: see the failures finding and the request log's `detail`.",
		"stale_on_reuse": "Most closes are stale reuses: the backend closes idle connections early; see backend_idle_shorter.",
	}[top]
	if fix == "" {
		fix = "See closed_by_reason for what closes the connections."
	}
	return &Finding{
		Rule: RuleConnectionChurn, Severity: Warning, Subject: destSubject(s), Source: "pools",
		Summary:    fmt.Sprintf("Connection churn: %.2f new connections per request (%d opened for %d requests)", per, s.OpenedTotal, s.RequestsTotal),
		Evidence:   ev,
		Mitigation: fix + " Every new connection pays a handshake and, once closed, holds an outbound port for 240 s.",
	}
}

// portBudget: ports held (open connections plus those closed in the last
// 240 s) against the budget of every source IP. The ledger is this
// instance's: with others serving the same backend (instances > 1), the
// finding says how many share it.
func portBudget(s *connpool.Stats, opt Options, instances int) *Finding {
	budget := opt.portBudget()
	nsrc := sourceIPs(s)
	held := s.ClosedLast240s + int64(s.Active+s.Idle+s.Dialing)
	capacity := float64(budget * nsrc)
	share := float64(held) / capacity
	if share < PortBudgetWarnShare {
		return nil
	}
	sev := Warning
	if share >= PortBudgetCriticalShare {
		sev = Critical
	}
	f := &Finding{
		Rule: RulePortBudget, Severity: sev, Subject: destSubject(s), Source: "pools",
		Summary: fmt.Sprintf("Outbound ports near exhaustion: %d of %.0f ports held (%.0f%%) to this destination",
			held, capacity, 100*share),
		Evidence: []Fact{
			{Name: "closed_last_240s", Value: float64(s.ClosedLast240s)},
			{Name: "open", Value: float64(s.Active + s.Idle + s.Dialing)},
			{Name: "ports_held", Value: float64(held)},
			{Name: "port_budget", Value: float64(budget)},
			{Name: "source_ips", Value: float64(nsrc)},
			{Name: "budget_used", Value: 100 * share, Unit: "%"},
			{Name: "new_per_second", Value: s.NewPerSecond, Unit: "/s"},
		},
		Mitigation: "Each closed connection holds its (source, destination) port for 240 s (TIME_WAIT, NAT). Reuse connections (keep-alive on, see the other findings), " +
			"cap them with `max_connections`, spread over more backend IPs or `transport.source_addresses`, or raise the budget (net.ipv4.ip_local_port_range, more SNAT ports). " +
			"At the limit, connects fail (`local ports exhausted (EADDRNOTAVAIL)`) or time out.",
	}
	if instances > 1 {
		f.Summary += fmt.Sprintf(", on this instance of %d", instances)
		f.Evidence = append(f.Evidence, Fact{Name: "instances", Value: float64(instances)})
		f.Mitigation += fmt.Sprintf(" %d instances serve this backend, each with its own ledger: if they leave through one NAT address, they share its ports and together hold about %d.", instances, held*int64(instances))
	}
	return f
}

// waiting: requests queue for a connection under max_connections, or the
// cap was reached.
func waiting(s *connpool.Stats) *Finding {
	if s.MaxConnections == 0 || (s.Waiting == 0 && s.PeakActive < s.MaxConnections) {
		return nil
	}
	sev, sum := Info, fmt.Sprintf("The connection cap was reached: peak %d active of max_connections %d", s.PeakActive, s.MaxConnections)
	if s.Waiting > 0 {
		sev = Warning
		sum = fmt.Sprintf("%d requests are waiting for a connection under max_connections %d", s.Waiting, s.MaxConnections)
	}
	return &Finding{
		Rule: RuleWaitingForConns, Severity: sev, Subject: destSubject(s), Source: "pools",
		Summary: sum,
		Evidence: []Fact{
			{Name: "waiting", Value: float64(s.Waiting)},
			{Name: "active", Value: float64(s.Active)},
			{Name: "dialing", Value: float64(s.Dialing)},
			{Name: "max_connections", Value: float64(s.MaxConnections)},
			{Name: "peak_active", Value: float64(s.PeakActive)},
		},
		Mitigation: "Requests queue (FIFO) for up to `queue_timeout`, then fail with 503 ConnectionLimitReached. Raise `max_connections` if the backend has capacity, " +
			"or find why the backend holds connections long (slow responses: compare backend_duration_ms in the request log).",
	}
}

// singleIPDests returns the destinations whose endpoint has a single
// backend IP. From the config: every API using the destination reaches
// one IP only. Without it: pools of one endpoint share a dial profile (it
// names the endpoint's host), so a profile seen with one IP is one
// endpoint with one address; pools without a profile are grouped by port
// and server name.
func singleIPDests(pools []connpool.Stats, apis []API) map[string]bool {
	single := map[string]bool{}
	if len(apis) > 0 {
		for _, a := range apis {
			ips := map[string]bool{}
			for _, d := range a.Destinations {
				ip, _ := splitDest(d)
				ips[ip] = true
			}
			for _, d := range a.Destinations {
				prev, seen := single[d]
				single[d] = len(ips) == 1 && (!seen || prev)
			}
		}
		return single
	}
	groups := map[string]map[string]bool{} // group -> IPs
	key := func(s *connpool.Stats) (string, string) {
		ip, rest := splitDest(s.Dest)
		if s.Profile != "" {
			return s.Profile, ip
		}
		return "|" + rest, ip
	}
	for i := range pools {
		if pools[i].Draining {
			continue
		}
		k, ip := key(&pools[i])
		if groups[k] == nil {
			groups[k] = map[string]bool{}
		}
		groups[k][ip] = true
	}
	for i := range pools {
		k, _ := key(&pools[i])
		single[pools[i].Dest] = len(groups[k]) == 1
	}
	return single
}

// singleBackendIP: an endpoint with a single backend IP opens new
// connections fast: they all draw on one port range per source IP.
func singleBackendIP(pools []connpool.Stats, single map[string]bool, opt Options) []Finding {
	var fs []Finding
	for i := range pools {
		s := &pools[i]
		if s.Draining || !single[s.Dest] {
			continue
		}
		nsrc := sourceIPs(s)
		sustainable := float64(opt.portBudget()*nsrc) / PortHoldSeconds
		if s.NewPerSecond < SingleIPRateShare*sustainable {
			continue
		}
		fs = append(fs, Finding{
			Rule: RuleSingleBackendIP, Severity: Warning, Subject: destSubject(s), Source: "pools",
			Summary: fmt.Sprintf("%.1f new connections/s to a single backend IP: %.0f%% of the %.1f/s its port range sustains",
				s.NewPerSecond, 100*s.NewPerSecond/sustainable, sustainable),
			Evidence: []Fact{
				{Name: "new_per_second", Value: s.NewPerSecond, Unit: "/s"},
				{Name: "sustainable_per_second", Value: sustainable, Unit: "/s"},
				{Name: "backend_ips", Value: 1},
				{Name: "source_ips", Value: float64(nsrc)},
				{Name: "port_budget", Value: float64(opt.portBudget())},
			},
			Mitigation: singleIPFix,
		})
	}
	return fs
}

const singleIPFix = "All new connections to this backend share one (source IP, backend IP, port) range, and each holds its port for 240 s after closing. " +
	"Reuse connections instead (keep-alive), or spread them: a host name with several A/AAAA records (each IP is its own destination), more endpoints, or `transport.source_addresses`."

// sourceIPs is how many local source IPs the pool's connections use (at
// least 1): each has its own port range to the destination.
func sourceIPs(s *connpool.Stats) int {
	n := 0
	for _, src := range s.Sources {
		if src.SourceIP != "" {
			n++
		}
	}
	return max(n, 1)
}

// splitDest splits "ip:port[/name]" into the IP and "port[/name]".
func splitDest(d string) (ip, rest string) {
	name := ""
	if i := strings.IndexByte(d, '/'); i >= 0 {
		d, name = d[:i], d[i:]
	}
	i := strings.LastIndexByte(d, ':')
	if i < 0 {
		return d, name
	}
	return d[:i], d[i+1:] + name
}

func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
