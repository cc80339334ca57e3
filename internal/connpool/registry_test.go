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
		minute := Settings{IdleTimeout: time.Minute}
		kA := Key{Dest: destA, Settings: Settings{IdleTimeout: time.Minute, MaxConns: 2}}
		kA5 := Key{Dest: destA, Settings: Settings{IdleTimeout: time.Minute, MaxConns: 5}}
		tls := Profile{Endpoint: "https://a.example", TLS: TLSProfile{CAFile: "ca.pem"}}
		kATLS := Key{Dest: destA, Settings: minute, Profile: tls}
		kB := Key{Dest: destB, Settings: minute}

		pA := r.Acquire(kA, b.dial)
		if got := r.Acquire(kA, laterDial); got != pA {
			t.Fatalf("second Acquire for the same key: got a new pool, want the existing one")
		}
		// Acquire never changes a pool someone serves with: other settings
		// are another key.
		pA5 := r.Acquire(kA5, b.dial)
		if pA5 == pA {
			t.Fatalf("other settings: got the same pool, want another")
		}
		if got := pA.Stats().MaxConnections; got != 2 {
			t.Errorf("max_connections of the first pool: got %d, want 2", got)
		}
		r.Release(kA5, pA5, Shutdown)
		pATLS := r.Acquire(kATLS, b.dial)
		pB := r.Acquire(kB, b.dial)
		if pATLS == pA || pB == pA {
			t.Fatalf("different keys share a pool")
		}
		if want := "https://a.example ca=ca.pem"; pATLS.Profile() != want || pA.Dest() != destA {
			t.Errorf("profile/dest: got %q/%v, want %q/%v", pATLS.Profile(), pA.Dest(), want, destA)
		}

		// New connections use the pool's own dial function.
		c := mustGet(t, pA, false)
		c.Release(BackendTerms{})

		var order []string
		for _, s := range r.Stats() {
			order = append(order, s.Dest+"|"+s.Profile)
		}
		want := []string{"127.0.0.1:80/b.example|", "127.0.0.1:8080|", "127.0.0.1:8080|", "127.0.0.1:8080|https://a.example ca=ca.pem"}
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
		pA2 := r.Acquire(kA, b.dial)
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
		if got := len(r.Stats()); got != 5 {
			t.Errorf("pools visible after Close: got %d, want 5 (3 held + 2 retired earlier)", got)
		}
		time.Sleep(RetiredVisible + time.Second)
		if got := len(r.Stats()); got != 0 {
			t.Errorf("pools visible %v after Close: got %d, want 0", RetiredVisible, got)
		}
		late := r.Acquire(Key{Dest: destB, Settings: minute, Profile: Profile{Endpoint: "http://late"}}, b.dial)
		if _, err := late.Get(context.Background(), false); !errors.Is(err, ErrClosed) {
			t.Errorf("Get on a pool made after Close: got %v, want ErrClosed", err)
		}
	})
}

func TestProfileString(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		want string
	}{
		{"zero", Profile{}, ""},
		{"plain", Profile{Endpoint: "http://b:8080", Protocol: "http/1.1", ConnectTimeout: 3 * time.Second},
			"http://b:8080 protocol=http/1.1 connect=3s"},
		{"every field", Profile{
			Endpoint: "https://b", Protocol: "http/1.1", Proxy: "http://p:3128", SourceAddrs: "10.0.0.1,10.0.0.2",
			ConnectTimeout: time.Second,
			TLS:            TLSProfile{ServerName: "sni", CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", InsecureSkipVerify: true},
		}, "https://b protocol=http/1.1 proxy=http://p:3128 source=10.0.0.1,10.0.0.2 sni=sni ca=ca.pem cert=c.pem key=k.pem insecure connect=1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
