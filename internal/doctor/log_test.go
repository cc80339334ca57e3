package doctor_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/doctor"
)

// logLine is a request log line as weir writes it.
func logLine(api, dest string, reused bool, connectMS float64, errReason string) string {
	return fmt.Sprintf(`{"time":"2025-03-01T12:00:00.5Z","request_id":"r1","api":%q,"method":"GET","path":"/x","client_ip":"127.0.0.1","status":200,"bytes_in":0,"bytes_out":2,"duration_ms":1.000,"backend_duration_ms":0.500,"connect_duration_ms":%.3f,"destination":%q,"reused":%t,"error":%q,"detail":"","verdict":""}`,
		api, connectMS, dest, reused, errReason)
}

func TestReadLog(t *testing.T) {
	for _, tt := range []struct {
		name                     string
		in                       string
		records, skipped         int
		destRequests, destNew    int
		apiRequests, apiFailures int
	}{
		{"empty", "", 0, 0, 0, 0, 0, 0},
		{"one record", logLine("a", "10.0.0.1:80", false, 1.5, "") + "\n", 1, 0, 1, 1, 1, 0},
		{"no trailing newline", logLine("a", "10.0.0.1:80", true, 0, ""), 1, 0, 1, 0, 1, 0},
		{"blank lines ignored", "\n\n" + logLine("a", "10.0.0.1:80", true, 0, "") + "\n\n", 1, 0, 1, 0, 1, 0},
		{"other output skipped", "weir listening on 127.0.0.1:8080\n" + logLine("a", "10.0.0.1:80", false, 2, "") + "\n{\"msg\":\"not a record\"}\n[1,2]\n", 1, 3, 1, 1, 1, 0},
		{"truncated last line skipped", logLine("a", "10.0.0.1:80", false, 2, "") + "\n" + logLine("a", "10.0.0.1:80", false, 2, "")[:50], 1, 1, 1, 1, 1, 0},
		{"failure without destination", logLine("a", "", false, 0, "BackendConnectionFailure") + "\n", 1, 0, 0, 0, 1, 1},
		{"crlf", logLine("a", "10.0.0.1:80", false, 2, "") + "\r\n", 1, 0, 1, 1, 1, 0},
		{"line over the limit skipped", strings.Repeat("x", 2<<20) + "\n" + logLine("a", "10.0.0.1:80", false, 2, "") + "\n", 1, 1, 1, 1, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := doctor.ReadLog(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if l.Records != tt.records || l.Skipped != tt.skipped {
				t.Errorf("got records %d skipped %d, want %d %d", l.Records, l.Skipped, tt.records, tt.skipped)
			}
			var dr, dn int
			if d := l.Dests["10.0.0.1:80"]; d != nil {
				dr, dn = d.Requests, d.New
			}
			if dr != tt.destRequests || dn != tt.destNew {
				t.Errorf("dest: got requests %d new %d, want %d %d", dr, dn, tt.destRequests, tt.destNew)
			}
			var ar, af int
			if a := l.APIs["a"]; a != nil {
				ar, af = a.Requests, a.Failures["BackendConnectionFailure"]
			}
			if ar != tt.apiRequests || af != tt.apiFailures {
				t.Errorf("api: got requests %d failures %d, want %d %d", ar, af, tt.apiRequests, tt.apiFailures)
			}
		})
	}
}

// TestReadLogError: a read error is returned (with what was read so far).
func TestReadLogError(t *testing.T) {
	boom := errors.New("disk gone")
	l, err := doctor.ReadLog(errReader{data: logLine("a", "10.0.0.1:80", false, 1, "") + "\n", err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("got error %v, want %v", err, boom)
	}
	if l.Records != 1 {
		t.Errorf("got %d records before the error, want 1", l.Records)
	}
}

type errReader struct {
	data string
	err  error
}

func (r errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	return n, r.err
}

// TestLogRuleThresholds: the log rules judge only past their minimums.
func TestLogRuleThresholds(t *testing.T) {
	lines := func(n int, reused bool, connectMS float64) string {
		var b strings.Builder
		for range n {
			b.WriteString(logLine("a", "10.0.0.1:80", reused, connectMS, "") + "\n")
		}
		return b.String()
	}
	for _, tt := range []struct {
		name string
		log  string
		rule string
		want bool
	}{
		{"churn below MinRequests", lines(doctor.MinRequests-1, false, 1), doctor.RuleConnectionChurn, false},
		{"churn at MinRequests", lines(doctor.MinRequests, false, 1), doctor.RuleConnectionChurn, true},
		{"reused traffic is no churn", lines(doctor.MinRequests*2, true, 0), doctor.RuleConnectionChurn, false},
		{"slow connects below MinConnects", lines(doctor.MinConnects-1, false, 500), doctor.RuleHighConnectTime, false},
		{"slow connects at MinConnects", lines(doctor.MinConnects, false, 500), doctor.RuleHighConnectTime, true},
		{"fast connects", lines(doctor.MinConnects*4, false, 0.3), doctor.RuleHighConnectTime, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := doctor.ReadLog(strings.NewReader(tt.log))
			if err != nil {
				t.Fatal(err)
			}
			fs := doctor.Diagnose(doctor.Input{Log: l}, doctor.Options{})
			got := find(fs, want{rule: tt.rule, source: "log"}) != nil
			if got != tt.want {
				t.Errorf("finding %s: got %v, want %v; findings:\n%s", tt.rule, got, tt.want, dump(fs))
			}
		})
	}
}

