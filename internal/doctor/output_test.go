package doctor_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/doctor"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// sampleReport has one finding per severity, out of order.
func sampleReport() doctor.Report {
	fs := []doctor.Finding{
		{
			Rule: doctor.RuleBackendIdleShorter, Severity: doctor.Info, Subject: "dest 10.0.0.5:8080", Source: "pools",
			Summary:    "The backend closes idle connections after about 4000 ms, before weir's keep-alive does",
			Evidence:   []doctor.Fact{{Name: "learned_idle_timeout_ms", Value: 4000, Unit: "ms"}, {Name: "keepalive_timeout_ms", Value: 60000, Unit: "ms"}},
			Mitigation: "Set this target's `keepalive_timeout` below the backend's idle timeout.",
		},
		{
			Rule: doctor.RulePortBudget, Severity: doctor.Critical, Subject: "dest 10.0.0.5:8080", Source: "pools",
			Summary:    "Outbound ports near exhaustion: 24000 of 28232 ports held (85%) to this destination",
			Evidence:   []doctor.Fact{{Name: "closed_last_240s", Value: 23990}, {Name: "ports_held", Value: 24000}, {Name: "budget_used", Value: 85.00920373, Unit: "%"}},
			Mitigation: "Reuse connections.",
		},
		{
			Rule: doctor.RuleKeepaliveDisabled, Severity: doctor.Warning, Subject: "api orders", Source: "apis",
			Summary:    "Keep-alive is off in the config (keepalive_timeout 0)",
			Evidence:   []doctor.Fact{{Name: "keepalive_timeout_ms", Value: 0, Unit: "ms"}, {Name: "reuse_ratio", Value: 1.0 / 3}},
			Mitigation: "Turn keep-alive on for this target.",
		},
	}
	doctor.Sort(fs)
	return doctor.Report{
		Source: "http://127.0.0.1:9901 + weir.log", GeneratedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Pools: 2, LogRecords: 1200, LogSkipped: 3, Findings: fs,
	}
}

func TestOutputGolden(t *testing.T) {
	for _, tt := range []struct {
		name  string
		file  string
		write func(*bytes.Buffer, doctor.Report) error
		rep   doctor.Report
	}{
		{"text", "report.txt.golden", func(b *bytes.Buffer, r doctor.Report) error { return doctor.WriteText(b, r) }, sampleReport()},
		{"json", "report.json.golden", func(b *bytes.Buffer, r doctor.Report) error { return doctor.WriteJSON(b, r) }, sampleReport()},
		{"text, no findings", "empty.txt.golden", func(b *bytes.Buffer, r doctor.Report) error { return doctor.WriteText(b, r) },
			doctor.Report{Source: "http://127.0.0.1:9901", Pools: 1, Findings: []doctor.Finding{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b, tt.rep); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", b.Bytes(), path, want)
			}
		})
	}
}

// TestJSONRoundTrip: what --json writes decodes back to the same report.
func TestJSONRoundTrip(t *testing.T) {
	rep := sampleReport()
	var b bytes.Buffer
	if err := doctor.WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var got doctor.Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Findings) != 3 || got.Findings[0].Severity != doctor.Critical || got.Findings[2].Severity != doctor.Info {
		t.Fatalf("got findings %+v, want critical first and info last", got.Findings)
	}
	if got.Findings[1].Evidence[1].Value != rep.Findings[1].Evidence[1].Value {
		t.Errorf("got evidence %v, want %v", got.Findings[1].Evidence, rep.Findings[1].Evidence)
	}
}

func TestSort(t *testing.T) {
	fs := []doctor.Finding{
		{Rule: doctor.RuleConnectionChurn, Severity: doctor.Warning, Subject: "dest b"},
		{Rule: doctor.RuleHighConnectTime, Severity: doctor.Critical, Subject: "dest a"},
		{Rule: doctor.RuleKeepaliveDisabled, Severity: doctor.Warning, Subject: "dest z"},
		{Rule: doctor.RuleConnectionChurn, Severity: doctor.Warning, Subject: "dest a"},
		{Rule: doctor.RuleBackendIdleShorter, Severity: doctor.Info, Subject: "dest a"},
	}
	doctor.Sort(fs)
	want := []string{"high_connect_time dest a", "keepalive_disabled dest z", "connection_churn dest a", "connection_churn dest b", "backend_idle_shorter dest a"}
	for i, f := range fs {
		if got := f.Rule + " " + f.Subject; got != want[i] {
			t.Errorf("position %d: got %q, want %q", i, got, want[i])
		}
	}
	if w, ok := doctor.Worst(fs); !ok || w != doctor.Critical {
		t.Errorf("Worst: got %s %v, want critical true", w, ok)
	}
	if _, ok := doctor.Worst(nil); ok {
		t.Errorf("Worst(nil): got ok, want !ok")
	}
}

func TestSeverityText(t *testing.T) {
	for _, tt := range []struct {
		name string
		sev  doctor.Severity
		text string
	}{
		{"info", doctor.Info, "info"},
		{"warning", doctor.Warning, "warning"},
		{"critical", doctor.Critical, "critical"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := tt.sev.MarshalText()
			if string(b) != tt.text {
				t.Errorf("MarshalText: got %q, want %q", b, tt.text)
			}
			var s doctor.Severity
			if err := s.UnmarshalText(b); err != nil || s != tt.sev {
				t.Errorf("UnmarshalText(%q): got %v %v, want %v", b, s, err, tt.sev)
			}
		})
	}
	var s doctor.Severity
	if err := s.UnmarshalText([]byte("fatal")); err == nil {
		t.Errorf("UnmarshalText(fatal): got nil error, want one")
	}
}

func TestFormatValue(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    float64
		want string
	}{
		{"integer", 28232, "28232"},
		{"zero", 0, "0"},
		{"third", 1.0 / 3, "0.333"},
		{"rounds", 2.4996, "2.5"},
		{"negative", -1.5, "-1.5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := doctor.FormatValue(tt.v); got != tt.want {
				t.Errorf("FormatValue(%v): got %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}
