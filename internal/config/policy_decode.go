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
	d.mapping(path, n, []field{
		d.strField("kind", &s.Kind),
		d.intField("max_keys", &s.MaxKeys),
		d.strField("address", &s.Address),
		d.listField("cluster", &s.Cluster),
		d.strField("username", &s.Username),
		d.strField("password", &s.Password),
		d.intField("db", &s.DB),
		{"tls", func(p string, n *yaml.Node) {
			d.mapping(p, n, append([]field{d.boolField("enabled", &s.TLS.Enabled)}, d.tlsFields(&s.TLS.TLS)...))
		}},
		d.durationField("timeout", &s.Timeout),
		d.intField("pool_size", &s.PoolSize),
		d.strField("key_prefix", &s.KeyPrefix),
		{"cache_max_bytes", func(p string, n *yaml.Node) { d.size(p, n, &s.CacheMaxBytes) }},
	})
}

// policies decodes a policies block (gateway-wide or an API's).
func (d *decoder) policies(path string, n *yaml.Node, ps *Policies) {
	d.mapping(path, n, []field{
		{"inbound", func(p string, n *yaml.Node) { d.policyList(p, n, &ps.Inbound) }},
		{"outbound", func(p string, n *yaml.Node) { d.policyList(p, n, &ps.Outbound) }},
		{"on_error", func(p string, n *yaml.Node) { d.policyList(p, n, &ps.OnError) }},
	})
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
	fields := []field{
		d.strField("name", &pol.Name),
		d.strField("kind", &pol.Kind),
		{"when", func(p string, n *yaml.Node) { d.when(p, n, &pol.When) }},
	}
	d.mapping(path, n, append(fields, pk.fields(d, pol)...))
	if pol.Name == "" {
		pol.Name = pol.Kind
	}
}

// when decodes a condition.
func (d *decoder) when(path string, n *yaml.Node, w *When) {
	d.mapping(path, n, []field{
		d.listField("methods", &w.Methods),
		d.listField("paths", &w.Paths),
		d.listField("headers_present", &w.HeadersPresent),
		d.listField("headers_absent", &w.HeadersAbsent),
	})
}

func (d *decoder) rateLimitFields(p *Policy) []field {
	r := &RateLimit{Headers: true, OnStoreError: OnStoreErrorAllow}
	p.RateLimit = r
	return []field{
		d.intField("calls", &r.Calls),
		d.durationField("period", &r.Period),
		d.intField("burst", &r.Burst),
		d.keyField("key", &r.Key),
		d.boolField("headers", &r.Headers),
		d.intField("batch", &r.Batch),
		d.strField("on_store_error", &r.OnStoreError),
	}
}

func (d *decoder) quotaFields(p *Policy) []field {
	q := &Quota{Window: WindowCalendar, OnStoreError: OnStoreErrorAllow}
	p.Quota = q
	return []field{
		d.intField("calls", &q.Calls),
		{"bytes", func(p string, n *yaml.Node) { d.size(p, n, &q.Bytes) }},
		d.strField("period", &q.Period),
		d.strField("window", &q.Window),
		d.keyField("key", &q.Key),
		d.boolField("headers", &q.Headers),
		d.intField("batch", &q.Batch),
		d.strField("on_store_error", &q.OnStoreError),
	}
}

func (d *decoder) spikeArrestFields(p *Policy) []field {
	s := &SpikeArrest{OnStoreError: OnStoreErrorAllow}
	p.SpikeArrest = s
	return []field{
		d.strField("rate", &s.Rate),
		d.intField("burst", &s.Burst),
		d.keyField("key", &s.Key),
		d.strField("on_store_error", &s.OnStoreError),
	}
}

// keyField decodes a key: a list of sources, or one source as a scalar.
// Unlike listField, an empty list stays non-nil: "key: []" means one
// counter for all requests, while an absent key takes the kind's default.
func (d *decoder) keyField(name string, out *[]string) field {
	return field{name, func(p string, n *yaml.Node) {
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
