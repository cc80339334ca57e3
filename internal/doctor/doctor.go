// Package doctor names the cause of weir's backend-edge trouble. It reads
// what a running instance shows (the port ledger of GET /pools) and what
// it logged (the request log), applies a fixed set of rules, and returns
// findings, each with the evidence (figures) that triggered it and the
// mitigation, most severe first. `weir doctor` prints them; the admin
// API's GET /doctor serves them to the status page.
//
// It imports connpool (the ledger's shape) and failure (the reason names)
// only: nothing that serves traffic, so admin can import it.
package doctor

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/weirgw/weir/internal/connpool"
)

// Severity ranks a finding. Higher is worse.
type Severity int

// Severities.
const (
	// Info is a fact worth knowing that needs no action now.
	Info Severity = iota
	// Warning is a misconfiguration or a trend that costs latency or
	// ports and will fail under more load.
	Warning
	// Critical is failing requests, or about to.
	Critical
)

var severityNames = [...]string{"info", "warning", "critical"}

// String returns the stable name: "info", "warning" or "critical".
func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "unknown"
}

// MarshalText encodes s as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a name written by MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("doctor: unknown severity %q", b)
}

// Rule names, stable: they appear in the text and JSON output and the
// status page.
const (
	RuleKeepaliveDisabled  = "keepalive_disabled"
	RuleBackendCloses      = "backend_closes"
	RuleBackendIdleShorter = "backend_idle_shorter"
	RuleConnectionChurn    = "connection_churn"
	RulePortBudget         = "port_budget"
	RuleWaitingForConns    = "waiting_for_connections"
	RuleHighConnectTime    = "high_connect_time"
	RuleSingleBackendIP    = "single_backend_ip"
	RuleFailures           = "failures"
)

// ruleOrder breaks severity ties: causes before their symptoms.
var ruleOrder = map[string]int{
	RulePortBudget: 0, RuleFailures: 1, RuleWaitingForConns: 2, RuleKeepaliveDisabled: 3,
	RuleBackendCloses: 4, RuleBackendIdleShorter: 5, RuleSingleBackendIP: 6,
	RuleConnectionChurn: 7, RuleHighConnectTime: 8,
}

// Fact is one figure of a finding's evidence.
type Fact struct {
	Name  string  `json:"name"`           // the ledger or log field it comes from, e.g. "closed_last_240s"
	Value float64 `json:"value"`          // the figure
	Unit  string  `json:"unit,omitempty"` // "ms", "/s", "%" (0..100) or "" for counts and ratios
}

// Finding is one diagnosed problem.
type Finding struct {
	Rule     string   `json:"rule"`     // one of the Rule* names
	Severity Severity `json:"severity"` // "info", "warning", "critical"
	// Subject is what the finding is about: "dest 10.0.0.5:8080" (a
	// destination pool) or "api orders" (an API, from the request log).
	Subject    string `json:"subject"`
	Source     string `json:"source"`     // "pools" (the ledger) or "log" (the request log)
	Summary    string `json:"summary"`    // one sentence: what is wrong, with the key figure
	Evidence   []Fact `json:"evidence"`   // the figures the rule read
	Mitigation string `json:"mitigation"` // what to change, and where
}

// Options tune the rules to the deployment.
type Options struct {
	// PortBudget is how many ports one (source IP, destination) tuple may
	// hold at once: connections open plus those closed in the last 240 s.
	// 0 means DefaultPortBudget (Linux's default ephemeral range). Behind a
	// NAT with a smaller allocation (a cloud SNAT gives 64 to 1024 ports
	// per instance and destination), set that number.
	PortBudget int
}

func (o Options) portBudget() int {
	if o.PortBudget > 0 {
		return o.PortBudget
	}
	return DefaultPortBudget
}

// Input is what the rules read. Any part may be empty.
type Input struct {
	// Pools is the port ledger (GET /pools).
	Pools []connpool.Stats
	// APIs is the serving config as routed (GET /apis): which
	// destinations each API uses and its effective transport. Without it
	// the rules infer keep-alive and backend IPs from the ledger alone.
	APIs []API
	// Log is a summarised request log (ReadLog); nil when none was read.
	Log *Log
	// Instances is how many instances serve the same backends (GET
	// /status); 0 or 1: this one alone. Each has its own ledger.
	Instances int
}

// API is what the rules read of one API's serving config (GET /apis).
type API struct {
	Name string `json:"name"`
	// Destinations are the pools the API's target uses ("ip:port" as in
	// connpool.Stats.Dest).
	Destinations []string `json:"destinations"`
	// KeepaliveTimeoutMS is the effective keepalive_timeout; 0 = off.
	KeepaliveTimeoutMS int64 `json:"keepalive_timeout_ms"`
	// MaxConnections is the effective max_connections; 0 = unlimited.
	MaxConnections int `json:"max_connections"`
}

// Report is the output of one diagnosis.
type Report struct {
	Source      string    `json:"source"`       // where the input came from: an admin URL, a log file
	GeneratedAt time.Time `json:"generated_at"` // when the diagnosis ran
	Pools       int       `json:"pools"`        // destination pools read
	LogRecords  int       `json:"log_records"`  // request log records read
	LogSkipped  int       `json:"log_skipped"`  // log lines that were not request records
	Findings    []Finding `json:"findings"`     // most severe first; never null
}

// Diagnose applies every rule to in and returns the findings, most severe
// first (then causes before symptoms, then by subject).
func Diagnose(in Input, opt Options) []Finding {
	fs := []Finding{}
	fs = append(fs, poolRules(in.Pools, in.APIs, in.Instances, opt)...)
	if in.Log != nil {
		fs = append(fs, logRules(in.Log, opt)...)
	}
	Sort(fs)
	return fs
}

// NewReport diagnoses in and wraps the findings with where they came from.
func NewReport(source string, in Input, opt Options, now time.Time) Report {
	r := Report{Source: source, GeneratedAt: now.UTC(), Pools: len(in.Pools), Findings: Diagnose(in, opt)}
	if in.Log != nil {
		r.LogRecords, r.LogSkipped = in.Log.Records, in.Log.Skipped
	}
	return r
}

// Sort orders findings most severe first, then causes before symptoms,
// then by subject.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := cmp.Compare(ruleOrder[a.Rule], ruleOrder[b.Rule]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return cmp.Compare(a.Source, b.Source)
	})
}

// Worst returns the highest severity among fs, and false when fs is empty.
func Worst(fs []Finding) (Severity, bool) {
	if len(fs) == 0 {
		return Info, false
	}
	w := Info
	for _, f := range fs {
		w = max(w, f.Severity)
	}
	return w, true
}
