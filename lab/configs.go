package lab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Timeouts every gateway in the lab gets, so they compare fairly and a
// dropped SYN costs a second, not a minute.
const (
	connectTimeout  = time.Second
	responseTimeout = 5 * time.Second
)

// weirConf is what a run sets in weir's config.
type weirConf struct {
	// defaults leaves the transport block out: weir's built-in defaults.
	defaults  bool
	keepalive time.Duration // 0 = keep-alive off
	maxConns  int           // 0 = unlimited
	proxy     bool          // through the egress proxy
	tls       bool          // https endpoint (needs caFile)
	caFile    string
	backends  int // endpoints, one per backend IP
	logFile   string
}

// yaml renders c as a weir config file.
func (c weirConf) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# weir lab config (generated)\nlisten: %s:%d\ndrain_timeout: 2s\n", gwIP, gwPort)
	fmt.Fprintf(&b, "admin:\n  listen: 127.0.0.1:%d\nlog:\n  requests: %q\n", adminPort, c.logFile)
	if !c.defaults {
		fmt.Fprintf(&b, "transport:\n  connect_timeout: %s\n  response_timeout: %s\n  keepalive_timeout: %s\n  max_connections: %d\n",
			connectTimeout, responseTimeout, c.keepalive, c.maxConns)
		if c.proxy {
			fmt.Fprintf(&b, "  egress_proxy: http://%s:%d\n", proxyIP, proxyPort)
		}
		if c.tls {
			fmt.Fprintf(&b, "  tls:\n    ca_file: %q\n", c.caFile)
		}
	}
	b.WriteString("apis:\n  - name: lab\n    base_path: /api\n    target:\n      endpoints:\n")
	for i := range max(c.backends, 1) {
		if c.tls {
			fmt.Fprintf(&b, "        - https://%s:%d/v1\n", backendIP(i), tlsPort)
		} else {
			fmt.Fprintf(&b, "        - http://%s:%d/v1\n", backendIP(i), backendPort)
		}
	}
	return b.String()
}

// nginxConf renders an nginx config proxying /api/ to the first backend.
// keepalive 0 is nginx's default upstream handling: a new connection per
// request (HTTP/1.0, Connection: close); otherwise the upstream keeps up to
// keepalive idle connections per worker.
func nginxConf(dir string, keepalive int) string {
	ka, ver := "", ""
	if keepalive > 0 {
		ka = fmt.Sprintf("    keepalive %d;\n", keepalive)
		ver = "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
	}
	return fmt.Sprintf(`# nginx lab config (generated)
worker_processes auto;
worker_rlimit_nofile 16384;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log error;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[1]s/nginx-body;
  proxy_temp_path %[1]s/nginx-proxy;
  upstream backend {
    server %[2]s:%[3]d;
%[4]s  }
  server {
    listen %[5]s:%[6]d;
    location /api/ {
      proxy_pass http://backend/v1/;
      proxy_connect_timeout %[7]ds;
      proxy_read_timeout %[8]ds;
%[9]s    }
  }
}
`, dir, backendIP(0), backendPort, ka, gwIP, gwPort, int(connectTimeout/time.Second), int(responseTimeout/time.Second), ver)
}

// haproxyConf renders an HAProxy config with its default connection
// handling (server-side keep-alive, http-reuse safe, no maxconn per server).
func haproxyConf() string {
	return fmt.Sprintf(`# haproxy lab config (generated)
global
  maxconn 8192
defaults
  mode http
  timeout connect %[1]dms
  timeout client 30s
  timeout server %[2]dms
frontend lab
  bind %[3]s:%[4]d
  default_backend backends
backend backends
  http-request replace-path ^/api/(.*) /v1/\1
  server b1 %[5]s:%[6]d
`, connectTimeout.Milliseconds(), responseTimeout.Milliseconds(), gwIP, gwPort, backendIP(0), backendPort)
}

// TallyRequestLog counts the failures in a weir request log (one JSON
// object per line) by "REASON: what" — the reason and the first part of
// the detail, like "BackendTimeout: connect timeout". Lines that are not
// JSON are skipped.
func TallyRequestLog(r io.Reader) (map[string]int, error) {
	out := make(map[string]int)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Error  string `json:"error"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Error == "" {
			continue
		}
		out[rec.Error+": "+detailHead(rec.Error, rec.Detail)]++
	}
	return out, sc.Err()
}

// detailHead is what failed, from a detail "REASON: what: cause...".
func detailHead(reason, detail string) string {
	d := strings.TrimPrefix(detail, reason+": ")
	head, _, _ := strings.Cut(d, ": ")
	return head
}

// TallyErrnos counts the "(NN: text)" errno mentions of a log (nginx's
// error log: "connect() failed (99: Cannot assign requested address)"),
// one per line, keyed by "NN: text".
func TallyErrnos(r io.Reader) (map[string]int, error) {
	out := make(map[string]int)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if e, ok := errnoIn(sc.Text()); ok {
			out[e]++
		}
	}
	return out, sc.Err()
}

// errnoIn finds the first "(digits: text)" in line.
func errnoIn(line string) (string, bool) {
	for {
		i := strings.IndexByte(line, '(')
		if i < 0 {
			return "", false
		}
		line = line[i+1:]
		j := 0
		for j < len(line) && line[j] >= '0' && line[j] <= '9' {
			j++
		}
		if j == 0 || !strings.HasPrefix(line[j:], ": ") {
			continue
		}
		end := strings.IndexByte(line, ')')
		if end < 0 {
			return "", false
		}
		return line[:end], true
	}
}
