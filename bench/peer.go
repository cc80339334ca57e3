package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Peer is one row of the tables: a proxy program in one configuration.
// Every peer runs one worker (nginx worker_processes 1, HAProxy nbthread 1,
// GOMAXPROCS=1 for the Go programs), logs no requests, adds
// X-Forwarded-For, and listens on 127.0.0.1 only.
type Peer struct {
	// Name is the row's name ("nginx-defaults").
	Name string
	// Program is the binary, looked up on PATH, /usr/sbin and /sbin;
	// Package the Debian package that installs it ("" for weir, which
	// the suite is given).
	Program, Package string
	// Defaults marks a row with the program's default upstream
	// connection handling; scenarios with Defaults false leave it out.
	Defaults bool
	// Setup says in one line what the row sets, for the report.
	Setup string
	// config renders the config file for one start.
	config func(s Start) (string, error)
	// argv is the command line, given the program and the config's path.
	argv func(bin, conf string, s Start) []string
	// env is added to the suite's environment.
	env []string
	// supports reports whether the peer has an equivalent of p (nil:
	// only scenarios without a policy).
	supports func(p *Policy) bool
}

// Start is what one start of a peer is configured with.
type Start struct {
	Dir     string  // the peer's own directory (configs, temp files, pid)
	Port    int     // where it listens, on 127.0.0.1
	Backend string  // the backend's host:port
	Policy  *Policy // nil: plain proxying
}

// Supports reports whether the peer can run a scenario with policy p.
func (p *Peer) Supports(pol *Policy) bool {
	if pol == nil {
		return true
	}
	return p.supports != nil && p.supports(pol)
}

// Policy is a policy scenario's configuration for each peer that has an
// equivalent. Empty fields mean the peer has none; weir always has one.
type Policy struct {
	// Name is a short identifier ("cache").
	Name string
	// Weir is the items of the API's policies.inbound list, YAML lines at
	// the list's indentation ("- kind: cache").
	Weir string
	// NginxHTTP goes in nginx's http block, NginxLocation in its location.
	NginxHTTP, NginxLocation string
	// HAProxyTop is a top-level section (a cache); HAProxyFrontend and
	// HAProxyBackend go in the frontend and backend sections.
	HAProxyTop, HAProxyFrontend, HAProxyBackend string
	// Caddy is a JSON handler put before reverse_proxy.
	Caddy string
}

// Peers are the rows the suite knows, in table order: weir, then each peer
// in its tuned (keep-alive) configuration and with its defaults.
func Peers() []*Peer {
	return []*Peer{weirPeer(), nginxPeer(false), nginxPeer(true), haproxyPeer(), caddyPeer(false), caddyPeer(true)}
}

// weirPeer is weir with its default settings (keep-alive to the backend
// is a default), no request log and no admin listener.
func weirPeer() *Peer {
	return &Peer{
		Name:    "weir",
		Program: "weir",
		Setup:   "weir's defaults (pooled keep-alive connections, no cap), request log and admin API off, GOMAXPROCS=1",
		config: func(s Start) (string, error) {
			var b strings.Builder
			fmt.Fprintf(&b, "listen: 127.0.0.1:%d\ndrain_timeout: 1s\nadmin: { listen: \"off\" }\nlog: { requests: \"off\" }\n", s.Port)
			fmt.Fprintf(&b, "apis:\n  - name: bench\n    base_path: /\n    target:\n      endpoints: [http://%s]\n", s.Backend)
			if s.Policy != nil {
				b.WriteString("    policies:\n      inbound:\n")
				for line := range strings.Lines(s.Policy.Weir) {
					b.WriteString("        " + line)
				}
			}
			return b.String(), nil
		},
		argv:     func(bin, conf string, _ Start) []string { return []string{bin, "run", "-c", conf} },
		env:      []string{"GOMAXPROCS=1"},
		supports: func(p *Policy) bool { return p.Weir != "" },
	}
}

