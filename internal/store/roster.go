package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Roster is a store that keeps a list of members who renew themselves:
// the instances that share it.
type Roster interface {
	// Announce adds or renews member in the list at key until now+ttl,
	// drops the members whose time is up, and returns those left.
	Announce(ctx context.Context, key, member string, now time.Time, ttl time.Duration) ([]string, error)
	// Leave takes member off the list at key.
	Leave(ctx context.Context, key, member string) error
}

// announceScript renews a member of a roster, a sorted set scored by when
// each member's time is up. KEYS[1] roster; ARGV now_ms, until_ms, member,
// ttl_ms. Returns the members left.
var announceScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// Announce implements Roster.
func (r *Redis) Announce(ctx context.Context, key, member string, now time.Time, ttl time.Duration) ([]string, error) {
	if err := r.begin("announce"); err != nil {
		return nil, err
	}
	start := time.Now()
	until := now.Add(ttl)
	v, err := announceScript.Run(ctx, r.c, []string{r.prefix + key}, now.UnixMilli(), until.UnixMilli(), member, ttl.Milliseconds()).StringSlice()
	if err = r.end(ctx, "announce", start, err); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, &Error{Kind: "redis", Op: "announce", Err: fmt.Errorf("roster %q is empty after adding a member", key)}
	}
	return v, nil
}

// Leave implements Roster.
func (r *Redis) Leave(ctx context.Context, key, member string) error {
	if err := r.begin("leave"); err != nil {
		return err
	}
	start := time.Now()
	return r.end(ctx, "leave", start, r.c.ZRem(ctx, r.prefix+key, member).Err())
}
