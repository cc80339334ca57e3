package gateway

import (
	"fmt"
	"sync"
	"time"
)

// retirement tracks swapped-out snapshots until they are stopped. The zero
// value is ready to use.
type retirement struct {
	mu       sync.Mutex
	pending  int
	done     chan struct{} // closed by shutdown; made on first use
	shutDown bool
	wg       sync.WaitGroup
}

// doneLocked returns the shutdown channel, making it. r.mu must be held.
func (r *retirement) doneLocked() chan struct{} {
	if r.done == nil {
		r.done = make(chan struct{})
	}
	return r.done
}

// shutdown stops waiting: snapshots still retiring are stopped now (the
// server is closing every pool anyway). It waits for the waiters to end.
func (r *retirement) shutdown() {
	r.mu.Lock()
	if !r.shutDown {
		r.shutDown = true
		close(r.doneLocked())
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Retiring returns how many swapped-out snapshots still have requests in
// flight (their pools are held until they finish).
func (s *Server) Retiring() int {
	s.retiring.mu.Lock()
	defer s.retiring.mu.Unlock()
	return s.retiring.pending
}

// retireLocked stops old once its last in-flight request has finished, or
// when its drain_timeout has passed (a request that long-polls must not
// hold the old pools for ever), or at shutdown. s.reloadMu must be held.
func (s *Server) retireLocked(old *Snapshot) {
	idle := old.retire()
	r := &s.retiring
	r.mu.Lock()
	done := r.doneLocked()
	r.pending++
	r.wg.Add(1)
	r.mu.Unlock()
	wait := old.Config.DrainTimeout
	go func() {
		defer r.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-idle:
		case <-t.C:
			fmt.Fprintf(s.errLog, "weir: requests still running on the previous config after drain_timeout %v; releasing its pools\n", wait)
		case <-done:
		}
		old.stop()
		r.mu.Lock()
		r.pending--
		r.mu.Unlock()
	}()
}
