package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/tlsfiles"
)

// Probe backoff while Redis is unreachable: the first probe after
// probeMin, doubling up to probeMax.
const (
	probeMin = 50 * time.Millisecond
	probeMax = time.Second
)

// gcraScript is gcra() in Lua, in microseconds (Lua numbers are doubles:
// exact to 2^53, so unix microseconds fit and nanoseconds would not).
// KEYS[1] bucket; ARGV now_us, interval_us, burst, n.
// Returns {granted, remaining, retry_after_us, reset_us}.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local room = now + burst * t - tat
local k = 0
if room > 0 then k = math.min(math.floor(room / t), n) end
if k == 0 then
  return {0, 0, tat + t - burst * t - now, tat - now}
end
tat = tat + k * t
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1)
return {k, math.floor((now + burst * t - tat) / t), 0, tat - now}
`)

// countScript is a fixed window's Count. KEYS[1] counter; ARGV n, limit
// (-1: none), ttl_ms. Returns {added, count}.
var countScript = redis.NewScript(`
local n = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if limit >= 0 and c + n > limit then return {0, c} end
if n > 0 then
  c = redis.call('INCRBY', KEYS[1], n)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, c}
`)

// rollingScript is a rolling window's Count: a hash of slot number ->
// count. KEYS[1] hash; ARGV cur_slot, slots, n, limit (-1: none), ttl_ms.
// Returns {added, count, retry_slot (-1: none), oldest_slot (-1: none)}:
// the slot numbers whose end (slot+slots) frees room / empties the oldest.
var rollingScript = redis.NewScript(`
local cur = tonumber(ARGV[1])
local slots = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local h = redis.call('HGETALL', KEYS[1])
local live = {}
local sum = 0
for i = 1, #h, 2 do
  local e = tonumber(h[i])
  local c = tonumber(h[i + 1])
  if e <= cur - slots then
    redis.call('HDEL', KEYS[1], h[i])
  elseif c ~= 0 then
    sum = sum + c
    live[#live + 1] = {e, c}
  end
end
table.sort(live, function(a, b) return a[1] < b[1] end)
local oldest = -1
if #live > 0 then oldest = live[1][1] end
if limit >= 0 and sum + n > limit then
  local retry = -1
  if n <= limit then
    local freed = 0
    for _, s in ipairs(live) do
      freed = freed + s[2]
      if sum - freed + n <= limit then retry = s[1]; break end
    end
  end
  return {0, sum, retry, oldest}
end
if n > 0 then
  redis.call('HINCRBY', KEYS[1], ARGV[1], n)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  if oldest < 0 then oldest = cur end
end
return {1, sum + n, -1, oldest}
`)

// Redis is a store shared by every instance that uses the same Redis (one
// server or a cluster). Each decision is one atomic script. While Redis is
// unreachable, operations fail at once with ErrUnavailable and a background
// probe reconnects; the first successful probe brings the store back.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	addr   string // for log lines: the address, or the cluster's seeds
	obs    Observer
	log    *Log

	// Guarded by mu: the outage being logged (started by the operation
	// that found Redis unreachable, ended by the probe that finds it back,
	// or by Close).
	logged  bool
	downAt  time.Time
	logMark uint64

	down      atomic.Bool
	ops, errs atomic.Uint64
	outages   atomic.Uint64
	stop      chan struct{}
	mu        sync.Mutex // guards closed and probes.Add against Close
	closed    bool
	probes    sync.WaitGroup
	closeOnce sync.Once
}

// NewRedis returns a Redis store for s (kind redis). It does not connect
// yet: the first operation does.
func NewRedis(s config.Store, d Deps) (*Redis, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = config.DefaultStoreTimeout
	}
	var tc *tls.Config
	if s.TLS.Enabled {
		var err error
		if tc, err = storeTLS(s.TLS); err != nil {
			return nil, err
		}
	}
	addrs := s.Cluster
	if s.Address != "" {
		addrs = []string{s.Address}
	}
	if len(addrs) == 0 {
		return nil, errors.New("redis store needs an address")
	}
	o := &redis.UniversalOptions{
		Addrs:                 addrs,
		IsClusterMode:         len(s.Cluster) > 0,
		Username:              s.Username,
		Password:              s.Password,
		DB:                    s.DB,
		TLSConfig:             tc,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		ContextTimeoutEnabled: true,
		PoolSize:              s.PoolSize,
		// A failed script is not retried: it may have run, and counting a
		// call twice is worse than answering on_store_error once.
		MaxRetries:    -1,
		DialerRetries: 1,
		// Plain RESP2 and no client-side features: weir needs scripts and
		// GET/SET only, and works with any Redis from 6 on.
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	prefix := s.KeyPrefix
	if prefix == "" {
		prefix = config.DefaultStoreKeyPrefix
	}
	return &Redis{c: redis.NewUniversalClient(o), prefix: prefix, addr: strings.Join(addrs, ","), obs: d.Observer, log: d.Log, stop: make(chan struct{})}, nil
}

// storeTLS builds the client TLS config: the CA and client certificate
// files loaded as for backends (tlsfiles), without their ALPN.
func storeTLS(t config.StoreTLS) (*tls.Config, error) {
	tc, err := tlsfiles.Client(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("redis tls: %w", err)
	}
	tc.ServerName = t.ServerName
	return tc, nil
}

// begin refuses an operation while Redis is known to be down.
func (r *Redis) begin(op string) error {
	r.ops.Add(1)
	select {
	case <-r.stop:
		r.errs.Add(1)
		return &Error{Kind: "redis", Op: op, Err: ErrClosed}
	default:
	}
	if r.down.Load() {
		r.errs.Add(1)
		return &Error{Kind: "redis", Op: op, Err: ErrUnavailable}
	}
	return nil
}

// end classifies an operation's outcome: a failure to talk to Redis (not
// an error reply, not the caller giving up) marks it down and starts the
// probe.
func (r *Redis) end(ctx context.Context, op string, start time.Time, err error) error {
	if r.obs != nil {
		r.obs.StoreOp("redis", op, time.Since(start), err)
	}
	if err == nil {
		return nil
	}
	r.errs.Add(1)
	// A reply error is Redis answering; a pool timeout is every pooled
	// connection busy: neither means Redis is unreachable.
	var reply redis.Error
	if !errors.As(err, &reply) && !errors.Is(err, redis.ErrPoolTimeout) && ctx.Err() == nil && r.down.CompareAndSwap(false, true) {
		r.outages.Add(1)
		if r.obs != nil {
			r.obs.StoreAvailable("redis", false)
		}
		r.mu.Lock()
		if !r.closed {
			r.beginOutageLocked(err)
			r.probes.Add(1)
			go r.probe()
		}
		r.mu.Unlock()
	}
	return &Error{Kind: "redis", Op: op, Err: err}
}

// beginOutageLocked logs the outage that cause began. r.mu must be held.
func (r *Redis) beginOutageLocked(cause error) {
	r.downAt = time.Now()
	if r.log != nil {
		r.logMark = r.log.outageBegan(r.addr, cause)
		r.logged = true
	}
}

// endOutageLocked logs the end of the outage being logged, if any: Redis
// answered again, or the store was closed. r.mu must be held.
func (r *Redis) endOutageLocked(closed bool) {
	if r.logged {
		r.log.outageEnded(r.addr, time.Since(r.downAt), r.logMark, closed)
		r.logged = false
	}
}

// probe pings Redis with backoff until it answers, then marks it up.
func (r *Redis) probe() {
	defer r.probes.Done()
	wait := probeMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-r.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if r.c.Ping(context.Background()).Err() == nil {
			r.mu.Lock()
			r.endOutageLocked(false)
			r.down.Store(false)
			r.mu.Unlock()
			if r.obs != nil {
				r.obs.StoreAvailable("redis", true)
			}
			return
		}
		wait = min(2*wait, probeMax)
	}
}

// Take implements Store.
func (r *Redis) Take(ctx context.Context, key string, rt Rate, now time.Time, n int) (Grant, error) {
	if err := r.begin("take"); err != nil {
		return Grant{}, err
	}
	start := time.Now()
	t := max(rt.Interval.Microseconds(), 1)
	v, err := gcraScript.Run(ctx, r.c, []string{r.prefix + key}, now.UnixMicro(), t, rt.Burst, n).Int64Slice()
	if err = r.end(ctx, "take", start, err); err != nil {
		return Grant{}, err
	}
	if len(v) != 4 {
		return Grant{}, &Error{Kind: "redis", Op: "take", Err: fmt.Errorf("script returned %d values", len(v))}
	}
	return Grant{Granted: int(v[0]), Remaining: int(v[1]), RetryAfter: time.Duration(v[2]) * time.Microsecond, Reset: time.Duration(v[3]) * time.Microsecond}, nil
}

// Count implements Store.
func (r *Redis) Count(ctx context.Context, key string, w Window, now time.Time, n, limit int64) (Tally, error) {
	if err := r.begin("count"); err != nil {
		return Tally{}, err
	}
	start := time.Now()
	if w.Slots > 0 {
		slot, cur := slotsOf(w, now.UnixNano())
		size := int64(w.Slots) + 1 // as in Memory: never counts a call out early
		ttl := (size*slot)/int64(time.Millisecond) + 1
		v, err := rollingScript.Run(ctx, r.c, []string{r.prefix + key}, cur, size, n, limit, ttl).Int64Slice()
		if err = r.end(ctx, "count", start, err); err != nil {
			return Tally{}, err
		}
		if len(v) != 4 {
			return Tally{}, &Error{Kind: "redis", Op: "count", Err: fmt.Errorf("script returned %d values", len(v))}
		}
		t := now.UnixNano()
		tl := Tally{Added: v[0] == 1, Count: v[1]}
		if v[2] >= 0 {
			tl.RetryAfter = time.Duration((v[2]+size)*slot - t)
		}
		if v[3] >= 0 {
			tl.Reset = time.Duration((v[3]+size)*slot - t)
		}
		return tl, nil
	}
	reset := w.End.Sub(now)
	ttl := reset.Milliseconds() + 1
	v, err := countScript.Run(ctx, r.c, []string{r.prefix + key}, n, limit, ttl).Int64Slice()
	if err = r.end(ctx, "count", start, err); err != nil {
		return Tally{}, err
	}
	if len(v) != 2 {
		return Tally{}, &Error{Kind: "redis", Op: "count", Err: fmt.Errorf("script returned %d values", len(v))}
	}
	tl := Tally{Added: v[0] == 1, Count: v[1], Reset: reset}
	if !tl.Added && n <= limit {
		tl.RetryAfter = reset
	}
	return tl, nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := r.begin("get"); err != nil {
		return nil, false, err
	}
	start := time.Now()
	v, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		_ = r.end(ctx, "get", start, nil)
		return nil, false, nil
	}
	if err = r.end(ctx, "get", start, err); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := r.begin("set"); err != nil {
		return err
	}
	start := time.Now()
	return r.end(ctx, "set", start, r.c.Set(ctx, r.prefix+key, val, ttl).Err())
}

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := r.begin("delete"); err != nil {
		return err
	}
	start := time.Now()
	return r.end(ctx, "delete", start, r.c.Del(ctx, r.prefix+key).Err())
}

// Stats implements Store.
func (r *Redis) Stats() Stats {
	return Stats{Kind: "redis", Ops: r.ops.Load(), Errors: r.errs.Load(), Available: !r.down.Load(), Outages: r.outages.Load()}
}

// Close implements Store.
func (r *Redis) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		close(r.stop)
		r.mu.Unlock()
		r.probes.Wait()
		r.mu.Lock()
		r.endOutageLocked(true)
		r.mu.Unlock()
		err = r.c.Close()
	})
	return err
}

// Ping checks that Redis answers (for readiness checks and tests).
func (r *Redis) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }
