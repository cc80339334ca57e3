package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestLogOneLinePerOutage: client lines during an outage, and the one
// just before it, are held and counted in the outage's closing line; a
// client line outside outages is written after clientLinger.
func TestLogOneLinePerOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &strings.Builder{} // written under l.mu
		l := NewLog(out)
		ctx := context.Background()
		dial := "redis: connection pool: failed to dial after %d attempts: %v"
		refused := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

		l.Printf(ctx, dial, 1, refused) // the failure that starts the outage
		mark := l.outageBegan("127.0.0.1:6379", refused)
		for range 50 { // a probe every few ms, requests racing
			l.Printf(ctx, dial, 1, refused)
			time.Sleep(10 * time.Millisecond)
		}
		l.outageEnded("127.0.0.1:6379", 500*time.Millisecond, mark, false)
		time.Sleep(2 * clientLinger)
		l.Printf(ctx, "redis: connection pool: conn[%d] rejected by hook, returning to pool", 7)
		time.Sleep(clientLinger)
		synctest.Wait()

		want := "weir: store redis 127.0.0.1:6379: unreachable (dial tcp 127.0.0.1:6379: connect: connection refused); policies answer their on_store_error until it is back\n" +
			"weir: store redis 127.0.0.1:6379: reachable again after 500ms (the Redis client logged 51 errors meanwhile, held back)\n" +
			"weir: redis client: connection pool: conn[7] rejected by hook, returning to pool\n"
		l.mu.Lock()
		got := out.String()
		l.mu.Unlock()
		if got != want {
			t.Errorf("log:\ngot\n%s\nwant\n%s", got, want)
		}
	})
}
