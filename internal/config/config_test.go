package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envOf is a lookup over a fixed set of variables, so tests need not touch
// the process environment and can run in parallel.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// oneAPI is the smallest valid apis block; tests append it to the settings
// they exercise.
const oneAPI = `
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
`

func mustParse(t *testing.T, src string, vars map[string]string) *Config {
	t.Helper()
	c, err := parse("t.yaml", []byte(src), envOf(vars))
	if err != nil {
		t.Fatalf("parse: got error\n%v\nwant none", err)
	}
	return c
}

// problemLines parses src, which must fail, and returns its problems one per
// line.
func problemLines(t *testing.T, src string, vars map[string]string) []string {
	t.Helper()
	c, err := parse("t.yaml", []byte(src), envOf(vars))
	if err == nil {
		t.Fatalf("parse: got no error, want some (config %+v)", c)
	}
	if c != nil {
		t.Errorf("parse: got config %+v with an error, want nil", c)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("parse: got error of type %T, want Problems", err)
	}
	for _, p := range ps {
		if p.Warning {
			t.Errorf("parse: got warning %q among errors, want errors only", p)
		}
	}
	return strings.Split(err.Error(), "\n")
}

func warningLines(c *Config) []string {
	if len(c.Warnings) == 0 {
		return nil
	}
	return strings.Split(c.Warnings.Error(), "\n")
}

// transport returns the default transport changed by f.
func transport(f func(t *Transport)) Transport {
	t := DefaultTransport()
	if f != nil {
		f(&t)
	}
	return t
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, oneAPI, nil)
	sum := sha256.Sum256([]byte(oneAPI))
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"File", c.File, "t.yaml"},
		{"Hash", c.Hash, hex.EncodeToString(sum[:])},
		{"Listen", c.Listen, "127.0.0.1:8080"},
		{"DrainTimeout", c.DrainTimeout, 30 * time.Second},
		{"Admin.Listen", c.Admin.Listen, "127.0.0.1:9901"},
		{"Log.Requests", c.Log.Requests, "stdout"},
		{"Transport", c.Transport, Transport{
			ConnectTimeout:   3 * time.Second,
			ResponseTimeout:  55 * time.Second,
			KeepaliveTimeout: 60 * time.Second,
			QueueTimeout:     5 * time.Second,
			ResolveInterval:  30 * time.Second,
		}},
		{"target Transport", c.APIs[0].Target.Transport, DefaultTransport()},
		{"API Pos", c.APIs[0].Pos, Pos{File: "t.yaml", Line: 3, Col: 5}},
		{"Warnings", c.Warnings, Problems(nil)},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

