package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{"no command", nil, 2, "", "Usage:"},
		{"help", []string{"help"}, 0, "Usage:", ""},
		{"unknown", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"run help", []string{"run", "-help"}, 0, "-scenarios", ""},
		{"run bad flag", []string{"run", "-bogus"}, 2, "", "-bogus"},
		{"run bad scenario", []string{"run", "-scenarios", "1,9"}, 2, "", `"9" is not 1-7`},
		{"load unbounded", []string{"load", "-url", "http://127.0.0.1:1/", "-duration", "0s"}, 1, "", "duration and timeout must be > 0"},
		{"sample bad prefix", []string{"sample", "-dst", "nope"}, 2, "", "-dst"},
		{"sysctl bad", []string{"sysctl", "no-equals"}, 1, "", "want key=value"},
		{"get usage", []string{"get"}, 2, "", "usage: weirlab get URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("got exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q: want it to contain %q", stdout.String(), tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q: want it to contain %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// TestLoadCommand: the load subcommand prints its result as one JSON line.
func TestLoadCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	var stdout, stderr strings.Builder
	code := run([]string{"load", "-url", srv.URL, "-n", "20", "-c", "2"}, &stdout, &stderr)
	var res struct {
		Sent, OK int
	}
	if code != 0 || json.Unmarshal([]byte(stdout.String()), &res) != nil || res.Sent != 20 || res.OK != 20 {
		t.Errorf("got exit %d, output %q (%s); want 0 and sent/ok 20", code, stdout.String(), stderr.String())
	}
}
