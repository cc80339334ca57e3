package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// policyKind is one row of the policy kinds table: how its own settings
// decode and are checked, and which lists it may be in. A new kind is a new
// row (and a field of Policy for its settings).
type policyKind struct {
	name string
	// lists the kind may be placed in: "inbound", "outbound", "on_error".
	lists []string
	// fields allocates the kind's settings in p (with their defaults) and
	// returns the rows of its keys.
	fields func(d *decoder, p *Policy) []field
	// check validates the kind's settings of p, at path.
	check func(k *checker, path string, p *Policy)
}

// policyKinds is the table of known policy kinds.
func policyKinds() []policyKind {
	return []policyKind{
		{KindRateLimit, []string{"inbound"}, (*decoder).rateLimitFields, (*checker).rateLimit},
		{KindQuota, []string{"inbound"}, (*decoder).quotaFields, (*checker).quota},
		{KindSpikeArrest, []string{"inbound"}, (*decoder).spikeArrestFields, (*checker).spikeArrest},
		{KindCache, []string{"inbound"}, (*decoder).cacheFields, (*checker).cache},
		{KindCacheLookup, []string{"inbound"}, (*decoder).cacheLookupFields, (*checker).cache},
		{KindCacheStore, []string{"outbound"}, (*decoder).cacheStoreFields, (*checker).cache},
	}
}

// findKind returns the row of kind name.
func findKind(name string) (policyKind, bool) {
	for _, k := range policyKinds() {
		if k.name == name {
			return k, true
		}
	}
	return policyKind{}, false
}

// kindNames lists the known kinds, for messages.
func kindNames() []string {
	var names []string
	for _, k := range policyKinds() {
		names = append(names, k.name)
	}
	return names
}

// storeBlock decodes the top-level store block over s (the defaults).
func (d *decoder) storeBlock(path string, n *yaml.Node, s *Store) {
	s.Pos = d.pos(resolve(n))
	d.mapping(path, n, d.storeFields(s))
}

// storeFields are the keys of the store block.
func (d *decoder) storeFields(s *Store) []field {
	return []field{
		d.strField("kind", &s.Kind).oneOf(StoreMemory, StoreRedis).about("memory: in the process, exact, per instance. redis: shared by every instance pointed at the same Redis."),
		d.intField("max_keys", &s.MaxKeys).about("memory: the most keys held; when full, the keys closest to expiry go first."),
		d.strField("address", &s.Address).about("redis: host:port of one server (or set cluster)."),
		d.listField("cluster", &s.Cluster).about("redis: Redis Cluster seed nodes (host:port); set address or cluster."),
		d.strField("username", &s.Username).about("redis: AUTH user. Default none."),
		d.strField("password", &s.Password).about("redis: AUTH password; use ${VAR} to keep it out of the file. Default none."),
		d.intField("db", &s.DB).about("redis: database number (not with cluster). Default 0."),
		d.mapField("tls", func() []field {
			return append([]field{d.boolField("enabled", &s.TLS.Enabled).about("TLS to Redis.")}, d.tlsFields(&s.TLS.TLS)...)
		}, nil).about("redis: TLS to Redis."),
		d.durationField("timeout", &s.Timeout).about("redis: bound on each command and connect; 0 means the default, not no timeout."),
		d.intField("pool_size", &s.PoolSize).about("redis: connections per node; 0: 10 per CPU."),
		d.strField("key_prefix", &s.KeyPrefix).about("redis: prefix of every key weir writes."),
		d.sizeField("cache_max_bytes", &s.CacheMaxBytes).about("memory: the most bytes of cached responses held, least recently used dropped first; 0 means the default."),
		d.sizeField("cache_front_bytes", &s.CacheFrontBytes).about("redis: the most bytes of each instance's in-memory front of hot cached responses (entries live 2s at most; changes reach other instances over pub/sub); 0 turns the front off."),
	}
}

// policiesField is a policies block (gateway-wide or an API's).
func (d *decoder) policiesField(name string, ps *Policies) field {
	lists := func() []field {
		return []field{
			d.policyListField("inbound", &ps.Inbound).about("Policies run before the backend, in order."),
			d.policyListField("outbound", &ps.Outbound).about("Policies that see the backend's response, in order."),
			d.policyListField("on_error", &ps.OnError).about("Policies run when the request failed before a response (no built-in kind runs there yet)."),
		}
	}
	return d.mapField(name, lists, nil)
}

