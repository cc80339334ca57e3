package gateway

import (
	"sync"
	"sync/atomic"
)

// inUse counts the requests routed on a snapshot and signals when a retired
// snapshot has none left. The zero value is ready to use.
type inUse struct {
	n       atomic.Int64
	retired atomic.Bool
	idle    chan struct{} // closed once retired with n == 0; made by retire before retired is set
	once    sync.Once
}

// acquire returns the serving snapshot, pinned until release. The count is
// taken before the pointer is checked again: a snapshot swapped out in
// between is let go and the new one taken, so retire never misses a
// request that goes on to use a snapshot.
func (s *Server) acquire() *Snapshot {
	for {
		snap := s.snap.Load()
		snap.use.n.Add(1)
		if s.snap.Load() == snap {
			return snap
		}
		snap.release()
	}
}

// release unpins a snapshot taken with acquire.
func (snap *Snapshot) release() {
	if snap.use.n.Add(-1) == 0 && snap.use.retired.Load() {
		snap.use.signal()
	}
}

func (u *inUse) signal() { u.once.Do(func() { close(u.idle) }) }

// retire marks snap as swapped out and returns a channel closed when its
// last request has finished. Called once per snapshot, under reloadMu.
func (snap *Snapshot) retire() <-chan struct{} {
	u := &snap.use
	u.idle = make(chan struct{})
	u.retired.Store(true)
	if u.n.Load() == 0 {
		u.signal()
	}
	return u.idle
}
