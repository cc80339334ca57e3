package main

// End-to-end tests: the real binary, built once in TestMain, run as
// subprocesses against the demo backend on loopback ports.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/demo"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// e2eBin is the weir binary built by TestMain; set once before any test
// runs and only read afterwards.
var e2eBin string

// e2eDrainTimeout is the drain_timeout the tests' configs set.
const e2eDrainTimeout = 5 * time.Second

func TestMain(m *testing.M) {
	os.Exit(e2eMain(m))
}

func e2eMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "weir-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if e2eBin, err = weirtest.Binary(dir); err != nil {
		fmt.Fprintf(os.Stderr, "the end-to-end tests: %v\n", err)
		return 1
	}
	return m.Run()
}

// replaceOnce replaces the single occurrence of old in s, failing the test
// if there is not exactly one (the example changed under the test).
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("examples/weir.yaml: got %d occurrences of %q, want 1", n, old)
	}
	return strings.Replace(s, old, new, 1)
}

// gatewayUnderTest is a running `weir run` with the example config.
type gatewayUnderTest struct {
	proc    *weirtest.Proc
	addr    string // client listener
	deadAPI string // endpoint of the "dead" API: a closed port
	logPath string // request log file
}

// startGateway runs `weir run` on the bundled example config, rewritten
// with free ports, the hello API pointing at backendAddr, the request log
// in a file, a short drain timeout and one more API, "dead" at /dead, whose
// endpoint is a closed port.
func startGateway(t *testing.T, backendAddr string) *gatewayUnderTest {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "weir.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatewayUnderTest{addr: peer.FreeAddr(t), deadAPI: peer.FreeAddr(t), logPath: filepath.Join(dir, "requests.log")}
	s := string(data)
	s = replaceOnce(t, s, "listen: 127.0.0.1:8080", "listen: "+g.addr)
	s = replaceOnce(t, s, "listen: 127.0.0.1:9901", "listen: "+peer.FreeAddr(t))
	s = replaceOnce(t, s, "requests: stdout", "requests: "+g.logPath)
	s = replaceOnce(t, s, "endpoints: [http://127.0.0.1:9000/v1]", "endpoints: [http://"+backendAddr+"/v1]")
	s = fmt.Sprintf("drain_timeout: %s\n%s", e2eDrainTimeout, strings.TrimRight(s, "\n")+"\n")
	s += "  - name: dead\n    base_path: /dead\n    target:\n      endpoints: [http://" + g.deadAPI + "]\n"
	cfg := filepath.Join(dir, "weir.yaml")
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	g.proc = weirtest.Run(t, e2eBin, nil, "run", "-c", cfg)
	g.proc.WaitListening(t, g.addr)
	return g
}

// startDemoBackend runs `weir demo-backend` on a free port.
func startDemoBackend(t *testing.T) string {
	t.Helper()
	addr := peer.FreeAddr(t)
	weirtest.Run(t, e2eBin, nil, "demo-backend", "-listen", addr).WaitListening(t, addr)
	return addr
}

