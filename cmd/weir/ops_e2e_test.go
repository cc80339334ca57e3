package main

// End-to-end tests of operations: the admin API behind its token,
// /metrics, and the three reload triggers (SIGHUP, POST /reload, the file
// watcher) on the real binary.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

const opsToken = "e2e-token-0123456789abcdef0123456789"

// adminCall does one admin request with the token and returns status and
// body.
func adminCall(t *testing.T, method, url string, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, body := peer.Fetch(t, http.DefaultClient, req)
	return resp.StatusCode, string(body)
}

// lastReload is the part of /status the test reads.
type lastReload struct {
	ConfigHash string `json:"config_hash"`
	LastReload *struct {
		Trigger  string   `json:"trigger"`
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	} `json:"last_reload"`
	ReloadsOK     int `json:"reloads_ok"`
	ReloadsFailed int `json:"reloads_failed"`
}

func TestOperations(t *testing.T) {
	t.Parallel()
	backend := startDemoBackend(t)
	dir := t.TempDir()
	addr, adminAddr := peer.FreeAddr(t), peer.FreeAddr(t)
	file := filepath.Join(dir, "weir.yaml")
	base := fmt.Sprintf(`listen: %s
drain_timeout: 5s
admin: {listen: %s, token: "${WEIR_E2E_TOKEN}"}
log: {requests: "off"}
apis:
  - name: hello
    base_path: /hello
    target: {endpoints: ["http://%s/v1"]}
`, addr, adminAddr, backend)
	extra := func(name string) string {
		return base + fmt.Sprintf("  - name: %[1]s\n    base_path: /%[1]s\n    target: {endpoints: [\"http://%[2]s/v1\"]}\n", name, backend)
	}
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file+".tmp", []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write(base)
	p := weirtest.Run(t, e2eBin, append(os.Environ(), "WEIR_E2E_TOKEN="+opsToken), "run", "-c", file)
	p.WaitListening(t, addr)
	p.WaitListening(t, adminAddr)
	admin := "http://" + adminAddr

	get := func(path string) int {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	status := func() lastReload {
		t.Helper()
		code, body := adminCall(t, "GET", admin+"/status", opsToken)
		var st lastReload
		if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
			t.Fatalf("GET /status: %d %v %s", code, err, body)
		}
		return st
	}
	// waitReloads waits until the reload counts reach ok and failed.
	waitReloads := func(ok, failed int) lastReload {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := status()
			if st.ReloadsOK == ok && st.ReloadsFailed == failed {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("reloads: got %d ok %d failed, want %d and %d", st.ReloadsOK, st.ReloadsFailed, ok, failed)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("token", func(t *testing.T) {
		for _, tt := range []struct {
			name, path, token string
			want              int
		}{
			{"status without", "/status", "", 401},
			{"status wrong", "/status", "nope", 401},
			{"status with", "/status", opsToken, 200},
			{"metrics without", "/metrics", "", 401},
			{"readyz is open", "/readyz", "", 200},
		} {
			if code, _ := adminCall(t, "GET", admin+tt.path, tt.token); code != tt.want {
				t.Errorf("%s: GET %s: got %d, want %d", tt.name, tt.path, code, tt.want)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		if code := get("/hello/echo"); code != 200 {
			t.Fatalf("GET /hello/echo: got %d, want 200", code)
		}
		code, body := adminCall(t, "GET", admin+"/metrics", opsToken)
		if code != 200 {
			t.Fatalf("GET /metrics: got %d", code)
		}
		for _, want := range []string{
			`weir_build_info{goversion="go`,
			`weir_http_requests_total{api="hello",reason="",status_class="2xx"} 1`,
			`weir_pool_connections_opened_total{destination="` + backend + `"} 1`,
			`weir_pool_connections{destination="` + backend + `",state="idle"} 1`,
			`weir_backend_connect_duration_seconds_count{api="hello"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics: no line with %q", want)
			}
		}
	})

	t.Run("SIGHUP", func(t *testing.T) {
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		st := waitReloads(1, 0)
		if st.LastReload == nil || !st.LastReload.OK || st.LastReload.Trigger != "signal" {
			t.Errorf("last reload: got %+v, want ok by signal", st.LastReload)
		}
	})

	t.Run("file change", func(t *testing.T) {
		write(extra("second"))
		st := waitReloads(2, 0)
		if st.LastReload.Trigger != "file" {
			t.Errorf("last reload trigger: got %q, want file", st.LastReload.Trigger)
		}
		if code := get("/second/echo"); code != 200 {
			t.Errorf("API added by editing the file: got %d, want 200", code)
		}
	})

	t.Run("bad file is rejected", func(t *testing.T) {
		hash := status().ConfigHash
		write(extra("second") + "    oops: true\n")
		st := waitReloads(2, 1)
		placed := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:\d+:\d+: `)
		if st.LastReload.OK || len(st.LastReload.Problems) == 0 || !placed.MatchString(st.LastReload.Problems[0]) {
			t.Errorf("last reload: got %+v, want rejected with FILE:LINE:COL problems", st.LastReload)
		}
		if st.ConfigHash != hash {
			t.Errorf("serving config hash: got %s, want the previous %s", st.ConfigHash, hash)
		}
		if code := get("/second/echo"); code != 200 {
			t.Errorf("after a rejected file: got %d, want 200 from the old config", code)
		}
		if !strings.Contains(p.Out.String(), st.LastReload.Problems[0]) {
			t.Errorf("log: no line %q", st.LastReload.Problems[0])
		}
		code, body := adminCall(t, "POST", admin+"/reload", opsToken)
		if code != 422 || !strings.Contains(body, `"ok": false`) {
			t.Errorf("POST /reload of the bad file: got %d %s, want 422", code, body)
		}
	})

	t.Run("POST /reload", func(t *testing.T) {
		write(extra("third"))
		code, body := adminCall(t, "POST", admin+"/reload", opsToken)
		if code != 200 {
			t.Fatalf("POST /reload: got %d %s, want 200", code, body)
		}
		if code := get("/third/echo"); code != 200 {
			t.Errorf("API added by POST /reload: got %d, want 200", code)
		}
		if code := get("/second/echo"); code != 404 {
			t.Errorf("API removed by POST /reload: got %d, want 404", code)
		}
	})

	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("weir did not exit after SIGTERM")
	}
}

func TestRefusesOpenAdminWithoutToken(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "open.yaml")
	cfg := "admin: {listen: \"0.0.0.0:0\"}\napis:\n  - name: a\n    base_path: /a\n    target: {endpoints: [\"http://127.0.0.1:9\"]}\n"
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "run"} {
		t.Run(cmd, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, e2eBin, cmd, "-c", file).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("weir %s: got %v, want exit 1; output:\n%s", cmd, err, out)
			}
			want := file + `:1:17: admin.listen "0.0.0.0:0" is not a loopback address: set admin.token`
			if !strings.Contains(string(out), want) {
				t.Errorf("weir %s output: got\n%s\nwant a line with %q", cmd, out, want)
			}
		})
	}
}
