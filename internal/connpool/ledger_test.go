package connpool

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestWindow(t *testing.T) {
	type event struct{ sec, k int64 }
	tests := []struct {
		name   string
		size   int
		events []event
		at     int64
		want   int64
	}{
		{name: "empty", size: 10, at: 5, want: 0},
		{name: "same second", size: 10, events: []event{{3, 1}, {3, 2}}, at: 3, want: 3},
		{name: "within window", size: 10, events: []event{{0, 1}, {5, 1}, {9, 1}}, at: 9, want: 3},
		{name: "oldest second drops out", size: 10, events: []event{{0, 1}, {5, 1}, {9, 1}}, at: 10, want: 2},
		{name: "all expired", size: 10, events: []event{{0, 4}, {3, 1}}, at: 13, want: 0},
		{name: "long gap then new", size: 10, events: []event{{0, 4}, {1000, 2}}, at: 1000, want: 2},
		{name: "wrap around", size: 4, events: []event{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}, at: 5, want: 4},
		{name: "late event in past second counts", size: 10, events: []event{{5, 1}, {4, 1}}, at: 5, want: 2},
		{name: "event older than window ignored", size: 10, events: []event{{20, 1}, {10, 1}}, at: 20, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w window
			w.init(tt.size)
			for _, e := range tt.events {
				w.add(e.sec, e.k)
			}
			if got := w.sum(tt.at); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStatsWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Hour}, b.dial)
		defer p.Drain(Shutdown)

		for range 5 {
			mustGet(t, p, false).Close(StaleOnReuse)
		}
		st := p.Stats()
		if st.OpenedTotal != 5 || st.ClosedLast240s != 5 || st.NewPerSecond != 0.5 {
			t.Fatalf("opened/closed_last_240s/new_per_second: got %d/%d/%v, want 5/5/0.5", st.OpenedTotal, st.ClosedLast240s, st.NewPerSecond)
		}
		time.Sleep(10 * time.Second)
		if st := p.Stats(); st.NewPerSecond != 0 || st.ClosedLast240s != 5 {
			t.Fatalf("after 10s new_per_second/closed_last_240s: got %v/%d, want 0/5", st.NewPerSecond, st.ClosedLast240s)
		}
		time.Sleep(229 * time.Second)
		if st := p.Stats(); st.ClosedLast240s != 5 {
			t.Fatalf("after 239s closed_last_240s: got %d, want 5", st.ClosedLast240s)
		}
		time.Sleep(time.Second)
		st = p.Stats()
		if st.ClosedLast240s != 0 || st.ClosedTotal != 5 || closed(st, StaleOnReuse) != 5 {
			t.Errorf("after 240s closed_last_240s/closed_total/stale: got %d/%d/%d, want 0/5/5",
				st.ClosedLast240s, st.ClosedTotal, closed(st, StaleOnReuse))
		}
	})
}

func TestStatsJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &pipeBackend{}
		defer b.close()
		p := New(testDest, Settings{IdleTimeout: time.Minute, MaxConns: 4}, b.dial)
		defer p.Drain(Shutdown)
		c := mustGet(t, p, false)
		c.Release(BackendTerms{IdleTimeout: 5 * time.Second})
		c = mustGet(t, p, false)
		p.RecordReplay(VerdictNothingWritten)
		p.RecordReplay(VerdictNoResponse)
		p.RecordReplay(VerdictNoResponse)
		p.RecordReplay(VerdictNone) // ignored

		raw, err := json.Marshal(p.Stats())
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"dest": "127.0.0.1:9", "profile": "", "draining": false,
			"active": 1.0, "idle": 0.0, "dialing": 0.0, "waiting": 0.0,
			"opened_total": 1.0, "closed_total": 0.0, "closed_last_240s": 0.0, "new_per_second": 0.1,
			"requests_total": 2.0, "reused_total": 1.0, "reuse_ratio": 0.5,
			"learned_idle_timeout_ms": 0.0, "announced_keepalive_ms": 5000.0,
			"max_connections": 4.0, "peak_active": 1.0,
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: got %v, want %v", k, got[k], v)
			}
		}
		reasons, _ := got["closed_by_reason"].(map[string]any)
		for r := range NumCloseReasons {
			if v, ok := reasons[r.String()]; !ok || v != 0.0 {
				t.Errorf("closed_by_reason[%s]: got %v (present %v), want 0", r, v, ok)
			}
		}
		if len(reasons) != int(NumCloseReasons) {
			t.Errorf("closed_by_reason names: got %d, want %d", len(reasons), NumCloseReasons)
		}
		replays, _ := got["replays"].(map[string]any)
		wantReplays := map[string]any{"nothing_written": 1.0, "no_response": 2.0, "partial_response": 0.0}
		if len(replays) != len(wantReplays) {
			t.Errorf("replays: got %v, want %v", replays, wantReplays)
		}
		for k, v := range wantReplays {
			if replays[k] != v {
				t.Errorf("replays[%s]: got %v, want %v", k, replays[k], v)
			}
		}
		sources, _ := got["sources"].([]any)
		if len(sources) != 1 {
			t.Fatalf("sources: got %v, want one (the pipe's, no IP)", got["sources"])
		}
		src, _ := sources[0].(map[string]any)
		wantSrc := map[string]any{"source_ip": "", "active": 1.0, "idle": 0.0, "opened_total": 1.0, "closed_last_240s": 0.0}
		for k, v := range wantSrc {
			if src[k] != v {
				t.Errorf("sources[0].%s: got %v, want %v", k, src[k], v)
			}
		}
		c.Release(BackendTerms{})
	})
}

// TestStatsPerSource dials a real backend from two loopback source IPs
// (127.0.0.2 and 127.0.0.3 need no setup on Linux).
func TestStatsPerSource(t *testing.T) {
	be := newTCPBackend(t, 0)
	ips := []net.IP{net.ParseIP("127.0.0.3"), net.ParseIP("127.0.0.2")}
	n := 0
	dial := func(ctx context.Context) (net.Conn, error) {
		ip := ips[n%len(ips)]
		n++
		return be.dialFrom(ip)(ctx)
	}
	p := New(be.dest(), Settings{IdleTimeout: time.Minute}, dial)
	defer p.Drain(Shutdown)

	// Sequential Gets: n needs no lock.
	c1 := mustGet(t, p, false) // from .3
	c2 := mustGet(t, p, false) // from .2
	c3 := mustGet(t, p, false) // from .3
	for _, c := range []*Conn{c1, c2, c3} {
		if err := exchange(c); err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if c.RemoteAddr() != be.addr() {
			t.Errorf("RemoteAddr: got %v, want %v", c.RemoteAddr(), be.addr())
		}
	}
	if got := c1.LocalAddr().Addr().String(); got != "127.0.0.3" {
		t.Errorf("LocalAddr: got %s, want 127.0.0.3", got)
	}
	c1.Release(BackendTerms{})
	c2.Close(Error)

	st := p.Stats()
	want := []SourceStats{
		{SourceIP: "127.0.0.2", Active: 0, Idle: 0, OpenedTotal: 1, ClosedLast240s: 1},
		{SourceIP: "127.0.0.3", Active: 1, Idle: 1, OpenedTotal: 2, ClosedLast240s: 0},
	}
	if !slices.Equal(st.Sources, want) {
		t.Errorf("sources: got %+v, want %+v", st.Sources, want)
	}
	c3.Release(BackendTerms{})
}
