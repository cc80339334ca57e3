package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Validate checks c's effective values (as Load leaves them, or as built in
// code) and returns Problems holding every error, or nil. Without the file's
// places, problems point at each API's Pos or at the file. Warnings are not
// returned; Load puts them in Config.Warnings.
func (c *Config) Validate() error {
	k := newChecker(c, nil, nil, Pos{File: c.File})
	k.check()
	if errs := k.errs.sorted(); len(errs) > 0 {
		return errs
	}
	return nil
}

// keepaliveCost is why keep-alive off deserves a warning.
const keepaliveCost = "every request pays a TCP (and TLS) handshake and consumes an outbound port at the request rate; ports are held ~240s after close (TIME_WAIT/NAT)"

// insecureCost is why insecure_skip_verify deserves a warning.
const insecureCost = "any certificate is accepted, so backend traffic can be read and changed by whoever sits in between"

// checker validates a Config, reporting at the places the decoder recorded.
type checker struct {
	c      *Config
	places map[string]place
	bad    map[string]bool
	// origin is the place of problems that have no better one.
	origin      Pos
	errs, warns Problems
}

func newChecker(c *Config, places map[string]place, bad map[string]bool, origin Pos) *checker {
	if places == nil {
		places = make(map[string]place)
	}
	for i, a := range c.APIs {
		p := "apis/" + strconv.Itoa(i)
		if _, ok := places[p]; !ok && a.Pos.Line > 0 {
			places[p] = place{a.Pos, a.Pos}
		}
	}
	return &checker{c: c, places: places, bad: bad, origin: origin}
}

// check runs every validation and collects warnings.
func (k *checker) check() {
	c := k.c
	k.address("listen", "listen", c.Listen)
	if c.Admin.Listen != Off {
		k.address("admin/listen", "admin.listen", c.Admin.Listen)
		if c.Admin.Listen == c.Listen {
			k.errorf("admin/listen", "admin.listen %q is the same address as listen", c.Admin.Listen)
		}
		k.adminToken(c.Admin)
	}
	if c.Log.Requests == "" {
		k.errorf("log/requests", `log.requests must not be empty (use "off" to turn the request log off)`)
	}
	k.nonNegative("drain_timeout", c.DrainTimeout)

	k.transport("transport", &c.Transport)
	k.warnings("transport", &c.Transport, "")
	k.store()
	k.policyLists("policies", &c.Policies)

	if len(c.APIs) == 0 {
		k.errorf("apis", "at least one API is required under apis:")
	}
	names := make(map[string]string) // API name -> path of its first use
	routes := make(map[string]int)   // base path + host ("" for any) -> API index
	for i := range c.APIs {
		k.api(i, names, routes)
		k.policyLists("apis/"+strconv.Itoa(i)+"/policies", &c.APIs[i].Policies)
	}
}

// api validates the i-th API. names and routes hold what earlier APIs took.
func (k *checker) api(i int, names map[string]string, routes map[string]int) {
	a := &k.c.APIs[i]
	p := "apis/" + strconv.Itoa(i)

	np := p + "/name"
	switch {
	case a.Name == "":
		k.errorf(np, "API name is required")
	case !validAPIName(a.Name):
		k.errorf(np, "API name %q may only contain letters, digits, '_', '.' and '-'", a.Name)
	case names[a.Name] != "":
		k.errorf(np, "duplicate API name %q%s", a.Name, k.firstAt(names[a.Name]))
	case !k.isBad(np):
		names[a.Name] = np
	}

	bp := p + "/base_path"
	if msg := basePathProblem(a.BasePath); msg != "" {
		k.errorf(bp, "%s", msg)
	} else if !k.isBad(bp) && !k.isBad(p+"/hosts") {
		k.route(i, routes)
	}

	seen := make(map[string]bool, len(a.Hosts))
	for j, h := range a.Hosts {
		hp := join(p+"/hosts", strconv.Itoa(j))
		switch {
		case !validHostPattern(h):
			k.errorf(hp, "invalid host %q: want a host name like api.example.com or a wildcard like *.example.com (no port)", h)
		case seen[h]:
			k.errorf(hp, "duplicate host %q", h)
		}
		seen[h] = true
	}

	t := &a.Target
	ep := p + "/target/endpoints"
	if len(t.Endpoints) == 0 {
		k.errorf(ep, "target of API %q needs at least one endpoint", a.Name)
	}
	for j, e := range t.Endpoints {
		if msg := endpointProblem(e); msg != "" {
			k.errorf(join(ep, strconv.Itoa(j)), "%s", msg)
		}
	}
	tp := p + "/target/transport"
	k.transport(tp, &t.Transport)
	k.warnings(tp, &t.Transport, a.Name)
}