func TestConnectTimeSeverity(t *testing.T) {
	var b bytes.Buffer
	for range 10 {
		b.WriteString(logLine("a", "10.0.0.1:80", false, 1020, "") + "\n") // a retransmitted SYN
	}
	l, _ := doctor.ReadLog(&b)
	f := find(doctor.Diagnose(doctor.Input{Log: l}, doctor.Options{}), want{rule: doctor.RuleHighConnectTime, source: "log"})
	if f == nil || f.Severity != doctor.Critical {
		t.Fatalf("got %+v, want a critical high_connect_time finding", f)
	}
}

func FuzzReadLog(f *testing.F) {
	f.Add([]byte(logLine("a", "10.0.0.1:80", false, 1.5, "") + "\n"))
	f.Add([]byte(logLine("", "[::1]:80", true, 0, "RouteNotFound") + "\nnoise\n\n{}\n"))
	f.Add([]byte(`{"time":"x","request_id":"r","status":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := doctor.ReadLog(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) != "" {
				lines++
			}
		}
		if l.Records+l.Skipped > lines {
			t.Fatalf("got %d records + %d skipped, more than the %d non-blank lines", l.Records, l.Skipped, lines)
		}
		// The rules must take whatever the log holds.
		_ = doctor.Diagnose(doctor.Input{Log: l}, doctor.Options{PortBudget: 1})
	})
}

// BenchmarkReadLog measures summarising a request log (a day's log can be
// millions of lines).
func BenchmarkReadLog(b *testing.B) {
	var buf bytes.Buffer
	for i := range 1000 {
		buf.WriteString(logLine("a", fmt.Sprintf("10.0.0.%d:80", i%4), i%3 != 0, 1.2, "") + "\n")
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := doctor.ReadLog(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLogFailureSeverity: the failures rule informs about the client's or
// a policy's doing, warns about the rest below 5% of an API's requests and
// is critical above; each finding says what to do.
func TestLogFailureSeverity(t *testing.T) {
	for _, tt := range []struct {
		name           string // the reason
		rare, frequent doctor.Severity
		mentions       string // in the mitigation
	}{
		{"BackendConnectionFailure", doctor.Warning, doctor.Critical, "EADDRNOTAVAIL"},
		{"BackendTimeout", doctor.Warning, doctor.Critical, "connect_timeout"},
		{"ConnectionLimitReached", doctor.Warning, doctor.Critical, "max_connections"},
		{"InternalError", doctor.Warning, doctor.Critical, "report it"},
		{"StoreUnavailable", doctor.Warning, doctor.Critical, "store"},
		{"ClientConnectionFailure", doctor.Info, doctor.Info, "499"},
		{"RouteNotFound", doctor.Info, doctor.Info, "base_path"},
		{"BadRequest", doctor.Info, doctor.Info, "dot-segments"},
		{"RateLimitExceeded", doctor.Info, doctor.Info, "rate-limit"},
		{"QuotaExceeded", doctor.Info, doctor.Info, "quota"},
		{"ReasonOfANewerWeir", doctor.Warning, doctor.Critical, "`detail`"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, share := range []struct {
				failed int
				want   doctor.Severity
			}{{1, tt.rare}, {10, tt.frequent}} {
				var log strings.Builder
				for i := range 100 {
					reason := ""
					if i < share.failed {
						reason = tt.name
					}
					log.WriteString(logLine("a", "10.0.0.1:80", true, 0, reason) + "\n")
				}
				l, err := doctor.ReadLog(strings.NewReader(log.String()))
				if err != nil {
					t.Fatal(err)
				}
				var got *doctor.Finding
				for _, f := range doctor.Diagnose(doctor.Input{Log: l}, doctor.Options{}) {
					if f.Rule == doctor.RuleFailures {
						got = &f
					}
				}
				if got == nil {
					t.Fatalf("%d of 100 failed: got no %s finding, want one", share.failed, doctor.RuleFailures)
				}
				if got.Severity != share.want {
					t.Errorf("%d of 100 failed: got severity %s, want %s", share.failed, got.Severity, share.want)
				}
				if !strings.Contains(got.Mitigation, tt.mentions) {
					t.Errorf("mitigation: got %q, want it to mention %q", got.Mitigation, tt.mentions)
				}
			}
		})
	}
}
