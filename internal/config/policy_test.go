package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// withPolicies is oneAPI with a policies block of the API.
func withPolicies(block string) string {
	return oneAPI + "    policies:\n" + block
}

func TestPoliciesDecode(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
store: {kind: redis, address: "127.0.0.1:6379", password: s3cret, db: 2, tls: {enabled: true, server_name: r.internal}}
policies:
  inbound:
    - {kind: spike-arrest, rate: 10ps}
`+withPolicies(`      inbound:
        - kind: rate-limit-by-key
          name: per-client
          calls: 100
          period: 60s
          key: [header:X-Api-Key, ip]
          when: {methods: [GET], paths: [/a/*], headers_present: [X-Api-Key]}
        - kind: quota-by-key
          bytes: 10MiB
          period: month
          window: rolling
          key: consumer
          on_store_error: deny
`), nil)
	if got := c.Store; got.Kind != StoreRedis || got.Address != "127.0.0.1:6379" || got.Password != "s3cret" || got.DB != 2 || !got.TLS.Enabled || got.TLS.ServerName != "r.internal" || got.Timeout != DefaultStoreTimeout || got.Pos.Line != 2 {
		t.Errorf("store: got %+v", got)
	}
	gw := c.Policies.Inbound
	if len(gw) != 1 || gw[0].Name != KindSpikeArrest || gw[0].SpikeArrest.Rate != "10ps" || gw[0].SpikeArrest.Key != nil || gw[0].SpikeArrest.OnStoreError != OnStoreErrorAllow {
		t.Errorf("gateway policies: got %+v", gw)
	}
	in := c.APIs[0].Policies.Inbound
	if len(in) != 2 {
		t.Fatalf("api inbound: got %d policies, want 2", len(in))
	}
	rl := in[0]
	wantRL := &RateLimit{Calls: 100, Period: time.Minute, Key: []string{"header:X-Api-Key", "ip"}, Headers: true, OnStoreError: OnStoreErrorAllow}
	if rl.Name != "per-client" || !reflect.DeepEqual(rl.RateLimit, wantRL) || rl.Quota != nil {
		t.Errorf("rate limit: got %+v %+v, want %+v", rl, rl.RateLimit, wantRL)
	}
	if want := (When{Methods: []string{"GET"}, Paths: []string{"/a/*"}, HeadersPresent: []string{"X-Api-Key"}}); !reflect.DeepEqual(rl.When, want) {
		t.Errorf("when: got %+v, want %+v", rl.When, want)
	}
	q := in[1]
	wantQ := &Quota{Bytes: 10 << 20, Period: PeriodMonth, Window: WindowRolling, Key: []string{"consumer"}, OnStoreError: OnStoreErrorDeny}
	if q.Name != KindQuota || !reflect.DeepEqual(q.Quota, wantQ) || q.Pos.Line == 0 {
		t.Errorf("quota: got %+v %+v, want %+v", q, q.Quota, wantQ)
	}
	if d := mustParse(t, oneAPI, nil); d.Store.Kind != StoreMemory || d.Store.MaxKeys != DefaultStoreMaxKeys || !d.Policies.Empty() || !d.APIs[0].Policies.Empty() {
		t.Errorf("defaults: got store %+v, policies %+v", d.Store, d.Policies)
	}
	// key: [] is one counter for all; an absent key takes the default.
	e := mustParse(t, withPolicies("      inbound: [{kind: rate-limit-by-key, calls: 1, period: 1s, key: []}]\n"), nil)
	if k := e.APIs[0].Policies.Inbound[0].RateLimit.Key; k == nil || len(k) != 0 {
		t.Errorf("key: []: got %#v, want an empty non-nil list", k)
	}
}

func TestPolicyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unknown kind, with a suggestion",
			src:  withPolicies("      inbound:\n        - kind: rate-limit-by-kye\n"),
			want: []string{`t.yaml:9:17: unknown policy kind "rate-limit-by-kye" (did you mean "rate-limit-by-key"?)`},
		},
		{
			name: "no kind",
			src:  withPolicies("      inbound:\n        - name: x\n"),
			want: []string{"t.yaml:9:11: policy needs a kind: one of " + strings.Join(kindNames(), ", ")},
		},
		{
			name: "a key of another kind",
			src:  withPolicies("      inbound:\n        - {kind: spike-arrest, rate: 1ps, calls: 3}\n"),
			want: []string{`t.yaml:9:43: unknown key "calls"`},
		},
		{
			name: "bad parameters, each at its place",
			src: withPolicies(`      inbound:
        - kind: rate-limit-by-key
          calls: 0
          period: 0s
          burst: 5
          key: [ip, cookie:x, header:]
          on_store_error: maybe
`),
			want: []string{
				"t.yaml:10:18: calls must be > 0 (calls per period), got 0",
				"t.yaml:11:19: period must be at least 1ms, got 0s",
				`t.yaml:13:21: unknown key source "cookie:x": use ip, consumer, header:NAME or query:NAME`,
				`t.yaml:13:31: key "header:": want header:NAME with a valid header name`,
				`t.yaml:14:27: on_store_error must be "allow" or "deny", got "maybe"`,
			},
		},
		{
			name: "burst over calls",
			src:  withPolicies("      inbound: [{kind: rate-limit-by-key, calls: 2, period: 1s, burst: 3}]\n"),
			want: []string{"t.yaml:8:72: burst must be 1..calls (2), got 3"},
		},
		{
			name: "quota needs something to count and a known period",
			src:  withPolicies("      inbound: [{kind: quota-by-key, period: year, window: sliding}]\n"),
			want: []string{
				"t.yaml:8:17: a quota needs calls, bytes or both (> 0)",
				`t.yaml:8:46: period must be hour, day, week or month, got "year"`,
				`t.yaml:8:60: window must be "calendar" or "rolling", got "sliding"`,
			},
		},
		{
			name: "bad size",
			src:  withPolicies("      inbound: [{kind: quota-by-key, period: day, bytes: 10XB}]\n"),
			want: []string{`t.yaml:8:58: bytes: expected a size like 10MB or 1048576, got "10XB"`},
		},
		{
			name: "bad rate",
			src:  withPolicies("      inbound: [{kind: spike-arrest, rate: 10}]\n"),
			want: []string{`t.yaml:8:44: rate "10" needs a unit: like 10ps (per second) or 600pm (per minute)`},
		},
		{
			name: "wrong list",
			src:  withPolicies("      outbound: [{kind: spike-arrest, rate: 1ps}]\n"),
			want: []string{"t.yaml:8:25: a spike-arrest policy cannot be in outbound (it can be in: inbound)"},
		},
		{
			name: "duplicate names, also by default",
			src:  withPolicies("      inbound:\n        - {kind: spike-arrest, rate: 1ps}\n        - {kind: spike-arrest, rate: 2ps}\n"),
			want: []string{`t.yaml:10:11: two policies named "spike-arrest" in one policies block (first at line 9); give each its own name`},
		},
		{
			name: "bad condition",
			src:  withPolicies("      inbound: [{kind: spike-arrest, rate: 1ps, when: {methods: [G T], paths: [a*, /b*c], headers_absent: [\"a:b\"]}}]\n"),
			want: []string{
				`t.yaml:8:66: invalid method "G T"`,
				`t.yaml:8:80: path "a*" must start with / and may end with * (a prefix); no other *`,
				`t.yaml:8:84: path "/b*c" must start with / and may end with * (a prefix); no other *`,
				`t.yaml:8:108: invalid header name "a:b"`,
			},
		},
		{
			name: "policies not a list",
			src:  withPolicies("      inbound: {kind: spike-arrest}\n"),
			want: []string{"t.yaml:8:16: expected a list of policies, got a mapping"},
		},
		{
			name: "redis store needs an address",
			src:  "store: {kind: redis}\n" + oneAPI,
			want: []string{"t.yaml:1:1: a redis store needs address (host:port) or cluster (a list of seed nodes)"},
		},
		{
			name: "redis store problems",
			src:  "store: {kind: redis, address: nohost, cluster: [\"a:1\"], tls: {cert_file: c}, max_keys: 5}\n" + oneAPI,
			want: []string{
				`t.yaml:1:31: redis address "nohost" must be host:port, like 127.0.0.1:6379`,
				"t.yaml:1:48: set address (one server) or cluster (seed nodes), not both",
				"t.yaml:1:62: tls.cert_file and tls.key_file go together: set both or neither",
				"t.yaml:1:88: max_keys is a setting of a memory store; this store is kind redis",
			},
		},
		{
			name: "memory store with redis settings",
			src:  "store: {kind: memory, address: \"a:1\"}\n" + oneAPI,
			want: []string{"t.yaml:1:32: address is a setting of a redis store; this store is kind memory"},
		},
		{
			name: "unknown store kind",
			src:  "store: {kind: etcd}\n" + oneAPI,
			want: []string{`t.yaml:1:15: store kind must be "memory" or "redis", got "etcd"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := problemLines(t, tc.src, nil)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1048576", 1 << 20, true}, {"10MB", 10_000_000, true}, {"1GiB", 1 << 30, true},
		{"2 KiB", 2048, true}, {"5B", 5, true}, {"-1", 0, false}, {"1.5MB", 0, false}, {"MB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true}, {"10000000TB", 0, false}, {"9000000TB", 9e18, true},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q): got %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		calls int
		per   time.Duration
		ok    bool
	}{
		{"10ps", 10, time.Second, true}, {"600pm", 600, time.Minute, true}, {"1pm", 1, time.Minute, true},
		{"0ps", 0, 0, false}, {"10", 0, 0, false}, {"ps", 0, 0, false}, {"10ph", 0, 0, false}, {"-1ps", 0, 0, false},
	} {
		calls, per, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || calls != tc.calls || per != tc.per {
			t.Errorf("ParseRate(%q): got %d, %v, %v; want %d, %v, ok=%v", tc.in, calls, per, err, tc.calls, tc.per, tc.ok)
		}
	}
}

// FuzzParseSize: never panics; accepted sizes are non-negative and a plain
// number reads back as itself.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "10MB", "1GiB", "-1", "9223372036854775807TB", " 5 KiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err == nil && v < 0 {
			t.Errorf("ParseSize(%q) = %d, want >= 0", s, v)
		}
	})
}

// FuzzParseRate: never panics; accepted rates have a count and a unit.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"10ps", "600pm", "0ps", "1000000000ps"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		calls, per, err := ParseRate(s)
		if err == nil && (calls <= 0 || per <= 0 || time.Duration(calls) > per) {
			t.Errorf("ParseRate(%q) = %d, %v", s, calls, per)
		}
	})
}