// route claims the i-th API's (base path, host) pairs in routes, reporting
// the first pair already claimed by an earlier API: such a request could go
// to either. An API without hosts claims (base path, any host).
func (k *checker) route(i int, routes map[string]int) {
	a := &k.c.APIs[i]
	hosts := a.Hosts
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	reported := false
	for _, h := range hosts {
		key := a.BasePath + " " + h
		j, taken := routes[key]
		if !taken {
			routes[key] = i
			continue
		}
		if reported || j == i {
			continue
		}
		reported = true
		on := "any host"
		if h != "" {
			on = fmt.Sprintf("host %q", h)
		}
		k.errorf(fmt.Sprintf("apis/%d/base_path", i), "base_path %q on %s is already served by API %q%s",
			a.BasePath, on, k.c.APIs[j].Name, k.firstAt(fmt.Sprintf("apis/%d", j)))
	}
}

// transport validates one level's effective transport at path. Messages do
// not name the API: a target inheriting a bad gateway setting reports at the
// gateway's place, and the duplicates collapse into one.
func (k *checker) transport(path string, t *Transport) {
	if t.ConnectTimeout <= 0 && !k.isBad(path+"/connect_timeout") {
		k.errorf(path+"/connect_timeout", "connect_timeout must be greater than 0")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"response_timeout", t.ResponseTimeout},
		{"keepalive_timeout", t.KeepaliveTimeout},
		{"queue_timeout", t.QueueTimeout},
		{"max_connection_lifetime", t.MaxConnectionLifetime},
		{"resolve_interval", t.ResolveInterval},
	} {
		k.nonNegative(join(path, d.name), d.v)
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"max_connections", t.MaxConnections},
		{"max_idle", t.MaxIdle},
		{"max_requests_per_connection", t.MaxRequestsPerConnection},
	} {
		if n.v < 0 {
			k.errorf(join(path, n.name), "%s must not be negative, got %d", n.name, n.v)
		}
	}
	for j, s := range t.SourceAddresses {
		if _, err := netip.ParseAddr(s); err != nil {
			k.errorf(join(path, "source_addresses/"+strconv.Itoa(j)), "source address %q is not an IP address", s)
		}
	}
	if t.EgressProxy != "" && !validProxy(t.EgressProxy) {
		k.errorf(path+"/egress_proxy", "egress_proxy %q must look like http://host:port", t.EgressProxy)
	}
	switch {
	case t.TLS.CertFile != "" && t.TLS.KeyFile == "":
		k.errorf(path+"/tls/cert_file", "tls.cert_file is set but tls.key_file is not: a client certificate needs both")
	case t.TLS.CertFile == "" && t.TLS.KeyFile != "":
		k.errorf(path+"/tls/key_file", "tls.key_file is set but tls.cert_file is not: a client certificate needs both")
	}
}

// warnings reports the valid but unwise settings of one level's transport.
// api is "" for the gateway. A target setting inherited from the gateway is
// warned about once, at the gateway.
func (k *checker) warnings(path string, t *Transport, api string) {
	gateway := api == ""
	if t.KeepaliveTimeout == 0 {
		switch {
		case gateway:
			k.warnf(path+"/keepalive_timeout", "keep-alive is off for every target that does not set keepalive_timeout: %s", keepaliveCost)
		case !k.inherited(path, "keepalive_timeout"):
			k.warnf(path+"/keepalive_timeout", "keep-alive is off for target of API %q: %s", api, keepaliveCost)
		}
	}
	if t.TLS.InsecureSkipVerify {
		switch {
		case gateway:
			k.warnf(path+"/tls/insecure_skip_verify", "TLS certificate verification is off for every target that does not set tls.insecure_skip_verify: %s", insecureCost)
		case !k.inherited(path, "tls/insecure_skip_verify"):
			k.warnf(path+"/tls/insecure_skip_verify", "TLS certificate verification is off for target of API %q: %s", api, insecureCost)
		}
	}
	if t.MaxConnections > 0 && t.MaxIdle > t.MaxConnections {
		msg := fmt.Sprintf("max_idle %d is above max_connections %d: max_idle has no effect above the cap", t.MaxIdle, t.MaxConnections)
		idleInherited := k.inherited(path, "max_idle")
		switch {
		case gateway || idleInherited && k.inherited(path, "max_connections"):
			k.warnf(path+"/max_idle", "%s", msg)
		case !idleInherited:
			k.warnf(path+"/max_idle", "%s (target of API %q)", msg, api)
		default:
			k.warnf(path+"/max_connections", "%s (target of API %q)", msg, api)
		}
	}
}

// inherited reports whether the target transport at path took setting from
// the gateway's transport block (rather than setting it itself or keeping
// the built-in default).
func (k *checker) inherited(path, setting string) bool {
	t, ok1 := k.places[join(path, setting)]
	g, ok2 := k.places[join("transport", setting)]
	return ok1 && ok2 && t == g
}

func (k *checker) nonNegative(path string, v time.Duration) {
	if v < 0 {
		k.errorf(path, "%s must not be negative, got %s", base(path), v)
	}
}