// logLine returns the request log line with the given request id, waiting
// up to 5s for it to be written.
func (g *gatewayUnderTest) logLine(t *testing.T, requestID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(g.logPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, m := range weirtest.Records(t, data) {
			if m["request_id"] == requestID {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request log line with request_id %q after 5s; log:\n%s", requestID, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkLogLine checks that line has every key of the request log format,
// with the right JSON types, and the wanted values.
func checkLogLine(t *testing.T, line map[string]any, want map[string]any) {
	t.Helper()
	kinds := map[string]string{
		"time": "string", "request_id": "string", "api": "string", "method": "string",
		"path": "string", "status": "number", "bytes_in": "number", "bytes_out": "number",
		"duration_ms": "number", "backend_duration_ms": "number", "connect_duration_ms": "number",
		"destination": "string", "reused": "bool", "error": "string", "verdict": "string",
		"client_ip": "string",
	}
	for key, kind := range kinds {
		v, ok := line[key]
		if !ok {
			t.Errorf("request log: key %q missing in %v", key, line)
			continue
		}
		var got string
		switch v.(type) {
		case string:
			got = "string"
		case float64:
			got = "number"
		case bool:
			got = "bool"
		default:
			got = fmt.Sprintf("%T", v)
		}
		if got != kind {
			t.Errorf("request log: %s: got a %s (%v), want a %s", key, got, v, kind)
		}
	}
	if ts, ok := line["time"].(string); ok {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("request log: time %q is not RFC 3339: %v", ts, err)
		}
	}
	for key, w := range want {
		if got := line[key]; got != w {
			t.Errorf("request log: %s: got %v, want %v", key, got, w)
		}
	}
}

func decodeBody(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("body %q is not the expected JSON: %v", body, err)
	}
}

// TestGateway drives requests through `weir run` in front of
// `weir demo-backend` and checks what the client, the backend and the
// request log see.
func TestGateway(t *testing.T) {
	t.Parallel()
	backend := startDemoBackend(t)
	g := startGateway(t, backend)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	tests := []struct {
		name       string
		path       string
		requestID  string // sent as X-Request-Id when set
		wantStatus int
		check      func(t *testing.T, resp *http.Response, body []byte)
	}{
		{
			name: "echo through the gateway", path: "/hello/echo?x=1", wantStatus: 200,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				var e demo.Echo
				decodeBody(t, body, &e)
				if e.Path != "/v1/echo" || e.Query != "x=1" {
					t.Errorf("backend got path %q query %q, want /v1/echo x=1", e.Path, e.Query)
				}
				h := http.Header(e.Headers)
				for _, c := range []struct{ name, want string }{
					{"X-Forwarded-For", "127.0.0.1"},
					{"X-Forwarded-Proto", "http"},
					{"X-Forwarded-Host", g.addr},
				} {
					if got := strings.Join(h.Values(c.name), ", "); got != c.want {
						t.Errorf("backend got %s %q, want %q", c.name, got, c.want)
					}
				}
				if h.Get("Via") == "" {
					t.Errorf("backend got no Via header, want one")
				}
				id := resp.Header.Get("X-Request-Id")
				if id == "" {
					t.Fatalf("client got no X-Request-Id, want one")
				}
				if got := h.Get("X-Request-Id"); got != id {
					t.Errorf("backend got X-Request-Id %q, want the client's %q", got, id)
				}
				line := g.logLine(t, id)
				checkLogLine(t, line, map[string]any{
					"api": "hello", "method": "GET", "status": 200.0, "error": "",
					"destination": backend, "client_ip": "127.0.0.1", "verdict": "",
				})
				if p, _ := line["path"].(string); !strings.HasPrefix(p, "/hello/echo") {
					t.Errorf("request log: path: got %q, want /hello/echo", p)
				}
			},
		},
		{
			name: "incoming request id is honoured", path: "/hello/echo", requestID: "e2e-honoured-1", wantStatus: 200,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				var e demo.Echo
				decodeBody(t, body, &e)
				if got := http.Header(e.Headers).Get("X-Request-Id"); got != "e2e-honoured-1" {
					t.Errorf("backend got X-Request-Id %q, want e2e-honoured-1", got)
				}
				if got := resp.Header.Get("X-Request-Id"); got != "e2e-honoured-1" {
					t.Errorf("client got X-Request-Id %q, want e2e-honoured-1", got)
				}
			},
		},
		{
			name: "hello under the base path", path: "/hello/", wantStatus: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var m map[string]any
				decodeBody(t, body, &m)
				if got := m["path"]; got != "/v1/" && got != "/v1" {
					t.Errorf("backend got path %v, want /v1/", got)
				}
			},
		},
		{
			name: "closed backend port is BackendConnectionFailure", path: "/dead/x", requestID: "e2e-dead-1", wantStatus: 502,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				checkErrorBody(t, resp, body, "BackendConnectionFailure", "e2e-dead-1")
				checkLogLine(t, g.logLine(t, "e2e-dead-1"), map[string]any{
					"api": "dead", "status": 502.0, "error": "BackendConnectionFailure",
				})
			},
		},
		{
			name: "unknown path is RouteNotFound", path: "/nope", requestID: "e2e-nope-1", wantStatus: 404,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				checkErrorBody(t, resp, body, "RouteNotFound", "e2e-nope-1")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+g.addr+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.requestID != "" {
				req.Header.Set("X-Request-Id", tt.requestID)
			}
			resp, body := peer.Fetch(t, client, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			tt.check(t, resp, body)
		})
	}
}

// checkErrorBody checks weir's error response: JSON with the reason and the
// request id, never a Go error string.
func checkErrorBody(t *testing.T, resp *http.Response, body []byte, reason, requestID string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	var e struct {
		Error     string `json:"error"`
		RequestID string `json:"request_id"`
	}
	decodeBody(t, body, &e)
	if e.Error != reason || e.RequestID != requestID {
		t.Errorf("error body: got %q, want error %q and request_id %q", body, reason, requestID)
	}
}

