package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/doctor"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// TestMainCommand runs `weir doctor` against a running instance whose target has
// keep-alive off, and against its request log.
func TestMainCommand(t *testing.T) {
	inst := weirtest.Start(t, weirtest.API("keepalive_timeout: 0s", okBackend(t)))
	inst.Get(t, "/api/x", 25)
	logFile := filepath.Join(t.TempDir(), "requests.log")
	if err := os.WriteFile(logFile, inst.RequestLog.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	healthy := weirtest.Start(t, weirtest.API("", okBackend(t)))
	healthy.Get(t, "/api/x", 3)

	for _, tt := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   string
		jsonWant []string // rule/source pairs, when the output is JSON
	}{
		{name: "admin, text", args: []string{"-admin", inst.AdminURL}, code: doctor.ExitFindings,
			stdout: []string{"weir doctor: " + inst.AdminURL + " (pools 1): ", "[WARNING] keepalive_disabled api t (apis)", "  evidence: keepalive_timeout_ms=0ms", "  fix: Turn keep-alive on"}},
		{name: "admin without scheme, json", args: []string{"--admin", strings.TrimPrefix(inst.AdminURL, "http://"), "--json"}, code: doctor.ExitFindings,
			jsonWant: []string{"keepalive_disabled/apis"}},
		{name: "log, json", args: []string{"-log", logFile, "-json"}, code: doctor.ExitFindings,
			jsonWant: []string{"connection_churn/log"}},
		{name: "admin and log, small budget", args: []string{"-admin", inst.AdminURL, "-log", logFile, "-port-budget", "30", "-json"}, code: doctor.ExitFindings,
			jsonWant: []string{"port_budget/pools", "port_budget/log", "keepalive_disabled/apis", "single_backend_ip/pools"}},
		{name: "healthy", args: []string{"-admin", healthy.AdminURL}, code: doctor.ExitHealthy, stdout: []string{": no findings\n"}},
		{name: "help", args: []string{"-help"}, code: doctor.ExitHealthy, stdout: []string{"weir doctor [-admin URL]", "-port-budget"}},
		{name: "bad flag", args: []string{"-nope"}, code: doctor.ExitTrouble, stderr: "flag provided but not defined"},
		{name: "extra argument", args: []string{"-log", logFile, "x"}, code: doctor.ExitTrouble, stderr: "unexpected arguments"},
		{name: "zero budget", args: []string{"-log", logFile, "-port-budget", "0"}, code: doctor.ExitTrouble, stderr: "-port-budget must be > 0"},
		{name: "missing log", args: []string{"-log", filepath.Join(t.TempDir(), "none.log")}, code: doctor.ExitTrouble, stderr: "no such file"},
		{name: "admin unreachable", args: []string{"-admin", "http://" + peer.FreeAddr(t), "-timeout", "2s"}, code: doctor.ExitTrouble, stderr: "GET http://127.0.0.1:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := doctor.Main(context.Background(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout: got\n%s\nwant it to contain %q", out.String(), s)
				}
			}
			if tt.stderr != "" && !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut.String(), tt.stderr)
			}
			if tt.jsonWant == nil {
				return
			}
			var rep doctor.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("stdout is not a JSON report: %v\n%s", err, out.String())
			}
			for _, w := range tt.jsonWant {
				rule, source, _ := strings.Cut(w, "/")
				if find(rep.Findings, want{rule: rule, source: source}) == nil {
					t.Errorf("got findings:\n%s\nwant %s", dump(rep.Findings), w)
				}
			}
		})
	}
}

// TestFetch covers the admin API's answers Fetch must handle.
func TestFetch(t *testing.T) {
	for _, tt := range []struct {
		name       string
		handler    http.HandlerFunc
		token      string
		wantStatus int // of a *FetchError; 0 = no error
		wantPools  int
		wantAPIs   int
		wantInst   int
	}{
		{name: "pools and apis", handler: func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/pools":
				io.WriteString(w, `{"pools":[{"dest":"10.0.0.1:80"},{"dest":"10.0.0.2:80"}]}`)
			case "/apis":
				io.WriteString(w, `{"apis":[{"name":"a","destinations":["10.0.0.1:80"],"transport":{"keepalive_timeout_ms":0,"max_connections":4}}]}`)
			case "/status":
				io.WriteString(w, `{"version":"x","instances":{"count":3,"source":"store"}}`)
			}
		}, wantPools: 2, wantAPIs: 1, wantInst: 3},
		{name: "an instance without /apis", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/pools" {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, `{"pools":[{"dest":"10.0.0.1:80"}]}`)
		}, wantPools: 1},
		{name: "token sent", token: "s3cret", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			io.WriteString(w, `{"pools":[],"apis":[]}`)
		}},
		{name: "token missing", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
		}, wantStatus: http.StatusUnauthorized},
		{name: "no /pools", handler: http.NotFound, wantStatus: http.StatusNotFound},
		{name: "not JSON", handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>")
		}, wantStatus: http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			in, err := doctor.Fetch(ctx, ts.Client(), ts.URL+"/", tt.token)
			if tt.wantStatus != 0 {
				var fe *doctor.FetchError
				if !errors.As(err, &fe) || fe.Status != tt.wantStatus {
					t.Fatalf("got error %v, want a *FetchError with status %d", err, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Pools) != tt.wantPools || len(in.APIs) != tt.wantAPIs || in.Instances != tt.wantInst {
				t.Errorf("got %d pools %d APIs %d instances, want %d %d %d", len(in.Pools), len(in.APIs), in.Instances, tt.wantPools, tt.wantAPIs, tt.wantInst)
			}
			if tt.wantAPIs > 0 && (in.APIs[0].MaxConnections != 4 || in.APIs[0].Destinations[0] != "10.0.0.1:80") {
				t.Errorf("got API %+v, want max_connections 4 and destination 10.0.0.1:80", in.APIs[0])
			}
		})
	}
}
