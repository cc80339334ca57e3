package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDoctorCommand runs the real `weir doctor` on the request log of a
// real `weir run` whose backend answers Connection: close and whose "dead"
// API points at a closed port.
func TestDoctorCommand(t *testing.T) {
	g := startGateway(t, startDemoBackend(t))
	c := &http.Client{Timeout: 5 * time.Second}
	get := func(path string, n int) {
		for range n {
			resp, err := c.Get("http://" + g.addr + path)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	get("/hello/close", 25)
	get("/dead/x", 3)
	// The log is written as each request ends; the last line is there
	// once its request id can be read back.
	deadline := time.Now().Add(5 * time.Second)
	var out []byte
	var code int
	for {
		cmd := exec.Command(e2eBin, "doctor", "-log", g.logPath, "-json")
		var err error
		out, err = cmd.Output()
		var ee *exec.ExitError
		switch {
		case err == nil:
			code = 0
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatal(err)
		}
		if strings.Contains(string(out), `"log_records": 28`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 1 {
		t.Errorf("exit code: got %d, want 1 (findings at warning or above)", code)
	}
	var rep struct {
		LogRecords int `json:"log_records"`
		Findings   []struct {
			Rule, Severity, Subject, Source, Summary string
		} `json:"findings"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("weir doctor -json: %v\n%s", err, out)
	}
	if rep.LogRecords != 28 {
		t.Errorf("log_records: got %d, want 28", rep.LogRecords)
	}
	has := func(rule, subject, severity string) bool {
		for _, f := range rep.Findings {
			if f.Rule == rule && strings.HasPrefix(f.Subject, subject) && f.Severity == severity {
				return true
			}
		}
		return false
	}
	for _, w := range []struct{ rule, subject, severity string }{
		{"failures", "api dead", "critical"},
		{"connection_churn", "dest 127.0.0.1:", "warning"},
	} {
		if !has(w.rule, w.subject, w.severity) {
			t.Errorf("got findings %+v, want %s on %s (%s)", rep.Findings, w.rule, w.subject, w.severity)
		}
	}
	if rep.Findings[0].Severity != "critical" {
		t.Errorf("first finding: got %s, want the critical one first", rep.Findings[0].Severity)
	}

	help, err := exec.Command(e2eBin, "doctor", "--help").Output()
	if err != nil || !strings.Contains(string(help), "weir doctor [-admin URL]") {
		t.Errorf("weir doctor --help: got %q %v, want the usage", help, err)
	}
}
