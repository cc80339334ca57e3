package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sized returns an analyzed entry whose body is n bytes.
func sized(n int) *Entry {
	e := &Entry{Status: 200, Header: http.Header{}, Body: make([]byte, n), RequestTime: t0, ResponseTime: t0}
	e.analyze()
	return e
}

func TestMemoryLRU(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: t0}
	one := sized(1000).facts.size + int64(len("k0"))
	m := NewMemory(3*one, clk.now) // room for three
	for i := range 3 {
		if err := m.Set(ctx, fmt.Sprintf("k%d", i), sized(1000), time.Hour); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Millisecond)
	}
	// k0 becomes the most recently used, so k1 is evicted by a fourth.
	if e, _ := m.Get(ctx, "k0"); e == nil {
		t.Fatal("k0: got nil, want the entry")
	}
	clk.add(time.Millisecond)
	if err := m.Set(ctx, "k3", sized(1000), time.Hour); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"k0": true, "k1": false, "k2": true, "k3": true} {
		if e, _ := m.Get(ctx, key); (e != nil) != want {
			t.Errorf("%s present: got %v, want %v", key, e != nil, want)
		}
	}
	st := m.Stats()
	if st.Entries != 3 || st.Evictions != 1 || st.Bytes != 3*one || st.MaxBytes != 3*one {
		t.Errorf("stats: got %+v, want 3 entries, 1 eviction, %d bytes", st, 3*one)
	}

	// Larger than the whole bound: not stored, and the old entry goes.
	if err := m.Set(ctx, "k2", sized(int(4*one)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, _ := m.Get(ctx, "k2"); e != nil {
		t.Error("k2: an entry larger than the bound was stored")
	}

	// Expiry.
	if err := m.Set(ctx, "short", sized(10), time.Second); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Second)
	if e, _ := m.Get(ctx, "short"); e != nil {
		t.Error("short: got the entry after its ttl, want nil")
	}

	// Delete and shrinking.
	if err := m.Delete(ctx, "k0"); err != nil {
		t.Fatal(err)
	}
	if e, _ := m.Get(ctx, "k0"); e != nil {
		t.Error("k0: got the entry after Delete")
	}
	m.SetMax(one)
	if st := m.Stats(); st.Bytes > one || st.Entries != 1 {
		t.Errorf("after SetMax: got %+v, want at most %d bytes in 1 entry", st, one)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	one := sized(100).facts.size + 8
	m := NewMemory(50*one, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				key := fmt.Sprintf("k%d", (g*7+i)%200)
				switch i % 3 {
				case 0:
					_ = m.Set(ctx, key, sized(100), time.Hour)
				case 1:
					_, _ = m.Get(ctx, key)
				default:
					_ = m.Delete(ctx, key)
				}
			}
		}()
	}
	wg.Wait()
	st := m.Stats()
	if st.Bytes > 50*one || st.Bytes < 0 {
		t.Errorf("bytes: got %d, want 0..%d", st.Bytes, 50*one)
	}
	var sum int64
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		for it := s.head.next; it != &s.head; it = it.next {
			sum += it.size
			n++
		}
	}
	if sum != st.Bytes || n != st.Entries {
		t.Errorf("accounting: lists hold %d entries of %d bytes, stats say %d of %d", n, sum, st.Entries, st.Bytes)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	e := &Entry{
		Status:       203,
		Header:       http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}, "Cache-Control": {"max-age=60"}, "Etag": {`"x"`}},
		Body:         []byte("hello"),
		RequestTime:  t0.Add(-time.Second),
		ResponseTime: t0,
		Vary:         []string{"Accept", "X-A"},
		VaryValues:   []string{"text/html", absentValue},
		Epoch:        42,
		DefaultTTL:   time.Minute,
		Heuristic:    true,
	}
	e.analyze()
	got, err := decodeEntry(appendEntry(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	if !got.RequestTime.Equal(e.RequestTime) || !got.ResponseTime.Equal(e.ResponseTime) {
		t.Errorf("times: got %v %v, want %v %v", got.RequestTime, got.ResponseTime, e.RequestTime, e.ResponseTime)
	}
	if !got.facts.lastModified.Equal(e.facts.lastModified) {
		t.Errorf("last modified: got %v, want %v", got.facts.lastModified, e.facts.lastModified)
	}
	// Equal instants; only the time.Location differs.
	got.RequestTime, got.ResponseTime, got.facts.lastModified = e.RequestTime, e.ResponseTime, e.facts.lastModified
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", got, e)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, appendEntry(nil, e)[:20], append(appendEntry(nil, e), 0)} {
		if _, err := decodeEntry(bad); err == nil {
			t.Errorf("decodeEntry(%q): got no error", bad)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := &Entry{Status: 200, Header: http.Header{"A": {"1", "2"}}, Body: []byte("b"), Vary: []string{"X"}, VaryValues: []string{"y"}, Epoch: 7}
	f.Add(appendEntry(nil, e))
	f.Add([]byte{1, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		// What decodes encodes back to the same bytes' meaning.
		again, err := decodeEntry(appendEntry(nil, e))
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if again.Status != e.Status || len(again.Header) != len(e.Header) || string(again.Body) != string(e.Body) || len(again.Vary) != len(e.Vary) {
			t.Errorf("re-decoded entry differs: %+v vs %+v", again, e)
		}
	})
}

// fakeStore is a store.Store holding values in a map, failing on demand.
type fakeStore struct {
	store.Store
	mu   sync.Mutex
	vals map[string][]byte
	fail error
}

func (f *fakeStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, false, f.fail
	}
	v, ok := f.vals[key]
	return v, ok, nil
}

func (f *fakeStore) Set(_ context.Context, key string, val []byte, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.vals[key] = append([]byte(nil), val...)
	return nil
}

func (f *fakeStore) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.vals, key)
	return f.fail
}

func TestShared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs := &fakeStore{vals: map[string][]byte{}}
	s := NewShared(fs)
	e := sized(10)
	if err := s.Set(ctx, "k", e, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "k")
	if err != nil || got == nil || len(got.Body) != 10 {
		t.Fatalf("Get: got %+v, %v; want the entry", got, err)
	}
	fs.vals["bad"] = []byte("garbage")
	if got, err := s.Get(ctx, "bad"); got != nil || !errors.Is(err, errCorrupt) {
		t.Errorf("Get of garbage: got %v, %v; want nil, errCorrupt", got, err)
	}
	if _, ok := fs.vals["bad"]; ok {
		t.Error("a value that does not decode was kept")
	}
	fs.fail = store.ErrUnavailable
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get while unavailable: got %v, want ErrUnavailable", err)
	}
}

func TestStorages(t *testing.T) {
	t.Parallel()
	g := NewStorages(nil)
	a := g.For(config.Store{Kind: config.StoreMemory, CacheMaxBytes: 1 << 20}, nil)
	b := g.For(config.Store{Kind: config.StoreMemory, CacheMaxBytes: 2 << 20}, nil)
	if a != b || g.Memory().Stats().MaxBytes != 2<<20 {
		t.Errorf("memory storage: got %p and %p (max %d), want one resized to %d", a, b, g.Memory().Stats().MaxBytes, 2<<20)
	}
	if _, ok := g.For(config.Store{Kind: config.StoreRedis}, &fakeStore{}).(*Shared); !ok {
		t.Error("redis: want a Shared storage")
	}
}
