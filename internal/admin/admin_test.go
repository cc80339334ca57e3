package admin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/weirgw/weir/internal/connpool"
)

// source serves a real registry's ledger.
type source struct {
	reg   *connpool.Registry
	ready atomic.Bool
}

func (s *source) Pools() []connpool.Stats { return s.reg.Stats() }
func (s *source) Ready() bool             { return s.ready.Load() }

func TestPoolsAndProbes(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	src := &source{reg: connpool.NewRegistry()}
	defer src.reg.Close()
	src.ready.Store(true)
	dest := connpool.Dest{Addr: netip.MustParseAddrPort(backend.Addr().String())}
	var d net.Dialer
	pool := src.reg.Pool(connpool.Key{Dest: dest}, connpool.Settings{IdleTimeout: 0}, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", dest.Addr.String())
	})
	c, err := pool.Get(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(connpool.BackendClose)

	ts := httptest.NewServer(Handler(src))
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/pools")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Pools []map[string]any `json:"pools"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /pools: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	if len(got.Pools) != 1 {
		t.Fatalf("got %d pools, want 1", len(got.Pools))
	}
	p := got.Pools[0]
	if p["dest"] != dest.String() || p["opened_total"] != 1.0 || p["closed_last_240s"] != 1.0 {
		t.Errorf("pool %v: want dest %s, opened_total 1, closed_last_240s 1", p, dest)
	}
	if by, _ := p["closed_by_reason"].(map[string]any); by["backend_close"] != 1.0 {
		t.Errorf("closed_by_reason %v: want backend_close 1", p["closed_by_reason"])
	}

	for _, tt := range []struct {
		name  string
		path  string
		ready bool
		want  int
	}{
		{"healthz", "/healthz", true, 200},
		{"readyz ready", "/readyz", true, 200},
		{"readyz draining", "/readyz", false, 503},
		{"healthz draining", "/healthz", false, 200},
		{"unknown", "/nope", true, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src.ready.Store(tt.ready)
			resp, err := http.Get(ts.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s: got %d, want %d", tt.path, resp.StatusCode, tt.want)
			}
		})
	}
}
