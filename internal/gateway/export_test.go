package gateway

import (
	"context"

	"github.com/weirgw/weir/internal/connpool"
)

// The gateway's tests are external (package gateway_test): they run it as
// a whole through weirtest. These are the few internals they look at.

// Pin pins the serving snapshot as a request routed on it does (acquire);
// Unpin lets it go.
func (s *Server) Pin() *Snapshot { return s.acquire() }

// Unpin releases a snapshot Pin returned.
func (snap *Snapshot) Unpin() { snap.release() }

// Pins is the number of requests (and Pins) holding the snapshot.
func (snap *Snapshot) Pins() int64 { return snap.use.n.Load() }

// HasChain reports whether the snapshot's API i has a policy chain.
func (snap *Snapshot) HasChain(i int) bool { return snap.apis[i].chain != nil }

// Pick picks a pool of API i's target, as a request routed there would.
func (snap *Snapshot) Pick(i int) *connpool.Pool {
	_, p := snap.apis[i].target.Pick()
	return p
}

// AnnounceOnce renews the instance's registration in the serving store
// and reads its peers once, as Announce does every 5 s.
func (c *Control) AnnounceOnce(ctx context.Context) { c.announceOnce(ctx) }

// InstanceID is the instance's id among its peers.
func (c *Control) InstanceID() string { return c.roster.self.ID }
