package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/policy"
	"github.com/weirgw/weir/internal/store"
	"github.com/weirgw/weir/internal/telemetry"
)

// call runs one request through a chain of p as the gateway would and
// returns the failure (nil when allowed) and the client's headers.
func call(t testing.TB, c *policy.Chain, r *http.Request, bytesOut int64) (*failure.Error, http.Header) {
	t.Helper()
	w := httptest.NewRecorder()
	rec := &telemetry.Record{ClientIP: "192.0.2.1"}
	x := c.Start(w, r, rec, "api")
	defer c.End(x)
	_, fe := c.Inbound(x)
	if fe == nil {
		rec.BytesOut = bytesOut
	}
	return fe, w.Header()
}

func chainOf(t testing.TB, p policy.Policy) *policy.Chain {
	t.Helper()
	c, err := policy.NewChain(policy.Lists{Inbound: []policy.Entry{{Policy: p}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func memory(t testing.TB) store.Store {
	m := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func rateLimit(t testing.TB, s store.Store, rl config.RateLimit) *policy.Chain {
	t.Helper()
	p, err := NewRateLimit(config.Policy{Name: "rl", Kind: config.KindRateLimit, RateLimit: &rl}, Deps{Store: s, Scope: "api/t"})
	if err != nil {
		t.Fatal(err)
	}
	return chainOf(t, p)
}

// TestNoBurstAtWindowEdge: 10 calls per second, all spent just before a
// second boundary: a fixed window would allow 10 more just after it; GCRA
// allows one per 100 ms.
func TestNoBurstAtWindowEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := rateLimit(t, memory(t), config.RateLimit{Calls: 10, Period: time.Second})
		r := httptest.NewRequest("GET", "/", nil)
		// Go to 990 ms past a second boundary.
		now := time.Now()
		time.Sleep(now.Truncate(time.Second).Add(time.Second + 990*time.Millisecond).Sub(now))
		allowed := 0
		for range 10 {
			if fe, _ := call(t, c, r, 0); fe == nil {
				allowed++
			}
		}
		time.Sleep(20 * time.Millisecond) // across the boundary
		for range 10 {
			if fe, _ := call(t, c, r, 0); fe == nil {
				allowed++
			}
		}
		if allowed != 10 {
			t.Errorf("allowed %d of 20 calls around a boundary, want 10", allowed)
		}
		time.Sleep(100 * time.Millisecond)
		if fe, _ := call(t, c, r, 0); fe != nil {
			t.Errorf("100 ms later: got %v, want allowed (one per 100 ms)", fe)
		}
	})
}

func TestRateLimitHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := rateLimit(t, memory(t), config.RateLimit{Calls: 3, Period: 30 * time.Second, Headers: true})
		r := httptest.NewRequest("GET", "/", nil)
		for i, want := range []string{"2", "1", "0"} {
			fe, h := call(t, c, r, 0)
			if fe != nil {
				t.Fatalf("call %d: %v", i, fe)
			}
			if got := h.Get("RateLimit-Remaining"); got != want {
				t.Errorf("call %d: remaining got %q, want %q", i, got, want)
			}
		}
		fe, _ := call(t, c, r, 0)
		if fe == nil || fe.Reason != failure.RateLimitExceeded {
			t.Fatalf("fourth call: got %v, want RateLimitExceeded", fe)
		}
		for k, want := range map[string]string{"Retry-After": "10", "RateLimit-Reset": "30", "RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Policy": "3;w=30"} {
			if got := fe.Header.Get(k); got != want {
				t.Errorf("429 %s: got %q, want %q", k, got, want)
			}
		}
		// Retry-After rounds up: 9.5 s left is "10", never "9".
		time.Sleep(500 * time.Millisecond)
		if fe, _ := call(t, c, r, 0); fe == nil || fe.Header.Get("Retry-After") != "10" {
			t.Errorf("0.5 s later: got %v, want Retry-After 10", fe)
		}
	})
}

func TestSpikeArrest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewSpikeArrest(config.Policy{Name: "sa", Kind: config.KindSpikeArrest, SpikeArrest: &config.SpikeArrest{Rate: "10ps"}}, Deps{Store: memory(t), Scope: "gateway"})
		if err != nil {
			t.Fatal(err)
		}
		c := chainOf(t, p)
		allowed := 0
		// 100 calls spread evenly over one second, two every 10ms... at 20
		// per 100 ms, every other one is too soon.
		for range 100 {
			if fe, _ := call(t, c, httptest.NewRequest("GET", "/", nil), 0); fe == nil {
				allowed++
			} else if fe.Reason != failure.RateLimitExceeded || fe.Header.Get("Retry-After") == "" {
				t.Fatalf("got %v %v, want RateLimitExceeded with Retry-After", fe, fe.Header)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if allowed != 10 {
			t.Errorf("allowed %d of 100 calls over 1 s at 10ps, want 10", allowed)
		}
	})
}

func TestQuotaCalendarAndBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory(t)
		p, err := NewQuota(config.Policy{Name: "q", Kind: config.KindQuota, Quota: &config.Quota{Calls: 2, Bytes: 1000, Period: config.PeriodHour, Headers: true}}, Deps{Store: s, Scope: "api/t"})
		if err != nil {
			t.Fatal(err)
		}
		c := chainOf(t, p)
		r := httptest.NewRequest("GET", "/", nil)
		// synctest starts at 2000-01-01 00:00 UTC: the hour ends in an hour.
		fe, h := call(t, c, r, 999)
		if fe != nil || h.Get("RateLimit-Remaining") != "1" || h.Get("RateLimit-Reset") != "3600" {
			t.Fatalf("first: got %v %v", fe, h)
		}
		if fe, _ := call(t, c, r, 1); fe != nil {
			t.Fatalf("second (999 of 1000 bytes used): got %v, want allowed", fe)
		}
		// Now 2 calls and 1000 bytes: bytes are checked first.
		fe, _ = call(t, c, r, 0)
		if fe == nil || fe.Reason != failure.QuotaExceeded || fe.Header.Get("Retry-After") != "3600" {
			t.Fatalf("third: got %v, want QuotaExceeded with Retry-After 3600", fe)
		}
		time.Sleep(time.Hour)
		if fe, _ := call(t, c, r, 0); fe != nil {
			t.Errorf("next hour: got %v, want a fresh quota", fe)
		}
	})
}

func TestQuotaRolling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewQuota(config.Policy{Name: "q", Kind: config.KindQuota, Quota: &config.Quota{Calls: 3, Period: config.PeriodHour, Window: config.WindowRolling}}, Deps{Store: memory(t), Scope: "api/t"})
		if err != nil {
			t.Fatal(err)
		}
		c := chainOf(t, p)
		r := httptest.NewRequest("GET", "/", nil)
		for i := range 3 {
			if fe, _ := call(t, c, r, 0); fe != nil {
				t.Fatalf("call %d: %v", i, fe)
			}
			time.Sleep(20 * time.Minute)
		}
		// At 60 min the first call still counts: a rolling window never lets
		// a call go early (it counts for up to one 1-minute slot more).
		if fe, _ := call(t, c, r, 0); fe == nil {
			t.Fatalf("at exactly an hour: got allowed, want the first call still counted")
		}
		time.Sleep(time.Minute)
		// At 61 min it has left.
		if fe, _ := call(t, c, r, 0); fe != nil {
			t.Fatalf("after an hour and a slot: got %v, want allowed", fe)
		}
		fe, _ := call(t, c, r, 0)
		if fe == nil || fe.Header.Get("Retry-After") != "1200" {
			t.Errorf("over the rolling quota: got %v %v, want refused until the call at 20 min leaves (1200 s)", fe, fe.Header)
		}
	})
}

// failing is a store whose Take and Count fail.
type failing struct{ store.Store }

func (failing) Take(_ context.Context, _ string, _ store.Rate, _ time.Time, _ int) (store.Grant, error) {
	return store.Grant{}, &store.Error{Kind: "test", Op: "take", Err: store.ErrUnavailable}
}

