// Package gateway is weir's composition root: Build turns a config into an
// immutable Snapshot (routes, targets), and Server owns the listener, swaps
// snapshots atomically on reload, writes every error response and drains on
// shutdown.
package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/policy"
	"github.com/weirgw/weir/internal/policy/cache"
	"github.com/weirgw/weir/internal/route"
	"github.com/weirgw/weir/internal/store"
	"github.com/weirgw/weir/internal/telemetry"
	"github.com/weirgw/weir/internal/upstream"
)

// State is what outlives a reload: the connection pools (keyed by
// destination identity, so an unchanged destination keeps its connections)
// and the DNS resolver.
type State struct {
	Registry *connpool.Registry
	// Resolver resolves endpoint host names; nil = the system resolver.
	Resolver upstream.Resolver
	// Metrics are the Prometheus metrics: counters survive reloads, and the
	// pool metrics read Registry at scrape time. nil = none.
	Metrics *telemetry.Metrics
	// Stores holds the policies' stores (counters, cached responses),
	// reference-counted by snapshot so that state survives a reload that
	// keeps the store settings.
	Stores *store.Registry
	// Caches keeps the memory storage of cached responses across reloads
	// (with a redis store, responses live in Redis).
	Caches *cache.Storages
}

// NewState returns empty state.
func NewState() *State {
	reg := connpool.NewRegistry()
	st := &State{Registry: reg, Metrics: telemetry.NewMetrics(reg.Stats), Stores: store.NewRegistry(nil), Caches: cache.NewStorages(nil)}
	st.Metrics.Registry().MustRegister(newStoreCollector(st.Stores)) // store_metrics.go
	st.Metrics.Registry().MustRegister(st.Caches.Metrics())
	return st
}

// Snapshot is one built config: immutable once built, shared by all
// requests through an atomic pointer.
type Snapshot struct {
	Config *config.Config
	routes *route.Table
	apis   []*api
	// store is the policies' store, acquired from State.Stores by Build and
	// released by stop (once: stores).
	store  store.Store
	stores *store.Registry
	unref  sync.Once
	use    inUse // requests in flight on this snapshot (inuse.go)
}

type api struct {
	name    string
	target  *upstream.Target
	metrics *telemetry.APIMetrics // resolved once here, observed per request
	chain   *policy.Chain         // nil when the API has no policies
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
		s.apis = append(s.apis, &api{name: a.Name, target: t, metrics: st.Metrics.API(a.Name)})
		routes = append(routes, route.Route{Hosts: a.Hosts, BasePath: a.BasePath, Index: i})
	}
	s.routes = route.New(routes)
	if st.Stores != nil {
		sto, err := st.Stores.Acquire(cfg.Store)
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("%s:%d:%d: store: %w", cfg.Store.Pos.File, cfg.Store.Pos.Line, cfg.Store.Pos.Col, err)
		}
		s.store, s.stores = sto, st.Stores
		if err := buildChains(cfg, sto, st.Caches.Deps(cfg.Store, sto), s.apis); err != nil {
			s.stop()
			return nil, err
		}
	}
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
	s.unref.Do(func() {
		if s.store != nil {
			s.stores.Release(s.store)
		}
	})
}