// TestCLI checks exit codes and output of the subcommands that do not
// serve.
func TestCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bad := write("bad.yaml", `listne: 127.0.0.1:8080
apis:
  - name: bad
    base_path: nope
    target:
      endpoints: [http://127.0.0.1:1]
`)
	noKeepalive := write("nokeepalive.yaml", `apis:
  - name: nokeep
    base_path: /x
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: { keepalive_timeout: 0 }
`)
	example := filepath.Join("..", "..", "examples", "weir.yaml")
	q := regexp.QuoteMeta

	tests := []struct {
		name     string
		args     []string
		wantCode int      // -1: any non-zero
		want     []string // regexps, each must match a line of the output
		notWant  []string // regexps no line may match
	}{
		{
			name: "validate bad config", args: []string{"validate", "-c", bad}, wantCode: 1,
			want: []string{`^` + q(bad) + `:1:1: .*listne`, `^` + q(bad) + `:4:\d+: .*base_path`},
		},
		{
			name: "validate keepalive off warns", args: []string{"validate", "-c", noKeepalive}, wantCode: 0,
			want: []string{`^` + q(noKeepalive) + `:6:\d+: warning: .*keep-alive`},
		},
		{
			name: "validate the bundled example", args: []string{"validate", "-c", example}, wantCode: 0,
			notWant: []string{`warning:`},
		},
		{name: "validate missing file", args: []string{"validate", "-c", filepath.Join(dir, "missing.yaml")}, wantCode: 1},
		{name: "version", args: []string{"version"}, wantCode: 0, want: []string{`weir`}},
		{name: "help", args: []string{"--help"}, wantCode: 0, want: []string{`run`, `validate`, `demo-backend`, `version`}},
		{name: "run help", args: []string{"run", "--help"}, wantCode: 0, want: []string{`-c`}},
		{name: "validate help", args: []string{"validate", "--help"}, wantCode: 0, want: []string{`-c`}},
		{name: "demo-backend help", args: []string{"demo-backend", "--help"}, wantCode: 0, want: []string{`-listen`}},
		{name: "version help", args: []string{"version", "--help"}, wantCode: 0},
		{name: "unknown command", args: []string{"no-such-command"}, wantCode: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, e2eBin, tt.args...).CombinedOutput()
			code := 0
			if err != nil {
				var exit *exec.ExitError
				if !errors.As(err, &exit) {
					t.Fatalf("running weir %v: %v", tt.args, err)
				}
				code = exit.ExitCode()
			}
			if (tt.wantCode == -1 && code == 0) || (tt.wantCode != -1 && code != tt.wantCode) {
				t.Errorf("exit code: got %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			lines := strings.Split(string(out), "\n")
			for _, w := range tt.want {
				if !anyLineMatches(lines, w) {
					t.Errorf("output: got no line matching %q, want one; output:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if anyLineMatches(lines, w) {
					t.Errorf("output: got a line matching %q, want none; output:\n%s", w, out)
				}
			}
		})
	}
}

func anyLineMatches(lines []string, expr string) bool {
	re := regexp.MustCompile(expr)
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// TestDrainOnSIGTERM sends SIGTERM while a slow request is in flight: the
// request must complete and the process exit 0 within the drain deadline.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	// An in-process demo backend that says when the slow request arrived,
	// so the signal is sent while it is in flight, not before.
	arrived := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/delay") {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
		demo.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(backend.Close)
	g := startGateway(t, backend.Listener.Addr().String())

	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make(chan result, 1)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 15 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	go func() {
		resp, err := client.Get("http://" + g.addr + "/hello/delay?ms=1500")
		if err != nil {
			results <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		results <- result{status: resp.StatusCode, body: body, err: err}
	}()

	select {
	case <-arrived:
	case r := <-results:
		t.Fatalf("slow request ended before reaching the backend: status %d, error %v, body %q", r.status, r.err, r.body)
	case <-time.After(10 * time.Second):
		t.Fatal("slow request never reached the backend")
	}
	if err := g.proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	r := <-results
	if r.err != nil || r.status != 200 {
		t.Errorf("in-flight request: got status %d, error %v, want 200 and nil", r.status, r.err)
	}
	select {
	case <-g.proc.Done():
		if err := g.proc.Err(); err != nil {
			t.Errorf("exit: got %v, want exit status 0", err)
		}
	case <-time.After(e2eDrainTimeout + 5*time.Second):
		t.Errorf("weir still running %s after SIGTERM, want it gone within the drain timeout", e2eDrainTimeout+5*time.Second)
	}
}