func TestOnStoreError(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, tc := range []struct {
		mode string
		want failure.Reason
	}{{config.OnStoreErrorAllow, ""}, {config.OnStoreErrorDeny, failure.StoreUnavailable}} {
		c := rateLimit(t, failing{}, config.RateLimit{Calls: 1, Period: time.Second, OnStoreError: tc.mode})
		fe, _ := call(t, c, r, 0)
		var got failure.Reason
		if fe != nil {
			got = fe.Reason
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.mode, got, tc.want)
		}
		if tc.want != "" && !errors.Is(fe, store.ErrUnavailable) {
			t.Errorf("%s: the failure does not carry the store's error: %v", tc.mode, fe)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sources []string
		target  string
		header  string
		want    string
	}{
		{name: "default ip", target: "/", want: "p/192.0.2.1"},
		{name: "global", sources: []string{}, target: "/", want: "p/"},
		{name: "header", sources: []string{"header:x-api-key"}, target: "/", header: "k1", want: "p/k1"},
		{name: "missing header", sources: []string{"header:x-api-key"}, target: "/", want: "p/"},
		{name: "query", sources: []string{"query:key"}, target: "/?a=1&key=v&key=w", want: "p/v"},
		{name: "escaped query value", sources: []string{"query:key"}, target: "/?key=%76", want: "p/v"},
		{name: "escaped query name", sources: []string{"query:api_key"}, target: "/?api%5Fkey=v", want: "p/v"},
		{name: "joined", sources: []string{"ip", "header:X-Api-Key", "consumer"}, target: "/", header: "k", want: "p/192.0.2.1\x1fk\x1fann"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := newKey("p/", tc.sources, []string{"ip"})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", tc.target, nil)
			if tc.header != "" {
				r.Header.Set("X-Api-Key", tc.header)
			}
			x := chainOf(t, &RateLimit{}).Start(httptest.NewRecorder(), r, &telemetry.Record{ClientIP: "192.0.2.1"}, "api")
			x.Consumer = "ann"
			if got := k.build(x, -1, ""); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCalendarWindow(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		period, t, start, end string
	}{
		{config.PeriodHour, "2025-03-09T10:59:59Z", "2025-03-09T10:00:00Z", "2025-03-09T11:00:00Z"},
		{config.PeriodDay, "2025-03-09T23:30:00-02:00", "2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z"},
		{config.PeriodWeek, "2025-03-09T12:00:00Z", "2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"}, // a Sunday
		{config.PeriodWeek, "2025-03-10T00:00:00Z", "2025-03-10T00:00:00Z", "2025-03-17T00:00:00Z"}, // a Monday
		{config.PeriodMonth, "2024-12-31T23:59:59Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{config.PeriodMonth, "2024-02-29T12:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
	} {
		start, end := CalendarWindow(tc.period, at(tc.t))
		if !start.Equal(at(tc.start)) || !end.Equal(at(tc.end)) {
			t.Errorf("%s of %s: got %v..%v, want %s..%s", tc.period, tc.t, start, end, tc.start, tc.end)
		}
	}
}

// TestBatch: with batch 4, one store call in four; leased calls expire
// after config.LeaseTime and are then lost, never spent late.
func TestBatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec config.Policy
	}{
		{"rate-limit-by-key", config.Policy{Name: "rl", Kind: config.KindRateLimit, RateLimit: &config.RateLimit{Calls: 10, Period: time.Hour, Batch: 4, Headers: true}}},
		{"quota-by-key", config.Policy{Name: "q", Kind: config.KindQuota, Quota: &config.Quota{Calls: 10, Period: config.PeriodDay, Batch: 4, Headers: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := store.NewMemory(store.MemoryOptions{})
				defer m.Close()
				var p policy.Policy
				var err error
				if tc.spec.RateLimit != nil {
					p, err = NewRateLimit(tc.spec, Deps{Store: m, Scope: "api/t"})
				} else {
					p, err = NewQuota(tc.spec, Deps{Store: m, Scope: "api/t"})
				}
				if err != nil {
					t.Fatal(err)
				}
				c := chainOf(t, p)
				r := httptest.NewRequest("GET", "/", nil)
				before := m.Stats().Ops
				var remaining []string
				for range 4 {
					fe, h := call(t, c, r, 0)
					if fe != nil {
						t.Fatal(fe)
					}
					remaining = append(remaining, h.Get("RateLimit-Remaining"))
				}
				if ops := m.Stats().Ops - before; ops != 1 {
					t.Errorf("store calls for 4 requests: got %d, want 1", ops)
				}
				if got, want := strings.Join(remaining, ","), "9,8,7,6"; got != want {
					t.Errorf("RateLimit-Remaining: got %s, want %s", got, want)
				}
				// Lease 2 (calls 5..8), of which one is spent, then it expires.
				call(t, c, r, 0)
				time.Sleep(config.LeaseTime + time.Millisecond)
				allowed := 0
				for range 10 {
					if fe, _ := call(t, c, r, 0); fe == nil {
						allowed++
					}
				}
				// 10 calls: 4 + 4 (3 lost) taken; 2 remain: a batch of 4
				// does not fit, so they are taken one by one.
				if allowed != 2 {
					t.Errorf("after the lease expired: got %d allowed, want 2 (the 3 unspent are lost)", allowed)
				}
			})
		})
	}
}
