package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// ids returns the peers' ids.
func ids(in admin.Instances) []string {
	var out []string
	for _, p := range in.Peers {
		out = append(out, p.ID)
	}
	return out
}

// TestInstancesDiscovered: two instances on one redis store register
// themselves, and each one's /status counts both; one that stops takes
// itself off the list, so the other counts 1 at its next renewal; while
// Redis is down the last list stays, with the error.
func TestInstancesDiscovered(t *testing.T) {
	rs := peer.Redis(t)
	yaml := fmt.Sprintf("store: {kind: redis, address: %q}\n", rs.Addr) + weirtest.API("", "http://127.0.0.1:9")
	a, b := weirtest.Start(t, yaml), weirtest.Start(t, yaml)
	ctx := context.Background()
	a.Control.AnnounceOnce(ctx)
	b.Control.AnnounceOnce(ctx)
	a.Control.AnnounceOnce(ctx)
	both := []string{a.Control.InstanceID(), b.Control.InstanceID()}
	slices.Sort(both)
	in := a.Control.Status().Instances
	if in.Count != 2 || in.Source != admin.InstancesStore || in.Self != a.Control.InstanceID() || !slices.Equal(ids(in), both) || in.Error != "" {
		t.Fatalf("a's instances: got %+v, want 2 from the store: %v", in, both)
	}
	if p := in.Peers[slices.Index(ids(in), b.Control.InstanceID())]; p.Version != "test" || p.Started.IsZero() {
		t.Errorf("b as a peer: got %+v, want its version and start time", p)
	}

	stopped, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { b.Control.Announce(stopped); close(done) }()
	stop()
	<-done
	a.Control.AnnounceOnce(ctx)
	if in := a.Control.Status().Instances; in.Count != 1 || !slices.Equal(ids(in), []string{a.Control.InstanceID()}) {
		t.Errorf("after b stopped: got %+v, want a alone", in)
	}

	rs.Stop()
	a.Control.AnnounceOnce(ctx)
	if in := a.Control.Status().Instances; in.Count != 1 || len(in.Peers) != 1 || in.Error == "" {
		t.Errorf("Redis down: got %+v, want the last list (1) and an error", in)
	}
}

// TestInstancesAloneOrConfigured: a memory store's instance is alone;
// instances in the config overrides whatever the store says.
func TestInstancesAloneOrConfigured(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       admin.Instances
	}{
		{"memory store", weirtest.API("", "http://127.0.0.1:9"), admin.Instances{Count: 1, Source: admin.InstancesAlone}},
		{"configured", "instances: 3\n" + weirtest.API("", "http://127.0.0.1:9"), admin.Instances{Count: 3, Source: admin.InstancesConfig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := weirtest.Start(t, tc.yaml)
			g.Control.AnnounceOnce(context.Background())
			in := g.Control.Status().Instances
			if in.Count != tc.want.Count || in.Source != tc.want.Source || len(in.Peers) != 0 || in.Self == "" {
				t.Errorf("instances: got %+v, want %d (%s), no peers, an id", in, tc.want.Count, tc.want.Source)
			}
		})
	}
}
