package store

import (
	"fmt"
	"sync"

	"github.com/weirgw/weir/internal/config"
)

// Open returns a new store for s: memory (also for kind "") or redis,
// which gets d.
func Open(s config.Store, d Deps) (Store, error) {
	switch s.Kind {
	case config.StoreMemory, "":
		return NewMemory(MemoryOptions{MaxKeys: s.MaxKeys}), nil
	case config.StoreRedis:
		return NewRedis(s, d)
	}
	return nil, fmt.Errorf("unknown store kind %q", s.Kind)
}

// Registry keeps stores open across reloads: a config whose store settings
// did not change gets the same store back, so counters survive the reload.
// Stores are reference-counted: each snapshot acquires its store when it is
// built and releases it when it is stopped; the last release closes it.
// Safe for concurrent use.
type Registry struct {
	obs Observer
	// Log receives the outage lines of the Redis stores opened after it is
	// set (set it once, before the first Acquire); nil: none.
	Log  *Log
	mu   sync.Mutex
	open map[string]*held // identity -> store
}

type held struct {
	id   string
	st   Store
	refs int
}

// NewRegistry returns an empty registry; obs is passed to the stores it
// opens.
func NewRegistry(obs Observer) *Registry {
	return &Registry{obs: obs, open: make(map[string]*held)}
}

// identity is what makes two store settings the same store.
func identity(s config.Store) string {
	s.Pos = config.Pos{}
	s.CacheMaxBytes = 0   // the cache's memory bound, not the store's: resized in place
	s.CacheFrontBytes = 0 // likewise
	if s.Kind == "" {
		s.Kind = config.StoreMemory
	}
	if s.MaxKeys == 0 && s.Kind == config.StoreMemory {
		s.MaxKeys = config.DefaultStoreMaxKeys
	}
	return fmt.Sprintf("%#v", s)
}

// Acquire returns the open store with settings s, opening it if there is
// none, and takes a reference to it.
func (g *Registry) Acquire(s config.Store) (Store, error) {
	id := identity(s)
	g.mu.Lock()
	defer g.mu.Unlock()
	if h, ok := g.open[id]; ok {
		h.refs++
		return h.st, nil
	}
	st, err := Open(s, Deps{Observer: g.obs, Log: g.Log})
	if err != nil {
		return nil, err
	}
	g.open[id] = &held{id: id, st: st, refs: 1}
	return st, nil
}

// Release drops a reference taken by Acquire; the last one closes the store.
func (g *Registry) Release(st Store) {
	g.mu.Lock()
	var closing Store
	for id, h := range g.open {
		if h.st == st {
			if h.refs--; h.refs <= 0 {
				delete(g.open, id)
				closing = st
			}
			break
		}
	}
	g.mu.Unlock()
	if closing != nil {
		_ = closing.Close()
	}
}

// Stats returns the stats of every open store.
func (g *Registry) Stats() []Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Stats, 0, len(g.open))
	for _, h := range g.open {
		out = append(out, h.st.Stats())
	}
	return out
}

// Close closes every store, whatever its references.
func (g *Registry) Close() {
	g.mu.Lock()
	open := g.open
	g.open = make(map[string]*held)
	g.mu.Unlock()
	for _, h := range open {
		_ = h.st.Close()
	}
}
