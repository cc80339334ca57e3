package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/store"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// events records an Observer's calls.
type events struct {
	mu     sync.Mutex
	ops    int
	failed int
	states []bool
}

func (e *events) StoreOp(kind, op string, d time.Duration, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ops++
	if err != nil {
		e.failed++
	}
}

func (e *events) StoreAvailable(kind string, up bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.states = append(e.states, up)
}

func (e *events) snapshot() (ops, failed int, states []bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ops, e.failed, append([]bool(nil), e.states...)
}

// TestRedisOutage stops Redis under a store: the first failure marks it
// down, later calls fail at once with ErrUnavailable, and once Redis is
// back the store reconnects by itself.
func TestRedisOutage(t *testing.T) {
	srv := peer.Redis(t)
	ev := &events{}
	r := openRedis(t, srv.Addr, ev)
	ctx := context.Background()
	rate := store.Rate{Interval: time.Millisecond, Burst: 1000}
	if _, err := r.Take(ctx, "k", rate, time.Now(), 1); err != nil {
		t.Fatalf("with Redis up: %v", err)
	}

	srv.Stop()
	_, err := r.Take(ctx, "k", rate, time.Now(), 1)
	var se *store.Error
	if !errors.As(err, &se) || se.Kind != "redis" || se.Op != "take" {
		t.Fatalf("with Redis stopped: got %v, want a *store.Error of redis take", err)
	}
	if st := r.Stats(); st.Available || st.Outages != 1 {
		t.Fatalf("after the failure: got %+v, want unavailable with 1 outage", st)
	}
	if _, err := r.Take(ctx, "k", rate, time.Now(), 1); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("while down: got %v, want ErrUnavailable", err)
	}

	srv.Start()
	waitAvailable(t, r)
	if _, err := r.Take(ctx, "k", rate, time.Now(), 1); err != nil {
		t.Fatalf("after Redis came back: %v", err)
	}
	ops, failed, states := ev.snapshot()
	if len(states) != 2 || states[0] || !states[1] {
		t.Errorf("availability events: got %v, want [false true]", states)
	}
	if ops < 3 || failed < 1 {
		t.Errorf("op events: got %d ops, %d failed; want >= 3 and >= 1", ops, failed)
	}
}

// TestRedisErrorReply: an error answered by Redis (a key of the wrong type)
// fails the call but does not mark the store down.
func TestRedisErrorReply(t *testing.T) {
	srv := peer.Redis(t)
	r := openRedis(t, srv.Addr, nil)
	if _, err := srv.Do("SET t:str x"); err != nil {
		t.Fatal(err)
	}
	_, err := r.Count(context.Background(), "str", store.Window{Length: time.Minute, Slots: 6}, time.Now(), 1, 10)
	if err == nil {
		t.Fatal("Count on a string key: got no error, want WRONGTYPE")
	}
	if st := r.Stats(); !st.Available || st.Errors != 1 {
		t.Errorf("got %+v, want available with 1 error", st)
	}
}

func TestRedisClosed(t *testing.T) {
	srv := peer.Redis(t)
	r := openRedis(t, srv.Addr, nil)
	_ = r.Close()
	if _, err := r.Take(context.Background(), "k", store.Rate{Interval: 1, Burst: 1}, time.Now(), 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
}

// TestMemoryBounded: a memory store never holds more than MaxKeys (rounded
// up to whole shards), evicting when full.
func TestMemoryBounded(t *testing.T) {
	m := store.NewMemory(store.MemoryOptions{MaxKeys: 128})
	defer m.Close()
	rate := store.Rate{Interval: time.Hour, Burst: 5}
	now := time.Now()
	for i := range 5000 {
		if _, err := m.Take(context.Background(), "k"+strconv.Itoa(i), rate, now, 1); err != nil {
			t.Fatal(err)
		}
	}
	st := m.Stats()
	if st.Keys > 128 || st.Keys < 64 {
		t.Errorf("keys: got %d, want 64..128", st.Keys)
	}
	if st.Evictions < 5000-128 {
		t.Errorf("evictions: got %d, want >= %d", st.Evictions, 5000-128)
	}
}

// TestMemoryIdleKeysExpire: the sweeper drops keys whose state has run
// out (a full bucket again, a window over, a value past its ttl).
func TestMemoryIdleKeysExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := store.NewMemory(store.MemoryOptions{SweepInterval: time.Second})
		defer m.Close()
		ctx := context.Background()
		now := time.Now()
		_, _ = m.Take(ctx, "bucket", store.Rate{Interval: time.Second, Burst: 2}, now, 1)
		_, _ = m.Count(ctx, "fixed", store.Window{End: now.Add(3 * time.Second)}, now, 1, 10)
		_, _ = m.Count(ctx, "rolling", store.Window{Length: 4 * time.Second, Slots: 4}, now, 1, 10)
		_ = m.Set(ctx, "value", []byte("v"), 2*time.Second)
		_, _ = m.Take(ctx, "long", store.Rate{Interval: time.Hour, Burst: 2}, now, 1)
		if got := m.Stats().Keys; got != 5 {
			t.Fatalf("keys at start: got %d, want 5", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := m.Stats().Keys; got != 1 {
			t.Errorf("keys after 10s: got %d, want 1 (the hour-long bucket)", got)
		}
	})
}

