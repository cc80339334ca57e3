package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/weirgw/weir/internal/config"
)

// leaseShards and leaseShardKeys bound the leases one policy holds: keys
// beyond 16*4096 push out others (whose leased calls are then lost: fewer
// calls pass, never more).
const (
	leaseShards    = 16
	leaseShardKeys = 4096
)

// leases are the calls this instance took from the store in batches and
// spends locally, without a round trip, for up to config.LeaseTime.
type leases struct {
	seed   maphash.Seed
	shards [leaseShards]leaseShard
}

type leaseShard struct {
	mu sync.Mutex
	m  map[string]*lease
}

// lease is one key's leased calls.
type lease struct {
	left      int   // calls still to spend
	exp       int64 // unix ns when the unspent ones are dropped
	remaining int64 // the store's count of calls left when the batch was taken
	resetAt   int64 // unix ns when the store's count resets (for headers)
}

func newLeases() *leases {
	l := &leases{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*lease)
	}
	return l
}

// take spends one leased call of key; ok is false when none is left.
// remaining is the calls left as far as this instance knows (its lease
// plus what the store had), reset the time until the store's count resets.
func (l *leases) take(key string, now time.Time) (remaining int64, reset time.Duration, ok bool) {
	t := now.UnixNano()
	s := &l.shards[maphash.String(l.seed, key)%leaseShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil || e.left <= 0 || e.exp <= t {
		return 0, 0, false
	}
	e.left--
	return int64(e.left) + e.remaining, time.Duration(e.resetAt - t), true
}

// add leases n more calls of key, taken at now; remaining and reset are
// the store's answer.
func (l *leases) add(key string, n int, now time.Time, remaining int64, reset time.Duration) {
	t := now.UnixNano()
	s := &l.shards[maphash.String(l.seed, key)%leaseShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		if len(s.m) >= leaseShardKeys {
			s.dropLocked(t)
		}
		e = &lease{}
		s.m[key] = e
	}
	if e.exp <= t {
		e.left = 0
	}
	// Two requests that found no lease at once both took a batch: keep
	// both, so no call taken from the store is lost.
	e.left += n
	e.exp = t + int64(config.LeaseTime)
	e.remaining = remaining
	e.resetAt = t + int64(reset)
}

// dropLocked makes room in s: expired leases of a sample, else one of it.
// s.mu is held.
func (s *leaseShard) dropLocked(t int64) {
	seen, dropped := 0, false
	var any string
	for k, e := range s.m {
		if e.exp <= t {
			delete(s.m, k)
			dropped = true
		}
		any = k
		if seen++; seen >= 8 {
			break
		}
	}
	if !dropped {
		delete(s.m, any)
	}
}
