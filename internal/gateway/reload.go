package gateway

import (
	"context"
	"errors"

	"github.com/weirgw/weir/internal/config"
)

// A reload without drops rests on three things:
//
//   - a request pins the snapshot it routed on (acquire/release, an atomic
//     count per snapshot: inuse.go), so a swap never pulls targets from
//     under it;
//   - a swapped-out snapshot is stopped (its pool references released) only
//     once its last request finished, or its drain_timeout passed
//     (retirement.go);
//   - pools are reference-counted in the registry, so the ones the new
//     snapshot shares keep their connections.
//
// Apply is the server's side of a reload (build aside, swap); Control
// (control.go) is the one path that SIGHUP, POST /reload and the file
// watcher take to it.

// ErrDraining is returned by Apply and reported by reloads once Shutdown
// has begun.
var ErrDraining = errors.New("gateway: shutting down")

// Apply builds cfg against the server's state and swaps it in. On error the
// serving snapshot is untouched: pools the failed build acquired were
// released again.
func (s *Server) Apply(ctx context.Context, cfg *config.Config) (*Snapshot, error) {
	if s.Draining() {
		return nil, ErrDraining
	}
	snap, err := Build(ctx, cfg, s.state)
	if err != nil {
		return nil, err
	}
	s.Swap(snap)
	return snap, nil
}
