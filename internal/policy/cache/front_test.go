package cache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/store"
)

// bus relays messages between subscribers in the process, as Redis pub/sub
// does between instances; lost makes every subscription lost.
type bus struct {
	mu   sync.Mutex
	subs []store.Subscriber
	sent int
}

func (b *bus) Publish(_ context.Context, _, msg string) error {
	b.mu.Lock()
	subs := b.subs
	b.sent++
	b.mu.Unlock()
	for _, s := range subs {
		s.Message(msg)
	}
	return nil
}

func (b *bus) Subscribe(_ string, s store.Subscriber) func() {
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	s.Subscribed(true)
	return func() { s.Subscribed(false) }
}

func (b *bus) lost(back bool) {
	b.mu.Lock()
	subs := b.subs
	b.mu.Unlock()
	for _, s := range subs {
		s.Subscribed(back)
	}
}

// counting is a shared store that counts its reads.
type counting struct {
	store.Store
	mu    sync.Mutex
	reads int
}

func (c *counting) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.Get(ctx, key)
}

func (c *counting) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// TestFronted: two instances' fronts over one shared store. A hit on the
// front reads nothing from the store; a key one instance sets or deletes
// is dropped from the other's front when the message arrives; while the
// subscription is lost the front is empty and bypassed; no entry stays in
// a front longer than frontTTL, messages or not.
func TestFronted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shared := &counting{Store: store.NewMemory(store.MemoryOptions{})}
	t.Cleanup(func() { _ = shared.Close() })
	b := &bus{}
	clk := &clock{t: time.Now()}
	one := NewFronted(shared, b, 1<<20, clk.now)
	two := NewFronted(shared, b, 1<<20, clk.now)
	v1, v2 := sized(10), sized(20)

	if err := one.Set(ctx, "k", v1, time.Hour); err != nil {
		t.Fatal(err)
	}
	get := func(f *Fronted, wantSize int, wantReads int, what string) {
		t.Helper()
		e, err := f.Get(ctx, "k")
		size := -1
		if e != nil {
			size = len(e.Body)
		}
		if err != nil || size != wantSize || shared.count() != wantReads {
			t.Fatalf("%s: got body %d bytes (%v), %d store reads; want %d bytes, %d reads", what, size, err, shared.count(), wantSize, wantReads)
		}
	}
	get(one, 10, 0, "the setter's front")
	get(two, 10, 1, "the other instance: from the store")
	get(two, 10, 1, "the other instance again: from its front")

	if err := one.Set(ctx, "k", v2, time.Hour); err != nil {
		t.Fatal(err)
	}
	get(two, 20, 2, "after a change elsewhere: the new entry from the store")
	if err := one.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	get(two, -1, 3, "after a delete elsewhere: none")

	_ = one.Set(ctx, "k", v1, time.Hour)
	get(two, 10, 4, "stored again")
	b.lost(false)
	get(two, 10, 5, "subscription lost: the front is bypassed")
	get(two, 10, 6, "and stays so")
	b.lost(true)
	get(two, 10, 7, "back: filled again")
	get(two, 10, 7, "served from it")
	clk.add(frontTTL)
	get(two, 10, 8, "after frontTTL: the store again")
	if b.sent != 4 {
		t.Errorf("messages: got %d, want 4 (one per set or delete)", b.sent)
	}
	one.Close()
	two.Close()
	get(two, 10, 9, "closed: the store only")
}
