package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/store"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// opener opens a store for a test; addr is the Redis server's address
// ("" for memory), so a test can open a second client as a second instance.
type opener func(t *testing.T) (s store.Store, addr string)

// stores returns one opener of each kind for the shared cases; the Redis
// one skips (or fails under CI=true) without redis-server.
func stores() map[string]opener {
	return map[string]opener{
		"memory": func(t *testing.T) (store.Store, string) {
			m := store.NewMemory(store.MemoryOptions{})
			t.Cleanup(func() { _ = m.Close() })
			return m, ""
		},
		"redis": func(t *testing.T) (store.Store, string) {
			srv := peer.Redis(t)
			return openRedis(t, srv.Addr, nil), srv.Addr
		},
	}
}

func openRedis(t *testing.T, addr string, obs store.Observer) *store.Redis {
	t.Helper()
	r, err := store.NewRedis(config.Store{Kind: config.StoreRedis, Address: addr, KeyPrefix: "t:"}, store.Deps{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// base is a time with whole milliseconds, so Redis's microseconds lose
// nothing.
func base() time.Time { return time.Now().Truncate(time.Millisecond) }

func TestTake(t *testing.T) {
	ms := time.Millisecond
	type step struct {
		at      time.Duration // after base
		n       int
		granted int
		remain  int
		retry   time.Duration
		reset   time.Duration
	}
	cases := []struct {
		name  string
		rate  store.Rate
		steps []step
	}{
		{
			name: "burst then one per interval",
			rate: store.Rate{Interval: 100 * ms, Burst: 3},
			steps: []step{
				{at: 0, n: 1, granted: 1, remain: 2, reset: 100 * ms},
				{at: 0, n: 1, granted: 1, remain: 1, reset: 200 * ms},
				{at: 0, n: 1, granted: 1, remain: 0, reset: 300 * ms},
				{at: 0, n: 1, granted: 0, retry: 100 * ms, reset: 300 * ms},
				{at: 50 * ms, n: 1, granted: 0, retry: 50 * ms, reset: 250 * ms},
				{at: 100 * ms, n: 1, granted: 1, remain: 0, reset: 300 * ms},
				{at: 100 * ms, n: 1, granted: 0, retry: 100 * ms, reset: 300 * ms},
			},
		},
		{
			name: "idle bucket refills to burst, no more",
			rate: store.Rate{Interval: 10 * ms, Burst: 2},
			steps: []step{
				{at: 0, n: 1, granted: 1, remain: 1, reset: 10 * ms},
				{at: 0, n: 1, granted: 1, remain: 0, reset: 20 * ms},
				{at: time.Second, n: 1, granted: 1, remain: 1, reset: 10 * ms},
				{at: time.Second, n: 1, granted: 1, remain: 0, reset: 20 * ms},
				{at: time.Second, n: 1, granted: 0, retry: 10 * ms, reset: 20 * ms},
			},
		},
		{
			name: "partial grants of a batch",
			rate: store.Rate{Interval: 10 * ms, Burst: 5},
			steps: []step{
				{at: 0, n: 3, granted: 3, remain: 2, reset: 30 * ms},
				{at: 0, n: 3, granted: 2, remain: 0, reset: 50 * ms},
				{at: 0, n: 3, granted: 0, retry: 10 * ms, reset: 50 * ms},
				{at: 25 * ms, n: 3, granted: 2, remain: 0, reset: 45 * ms},
			},
		},
		{
			name: "spike arrest: burst 1 spaces calls",
			rate: store.Rate{Interval: 100 * ms, Burst: 1},
			steps: []step{
				{at: 0, n: 1, granted: 1, remain: 0, reset: 100 * ms},
				{at: 99 * ms, n: 1, granted: 0, retry: 1 * ms, reset: 1 * ms},
				{at: 100 * ms, n: 1, granted: 1, remain: 0, reset: 100 * ms},
			},
		},
	}
	for kind, open := range stores() {
		t.Run(kind, func(t *testing.T) {
			s, _ := open(t)
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					key, b := fmt.Sprintf("take/%d", i), base()
					for j, st := range c.steps {
						g, err := s.Take(context.Background(), key, c.rate, b.Add(st.at), st.n)
						if err != nil {
							t.Fatalf("step %d: %v", j, err)
						}
						want := store.Grant{Granted: st.granted, Remaining: st.remain, RetryAfter: st.retry, Reset: st.reset}
						if g != want {
							t.Errorf("step %d: got %+v, want %+v", j, g, want)
						}
					}
				})
			}
		})
	}
}

func TestCountFixed(t *testing.T) {
	for kind, open := range stores() {
		t.Run(kind, func(t *testing.T) {
			s, _ := open(t)
			ctx := context.Background()
			b := base()
			w := store.Window{End: b.Add(time.Hour)}
			steps := []struct {
				n, limit int64
				want     store.Tally
			}{
				{n: 1, limit: 2, want: store.Tally{Added: true, Count: 1, Reset: time.Hour}},
				{n: 1, limit: 2, want: store.Tally{Added: true, Count: 2, Reset: time.Hour}},
				{n: 1, limit: 2, want: store.Tally{Count: 2, RetryAfter: time.Hour, Reset: time.Hour}},
				{n: 0, limit: 1, want: store.Tally{Count: 2, RetryAfter: time.Hour, Reset: time.Hour}}, // a read that says "used up"
				{n: 5, limit: 4, want: store.Tally{Count: 2, Reset: time.Hour}},                        // never fits: no retry
				{n: 100, limit: -1, want: store.Tally{Added: true, Count: 102, Reset: time.Hour}},      // no limit
			}
			for i, st := range steps {
				got, err := s.Count(ctx, "fixed", w, b, st.n, st.limit)
				if err != nil {
					t.Fatal(err)
				}
				if got != st.want {
					t.Errorf("step %d: got %+v, want %+v", i, got, st.want)
				}
			}
		})
	}
}

