package connpool

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func TestRegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		other := func(context.Context) (net.Conn, error) {
			t.Error("an existing pool dialed with the dial function of a later Pool call")
			return nil, errors.New("wrong dial")
		}
		r := NewRegistry()
		defer r.Close()

		destA := Dest{Addr: netip.MustParseAddrPort("127.0.0.1:8080")}
		destB := Dest{Addr: netip.MustParseAddrPort("127.0.0.1:80"), ServerName: "b.example"}
		kA := Key{Dest: destA}
		kATLS := Key{Dest: destA, Profile: "tls"}
		kB := Key{Dest: destB}

		pA := r.Pool(kA, Settings{IdleTimeout: time.Minute, MaxConns: 2}, b.dial)
		if got := r.Pool(kA, Settings{IdleTimeout: time.Minute, MaxConns: 5}, other); got != pA {
			t.Fatalf("second Pool for the same key: got a new pool, want the existing one")
		}
		if got := pA.Stats().MaxConnections; got != 5 {
			t.Errorf("max_connections after Update: got %d, want 5", got)
		}
		pATLS := r.Pool(kATLS, Settings{IdleTimeout: time.Minute}, b.dial)
		pB := r.Pool(kB, Settings{IdleTimeout: time.Minute}, b.dial)
		if pATLS == pA || pB == pA {
			t.Fatalf("different keys share a pool")
		}
		if pATLS.Profile() != "tls" || pA.Dest() != destA {
			t.Errorf("profile/dest: got %q/%v, want tls/%v", pATLS.Profile(), pA.Dest(), destA)
		}

		// The existing pool keeps its dial function.
		c := mustGet(t, pA, false)
		c.Release(BackendTerms{})

		stats := r.Stats()
		var order []string
		for _, s := range stats {
			order = append(order, s.Dest+"|"+s.Profile)
		}
		want := []string{"127.0.0.1:80/b.example|", "127.0.0.1:8080|", "127.0.0.1:8080|tls"}
		if len(order) != len(want) {
			t.Fatalf("stats: got %v, want %v", order, want)
		}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("stats order: got %v, want %v", order, want)
			}
		}

		// Sweep after a reload that kept only kA: the others drain.
		r.Retain(map[Key]bool{kA: true})
		if _, err := pB.Get(context.Background(), false); !errors.Is(err, ErrClosed) {
			t.Errorf("Get on a swept pool: got %v, want ErrClosed", err)
		}
		if _, ok := r.Lookup(kB); ok {
			t.Errorf("Lookup of a swept key: got found, want gone")
		}
		if p, ok := r.Lookup(kA); !ok || p != pA {
			t.Errorf("Lookup of a live key: got (%p, %v), want (%p, true)", p, ok, pA)
		}
		if got := len(r.Stats()); got != 1 {
			t.Errorf("pools after Retain: got %d, want 1", got)
		}
		// A new pool for a swept key starts afresh.
		if got := r.Pool(kB, Settings{IdleTimeout: time.Minute}, b.dial); got == pB {
			t.Errorf("Pool for a swept key: got the drained pool, want a new one")
		}

		r.Close()
		st := pA.Stats()
		if !st.Draining || closed(st, Shutdown) != 1 {
			t.Errorf("after Close draining/shutdown: got %v/%d, want true/1", st.Draining, closed(st, Shutdown))
		}
		late := r.Pool(Key{Dest: destB, Profile: "late"}, Settings{IdleTimeout: time.Minute}, b.dial)
		if _, err := late.Get(context.Background(), false); !errors.Is(err, ErrClosed) {
			t.Errorf("Get on a pool made after Close: got %v, want ErrClosed", err)
		}
	})
}
