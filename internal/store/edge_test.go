package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/store"
)

// Window.Slots doc: "a count leaves the window between Length and
// Length+Length/Slots after it was added". With a ring of exactly Slots
// slots it leaves after as little as Length-Length/Slots: a quota of 1
// call per rolling 4 s lets 2 calls through 3.001 s apart.
func TestRollingWindowNeverUnderCounts(t *testing.T) {
	sec := time.Second
	for kind, open := range stores() {
		t.Run(kind, func(t *testing.T) {
			s, _ := open(t)
			ctx := context.Background()
			w := store.Window{Length: 4 * sec, Slots: 4}
			b := time.Now().Truncate(sec)
			first := b.Add(999 * time.Millisecond)
			if tl, err := s.Count(ctx, "q", w, first, 1, 1); err != nil || !tl.Added {
				t.Fatalf("first call: %+v %v", tl, err)
			}
			second := b.Add(4 * sec)
			tl, err := s.Count(ctx, "q", w, second, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if tl.Added {
				t.Errorf("limit 1 per 4s window: a 2nd call was allowed %v after the 1st", second.Sub(first))
			}
		})
	}
}