// address checks a listener address: host:port with a numeric port; the
// host may be empty (all interfaces), an IP or a name.
func (k *checker) address(path, name, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && validPort(port, true) && (host == "" || validHostOrIP(host)) {
		return
	}
	k.errorf(path, "%s %q must be host:port, like 127.0.0.1:8080", name, addr)
}

// errorf reports an error at the value of the setting at path (or of its
// nearest ancestor present in the file), unless that value already failed
// to decode.
func (k *checker) errorf(path, format string, args ...any) {
	if k.isBad(path) {
		return
	}
	at := k.at(path, false)
	k.errs = append(k.errs, Problem{File: at.File, Line: at.Line, Col: at.Col, Msg: fmt.Sprintf(format, args...)})
}

// warnf reports a warning at the key of the setting at path.
func (k *checker) warnf(path, format string, args ...any) {
	if k.isBad(path) {
		return
	}
	at := k.at(path, true)
	k.warns = append(k.warns, Problem{File: at.File, Line: at.Line, Col: at.Col, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// at is the place of the setting at path: its key or its value. A setting
// absent from the file is placed at the key of its nearest present ancestor
// ("name is required" points at the API).
func (k *checker) at(path string, key bool) Pos {
	if at, ok := k.places[path]; ok {
		if key {
			return at.key
		}
		return at.val
	}
	for p := path; ; {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return k.origin
		}
		p = p[:i]
		if at, ok := k.places[p]; ok {
			return at.key
		}
	}
}

// isBad reports whether the value at path, or one holding it, failed to
// decode (and so was reported already).
func (k *checker) isBad(path string) bool {
	if k.bad[""] {
		return true
	}
	for p := path; ; {
		if k.bad[p] {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// firstAt is " (first at line N)" for the setting at path, or "" when its
// line is unknown.
func (k *checker) firstAt(path string) string {
	if at := k.at(path, true); at.Line > 0 {
		return fmt.Sprintf(" (first at line %d)", at.Line)
	}
	return ""
}

// validAPIName reports whether name matches [A-Za-z0-9_.-]+.
func validAPIName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// basePathProblem says what is wrong with a (normalized) base path, or "".
func basePathProblem(p string) string {
	switch {
	case p == "":
		return "base_path is required"
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("base_path %q must start with \"/\"", p)
	case strings.ContainsAny(p, "?#"):
		return fmt.Sprintf("base_path %q must not contain \"?\" or \"#\"", p)
	case strings.Contains(p, "//"):
		return fmt.Sprintf("base_path %q must not contain \"//\"", p)
	case strings.IndexFunc(p, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0:
		return fmt.Sprintf("base_path %q must not contain spaces or control characters", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("base_path %q must not contain \".\" or \"..\" segments", p)
		}
	}
	return ""
}

// endpointProblem says what is wrong with an endpoint URL, or "".
func endpointProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("endpoint %q is not a valid URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("endpoint %q must be an absolute http:// or https:// URL", s)
	case u.Opaque != "" || u.Host == "":
		return fmt.Sprintf("endpoint %q has no host (want http://host[:port][/path])", s)
	case u.User != nil:
		return fmt.Sprintf("endpoint %q must not contain user info (user:password@)", s)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Sprintf("endpoint %q must not have a query", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Sprintf("endpoint %q must not have a fragment", s)
	case !validPort(u.Port(), false) || strings.HasSuffix(u.Host, ":"):
		return fmt.Sprintf("endpoint %q has an invalid port", s)
	case !validHostOrIP(u.Hostname()):
		return fmt.Sprintf("endpoint %q has an invalid host %q", s, u.Hostname())
	}
	return ""
}

// validProxy reports whether s is http://host:port (a trailing "/" allowed).
func validProxy(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "http" && u.Opaque == "" && u.User == nil &&
		validHostOrIP(u.Hostname()) && u.Port() != "" && validPort(u.Port(), false) &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" &&
		!strings.Contains(s, "#")
}

// validPort reports whether port is empty or a decimal port number; zero
// (any port) only for listeners.
func validPort(port string, zeroOK bool) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	if err != nil || strings.HasPrefix(port, "+") || n > 65535 {
		return false
	}
	return n > 0 || (zeroOK && n == 0)
}

// validHostPattern reports whether h is a host name, an IP literal or a
// "*.suffix" wildcard, as the hosts list accepts.
func validHostPattern(h string) bool {
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		return validHostName(suffix)
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		return err == nil && a.Is6()
	}
	return validHostOrIP(h)
}

// validHostOrIP reports whether h is an IP literal (without brackets) or a
// host name.
func validHostOrIP(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return validHostName(h)
}

// validHostName reports whether h is a DNS host name: dot-separated labels
// of letters, digits, '-' and '_' (container and service names use it), no
// label starting or ending with '-', within DNS's length limits.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !isAlnum(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

func isAlnum(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
