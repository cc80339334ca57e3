package config

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// store validates the store block.
func (k *checker) store() {
	s := &k.c.Store
	switch s.Kind {
	case StoreMemory, "":
		if s.MaxKeys < 0 {
			k.errorf("store/max_keys", "max_keys must not be negative, got %d", s.MaxKeys)
		}
		for _, key := range []string{"address", "cluster", "username", "password", "db", "tls", "pool_size", "timeout"} {
			if _, set := k.places["store/"+key]; set {
				k.errorf("store/"+key, "%s is a setting of a redis store; this store is kind memory", key)
			}
		}
	case StoreRedis:
		switch {
		case s.Address == "" && len(s.Cluster) == 0:
			k.errorf("store/address", "a redis store needs address (host:port) or cluster (a list of seed nodes)")
		case s.Address != "" && len(s.Cluster) > 0:
			k.errorf("store/cluster", "set address (one server) or cluster (seed nodes), not both")
		}
		if s.Address != "" {
			k.storeAddress("store/address", s.Address)
		}
		for i, a := range s.Cluster {
			k.storeAddress(join("store/cluster", strconv.Itoa(i)), a)
		}
		if s.DB != 0 && len(s.Cluster) > 0 {
			k.errorf("store/db", "Redis Cluster has only db 0")
		}
		if s.Timeout < 0 {
			k.errorf("store/timeout", "timeout must not be negative, got %s", s.Timeout)
		}
		if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
			k.errorf("store/tls", "tls.cert_file and tls.key_file go together: set both or neither")
		}
		if s.TLS.InsecureSkipVerify {
			k.warnf("store/tls/insecure_skip_verify", "insecure_skip_verify turns off verification of the Redis server: %s", insecureCost)
		}
		if _, set := k.places["store/max_keys"]; set {
			k.errorf("store/max_keys", "max_keys is a setting of a memory store; this store is kind redis")
		}
	default:
		k.errorf("store/kind", "store kind must be %q or %q, got %q", StoreMemory, StoreRedis, s.Kind)
	}
	if s.PoolSize < 0 {
		k.errorf("store/pool_size", "pool_size must not be negative, got %d", s.PoolSize)
	}
	k.cacheStore()
}

// storeAddress checks a Redis host:port.
func (k *checker) storeAddress(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || !validPort(port, false) || !validHostOrIP(host) {
		k.errorf(path, "redis address %q must be host:port, like 127.0.0.1:6379", addr)
	}
}

// policyLists validates a policies block at path: kinds in lists they can
// run in, names unique within the block, and each policy's settings.
func (k *checker) policyLists(path string, ps *Policies) {
	names := make(map[string]string) // name -> path of its first use
	lists := []struct {
		name string
		l    []Policy
	}{{"inbound", ps.Inbound}, {"outbound", ps.Outbound}, {"on_error", ps.OnError}}
	for _, list := range lists {
		for i := range list.l {
			p := join(path, list.name+"/"+strconv.Itoa(i))
			if k.isBad(p) {
				continue
			}
			pol := &list.l[i]
			pk, ok := findKind(pol.Kind)
			if !ok {
				k.errorf(join(p, "kind"), "unknown policy kind %q (known: %s)", pol.Kind, strings.Join(kindNames(), ", "))
				continue
			}
			if !slices.Contains(pk.lists, list.name) {
				k.errorf(join(p, "kind"), "a %s policy cannot be in %s (it can be in: %s)", pol.Kind, list.name, strings.Join(pk.lists, ", "))
			}
			np := join(p, "name")
			switch {
			case !validAPIName(pol.Name):
				k.errorf(np, "policy name %q may only contain letters, digits, '_', '.' and '-'", pol.Name)
			case names[pol.Name] != "":
				k.errorf(np, "two policies named %q in one policies block%s; give each its own name", pol.Name, k.firstAt(names[pol.Name]))
			default:
				names[pol.Name] = np
				if _, set := k.places[np]; !set {
					names[pol.Name] = p
				}
			}
			k.when(join(p, "when"), &pol.When)
			pk.check(k, p, pol)
		}
	}
}

// when validates a condition.
func (k *checker) when(path string, w *When) {
	for i, m := range w.Methods {
		if !validToken(m) {
			k.errorf(join(path, "methods/"+strconv.Itoa(i)), "invalid method %q", m)
		}
	}
	for i, p := range w.Paths {
		pre := strings.TrimSuffix(p, "*")
		if !strings.HasPrefix(p, "/") || strings.Contains(pre, "*") {
			k.errorf(join(path, "paths/"+strconv.Itoa(i)), "path %q must start with / and may end with * (a prefix); no other *", p)
		}
	}
	for _, hl := range []struct {
		name string
		l    []string
	}{{"headers_present", w.HeadersPresent}, {"headers_absent", w.HeadersAbsent}} {
		for i, h := range hl.l {
			if !validToken(h) {
				k.errorf(join(path, hl.name+"/"+strconv.Itoa(i)), "invalid header name %q", h)
			}
		}
	}
}

