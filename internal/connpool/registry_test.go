package connpool

import (
	"context"
	"errors"
	"fmt"
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
		laterDial := func(context.Context) (net.Conn, error) {
			t.Error("an existing pool dialed with the dial function of a later Acquire")
			return nil, errors.New("later dial")
		}
		r := NewRegistry()
		defer r.Close()

		destA := Dest{Addr: netip.MustParseAddrPort("127.0.0.1:8080")}
		destB := Dest{Addr: netip.MustParseAddrPort("127.0.0.1:80"), ServerName: "b.example"}
		kA := Key{Dest: destA}
		kATLS := Key{Dest: destA, Profile: "tls"}
		kB := Key{Dest: destB}

		pA := r.Acquire(kA, Settings{IdleTimeout: time.Minute, MaxConns: 2}, b.dial)
		if got := r.Acquire(kA, Settings{IdleTimeout: time.Minute, MaxConns: 5}, laterDial); got != pA {
			t.Fatalf("second Acquire for the same key: got a new pool, want the existing one")
		}
		// Acquire never changes a pool someone serves with: settings that
		// differ belong in the key.
		if got := pA.Stats().MaxConnections; got != 2 {
			t.Errorf("max_connections after a second Acquire: got %d, want 2", got)
		}
		pATLS := r.Acquire(kATLS, Settings{IdleTimeout: time.Minute}, b.dial)
		pB := r.Acquire(kB, Settings{IdleTimeout: time.Minute}, b.dial)
		if pATLS == pA || pB == pA {
			t.Fatalf("different keys share a pool")
		}
		if pATLS.Profile() != "tls" || pA.Dest() != destA {
			t.Errorf("profile/dest: got %q/%v, want tls/%v", pATLS.Profile(), pA.Dest(), destA)
		}

		// New connections use the pool's own dial function.
		c := mustGet(t, pA, false)
		c.Release(BackendTerms{})

		var order []string
		for _, s := range r.Stats() {
			order = append(order, s.Dest+"|"+s.Profile)
		}
		want := []string{"127.0.0.1:80/b.example|", "127.0.0.1:8080|", "127.0.0.1:8080|tls"}
		if fmt.Sprint(order) != fmt.Sprint(want) {
			t.Fatalf("stats order: got %v, want %v", order, want)
		}

		// pA has two references: the first release keeps it serving.
		r.Release(kA, pA, DNSDrain)
		if st := pA.Stats(); st.Draining {
			t.Fatalf("pool drained while a reference remains")
		}
		r.Release(kA, pA, DNSDrain)
		if st := pA.Stats(); !st.Draining || closed(st, DNSDrain) != 1 {
			t.Errorf("after the last release draining/dns_drain: got %v/%d, want true/1", st.Draining, closed(st, DNSDrain))
		}
		if _, ok := r.Lookup(kA); ok {
			t.Errorf("Lookup of a released key: got found, want gone")
		}
		// A stale release of a pool no longer registered is ignored.
		pA2 := r.Acquire(kA, Settings{IdleTimeout: time.Minute}, b.dial)
		if pA2 == pA {
			t.Fatalf("Acquire after the last release: got the drained pool, want a new one")
		}
		r.Release(kA, pA, Shutdown)
		if pA2.Stats().Draining {
			t.Errorf("releasing an old pool drained its successor")
		}
		mustGet(t, pB, false).Release(BackendTerms{})

		r.Close()
		st := pA2.Stats()
		if !st.Draining {
			t.Errorf("after Close: pool not draining")
		}
		for _, st := range r.Stats() {
			if !st.Draining {
				t.Errorf("after Close: %s not draining", st.Dest)
			}
		}
		// Drained pools stay visible while their closed ports may be held,
		// then are forgotten.
		if got := len(r.Stats()); got != 4 {
			t.Errorf("pools visible after Close: got %d, want 4 (3 held + 1 retired earlier)", got)
		}
		time.Sleep(RetiredVisible + time.Second)
		if got := len(r.Stats()); got != 0 {
			t.Errorf("pools visible %v after Close: got %d, want 0", RetiredVisible, got)
		}
		late := r.Acquire(Key{Dest: destB, Profile: "late"}, Settings{IdleTimeout: time.Minute}, b.dial)
		if _, err := late.Get(context.Background(), false); !errors.Is(err, ErrClosed) {
			t.Errorf("Get on a pool made after Close: got %v, want ErrClosed", err)
		}
	})
}
