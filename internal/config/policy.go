package config

import "time"

// Store kinds.
const (
	// StoreMemory keeps state in the process: exact, but each instance
	// counts alone.
	StoreMemory = "memory"
	// StoreRedis shares state between instances through Redis.
	StoreRedis = "redis"
)

// On-store-error behaviours of policies that use the store.
const (
	// OnStoreErrorAllow lets a request through when the store cannot decide.
	OnStoreErrorAllow = "allow"
	// OnStoreErrorDeny rejects it with 503 StoreUnavailable.
	OnStoreErrorDeny = "deny"
)

// Policy kinds known to this package.
const (
	KindRateLimit   = "rate-limit-by-key"
	KindQuota       = "quota-by-key"
	KindSpikeArrest = "spike-arrest"
)

// Quota periods and windows.
const (
	PeriodHour  = "hour"
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"

	// WindowCalendar counts from the start of the UTC hour, day, ISO week
	// (Monday) or month; the count resets at the next one.
	WindowCalendar = "calendar"
	// WindowRolling counts the last hour, day, 7 days or 30 days.
	WindowRolling = "rolling"
)

// Defaults of the store.
const (
	// DefaultStoreMaxKeys is the default Store.MaxKeys.
	DefaultStoreMaxKeys = 1_000_000
	// DefaultStoreTimeout is the default Store.Timeout.
	DefaultStoreTimeout = 250 * time.Millisecond
	// DefaultStoreKeyPrefix is the default Store.KeyPrefix.
	DefaultStoreKeyPrefix = "weir:"
)

// DefaultStore returns the store settings used when the file has no store
// block: memory.
func DefaultStore() Store {
	return Store{Kind: StoreMemory, MaxKeys: DefaultStoreMaxKeys, Timeout: DefaultStoreTimeout, KeyPrefix: DefaultStoreKeyPrefix, CacheMaxBytes: DefaultCacheMaxBytes, CacheFrontBytes: DefaultCacheFrontBytes}
}

// Store is where state shared by policies lives (rate-limit and quota
// counters, cached responses). One per gateway; it outlives reloads while
// its settings stay the same.
type Store struct {
	// Kind is "memory" (default; "" means memory too: exact, per instance)
	// or "redis" (shared by every instance that points at the same Redis).
	Kind string `yaml:"kind"`
	// MaxKeys bounds the keys a memory store holds. Default (or 0) 1000000. When
	// full, keys closest to expiry are evicted first, which can only let
	// more requests through; idle keys expire by themselves.
	MaxKeys int `yaml:"max_keys"`
	// Address is a Redis server's host:port (kind redis). Exactly one of
	// Address and Cluster is required for redis.
	Address string `yaml:"address"`
	// Cluster lists Redis Cluster seed nodes (host:port); the client
	// discovers the rest.
	Cluster []string `yaml:"cluster"`
	// Username and Password authenticate to Redis (AUTH). Default none.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DB selects the Redis database (not with Cluster). Default 0.
	DB int `yaml:"db"`
	// TLS configures TLS to Redis. Default off.
	TLS StoreTLS `yaml:"tls"`
	// Timeout bounds each Redis command (and connect). Default (or 0)
	// 250ms: a slow store must not hold every request for long.
	Timeout time.Duration `yaml:"timeout"`
	// PoolSize caps connections per Redis node. Default 0 = the client's
	// default (10 per CPU).
	PoolSize int `yaml:"pool_size"`
	// KeyPrefix starts every key weir writes to Redis. Default "weir:".
	KeyPrefix string `yaml:"key_prefix"`
	// CacheMaxBytes bounds the cached responses a memory store holds
	// (bodies, headers and keys). Default (or 0) 64MiB. When full,
	// the least recently used responses are dropped. Memory only: with
	// redis, Redis's maxmemory bounds them.
	CacheMaxBytes int64 `yaml:"cache_max_bytes"`
	// CacheFrontBytes bounds a small in-memory front of each instance for
	// the hot entries of a redis store's cache: a hit on it costs no round
	// trip. Entries stay in it at most 2s, and an instance that changes or
	// deletes an entry tells the others over Redis pub/sub to drop theirs.
	// Default 16MiB; 0 turns the front off (every hit reads Redis). Redis
	// only.
	CacheFrontBytes int64 `yaml:"cache_front_bytes"`
	// Pos is where the store block is (set by Load; zero when absent).
	Pos Pos `yaml:"-"`
}

// StoreTLS configures TLS to the store: the keys of a backend's TLS block
// (server_name defaults to the address's host), plus enabled.
type StoreTLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `yaml:"enabled"`
	TLS     `yaml:",inline"`
}

// Policies are ordered policy lists, gateway-wide or of one API. For an
// API, the gateway's inbound policies run before its own, and its own
// outbound and on_error policies before the gateway's.
type Policies struct {
	// Inbound policies run before the backend call, in order.
	Inbound []Policy `yaml:"inbound"`
	// Outbound policies see the backend's response, in order.
	Outbound []Policy `yaml:"outbound"`
	// OnError policies run when the request failed before a response.
	OnError []Policy `yaml:"on_error"`
}

// Empty reports whether no list has a policy.
func (p Policies) Empty() bool {
	return len(p.Inbound) == 0 && len(p.Outbound) == 0 && len(p.OnError) == 0
}

