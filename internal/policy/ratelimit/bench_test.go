package ratelimit

import (
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/policy"
	"github.com/weirgw/weir/internal/store"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// benchStores are the stores each policy is measured on.
func benchStores(b *testing.B) map[string]func(b *testing.B) store.Store {
	return map[string]func(b *testing.B) store.Store{
		"memory": func(b *testing.B) store.Store { return memory(b) },
		"redis": func(b *testing.B) store.Store {
			srv := peer.Redis(b)
			r, err := store.NewRedis(config.Store{Kind: config.StoreRedis, Address: srv.Addr}, store.Deps{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = r.Close() })
			return r
		},
	}
}

// benchPolicies are the policies measured, each set so that every call is
// allowed (the hot path; a rejection is the exception).
func benchPolicies() map[string]config.Policy {
	return map[string]config.Policy{
		"rate-limit-by-key": {Name: "b", Kind: config.KindRateLimit, RateLimit: &config.RateLimit{Calls: 1 << 30, Period: time.Second, Key: []string{"header:X-Api-Key"}, Headers: true}},
		"spike-arrest":      {Name: "b", Kind: config.KindSpikeArrest, SpikeArrest: &config.SpikeArrest{Rate: "1000000000ps", Burst: 1 << 20}},
		"quota-by-key":      {Name: "b", Kind: config.KindQuota, Quota: &config.Quota{Calls: 1 << 40, Period: config.PeriodDay, Window: config.WindowCalendar}},
		"quota-rolling":     {Name: "b", Kind: config.KindQuota, Quota: &config.Quota{Calls: 1 << 40, Period: config.PeriodDay, Window: config.WindowRolling}},
	}
}

func build(b *testing.B, spec config.Policy, s store.Store) policy.Policy {
	d := Deps{Store: s, Scope: "api/bench"}
	var p policy.Policy
	var err error
	switch spec.Kind {
	case config.KindRateLimit:
		p, err = NewRateLimit(spec, d)
	case config.KindSpikeArrest:
		p, err = NewSpikeArrest(spec, d)
	case config.KindQuota:
		p, err = NewQuota(spec, d)
	}
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPolicy is the cost one policy adds to a request: the chain's
// bookkeeping, building the key, and the store's decision (a Redis round
// trip on loopback for redis).
func BenchmarkPolicy(b *testing.B) {
	for kind, spec := range benchPolicies() {
		for sname, open := range benchStores(b) {
			b.Run(kind+"/"+sname, func(b *testing.B) {
				c := chainOf(b, build(b, spec, open(b)))
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("X-Api-Key", "key-1")
				w := peer.NewSink()
				rec := &telemetry.Record{ClientIP: "192.0.2.1"}
				b.ReportAllocs()
				for b.Loop() {
					x := c.Start(w, r, rec, "api")
					if _, fe := c.Inbound(x); fe != nil {
						b.Fatal(fe)
					}
					c.End(x)
				}
			})
		}
	}
}

// BenchmarkRateLimitParallel: many clients on many keys at once. The memory
// store's shards keep them from waiting on one lock.
func BenchmarkRateLimitParallel(b *testing.B) {
	spec := benchPolicies()["rate-limit-by-key"]
	c := chainOf(b, build(b, spec, memory(b)))
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Api-Key", "key-"+strconv.FormatInt(n.Add(1), 10))
		w := peer.NewSink()
		rec := &telemetry.Record{ClientIP: "192.0.2.1"}
		for pb.Next() {
			x := c.Start(w, r, rec, "api")
			if _, fe := c.Inbound(x); fe != nil {
				b.Error(fe)
				return
			}
			c.End(x)
		}
	})
}