func TestCountRolling(t *testing.T) {
	sec := time.Second
	for kind, open := range stores() {
		t.Run(kind, func(t *testing.T) {
			s, _ := open(t)
			ctx := context.Background()
			w := store.Window{Length: 4 * sec, Slots: 4} // 1s slots
			b := time.Now().Truncate(sec)                // slot start
			steps := []struct {
				at       time.Duration
				n, limit int64
				want     store.Tally
			}{
				// 5 ring slots for 4: a call counts for at least the window
				// (4 s), at most one slot more. Slot 0's calls leave at b+5s.
				{at: 0, n: 2, limit: 3, want: store.Tally{Added: true, Count: 2, Reset: 5 * sec}},
				{at: 1500 * time.Millisecond, n: 1, limit: 3, want: store.Tally{Added: true, Count: 3, Reset: 3500 * time.Millisecond}},
				{at: 2 * sec, n: 1, limit: 3, want: store.Tally{Count: 3, RetryAfter: 3 * sec, Reset: 3 * sec}},
				// 4 s after the first calls they still count: never early.
				{at: 4 * sec, n: 1, limit: 3, want: store.Tally{Count: 3, RetryAfter: 1 * sec, Reset: 1 * sec}},
				// Slot 0's calls left at b+5s; slot 1's leaves at b+6s.
				{at: 5 * sec, n: 0, limit: 3, want: store.Tally{Added: true, Count: 1, Reset: 1 * sec}},
				{at: 20 * sec, n: 0, limit: 3, want: store.Tally{Added: true}},
			}
			for i, st := range steps {
				got, err := s.Count(ctx, "rolling", w, b.Add(st.at), st.n, st.limit)
				if err != nil {
					t.Fatal(err)
				}
				if got != st.want {
					t.Errorf("step %d (at %v): got %+v, want %+v", i, st.at, got, st.want)
				}
			}
		})
	}
}

func TestValues(t *testing.T) {
	for kind, open := range stores() {
		t.Run(kind, func(t *testing.T) {
			s, _ := open(t)
			ctx := context.Background()
			if _, ok, err := s.Get(ctx, "v"); ok || err != nil {
				t.Fatalf("empty store: got ok=%v err=%v, want nothing", ok, err)
			}
			val := []byte("hello")
			if err := s.Set(ctx, "v", val, time.Minute); err != nil {
				t.Fatal(err)
			}
			val[0] = 'j' // the store keeps its own copy
			got, ok, err := s.Get(ctx, "v")
			if err != nil || !ok || string(got) != "hello" {
				t.Fatalf("got %q %v %v, want hello", got, ok, err)
			}
			if err := s.Delete(ctx, "v"); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.Get(ctx, "v"); ok {
				t.Fatal("got a value after Delete, want none")
			}
		})
	}
}

// TestTakeConcurrentExact: many goroutines (for Redis, over two clients, as
// two instances would) on one key get exactly Burst calls.
func TestTakeConcurrentExact(t *testing.T) {
	for kind, open := range stores() {
		t.Run(kind, func(t *testing.T) {
			s, addr := open(t)
			others := []store.Store{s}
			if addr != "" {
				// A second client on the same server stands for a second instance.
				others = append(others, openRedis(t, addr, nil))
			}
			rate := store.Rate{Interval: time.Hour, Burst: 50}
			now := time.Now()
			var granted atomic.Int64
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func(s store.Store) {
					defer wg.Done()
					for range 20 {
						g, err := s.Take(context.Background(), "race", rate, now, 1)
						if err != nil {
							t.Error(err)
							return
						}
						granted.Add(int64(g.Granted))
					}
				}(others[i%len(others)])
			}
			wg.Wait()
			if got := granted.Load(); got != 50 {
				t.Errorf("granted %d of 160 calls, want exactly the burst, 50", got)
			}
		})
	}
}

// TestRedisRoster: members renew themselves in a roster; one whose time is
// up is gone from the next answer, and one that leaves is gone at once.
func TestRedisRoster(t *testing.T) {
	t.Parallel()
	srv := peer.Redis(t)
	r := openRedis(t, srv.Addr, nil)
	ctx := context.Background()
	now := base()
	for _, step := range []struct {
		member string
		at     time.Duration
		want   []string
	}{
		{"a", 0, []string{"a"}},
		{"b", time.Second, []string{"a", "b"}},
		{"a", 5 * time.Second, []string{"a", "b"}},
		{"c", 12 * time.Second, []string{"a", "c"}}, // b's 10s are up
	} {
		got, err := r.Announce(ctx, "roster", step.member, now.Add(step.at), 10*time.Second)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, step.want) {
			t.Fatalf("%s at %v: got %v %v, want %v", step.member, step.at, got, err, step.want)
		}
	}
	if err := r.Leave(ctx, "roster", "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Announce(ctx, "roster", "c", now.Add(13*time.Second), 10*time.Second); err != nil || !slices.Equal(got, []string{"c"}) {
		t.Errorf("after a left: got %v %v, want [c]", got, err)
	}
}