func TestTopLevelSettings(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
listen: 0.0.0.0:80
drain_timeout: 1m30s
admin: {listen: "off"}
log: {requests: /var/log/weir.log}
instances: 4
`+oneAPI, nil)
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"Listen", c.Listen, "0.0.0.0:80"},
		{"DrainTimeout", c.DrainTimeout, 90 * time.Second},
		{"Admin.Listen", c.Admin.Listen, Off},
		{"Log.Requests", c.Log.Requests, "/var/log/weir.log"},
		{"Instances", c.Instances, 4},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		src     string
		gateway Transport
		targets []Transport
	}{
		{
			name: "gateway values reach targets",
			src: `
transport: {keepalive_timeout: 90s, max_connections: 100}
apis:
  - name: a
    base_path: /a
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			gateway: transport(func(t *Transport) { t.KeepaliveTimeout = 90 * time.Second; t.MaxConnections = 100 }),
			targets: []Transport{transport(func(t *Transport) { t.KeepaliveTimeout = 90 * time.Second; t.MaxConnections = 100 })},
		},
		{
			name: "explicit zero overrides the gateway for that target only",
			src: `
transport:
  keepalive_timeout: 60s
  max_connections: 100
  response_timeout: 10s
apis:
  - name: off
    base_path: /off
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {keepalive_timeout: 0, max_connections: 0}
  - name: on
    base_path: /on
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			gateway: transport(func(t *Transport) { t.MaxConnections = 100; t.ResponseTimeout = 10 * time.Second }),
			targets: []Transport{
				transport(func(t *Transport) { t.KeepaliveTimeout = 0; t.ResponseTimeout = 10 * time.Second }),
				transport(func(t *Transport) { t.MaxConnections = 100; t.ResponseTimeout = 10 * time.Second }),
			},
		},
		{
			name: "explicit zero overrides a built-in default",
			src: `
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {queue_timeout: 0, response_timeout: 0, resolve_interval: 0}
`,
			gateway: DefaultTransport(),
			targets: []Transport{transport(func(t *Transport) { t.QueueTimeout = 0; t.ResponseTimeout = 0; t.ResolveInterval = 0 })},
		},
		{
			name: "tls merges field by field",
			src: `
transport:
  tls: {ca_file: ca.pem, insecure_skip_verify: true}
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [https://127.0.0.1:9443]
      transport:
        tls: {server_name: backend.internal, insecure_skip_verify: false}
`,
			gateway: transport(func(t *Transport) { t.TLS = TLS{CAFile: "ca.pem", InsecureSkipVerify: true} }),
			targets: []Transport{transport(func(t *Transport) { t.TLS = TLS{CAFile: "ca.pem", ServerName: "backend.internal"} })},
		},
		{
			name: "a list replaces the inherited one, even when empty",
			src: `
transport: {source_addresses: [127.0.0.2, 127.0.0.3]}
apis:
  - name: own
    base_path: /own
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {source_addresses: []}
  - name: inherit
    base_path: /inherit
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			gateway: transport(func(t *Transport) { t.SourceAddresses = []string{"127.0.0.2", "127.0.0.3"} }),
			targets: []Transport{
				DefaultTransport(),
				transport(func(t *Transport) { t.SourceAddresses = []string{"127.0.0.2", "127.0.0.3"} }),
			},
		},
		{
			name: "every field at target level",
			src: `
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [https://127.0.0.1:9443]
      transport:
        connect_timeout: 250ms
        response_timeout: 2m
        keepalive_timeout: 15s
        max_connections: 64
        max_idle: 16
        queue_timeout: 1s
        max_requests_per_connection: 1000
        max_connection_lifetime: 1h
        resolve_interval: 10s
        source_addresses: [127.0.0.5, "::1"]
        egress_proxy: http://127.0.0.1:3128
        tls:
          server_name: b.internal
          ca_file: ca.pem
          cert_file: c.pem
          key_file: k.pem
          insecure_skip_verify: FALSE
`,
			gateway: DefaultTransport(),
			targets: []Transport{{
				ConnectTimeout:           250 * time.Millisecond,
				ResponseTimeout:          2 * time.Minute,
				KeepaliveTimeout:         15 * time.Second,
				MaxConnections:           64,
				MaxIdle:                  16,
				QueueTimeout:             time.Second,
				MaxRequestsPerConnection: 1000,
				MaxConnectionLifetime:    time.Hour,
				ResolveInterval:          10 * time.Second,
				SourceAddresses:          []string{"127.0.0.5", "::1"},
				EgressProxy:              "http://127.0.0.1:3128",
				TLS:                      TLS{ServerName: "b.internal", CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"},
			}},
		},
		{
			name: "YAML anchors and aliases",
			src: `
transport: &fast {connect_timeout: 1s, keepalive_timeout: 5s}
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: *fast
`,
			gateway: transport(func(t *Transport) { t.ConnectTimeout = time.Second; t.KeepaliveTimeout = 5 * time.Second }),
			targets: []Transport{transport(func(t *Transport) { t.ConnectTimeout = time.Second; t.KeepaliveTimeout = 5 * time.Second })},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, tc.src, nil)
			if !reflect.DeepEqual(c.Transport, tc.gateway) {
				t.Errorf("gateway transport: got %+v, want %+v", c.Transport, tc.gateway)
			}
			if len(c.APIs) != len(tc.targets) {
				t.Fatalf("got %d APIs, want %d", len(c.APIs), len(tc.targets))
			}
			for i, want := range tc.targets {
				if got := c.APIs[i].Target.Transport; !reflect.DeepEqual(got, want) {
					t.Errorf("target %d transport: got %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestMergeDoesNotShareMemory(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
transport: {source_addresses: [127.0.0.2]}
`+oneAPI, nil)
	c.APIs[0].Target.Transport.SourceAddresses[0] = "127.0.0.9"
	if got := c.Transport.SourceAddresses[0]; got != "127.0.0.2" {
		t.Errorf("gateway source address after changing the target's: got %s, want 127.0.0.2", got)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"HOST": "db", "EMPTY": "", "N": "7"}
	for _, tc := range []struct {
		name     string
		in, want string
		offs     []int // offsets of the problems
	}{
		{name: "no references", in: "plain", want: "plain"},
		{name: "variable", in: "${HOST}:5432", want: "db:5432"},
		{name: "two variables", in: "${HOST}${N}", want: "db7"},
		{name: "default when unset", in: "${NOPE:-x:1}", want: "x:1"},
		{name: "default when empty", in: "${EMPTY:-d}", want: "d"},
		{name: "set wins over default", in: "${N:-9}", want: "7"},
		{name: "empty without default", in: "a${EMPTY}b", want: "ab"},
		{name: "empty default", in: "a${NOPE:-}b", want: "ab"},
		{name: "dollar escape", in: "$${HOST}", want: "${HOST}"},
		{name: "double escape", in: "$$$$", want: "$$"},
		{name: "lone dollar kept", in: "pa$word$", want: "pa$word$"},
		{name: "unset", in: "x${NOPE}", want: "x", offs: []int{1}},
		{name: "all problems", in: "${A} ${B}", want: " ", offs: []int{0, 5}},
		{name: "invalid name", in: "${1X}", want: "", offs: []int{0}},
		{name: "unsupported form", in: "${HOST:?no}", want: "", offs: []int{0}},
		{name: "empty reference", in: "${}", want: "", offs: []int{0}},
		{name: "unterminated", in: "ab${HOST", want: "ab", offs: []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, probs := expand(tc.in, envOf(vars))
			if got != tc.want {
				t.Errorf("expand(%q): got %q, want %q", tc.in, got, tc.want)
			}
			var offs []int
			for _, p := range probs {
				offs = append(offs, p.off)
			}
			if !reflect.DeepEqual(offs, tc.offs) {
				t.Errorf("expand(%q) problem offsets: got %v, want %v", tc.in, offs, tc.offs)
			}
		})
	}
}

func TestEnvSubstitution(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
listen: "${HOST:-127.0.0.1}:${PORT}"
admin: {listen: '${ADMIN:-127.0.0.1:9902}'}
transport:
  max_connections: ${MAXC}
  keepalive_timeout: ${KA:-45s}
  tls: {insecure_skip_verify: "${INSECURE:-false}"}
apis:
  - name: ${NAME}
    base_path: /price$$
    target:
      endpoints: ["${BACKEND}/v1"]
`, map[string]string{"PORT": "8081", "MAXC": "10", "NAME": "prices", "BACKEND": "http://127.0.0.1:9000"})
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"Listen", c.Listen, "127.0.0.1:8081"},
		{"Admin.Listen", c.Admin.Listen, "127.0.0.1:9902"},
		{"MaxConnections", c.Transport.MaxConnections, 10},
		{"KeepaliveTimeout", c.Transport.KeepaliveTimeout, 45 * time.Second},
		{"InsecureSkipVerify", c.Transport.TLS.InsecureSkipVerify, false},
		{"Name", c.APIs[0].Name, "prices"},
		{"BasePath", c.APIs[0].BasePath, "/price$"},
		{"Endpoint", c.APIs[0].Target.Endpoints[0], "http://127.0.0.1:9000/v1"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestHashIsOfRawBytes(t *testing.T) {
	t.Parallel()
	src := "listen: ${L}\n" + oneAPI
	a := mustParse(t, src, map[string]string{"L": "127.0.0.1:1"})
	b := mustParse(t, src, map[string]string{"L": "127.0.0.1:2"})
	sum := sha256.Sum256([]byte(src))
	if want := hex.EncodeToString(sum[:]); a.Hash != want || b.Hash != want {
		t.Errorf("Hash: got %s and %s, want %s for both", a.Hash, b.Hash, want)
	}
}

func TestAliases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		src     string
		vars    map[string]string
		gateway Transport
		target  Transport
		props   map[string]string // the target's Properties, as parsed
	}{
		{
			name: "gateway keep-alive property is the targets' default",
			src: `
transport:
  properties: {HTTPTransport.keepalive.timeout.millis: 45000}
` + oneAPI,
			gateway: transport(func(t *Transport) {
				t.KeepaliveTimeout = 45 * time.Second
				t.Properties = map[string]string{"HTTPTransport.keepalive.timeout.millis": "45000"}
			}),
			target: transport(func(t *Transport) { t.KeepaliveTimeout = 45 * time.Second }),
		},
		{
			name: "target properties, as strings",
			src: `
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      properties:
        keepalive.timeout.millis: "1500"
        connect.timeout.millis: "250"
        io.timeout.millis: "120000"
`,
			gateway: DefaultTransport(),
			target: transport(func(t *Transport) {
				t.KeepaliveTimeout = 1500 * time.Millisecond
				t.ConnectTimeout = 250 * time.Millisecond
				t.ResponseTimeout = 2 * time.Minute
			}),
			props: map[string]string{"keepalive.timeout.millis": "1500", "connect.timeout.millis": "250", "io.timeout.millis": "120000"},
		},
		{
			name: "target transport properties",
			src: `
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      transport:
        properties: {io.timeout.millis: 30000}
`,
			gateway: DefaultTransport(),
			target: transport(func(t *Transport) {
				t.ResponseTimeout = 30 * time.Second
				t.Properties = map[string]string{"io.timeout.millis": "30000"}
			}),
		},
		{
			name: "target property overrides the gateway setting",
			src: `
transport: {keepalive_timeout: 90s}
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      properties: {keepalive.timeout.millis: 0}
`,
			gateway: transport(func(t *Transport) { t.KeepaliveTimeout = 90 * time.Second }),
			target:  transport(func(t *Transport) { t.KeepaliveTimeout = 0 }),
			props:   map[string]string{"keepalive.timeout.millis": "0"},
		},
		{
			name: "target setting overrides the gateway property",
			src: `
transport:
  properties: {HTTPTransport.keepalive.timeout.millis: 1000}
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {keepalive_timeout: 2s}
`,
			gateway: transport(func(t *Transport) {
				t.KeepaliveTimeout = time.Second
				t.Properties = map[string]string{"HTTPTransport.keepalive.timeout.millis": "1000"}
			}),
			target: transport(func(t *Transport) { t.KeepaliveTimeout = 2 * time.Second }),
		},
		{
			name: "property from the environment",
			src: `
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      properties: {connect.timeout.millis: "${CT}"}
`,
			vars:    map[string]string{"CT": "700"},
			gateway: DefaultTransport(),
			target:  transport(func(t *Transport) { t.ConnectTimeout = 700 * time.Millisecond }),
			props:   map[string]string{"connect.timeout.millis": "700"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, tc.src, tc.vars)
			if !reflect.DeepEqual(c.Transport, tc.gateway) {
				t.Errorf("gateway transport: got %+v, want %+v", c.Transport, tc.gateway)
			}
			tg := c.APIs[0].Target
			if !reflect.DeepEqual(tg.Transport, tc.target) {
				t.Errorf("target transport: got %+v, want %+v", tg.Transport, tc.target)
			}
			if len(tg.Properties) != 0 || len(tc.props) != 0 {
				if !reflect.DeepEqual(tg.Properties, tc.props) {
					t.Errorf("target properties: got %v, want %v", tg.Properties, tc.props)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, basePath, want string
	}{
		{"trailing slash removed", "/hello/", "/hello"},
		{"root kept", "/", "/"},
		{"no slash unchanged", "/a/b", "/a/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, `
apis:
  - name: a
    base_path: `+tc.basePath+`
    hosts: [API.Example.com]
    target: {endpoints: [http://127.0.0.1:9000]}
`, nil)
			if got := c.APIs[0].BasePath; got != tc.want {
				t.Errorf("BasePath: got %q, want %q", got, tc.want)
			}
			if got := c.APIs[0].Hosts; !reflect.DeepEqual(got, []string{"api.example.com"}) {
				t.Errorf("Hosts: got %q, want [api.example.com]", got)
			}
		})
	}
}

// api is an apis block with one API whose extra lines (indented for the
// API's mapping) are added.
func api(extra string) string {
	return `
apis:
  - name: a
    base_path: /a
` + extra
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  string
		vars map[string]string
		want []string
	}{
		// YAML itself.
		{
			name: "syntax error",
			src:  "listen: [a\n",
			want: []string{"t.yaml:1:1: invalid YAML: did not find expected ',' or ']'"},
		},
		{
			name: "second document",
			src:  oneAPI + "---\nlisten: x\n",
			want: []string{"t.yaml:7:1: a config file holds one YAML document; found a second"},
		},
		{
			name: "top level not a mapping",
			src:  "- a\n",
			want: []string{"t.yaml:1:1: expected a mapping (key: value lines), got a list"},
		},
		{
			name: "empty file",
			src:  "",
			want: []string{"t.yaml:1:1: at least one API is required under apis:"},
		},
		// Keys.
		{
			name: "unknown key with suggestion",
			src:  "listne: 127.0.0.1:80\n" + oneAPI,
			want: []string{`t.yaml:1:1: unknown key "listne" (did you mean "listen"?)`},
		},
		{
			name: "unknown key differing in case",
			src:  "transport: {Keepalive_Timeout: 1s}\n" + oneAPI,
			want: []string{`t.yaml:1:13: unknown key "Keepalive_Timeout" (did you mean "keepalive_timeout"?)`},
		},
		{
			name: "unknown key without suggestion",
			src:  api("    frobnicate: yes\n    target: {endpoints: [http://127.0.0.1:9000]}\n"),
			want: []string{`t.yaml:5:5: unknown key "frobnicate"`},
		},
		{
			name: "duplicate key",
			src:  "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n" + oneAPI,
			want: []string{`t.yaml:2:1: duplicate key "listen" (first at line 1)`},
		},
		{
			name: "merge key",
			src:  "base: &b {listen: x}\n" + oneAPI,
			want: []string{`t.yaml:1:1: unknown key "base"`},
		},
		{
			name: "merge key refused",
			src:  "admin:\n  <<: {listen: x}\n" + oneAPI,
			want: []string{`t.yaml:2:3: merge keys (<<) are not supported`},
		},
		{
			name: "non-string key",
			src:  "? [a]\n: 1\n" + oneAPI,
			want: []string{`t.yaml:1:3: expected a key, got a list`},
		},
		// Types.
		{
			name: "duration garbage",
			src:  "drain_timeout: abc\n" + oneAPI,
			want: []string{`t.yaml:1:16: expected a duration like 30s, got "abc"`},
		},
		{
			name: "duration bare number",
			src:  "transport: {keepalive_timeout: 30}\n" + oneAPI,
			want: []string{`t.yaml:1:32: expected a duration like 30s, got "30" (a number needs a unit: 30s or 30ms)`},
		},
		{
			name: "duration missing",
			src:  "drain_timeout:\n" + oneAPI,
			want: []string{`t.yaml:1:15: expected a duration like 30s, got nothing`},
		},
		{
			name: "duration negative",
			src:  "transport: {queue_timeout: -1s}\n" + oneAPI,
			want: []string{`t.yaml:1:28: queue_timeout must not be negative, got -1s`},
		},
		{
			name: "integer garbage",
			src:  "transport: {max_connections: ten}\n" + oneAPI,
			want: []string{`t.yaml:1:30: expected an integer, got "ten"`},
		},
		{
			name: "integer negative",
			src:  "transport: {max_idle: -1}\n" + oneAPI,
			want: []string{`t.yaml:1:23: max_idle must not be negative, got -1`},
		},
		{
			name: "integer too large",
			src:  "transport: {max_idle: 99999999999999999999}\n" + oneAPI,
			want: []string{`t.yaml:1:23: max_idle is too large, got 99999999999999999999`},
		},
		{
			name: "bool yes",
			src:  "transport: {tls: {insecure_skip_verify: yes}}\n" + oneAPI,
			want: []string{`t.yaml:1:41: expected true or false, got "yes"`},
		},
		{
			name: "string given a list",
			src:  "listen: [a]\n" + oneAPI,
			want: []string{`t.yaml:1:9: expected a string, got a list`},
		},
		{
			name: "list given a string",
			src:  api("    hosts: a.example.com\n    target: {endpoints: [http://127.0.0.1:9000]}\n"),
			want: []string{`t.yaml:5:12: expected a list, got "a.example.com"`},
		},
		{
			name: "mapping given a string",
			src:  "transport: fast\n" + oneAPI,
			want: []string{`t.yaml:1:12: expected a mapping (key: value lines), got "fast"`},
		},
		{
			name: "apis given a mapping",
			src:  "apis: {a: 1}\n",
			want: []string{`t.yaml:1:7: expected a list of APIs, got a mapping`},
		},
		{
			name: "api given a string",
			src:  "apis: [a]\n",
			want: []string{`t.yaml:1:8: expected a mapping (key: value lines), got "a"`},
		},
		// Environment.
		{
			name: "unset variable, at its place",
			src:  "transport:\n  max_connections: x${MAXC}\n" + oneAPI,
			want: []string{`t.yaml:2:21: environment variable MAXC is not set (give a default with ${MAXC:-default})`},
		},
		{
			name: "unset variable in a quoted value",
			src:  `listen: "${H:-127.0.0.1}:${PORT}"` + "\n" + oneAPI,
			want: []string{`t.yaml:1:26: environment variable PORT is not set (give a default with ${PORT:-default})`},
		},
		{
			name: "substituted value still type-checked",
			src:  "transport:\n  max_connections: ${MAXC}\n" + oneAPI,
			vars: map[string]string{"MAXC": "many"},
			want: []string{`t.yaml:2:20: expected an integer, got "many"`},
		},
		{
			name: "invalid and unterminated references",
			src:  "listen: ${9}:${P\n" + oneAPI,
			want: []string{
				`t.yaml:1:9: invalid reference "${9}": want ${NAME} or ${NAME:-default}`,
				`t.yaml:1:14: unterminated "${" (write "$$" for a literal "$")`,
			},
		},
		// Aliases.
		{
			name: "gateway property and key both set",
			src:  "transport:\n  keepalive_timeout: 30s\n  properties: {HTTPTransport.keepalive.timeout.millis: 1000}\n" + oneAPI,
			want: []string{`t.yaml:3:16: HTTPTransport.keepalive.timeout.millis sets keepalive_timeout, which is already set at line 2; keep one`},
		},
		{
			name: "target property and key both set",
			src: api(`    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {keepalive_timeout: 30s}
      properties: {keepalive.timeout.millis: 1000}
`),
			want: []string{`t.yaml:8:20: keepalive.timeout.millis sets keepalive_timeout, which is already set at line 7; keep one`},
		},
		{
			name: "target property given in both places",
			src: api(`    target:
      endpoints: [http://127.0.0.1:9000]
      transport:
        properties: {io.timeout.millis: 1000}
      properties: {io.timeout.millis: 2000}
`),
			want: []string{`t.yaml:9:20: io.timeout.millis sets response_timeout, which is already set at line 8; keep one`},
		},
		{
			name: "unknown property with suggestion",
			src: api(`    target:
      endpoints: [http://127.0.0.1:9000]
      properties: {keepalive.timout.millis: 1000}
`),
			want: []string{`t.yaml:7:20: unknown key "keepalive.timout.millis" (did you mean "keepalive.timeout.millis"?)`},
		},
		{
			name: "target property at the gateway",
			src:  "transport:\n  properties: {keepalive.timeout.millis: 1000}\n" + oneAPI,
			want: []string{`t.yaml:2:16: unknown key "keepalive.timeout.millis" (did you mean "HTTPTransport.keepalive.timeout.millis"?)`},
		},
		{
			name: "property not milliseconds",
			src: api(`    target:
      endpoints: [http://127.0.0.1:9000]
      properties: {connect.timeout.millis: 3s, io.timeout.millis: -5}
`),
			want: []string{
				`t.yaml:7:44: expected integer milliseconds like 3000, got "3s"`,
				`t.yaml:7:67: io.timeout.millis must not be negative, got -5`,
			},
		},
		// Validation.
		{
			name: "no apis",
			src:  "listen: 127.0.0.1:8080\napis: []\n",
			want: []string{`t.yaml:2:7: at least one API is required under apis:`},
		},
		{
			name: "api name missing, invalid, duplicate",
			src: `
apis:
  - base_path: /a
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: b c
    base_path: /b
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: d
    base_path: /d
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: d
    base_path: /e
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			want: []string{
				`t.yaml:3:5: API name is required`,
				`t.yaml:5:11: API name "b c" may only contain letters, digits, '_', '.' and '-'`,
				`t.yaml:11:11: duplicate API name "d" (first at line 8)`,
			},
		},
		{
			name: "base_path problems",
			src: `
apis:
  - name: a
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: b
    base_path: b
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: c
    base_path: /c?x=1
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: d
    base_path: /d//e
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: e
    base_path: /e/../f
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			want: []string{
				`t.yaml:3:5: base_path is required`,
				`t.yaml:6:16: base_path "b" must start with "/"`,
				`t.yaml:9:16: base_path "/c?x=1" must not contain "?" or "#"`,
				`t.yaml:12:16: base_path "/d//e" must not contain "//"`,
				`t.yaml:15:16: base_path "/e/../f" must not contain "." or ".." segments`,
			},
		},
		{
			name: "same base_path and no hosts",
			src: `
apis:
  - name: a
    base_path: /x/
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: b
    base_path: /x
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			want: []string{`t.yaml:7:16: base_path "/x" on any host is already served by API "a" (first at line 3)`},
		},
		{
			name: "same base_path and a shared host",
			src: `
apis:
  - name: a
    base_path: /x
    hosts: [a.example.com, b.example.com]
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: b
    base_path: /x
    hosts: [B.example.com]
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			want: []string{`t.yaml:8:16: base_path "/x" on host "b.example.com" is already served by API "a" (first at line 3)`},
		},
		{
			name: "invalid and duplicate hosts",
			src: api(`    hosts: [a.example.com, "*", "*.", "a.example.com", "x.com:8080", -a.com, "*.ok.com", "[::1]", 10.0.0.1]
    target: {endpoints: [http://127.0.0.1:9000]}
`),
			want: []string{
				`t.yaml:5:28: invalid host "*": want a host name like api.example.com or a wildcard like *.example.com (no port)`,
				`t.yaml:5:33: invalid host "*.": want a host name like api.example.com or a wildcard like *.example.com (no port)`,
				`t.yaml:5:39: duplicate host "a.example.com"`,
				`t.yaml:5:56: invalid host "x.com:8080": want a host name like api.example.com or a wildcard like *.example.com (no port)`,
				`t.yaml:5:70: invalid host "-a.com": want a host name like api.example.com or a wildcard like *.example.com (no port)`,
			},
		},
		{
			name: "no endpoints",
			src:  api("    target: {endpoints: []}\n"),
			want: []string{`t.yaml:5:25: target of API "a" needs at least one endpoint`},
		},
		{
			name: "no target",
			src:  api(""),
			want: []string{`t.yaml:3:5: target of API "a" needs at least one endpoint`},
		},
		{
			name: "bad endpoints",
			src: api(`    target:
      endpoints:
        - ftp://127.0.0.1
        - 127.0.0.1:9000
        - http://
        - http://user:pw@127.0.0.1
        - http://127.0.0.1/?a=1
        - http://127.0.0.1/#top
        - http://127.0.0.1:99999
        - http://bad_host-.com
        - "http://127.0.0.1:9000/%zz"
`),
			want: []string{
				`t.yaml:7:11: endpoint "ftp://127.0.0.1" must be an absolute http:// or https:// URL`,
				`t.yaml:8:11: endpoint "127.0.0.1:9000" is not a valid URL`,
				`t.yaml:9:11: endpoint "http://" has no host (want http://host[:port][/path])`,
				`t.yaml:10:11: endpoint "http://user:pw@127.0.0.1" must not contain user info (user:password@)`,
				`t.yaml:11:11: endpoint "http://127.0.0.1/?a=1" must not have a query`,
				`t.yaml:12:11: endpoint "http://127.0.0.1/#top" must not have a fragment`,
				`t.yaml:13:11: endpoint "http://127.0.0.1:99999" has an invalid port`,
				`t.yaml:14:11: endpoint "http://bad_host-.com" has an invalid host "bad_host-.com"`,
				`t.yaml:15:11: endpoint "http://127.0.0.1:9000/%zz" is not a valid URL`,
			},
		},
		{
			name: "listener addresses",
			src:  "listen: localhost\nadmin: {listen: ''}\nlog: {requests: ''}\n" + oneAPI,
			want: []string{
				`t.yaml:1:9: listen "localhost" must be host:port, like 127.0.0.1:8080`,
				`t.yaml:2:17: admin.listen "" must be host:port, like 127.0.0.1:8080`,
				`t.yaml:3:17: log.requests must not be empty (use "off" to turn the request log off)`,
			},
		},
		{
			name: "admin on the client address",
			src:  "listen: 127.0.0.1:8080\nadmin: {listen: 127.0.0.1:8080}\n" + oneAPI,
			want: []string{`t.yaml:2:17: admin.listen "127.0.0.1:8080" is the same address as listen`},
		},
		{
			name: "egress proxy and source addresses",
			src: `
transport:
  egress_proxy: https://127.0.0.1:3128
  source_addresses: [127.0.0.1, localhost]
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {egress_proxy: "http://127.0.0.1"}
  - name: b
    base_path: /b
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: c
    base_path: /c
    target: {endpoints: [http://127.0.0.1:9000]}
`,
			want: []string{
				`t.yaml:3:17: egress_proxy "https://127.0.0.1:3128" must look like http://host:port`,
				`t.yaml:4:33: source address "localhost" is not an IP address`,
				`t.yaml:10:33: egress_proxy "http://127.0.0.1" must look like http://host:port`,
			},
		},
		{
			name: "client certificate halves and connect timeout zero",
			src: `
transport:
  connect_timeout: 0s
  tls: {cert_file: c.pem}
apis:
  - name: a
    base_path: /a
    target:
      endpoints: [https://127.0.0.1:9443]
      transport:
        tls: {key_file: k.pem, cert_file: ""}
      properties: {connect.timeout.millis: 0}
`,
			want: []string{
				`t.yaml:3:20: connect_timeout must be greater than 0`,
				`t.yaml:4:20: tls.cert_file is set but tls.key_file is not: a client certificate needs both`,
				`t.yaml:11:25: tls.key_file is set but tls.cert_file is not: a client certificate needs both`,
				`t.yaml:12:44: connect_timeout must be greater than 0`,
			},
		},
		{
			name: "a type error is not reported again by validation",
			src:  api("    target: [http://127.0.0.1:9000]\n"),
			want: []string{`t.yaml:5:13: expected a mapping (key: value lines), got a list`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := problemLines(t, tc.src, tc.vars)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	const cost = "every request pays a TCP (and TLS) handshake and consumes an outbound port at the request rate; ports are held ~240s after close (TIME_WAIT/NAT)"
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{name: "none by default", src: oneAPI},
		{
			name: "keep-alive off on a target",
			src: api(`    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {keepalive_timeout: 0}
`),
			want: []string{`t.yaml:7:19: warning: keep-alive is off for target of API "a": ` + cost},
		},
		{
			name: "keep-alive off at the gateway warns once there",
			src: `
transport:
  keepalive_timeout: 0s
apis:
  - name: a
    base_path: /a
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: b
    base_path: /b
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: c
    base_path: /c
    target:
      endpoints: [http://127.0.0.1:9000]
      properties: {keepalive.timeout.millis: 0}
  - name: d
    base_path: /d
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {keepalive_timeout: 10s}
`,
			want: []string{
				`t.yaml:3:3: warning: keep-alive is off for every target that does not set keepalive_timeout: ` + cost,
				`t.yaml:15:20: warning: keep-alive is off for target of API "c": ` + cost,
			},
		},
		{
			name: "keep-alive off through the gateway property",
			src:  "transport:\n  properties: {HTTPTransport.keepalive.timeout.millis: 0}\n" + oneAPI,
			want: []string{`t.yaml:2:16: warning: keep-alive is off for every target that does not set keepalive_timeout: ` + cost},
		},
		{
			name: "insecure TLS",
			src: `
transport:
  tls: {insecure_skip_verify: true}
apis:
  - name: a
    base_path: /a
    target: {endpoints: [https://127.0.0.1:9443]}
  - name: b
    base_path: /b
    target:
      endpoints: [https://127.0.0.1:9443]
      transport: {tls: {insecure_skip_verify: true}}
`,
			want: []string{
				`t.yaml:3:9: warning: TLS certificate verification is off for every target that does not set tls.insecure_skip_verify: ` + insecureCost,
				`t.yaml:12:25: warning: TLS certificate verification is off for target of API "b": ` + insecureCost,
			},
		},
		{
			name: "max_idle above max_connections",
			src: `
transport: {max_connections: 10, max_idle: 20}
apis:
  - name: inherits
    base_path: /a
    target: {endpoints: [http://127.0.0.1:9000]}
  - name: own-idle
    base_path: /b
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {max_idle: 30}
  - name: own-cap
    base_path: /c
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {max_connections: 5}
  - name: unlimited
    base_path: /d
    target:
      endpoints: [http://127.0.0.1:9000]
      transport: {max_connections: 0}
`,
			want: []string{
				`t.yaml:2:34: warning: max_idle 20 is above max_connections 10: max_idle has no effect above the cap`,
				`t.yaml:11:19: warning: max_idle 30 is above max_connections 10: max_idle has no effect above the cap (target of API "own-idle")`,
				`t.yaml:16:19: warning: max_idle 20 is above max_connections 5: max_idle has no effect above the cap (target of API "own-cap")`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := warningLines(mustParse(t, tc.src, nil))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("warnings:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    Problem
		want string
	}{
		{"error", Problem{File: "w.yaml", Line: 3, Col: 7, Msg: "bad"}, "w.yaml:3:7: bad"},
		{"warning", Problem{File: "w.yaml", Line: 3, Col: 7, Msg: "unwise", Warning: true}, "w.yaml:3:7: warning: unwise"},
		{"no place", Problem{File: "w.yaml", Msg: "cannot read"}, "w.yaml: cannot read"},
		{"no file", Problem{Msg: "bad"}, "bad"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestProblemsSorted(t *testing.T) {
	t.Parallel()
	ps := Problems{
		{File: "b.yaml", Line: 1, Col: 1, Msg: "b"},
		{File: "a.yaml", Line: 2, Col: 1, Msg: "a2"},
		{File: "a.yaml", Line: 1, Col: 9, Msg: "a1-9"},
		{File: "a.yaml", Line: 1, Col: 2, Msg: "a1-2 first"},
		{File: "a.yaml", Line: 1, Col: 2, Msg: "a1-2 second"},
		{File: "a.yaml", Line: 2, Col: 1, Msg: "a2"}, // exact duplicate
	}
	want := "a.yaml:1:2: a1-2 first\na.yaml:1:2: a1-2 second\na.yaml:1:9: a1-9\na.yaml:2:1: a2\nb.yaml:1:1: b"
	if got := ps.sorted().Error(); got != want {
		t.Errorf("sorted:\ngot\n%s\nwant\n%s", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "weir.yaml")
	src := "transport:\n  max_connections: ${WEIR_TEST_MAXC}\n" + oneAPI
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEIR_TEST_MAXC", "12")
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: got error %v, want none", err)
	}
	if c.File != path || c.Transport.MaxConnections != 12 {
		t.Errorf("Load: got File %q, MaxConnections %d, want %q, 12", c.File, c.Transport.MaxConnections, path)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = Load(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing): got %v, want an error matching fs.ErrNotExist", err)
	}
	if want := missing + ": cannot read config: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Load(missing): got %q, want %q", err, want)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listne: x\n"+oneAPI), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if want := bad + `:1:1: unknown key "listne" (did you mean "listen"?)`; err == nil || err.Error() != want {
		t.Errorf("Load(bad): got %q, want %q", err, want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := func() *Config {
		return &Config{
			File:      "code",
			Listen:    DefaultListen,
			Admin:     Admin{Listen: Off},
			Log:       Log{Requests: DefaultRequestLog},
			Transport: DefaultTransport(),
			APIs: []API{{
				Name:     "a",
				BasePath: "/a",
				Target:   Target{Endpoints: []string{"http://127.0.0.1:9000"}, Transport: DefaultTransport()},
				Pos:      Pos{File: "code", Line: 4, Col: 2},
			}},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{name: "valid", change: func(*Config) {}},
		{
			name:   "target problem at the API's Pos",
			change: func(c *Config) { c.APIs[0].Target.Transport.ConnectTimeout = 0 },
			want:   "code:4:2: connect_timeout must be greater than 0",
		},
		{
			name:   "negative value",
			change: func(c *Config) { c.APIs[0].Target.Transport.MaxIdle = -1 },
			want:   "code:4:2: max_idle must not be negative, got -1",
		},
		{
			name: "gateway and API problems",
			change: func(c *Config) {
				c.DrainTimeout = -time.Second
				c.APIs[0].BasePath = "a"
			},
			want: "code: drain_timeout must not be negative, got -1s\ncode:4:2: base_path \"a\" must start with \"/\"",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good()
			tc.change(c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate:\ngot\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"listen", "drain_timeout", "admin", "log", "transport", "apis"}
	for _, tc := range []struct {
		key, want string
	}{
		{"listne", "listen"},
		{"lsiten", "listen"},
		{"Listen", "listen"},
		{"api", "apis"},
		{"drain-timeout", "drain_timeout"},
		{"transprot", "transport"},
		{"target", ""},
		{"x", ""},
		{"completely_unrelated", ""},
	} {
		if got := suggest(tc.key, known); got != tc.want {
			t.Errorf("suggest(%q): got %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	// 300 references to an API with 300 hosts: 90000 values to check from
	// a file of 8 kB.
	var b strings.Builder
	b.WriteString("apis:\n  - &a\n    name: a\n    base_path: /a\n    target: {endpoints: [http://127.0.0.1:9000]}\n    hosts:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "      - h%d.example.com\n", i)
	}
	for range 300 {
		b.WriteString("  - *a\n")
	}
	got := problemLines(t, b.String(), nil)
	want := []string{`t.yaml:1:1: the file repeats aliased blocks too often (more than 29186 values)`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "good", "full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	lookup := envOf(goldenEnv())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parse("full.yaml", data, lookup); err != nil {
			b.Fatal(err)
		}
	}
}