// nginxPeer is nginx; tuned adds what a careful operator sets for a
// reverse proxy: upstream keep-alive (HTTP/1.1, an idle cache larger than
// the connection count, no request cap per connection on either side),
// request bodies up to 128 KiB buffered in memory and responses never
// spooled to temporary files. defaults leaves all of that at nginx's
// defaults: a new HTTP/1.0 upstream connection per request.
func nginxPeer(defaults bool) *Peer {
	p := &Peer{Name: "nginx", Program: "nginx", Package: "nginx-light", Defaults: defaults}
	if defaults {
		p.Name = "nginx-defaults"
		p.Setup = "worker_processes 1; nginx's upstream defaults (HTTP/1.0, a new connection per request, request bodies over 16 KiB and large responses spooled to temp files)"
	} else {
		p.Setup = "worker_processes 1; upstream keepalive 1024, keepalive_requests 1000000 (client and upstream), proxy_http_version 1.1, client_body_buffer_size 128k, proxy_max_temp_file_size 0"
	}
	p.config = func(s Start) (string, error) {
		var http, upstream, location strings.Builder
		if !defaults {
			http.WriteString("  keepalive_requests 1000000;\n  client_body_buffer_size 128k;\n")
			upstream.WriteString("    keepalive 1024;\n    keepalive_requests 1000000;\n")
			location.WriteString("      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_max_temp_file_size 0;\n")
		}
		if s.Policy != nil {
			http.WriteString(indent(s.Policy.NginxHTTP, "  "))
			location.WriteString(indent(s.Policy.NginxLocation, "      "))
		}
		user := ""
		if os.Geteuid() == 0 {
			// Workers would otherwise run as nobody, who cannot use the
			// suite's temporary directory.
			user = "user root;\n"
		}
		return fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
%[1]spid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
%[3]s  upstream backend {
    server %[4]s;
%[5]s  }
  server {
    listen 127.0.0.1:%[6]d;
    location / {
      proxy_pass http://backend;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
%[7]s    }
  }
}
`, user, s.Dir, http.String(), s.Backend, upstream.String(), s.Port, location.String()), nil
	}
	p.argv = func(bin, conf string, s Start) []string {
		return []string{bin, "-p", s.Dir, "-e", filepath.Join(s.Dir, "error.log"), "-c", conf}
	}
	if !defaults {
		p.supports = func(pol *Policy) bool { return pol.NginxLocation != "" }
	}
	return p
}

// haproxyPeer is HAProxy in HTTP mode. Its defaults already keep backend
// connections alive and reuse them (http-reuse safe), so it has one row.
func haproxyPeer() *Peer {
	return &Peer{
		Name:    "haproxy",
		Program: "haproxy",
		Package: "haproxy",
		Setup:   "nbthread 1; mode http, http-reuse safe (its default: keep-alive to the backend), option forwardfor",
		config: func(s Start) (string, error) {
			var top, fe, be string
			if s.Policy != nil {
				top = s.Policy.HAProxyTop
				fe = indent(s.Policy.HAProxyFrontend, "  ")
				be = indent(s.Policy.HAProxyBackend, "  ")
			}
			return fmt.Sprintf(`global
  nbthread 1
  maxconn 4096
  pidfile %[1]s/haproxy.pid
defaults
  mode http
  timeout connect 3s
  timeout client 60s
  timeout server 60s
  option forwardfor
  http-reuse safe
%[2]s
frontend fe
  bind 127.0.0.1:%[3]d
%[4]s  default_backend be
backend be
%[5]s  server s1 %[6]s
`, s.Dir, top, s.Port, fe, be, s.Backend), nil
		},
		argv:     func(bin, conf string, _ Start) []string { return []string{bin, "-db", "-f", conf} },
		supports: func(p *Policy) bool { return p.HAProxyFrontend != "" || p.HAProxyBackend != "" },
	}
}

// caddyPeer is Caddy's reverse_proxy with a JSON config. tuned keeps up
// to 1024 idle backend connections; defaults keeps Caddy's 32.
func caddyPeer(defaults bool) *Peer {
	p := &Peer{Name: "caddy", Program: "caddy", Package: "caddy", Defaults: defaults, env: []string{"GOMAXPROCS=1"}}
	if defaults {
		p.Name = "caddy-defaults"
		p.Setup = "GOMAXPROCS=1; reverse_proxy with Caddy's transport defaults (keep-alive, 32 idle connections per backend)"
	} else {
		p.Setup = "GOMAXPROCS=1; reverse_proxy, keep_alive max_idle_conns_per_host 1024"
	}
	p.config = func(s Start) (string, error) {
		rp := map[string]any{
			"handler":   "reverse_proxy",
			"upstreams": []any{map[string]any{"dial": s.Backend}},
		}
		if !defaults {
			rp["transport"] = map[string]any{
				"protocol":   "http",
				"keep_alive": map[string]any{"enabled": true, "max_idle_conns_per_host": 1024},
			}
		}
		handle := []any{rp}
		if s.Policy != nil && s.Policy.Caddy != "" {
			handle = []any{json.RawMessage(s.Policy.Caddy), rp}
		}
		cfg := map[string]any{
			"admin":   map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
			"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
			"storage": map[string]any{"module": "file_system", "root": filepath.Join(s.Dir, "data")},
			"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"bench": map[string]any{
				"listen":          []string{fmt.Sprintf("127.0.0.1:%d", s.Port)},
				"automatic_https": map[string]any{"disable": true},
				"routes":          []any{map[string]any{"handle": handle}},
			}}}},
		}
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return "", fmt.Errorf("caddy config (is the policy's Caddy handler JSON?): %w", err)
		}
		return string(b) + "\n", nil
	}
	p.argv = func(bin, conf string, _ Start) []string {
		return []string{bin, "run", "--config", conf}
	}
	if !defaults {
		p.supports = func(pol *Policy) bool { return pol.Caddy != "" }
	}
	return p
}

// indent prefixes every line of s with pre.
func indent(s, pre string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(pre + line)
	}
	return b.String()
}

// configName is the file name of a peer's config.
func (p *Peer) configName() string {
	switch p.Program {
	case "weir":
		return "weir.yaml"
	case "nginx":
		return "nginx.conf"
	case "haproxy":
		return "haproxy.cfg"
	default:
		return p.Program + ".json"
	}
}
