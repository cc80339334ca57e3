// Package doctortest runs a real weir instance for tests: the gateway on a
// loopback listener, its admin API (with the status page and the doctor
// feed) on another, and its request log in memory. The doctor's rules and
// the status page are tested against it with misbehaving backends.
package doctortest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/telemetry"
)

// Instance is a running gateway with its admin API.
type Instance struct {
	URL      string // the gateway, "http://127.0.0.1:PORT"
	AdminURL string // the admin API
	Log      *Buffer
	Server   *gateway.Server
}

// Buffer is a goroutine-safe in-memory request log.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Bytes returns a copy of what was written.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// Start writes yaml to a config file, loads it, and serves it until the
// test ends.
func Start(t testing.TB, yaml string) *Instance {
	t.Helper()
	file := filepath.Join(t.TempDir(), "weir.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	st := gateway.NewState()
	snap, err := gateway.Build(context.Background(), cfg, st)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	log := &Buffer{}
	srv := gateway.NewServer(st, snap, telemetry.NewRequestLog(log), io.Discard)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	ctl := gateway.NewControl(srv, gateway.ControlOptions{Version: "test"})
	adm := httptest.NewServer(admin.Handler(ctl, admin.WithToken(cfg.Admin.Token), admin.WithRoutes(admin.StatusPage)))
	t.Cleanup(func() {
		adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &Instance{URL: "http://" + ln.Addr().String(), AdminURL: adm.URL, Log: log, Server: srv}
}

// Get sends n sequential GETs to path through the gateway and returns the
// statuses seen, counted.
func (in *Instance) Get(t testing.TB, path string, n int) map[int]int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	got := map[int]int{}
	for range n {
		resp, err := c.Get(in.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got[resp.StatusCode]++
	}
	return got
}

// API is a config with one API "t" at /api over endpoints, with the given
// transport keys (YAML flow mapping content, e.g. "keepalive_timeout: 0s").
func API(transport string, endpoints ...string) string {
	eps := ""
	for i, e := range endpoints {
		if i > 0 {
			eps += ", "
		}
		eps += e
	}
	return "apis:\n  - name: t\n    base_path: /api\n    target:\n      endpoints: [" + eps + "]\n      transport: {" + transport + "}\n"
}
