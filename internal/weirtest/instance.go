package weirtest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/telemetry"
)

// Instance is a running gateway with its admin API, wired as `weir run`
// wires them.
type Instance struct {
	URL      string // the gateway, "http://127.0.0.1:PORT"
	AdminURL string // its admin API (with /metrics and the status page), behind admin.token if set
	File     string // the config file it loaded: rewrite it, then Control.Reload
	// RequestLog is the JSON request log; nil when WithRequestLog chose
	// another writer.
	RequestLog *Buffer
	// Log is what `weir run` writes to stderr: panics, internal errors,
	// reload outcomes.
	Log     *Buffer
	Server  *gateway.Server
	State   *gateway.State
	Control *gateway.Control
}

// Option changes how Start builds an instance.
type Option func(*options)

type options struct {
	state      *gateway.State
	requestLog io.Writer
	ownLog     bool // requestLog set by WithRequestLog
}

// WithState builds the instance on st instead of a new gateway.State (to
// give it a test resolver, say, or to share a State's registries).
func WithState(st *gateway.State) Option { return func(o *options) { o.state = st } }

// WithRequestLog writes the request log to w (nil: no request log)
// instead of the RequestLog buffer.
func WithRequestLog(w io.Writer) Option {
	return func(o *options) { o.requestLog, o.ownLog = w, true }
}

// Start writes yaml to a config file, loads and builds it, and serves it
// on a loopback listener with its admin API on another, until the test
// ends. The config's listen, admin.listen (even "off") and log.requests
// are not used: the listeners are the rig's, the request log is
// RequestLog. At the end the instance is shut down (5 s of drain at most),
// and the test fails if serving ended in an error or weir logged a panic.
func Start(t testing.TB, yaml string, opts ...Option) *Instance {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	in := &Instance{File: filepath.Join(t.TempDir(), "weir.yaml"), Log: &Buffer{}, State: o.state}
	if err := os.WriteFile(in.File, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(in.File)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if in.State == nil {
		in.State = gateway.NewState()
	}
	snap, err := gateway.Build(context.Background(), cfg, in.State)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	requestLog := o.requestLog
	if !o.ownLog {
		in.RequestLog = &Buffer{}
		requestLog = in.RequestLog
	}
	in.Server = gateway.NewServer(in.State, snap, telemetry.NewRequestLog(requestLog), in.Log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- in.Server.Serve(ln) }()
	in.URL = "http://" + ln.Addr().String()
	in.Control = gateway.NewControl(in.Server, gateway.ControlOptions{Version: "test", Log: in.Log})
	adm := httptest.NewServer(admin.Handler(in.Control, admin.WithToken(cfg.Admin.Token),
		admin.WithMetrics(in.State.Metrics.Handler()), admin.WithRoutes(admin.StatusPage)))
	in.AdminURL = adm.URL
	t.Cleanup(func() {
		adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = in.Server.Shutdown(ctx)
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("weir: serve: %v", err)
		}
		if s := in.Log.String(); strings.Contains(s, "panic") {
			t.Errorf("weir logged a panic:\n%s", s)
		}
	})
	return in
}

// Rewrite replaces the config file's content the way editors and config
// management do: a new file renamed over the old, so a reader never sees
// half a file.
func (in *Instance) Rewrite(t testing.TB, yaml string) {
	t.Helper()
	tmp := in.File + ".tmp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, in.File); err != nil {
		t.Fatal(err)
	}
}

// Reload rewrites the config file with yaml and reloads it as POST
// /reload does, failing the test if the reload is rejected.
func (in *Instance) Reload(t testing.TB, yaml string) {
	t.Helper()
	in.Rewrite(t, yaml)
	if res := in.Control.Reload(context.Background(), admin.TriggerAdmin); !res.OK {
		t.Fatalf("reload: got %q, want it applied", res.Problems)
	}
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