func (k *checker) rateLimit(path string, p *Policy) {
	r := p.RateLimit
	if r == nil {
		k.errorf(path, "rate-limit-by-key settings missing")
		return
	}
	if r.Calls <= 0 {
		k.errorf(join(path, "calls"), "calls must be > 0 (calls per period), got %d", r.Calls)
	}
	if r.Period < time.Millisecond {
		k.errorf(join(path, "period"), "period must be at least 1ms, got %s", r.Period)
	} else if r.Calls > 0 && r.Period/time.Duration(r.Calls) <= 0 {
		k.errorf(join(path, "calls"), "calls %d per %s is more than one per nanosecond", r.Calls, r.Period)
	}
	if r.Burst < 0 || r.Calls > 0 && r.Burst > r.Calls {
		k.errorf(join(path, "burst"), "burst must be 1..calls (%d), got %d", r.Calls, r.Burst)
	}
	if burst := cmp.Or(r.Burst, r.Calls); r.Batch > burst && burst > 0 {
		k.errorf(join(path, "batch"), "batch must be 1..burst (%d), got %d", burst, r.Batch)
	}
	k.key(join(path, "key"), r.Key)
	k.onStoreError(join(path, "on_store_error"), r.OnStoreError)
}

func (k *checker) quota(path string, p *Policy) {
	q := p.Quota
	if q == nil {
		k.errorf(path, "quota-by-key settings missing")
		return
	}
	if q.Calls < 0 {
		k.errorf(join(path, "calls"), "calls must not be negative, got %d", q.Calls)
	}
	if q.Bytes < 0 {
		k.errorf(join(path, "bytes"), "bytes must not be negative, got %d", q.Bytes)
	}
	if q.Batch > 1 && q.Batch > q.Calls {
		k.errorf(join(path, "batch"), "batch must be 1..calls (%d), got %d", q.Calls, q.Batch)
	}
	if q.Calls == 0 && q.Bytes == 0 && !k.isBad(join(path, "calls")) && !k.isBad(join(path, "bytes")) {
		k.errorf(path, "a quota needs calls, bytes or both (> 0)")
	}
	switch q.Period {
	case PeriodHour, PeriodDay, PeriodWeek, PeriodMonth:
	case "":
		k.errorf(join(path, "period"), "a quota needs a period: hour, day, week or month")
	default:
		k.errorf(join(path, "period"), "period must be hour, day, week or month, got %q", q.Period)
	}
	if q.Window != WindowCalendar && q.Window != WindowRolling {
		k.errorf(join(path, "window"), "window must be %q or %q, got %q", WindowCalendar, WindowRolling, q.Window)
	}
	k.key(join(path, "key"), q.Key)
	k.onStoreError(join(path, "on_store_error"), q.OnStoreError)
}

func (k *checker) spikeArrest(path string, p *Policy) {
	s := p.SpikeArrest
	if s == nil {
		k.errorf(path, "spike-arrest settings missing")
		return
	}
	calls := 0
	if s.Rate == "" {
		k.errorf(join(path, "rate"), "spike-arrest needs a rate, like 10ps (per second) or 600pm (per minute)")
	} else if n, _, err := ParseRate(s.Rate); err != nil {
		k.errorf(join(path, "rate"), "%v", err)
	} else {
		calls = n
	}
	if s.Burst < 0 || calls > 0 && s.Burst > calls {
		k.errorf(join(path, "burst"), "burst must be 1..%d (the rate's count), got %d", max(calls, 1), s.Burst)
	}
	k.key(join(path, "key"), s.Key)
	k.onStoreError(join(path, "on_store_error"), s.OnStoreError)
}

// key validates a key's sources.
func (k *checker) key(path string, sources []string) {
	seen := make(map[string]bool, len(sources))
	for i, s := range sources {
		p := join(path, strconv.Itoa(i))
		switch {
		case s == KeyIP, s == KeyConsumer:
		case strings.HasPrefix(s, KeyHeader):
			if !validToken(s[len(KeyHeader):]) {
				k.errorf(p, "key %q: want header:NAME with a valid header name", s)
			}
		case strings.HasPrefix(s, KeyQuery):
			if s == KeyQuery {
				k.errorf(p, "key %q: want query:NAME", s)
			}
		default:
			k.errorf(p, "unknown key source %q: use ip, consumer, header:NAME or query:NAME", s)
		}
		if seen[s] {
			k.errorf(p, "key source %q given twice", s)
		}
		seen[s] = true
	}
}

func (k *checker) onStoreError(path, v string) {
	if v != OnStoreErrorAllow && v != OnStoreErrorDeny {
		k.errorf(path, "on_store_error must be %q or %q, got %q", OnStoreErrorAllow, OnStoreErrorDeny, v)
	}
}

// validToken reports whether s is an RFC 9110 token (method and header
// names).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