// policyListField is one list of policies: list is also the name the
// kinds table uses for it.
func (d *decoder) policyListField(list string, out *[]Policy) field {
	return field{name: list, decode: func(p string, n *yaml.Node) { d.policyList(p, n, out) }, schema: func() jsonSchema {
		return d.policyListSchema(list)
	}}
}

// policyList decodes one list of policies. Items keep their index, so
// paths and slice indexes agree.
func (d *decoder) policyList(path string, n *yaml.Node, out *[]Policy) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(path, d.pos(n), "expected a list of policies, got %s", describe(n))
		return
	}
	if !d.visit(len(n.Content)) {
		return
	}
	l := make([]Policy, len(n.Content))
	for i, item := range n.Content {
		p := join(path, strconv.Itoa(i))
		item = resolve(item)
		d.places[p] = place{d.pos(item), d.pos(item)}
		d.policy(p, item, &l[i])
	}
	*out = l
}

// policy decodes one policy: its kind is read first, since it decides which
// other keys are known.
func (d *decoder) policy(path string, n *yaml.Node, pol *Policy) {
	pol.Pos = d.pos(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.fail(path, d.pos(n), "expected a policy (a mapping with kind: and its settings), got %s", describe(n))
		return
	}
	var kindNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == "kind" {
			kindNode = resolve(n.Content[i+1])
		}
	}
	known := strings.Join(kindNames(), ", ")
	if kindNode == nil || kindNode.Kind != yaml.ScalarNode || isNull(kindNode) {
		d.fail(path, d.pos(n), "policy needs a kind: one of %s", known)
		return
	}
	pk, ok := findKind(kindNode.Value)
	if !ok {
		msg := fmt.Sprintf("unknown policy kind %q (known: %s)", kindNode.Value, known)
		if s := suggest(kindNode.Value, kindNames()); s != "" {
			msg = fmt.Sprintf("unknown policy kind %q (did you mean %q?)", kindNode.Value, s)
		}
		d.fail(path, d.pos(kindNode), "%s", msg)
		return
	}
	d.mapping(path, n, append(d.commonPolicyFields(pol), pk.fields(d, pol)...))
	if pol.Name == "" {
		pol.Name = pol.Kind
	}
}

// commonPolicyFields are the keys every policy has.
func (d *decoder) commonPolicyFields(pol *Policy) []field {
	w := &pol.When
	return []field{
		d.strField("name", &pol.Name).about("Unique within one policies block; state is kept per scope and name. Default: the kind."),
		d.strField("kind", &pol.Kind).about("The policy kind.").need(),
		d.mapField("when", func() []field {
			return []field{
				d.listField("methods", &w.Methods).about("Run only for these methods. Default: any."),
				d.listField("paths", &w.Paths).about("Run only for these request paths: exact, or a prefix ending in * (/orders/*). Default: any."),
				d.listField("headers_present", &w.HeadersPresent).about("Run only when all these request headers are present."),
				d.listField("headers_absent", &w.HeadersAbsent).about("Run only when none of these request headers is present."),
			}
		}, nil).about("Run the policy only for matching requests (every part given must match)."),
	}
}

// onStoreErrorField is the on_store_error key of policies that use the
// store.
func (d *decoder) onStoreErrorField(out *string) field {
	return d.strField("on_store_error", out).oneOf(OnStoreErrorAllow, OnStoreErrorDeny).about("When the store cannot decide: allow lets the request through, deny answers 503 StoreUnavailable.")
}

func (d *decoder) rateLimitFields(p *Policy) []field {
	r := &RateLimit{Headers: true, OnStoreError: OnStoreErrorAllow}
	p.RateLimit = r
	return []field{
		d.intField("calls", &r.Calls).about("Calls per period per key, > 0.").need(),
		d.durationField("period", &r.Period).about("The span calls are spread over, >= 1ms.").need(),
		d.intField("burst", &r.Burst).about("Calls that may pass back to back after a quiet spell, 1..calls; 0 means calls."),
		d.keyField("key", &r.Key).about("What is counted separately: ip, header:NAME, query:NAME, consumer; [] is one counter for everyone. Default [ip]."),
		d.boolField("headers", &r.Headers).about("RateLimit-* headers on allowed responses too (a 429 always has them)."),
		d.intField("batch", &r.Batch).about("Calls an instance takes from the store at once and spends locally for up to 1s, 1..burst; 0 means 1 (exact)."),
		d.onStoreErrorField(&r.OnStoreError),
	}
}