func TestMemoryClosed(t *testing.T) {
	m := store.NewMemory(store.MemoryOptions{})
	_ = m.Close()
	if _, err := m.Count(context.Background(), "k", store.Window{End: time.Now().Add(time.Hour)}, time.Now(), 1, 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
}

// TestRedisOutageLogged stops Redis under a store whose client logs
// through a store.Log: while Redis is down, go-redis logs a dial error per
// reconnection probe, and weir's log gets exactly two lines for the
// outage: unreachable (with the cause), and reachable again with the
// count of client lines it held back. Before, each dial error was a line
// of go-redis's own on stderr.
func TestRedisOutageLogged(t *testing.T) {
	srv := peer.Redis(t)
	out, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	l := store.NewLog(out)
	redis.SetLogger(l)
	t.Cleanup(logging.Enable)
	r, err := store.NewRedis(config.Store{Kind: config.StoreRedis, Address: srv.Addr}, store.Deps{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	ctx := context.Background()
	rate := store.Rate{Interval: time.Millisecond, Burst: 1000}
	if _, err := r.Take(ctx, "k", rate, time.Now(), 1); err != nil {
		t.Fatalf("with Redis up: %v", err)
	}
	srv.Stop()
	for range 20 {
		_, _ = r.Take(ctx, "k", rate, time.Now(), 1)
	}
	time.Sleep(1500 * time.Millisecond) // probes at 50, 100, 200, 400, 800 ms fail
	srv.Start()
	waitAvailable(t, r)
	time.Sleep(1200 * time.Millisecond) // a stray client line would be written by now

	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "weir: store redis "+srv.Addr+": unreachable (") || !strings.Contains(got[1], ": reachable again after ") {
		t.Fatalf("log: got %d lines\n%s\nwant the outage's two lines", len(got), b)
	}
	m := regexp.MustCompile(`logged (\d+) errors meanwhile`).FindStringSubmatch(got[1])
	if m == nil {
		t.Fatalf("reachable line: got %q, want the count of held client lines", got[1])
	}
	if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("held client lines: got %d, want at least 3 (one per failed probe)", n)
	}
}

// waitAvailable waits until r reconnected (its probe backs off to 1 s).
func waitAvailable(t *testing.T, r *store.Redis) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !r.Stats().Available {
		if time.Now().After(deadline) {
			t.Fatal("store still unavailable 10s after Redis came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a Subscriber that passes what it hears to a channel.
type recorder chan string

func (r recorder) Message(p string) { r <- "message " + p }

func (r recorder) Subscribed(ok bool) { r <- "subscribed " + strconv.FormatBool(ok) }

// next waits for what r hears next (the bound only keeps a broken test
// from hanging).
func (r recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("nothing heard in 10s")
		return ""
	}
}

// TestRedisBroadcast: what one instance publishes reaches another's
// subscriber; Redis going away ends the subscription (messages would be
// lost: the subscriber is told), and it comes back by itself after Redis.
func TestRedisBroadcast(t *testing.T) {
	srv := peer.Redis(t)
	one, two := openRedis(t, srv.Addr, nil), openRedis(t, srv.Addr, nil)
	heard := make(recorder, 16)
	stop := two.Subscribe("news", heard)
	for _, want := range []string{"subscribed false", "subscribed true"} {
		if got := heard.next(t); got != want {
			t.Fatalf("subscribing: got %q, want %q", got, want)
		}
	}
	ctx := context.Background()
	if err := one.Publish(ctx, "news", "k1"); err != nil {
		t.Fatal(err)
	}
	if got := heard.next(t); got != "message k1" {
		t.Fatalf("after a publish: got %q, want message k1", got)
	}
	srv.Stop()
	if got := heard.next(t); got != "subscribed false" {
		t.Fatalf("Redis stopped: got %q, want subscribed false", got)
	}
	srv.Start()
	if got := heard.next(t); got != "subscribed true" {
		t.Fatalf("Redis back: got %q, want subscribed true", got)
	}
	waitAvailable(t, one)
	if err := one.Publish(ctx, "news", "k2"); err != nil {
		t.Fatal(err)
	}
	if got := heard.next(t); got != "message k2" {
		t.Fatalf("after Redis came back: got %q, want message k2", got)
	}
	stop()
	if got := heard.next(t); got != "subscribed false" {
		t.Errorf("stopped: got %q, want subscribed false", got)
	}
}
