// Package gateway is weir's composition root: Build turns a config into an
// immutable Snapshot (routes, targets), and Server owns the listener, swaps
// snapshots atomically on reload, writes every error response and drains on
// shutdown.
package gateway

import (
	"context"
	"fmt"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/route"
	"github.com/weirgw/weir/internal/upstream"
)

// State is what outlives a reload: the connection pools (keyed by
// destination identity, so an unchanged destination keeps its connections)
// and the DNS resolver.
type State struct {
	Registry *connpool.Registry
	// Resolver resolves endpoint host names; nil = the system resolver.
	Resolver upstream.Resolver
}

// NewState returns empty state.
func NewState() *State { return &State{Registry: connpool.NewRegistry()} }

// Snapshot is one built config: immutable once built, shared by all
// requests through an atomic pointer.
type Snapshot struct {
	Config *config.Config
	routes *route.Table
	apis   []*api
}

type api struct {
	name   string
	target *upstream.Target
}

// Build compiles cfg against st. It fails without side effects on the
// serving snapshot: pools it created stay in the registry until the next
// sweep.
func Build(ctx context.Context, cfg *config.Config, st *State) (*Snapshot, error) {
	s := &Snapshot{Config: cfg}
	routes := make([]route.Route, 0, len(cfg.APIs))
	for i, a := range cfg.APIs {
		t, err := upstream.New(ctx, a.Target, upstream.Deps{Registry: st.Registry, Resolver: st.Resolver})
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("%s:%d:%d: api %q: %w", a.Pos.File, a.Pos.Line, a.Pos.Col, a.Name, err)
		}
		s.apis = append(s.apis, &api{name: a.Name, target: t})
		routes = append(routes, route.Route{Hosts: a.Hosts, BasePath: a.BasePath, Index: i})
	}
	s.routes = route.New(routes)
	return s, nil
}

// start begins the targets' background work (DNS re-resolution).
func (s *Snapshot) start() {
	for _, a := range s.apis {
		a.target.Start()
	}
}

// stop ends the targets' background work and releases their pools.
func (s *Snapshot) stop() {
	for _, a := range s.apis {
		a.target.Stop()
	}
}
