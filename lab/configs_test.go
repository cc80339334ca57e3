package lab

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/config"
)

// TestWeirConfigsLoad: every config the lab writes is one weir accepts,
// with the warning exactly when keep-alive is off.
func TestWeirConfigsLoad(t *testing.T) {
	dir := t.TempDir()
	certs, err := WriteCerts(dir, []netip.Addr{netip.MustParseAddr(backendIP(0))})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Weir: "w", Helper: "h", Dir: dir}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range specs(o) {
		if s.gateway != gwWeir {
			continue
		}
		n++
		t.Run(s.id, func(t *testing.T) {
			c := s.weir
			c.logFile = filepath.Join(dir, "requests.log")
			c.caFile = certs.CA
			path := filepath.Join(dir, s.id+".yaml")
			if err := os.WriteFile(path, []byte(c.yaml()), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatalf("weir refuses the lab's config: %v\n%s", err, c.yaml())
			}
			if got, want := len(cfg.APIs[0].Target.Endpoints), max(c.backends, 1); got != want {
				t.Errorf("got %d endpoints, want %d", got, want)
			}
			tr := cfg.APIs[0].Target.Transport
			keepaliveOff := !c.defaults && c.keepalive == 0
			if off := tr.KeepaliveTimeout == 0; off != keepaliveOff {
				t.Errorf("got keep-alive off %v, want %v", off, keepaliveOff)
			}
			if warned := len(cfg.Warnings) > 0; warned != keepaliveOff {
				t.Errorf("got warnings %v, want a warning only when keep-alive is off", cfg.Warnings)
			}
			if !c.defaults && tr.MaxConnections != c.maxConns {
				t.Errorf("got max_connections %d, want %d", tr.MaxConnections, c.maxConns)
			}
			if c.proxy != (tr.EgressProxy != "") {
				t.Errorf("got egress_proxy %q, want one only through the proxy", tr.EgressProxy)
			}
		})
	}
	if n < 5 {
		t.Errorf("got %d weir runs, want at least 5", n)
	}
}

func TestNginxConf(t *testing.T) {
	for _, tt := range []struct {
		name      string
		keepalive int
		want      []string
		wantNot   []string
	}{
		{"default upstream", 0, []string{"proxy_pass http://backend/v1/;", "proxy_connect_timeout 1s;"}, []string{"keepalive", "proxy_http_version"}},
		{"keepalive", 64, []string{"keepalive 64;", "proxy_http_version 1.1;", `proxy_set_header Connection "";`}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := nginxConf("/tmp/x", tt.keepalive)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("config lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("config has %q:\n%s", w, got)
				}
			}
			if strings.Count(got, "{") != strings.Count(got, "}") {
				t.Errorf("unbalanced braces:\n%s", got)
			}
		})
	}
}

func TestHAProxyConf(t *testing.T) {
	got := haproxyConf()
	for _, w := range []string{"mode http", "timeout connect 1000ms", "bind 10.200.1.1:8080", "server b1 10.200.3.2:9000"} {
		if !strings.Contains(got, w) {
			t.Errorf("config lacks %q:\n%s", w, got)
		}
	}
}

func TestTallyRequestLog(t *testing.T) {
	log := `{"status":200,"error":"","detail":""}
{"status":504,"error":"BackendTimeout","detail":"BackendTimeout: connect timeout: dial 10.200.3.2:9000: i/o timeout"}
{"status":504,"error":"BackendTimeout","detail":"BackendTimeout: connect timeout: dial 10.200.3.2:9000: i/o timeout"}
{"status":502,"error":"BackendConnectionFailure","detail":"BackendConnectionFailure: local ports exhausted (EADDRNOTAVAIL): dial tcp: connect: cannot assign requested address"}
{"status":503,"error":"ConnectionLimitReached","detail":"ConnectionLimitReached"}
not json
`
	got, err := TallyRequestLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"BackendTimeout: connect timeout":                                 2,
		"BackendConnectionFailure: local ports exhausted (EADDRNOTAVAIL)": 1,
		"ConnectionLimitReached: ConnectionLimitReached":                  1,
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d, want %d", k, got[k], v)
		}
	}
}

func TestTallyErrnos(t *testing.T) {
	log := `2026/11/22 11:42:21 [crit] 12#12: *5 connect() failed (99: Cannot assign requested address) while connecting to upstream, client: 10.200.1.2
2026/11/22 11:42:22 [error] 12#12: *9 upstream timed out (110: Connection timed out) while connecting to upstream
2026/11/22 11:42:22 [crit] 13#13: *7 connect() failed (99: Cannot assign requested address) while connecting to upstream
2026/11/22 11:42:23 [notice] 12#12: signal (SIGTERM) received (no errno here)
`
	got, err := TallyErrnos(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"99: Cannot assign requested address": 2, "110: Connection timed out": 1}
	if len(got) != len(want) || got["99: Cannot assign requested address"] != 2 || got["110: Connection timed out"] != 1 {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzErrnoIn(f *testing.F) {
	f.Add("connect() failed (99: Cannot assign requested address) while")
	f.Add("((1: x")
	f.Add("(12: )")
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := errnoIn(line)
		if !ok {
			return
		}
		num, _, found := strings.Cut(e, ": ")
		if !found || num == "" || strings.Trim(num, "0123456789") != "" || !strings.Contains(line, "("+e+")") {
			t.Errorf("errnoIn(%q) = %q: not a (digits: text) of the line", line, e)
		}
	})
}