// Policy is one step of a list. Name, Kind and When are common; the
// kind's own settings are in the one field named after it.
type Policy struct {
	// Name identifies the policy in logs and in store keys (state is kept
	// per API and policy name, so renaming a policy starts it afresh).
	// Default: the kind. Unique within a list's scope (an API, or the
	// gateway).
	Name string `yaml:"name"`
	// Kind is the policy kind: rate-limit-by-key, quota-by-key,
	// spike-arrest, cache, cache-lookup, cache-store. Required.
	Kind string `yaml:"kind"`
	// When restricts the policy to matching requests. Default: all.
	When When `yaml:"when"`

	// RateLimit holds kind rate-limit-by-key's settings.
	RateLimit *RateLimit `yaml:"-"`
	// Quota holds kind quota-by-key's settings.
	Quota *Quota `yaml:"-"`
	// SpikeArrest holds kind spike-arrest's settings.
	SpikeArrest *SpikeArrest `yaml:"-"`
	// Cache holds kinds cache, cache-lookup and cache-store's settings.
	Cache *Cache `yaml:"-"`

	// Pos is where the policy is (set by Load).
	Pos Pos `yaml:"-"`
}

// When is a policy's condition: every part given must match.
type When struct {
	// Methods: the request method is one of these (any case). Default any.
	Methods []string `yaml:"methods"`
	// Paths: the request path equals one of these, or starts with one
	// ending in "*" ("/orders/*"). Default any.
	Paths []string `yaml:"paths"`
	// HeadersPresent: every one of these request headers is present.
	HeadersPresent []string `yaml:"headers_present"`
	// HeadersAbsent: none of these request headers is present.
	HeadersAbsent []string `yaml:"headers_absent"`
}

// RateLimit is kind rate-limit-by-key: Calls per Period for each key, by
// GCRA (a bucket of Burst calls refilled continuously at Calls/Period): no
// window edges to burst across.
type RateLimit struct {
	// Calls per Period. Required, > 0.
	Calls int `yaml:"calls"`
	// Period is the length Calls are spread over. Required, >= 1ms.
	Period time.Duration `yaml:"period"`
	// Burst is how many calls may pass at once after a quiet spell.
	// Default (or 0) Calls; 1..Calls. Over any interval d at most
	// Burst + d*Calls/Period calls pass.
	Burst int `yaml:"burst"`
	// Key is what is counted separately; see KeySource. Default (nil)
	// [ip]; an empty list counts all requests together.
	Key []string `yaml:"key"`
	// Headers sends RateLimit-Limit/Remaining/Reset on allowed responses
	// too (a 429 always carries them and Retry-After). Default true.
	Headers bool `yaml:"headers"`
	// Batch is how many calls an instance takes from the store at once
	// and then spends locally, for up to LeaseTime, without a round trip.
	// Default (or 0) 1: every call asks the store, exact. With N instances,
	// at most N*(Batch-1) calls more than the exact limit pass in any
	// span; leased calls left unspent are lost (fewer pass, not more).
	// 1..Burst.
	Batch int `yaml:"batch"`
	// OnStoreError is "allow" (default) or "deny" (503 StoreUnavailable)
	// when the store cannot decide.
	OnStoreError string `yaml:"on_store_error"`
}

// Quota is kind quota-by-key: calls and/or response bytes per key over a
// long period.
type Quota struct {
	// Calls allowed per period; 0 = not counted. At least one of Calls
	// and Bytes is required.
	Calls int `yaml:"calls"`
	// Bytes of response bodies allowed per period (integer, or with a
	// unit: 10MB, 1GiB); 0 = not counted. A request is refused once the
	// bytes are used up; the response that crosses the limit is not cut.
	Bytes int64 `yaml:"bytes"`
	// Period is hour, day, week or month. Required.
	Period string `yaml:"period"`
	// Window is "calendar" (default: resets at the start of each UTC
	// hour/day/ISO week/month) or "rolling" (the last hour/day/7 days/30
	// days, counted in 1/60-period slots).
	Window string `yaml:"window"`
	// Key is what is counted separately; see KeySource. Default [ip].
	Key []string `yaml:"key"`
	// Headers sends RateLimit-* for the calls quota on allowed responses.
	// Default false (a 429 always carries them and Retry-After).
	Headers bool `yaml:"headers"`
	// Batch is how many calls an instance takes from the calls quota at
	// once and spends locally for up to LeaseTime (see RateLimit.Batch).
	// Default (or 0) 1. 1..Calls. Bytes are always counted exactly.
	Batch int `yaml:"batch"`
	// OnStoreError is "allow" (default) or "deny".
	OnStoreError string `yaml:"on_store_error"`
}

// SpikeArrest is kind spike-arrest: smooths traffic to a rate, rejecting
// calls that come faster (Apigee's SpikeArrest).
type SpikeArrest struct {
	// Rate is "Nps" (per second) or "Npm" (per minute), e.g. "10ps": one
	// call per 100ms. Required.
	Rate string `yaml:"rate"`
	// Burst is how many calls may pass back to back. Default (or 0) 1.
	Burst int `yaml:"burst"`
	// Key is what is smoothed separately; see KeySource. Default (nil or
	// empty) = the whole API (or gateway) as one.
	Key []string `yaml:"key"`
	// OnStoreError is "allow" (default) or "deny".
	OnStoreError string `yaml:"on_store_error"`
}

// LeaseTime is how long calls taken in a batch may be spent locally; the
// rest are then dropped and a fresh batch is taken.
const LeaseTime = time.Second

// KeySource values: "ip" (the client's IP), "header:NAME", "query:NAME",
// "consumer" (the API key or client id an authentication policy
// recognised). Several are joined; a missing header or parameter counts as
// empty, so all requests without it share one counter.
const (
	KeyIP       = "ip"
	KeyConsumer = "consumer"
	KeyHeader   = "header:"
	KeyQuery    = "query:"
)