func (d *decoder) quotaFields(p *Policy) []field {
	q := &Quota{Window: WindowCalendar, OnStoreError: OnStoreErrorAllow}
	p.Quota = q
	return []field{
		d.intField("calls", &q.Calls).about("Calls per period per key; 0: not counted. At least one of calls and bytes."),
		d.sizeField("bytes", &q.Bytes).about("Response body bytes per period per key (1048576, 10MB, 1GiB); 0: not counted."),
		d.strField("period", &q.Period).oneOf(PeriodHour, PeriodDay, PeriodWeek, PeriodMonth).about("The quota's period.").need(),
		d.strField("window", &q.Window).oneOf(WindowCalendar, WindowRolling).about("calendar: resets at each UTC hour, day, ISO week or month; rolling: the last period, in 60 slots."),
		d.keyField("key", &q.Key).about("What is counted separately: ip, header:NAME, query:NAME, consumer; [] is one counter for everyone. Default [ip]."),
		d.boolField("headers", &q.Headers).about("RateLimit-* headers (for calls) on allowed responses."),
		d.intField("batch", &q.Batch).about("Calls an instance takes from the store at once and spends locally for up to 1s, 1..calls; 0 means 1 (exact)."),
		d.onStoreErrorField(&q.OnStoreError),
	}
}

func (d *decoder) spikeArrestFields(p *Policy) []field {
	s := &SpikeArrest{OnStoreError: OnStoreErrorAllow}
	p.SpikeArrest = s
	return []field{
		d.strField("rate", &s.Rate).matching(ratePattern).about("Nps (per second) or Npm (per minute): 10ps lets one call through per 100ms.").need(),
		d.intField("burst", &s.Burst).about("Calls that may pass back to back, 1..N; 0 means 1."),
		d.keyField("key", &s.Key).about("What is smoothed separately: ip, header:NAME, query:NAME, consumer. Default: the API (or gateway) as one."),
		d.onStoreErrorField(&s.OnStoreError),
	}
}

// keyField decodes a key: a list of sources, or one source as a scalar.
// Unlike listField, an empty list stays non-nil: "key: []" means one
// counter for all requests, while an absent key takes the kind's default.
func (d *decoder) keyField(name string, out *[]string) field {
	return field{name: name, schema: keySchema, decode: func(p string, n *yaml.Node) {
		n = resolve(n)
		if n != nil && n.Kind == yaml.ScalarNode && !isNull(n) {
			var s string
			if d.str(p, n, &s) {
				*out = []string{s}
			}
			return
		}
		var l []string
		d.list(p, n, &l)
		if l == nil {
			l = []string{}
		}
		*out = l
	}}
}

// size decodes a byte count: an integer, or a number with a unit (B, KB,
// MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB in powers of 1024).
func (d *decoder) size(path string, n *yaml.Node, out *int64) {
	const what = "a size like 10MB or 1048576"
	s, null, ok := d.scalar(path, n, what)
	if !ok {
		return
	}
	at := d.pos(resolve(n))
	if null {
		d.fail(path, at, "expected %s, got nothing", what)
		return
	}
	v, err := ParseSize(s)
	if err != nil {
		d.fail(path, at, "%s: %v", base(path), err)
		return
	}
	*out = v
}

// errSizeRange is ParseSize's error for sizes past int64.
var errSizeRange = errors.New("too large")

// ParseSize parses a byte count: "1048576", "10MB" (10*1000^2), "1GiB"
// (1024^3). Negative sizes are refused.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, errSizeRange
	case err != nil:
		return 0, fmt.Errorf("expected a size like 10MB or 1048576, got %q", s)
	case v < 0:
		return 0, fmt.Errorf("must not be negative, got %q", s)
	case v > math.MaxInt64/mult:
		return 0, errSizeRange
	}
	return v * mult, nil
}

// ParseRate parses a spike-arrest rate: "Nps" (N per second) or "Npm" (N
// per minute), N > 0.
func ParseRate(s string) (calls int, per time.Duration, err error) {
	num, per := s, time.Duration(0)
	switch {
	case strings.HasSuffix(s, "ps"):
		num, per = strings.TrimSuffix(s, "ps"), time.Second
	case strings.HasSuffix(s, "pm"):
		num, per = strings.TrimSuffix(s, "pm"), time.Minute
	default:
		return 0, 0, fmt.Errorf("rate %q needs a unit: like 10ps (per second) or 600pm (per minute)", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || time.Duration(n) > per {
		return 0, 0, fmt.Errorf("rate %q: want a whole number from 1 to %d before %q", s, int64(per), s[len(num):])
	}
	return n, per, nil
}
