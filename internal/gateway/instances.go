package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/store"
)

// Registration in the store: renewed every instanceRenew, gone after
// instanceTTL without renewal (a crashed instance), or at once when an
// instance stops.
const (
	instanceRenew = 5 * time.Second
	instanceTTL   = 3 * instanceRenew
	// rosterKey is the store key of the instances' list.
	rosterKey = "instances"
)

// roster is this instance's registration in the serving store, and what it
// last read there of its peers.
type roster struct {
	self   admin.Peer
	member string // self, encoded: this instance's entry in the list
	read   atomic.Pointer[rosterRead]
}

// rosterRead is one reading of the store's list.
type rosterRead struct {
	st    store.Store
	peers []admin.Peer
	err   string
}

// newRoster describes this instance: id ("" makes one from the host name),
// its admin address, start time and version.
func newRoster(id, adminAddr string, started time.Time, version string) *roster {
	if id == "" {
		host, _ := os.Hostname()
		var b [3]byte
		_, _ = rand.Read(b[:])
		id = strings.Trim(host+"-"+hex.EncodeToString(b[:]), "-")
	}
	r := &roster{self: admin.Peer{ID: id, Admin: adminAddr, Started: started.UTC(), Version: version}}
	b, _ := json.Marshal(r.self)
	r.member = string(b)
	return r
}

// Announce keeps this instance registered in the serving config's store
// (when the store keeps a roster: Redis), renewing it every 5 s, and reads
// the peers registered there for Status; until ctx ends, when it takes
// this instance off the list (a draining instance no longer counts).
func (c *Control) Announce(ctx context.Context) {
	t := time.NewTicker(instanceRenew)
	defer t.Stop()
	for {
		c.announceOnce(ctx)
		select {
		case <-ctx.Done():
			if r, ok := c.srv.Snapshot().store.(store.Roster); ok {
				leaveCtx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = r.Leave(leaveCtx, rosterKey, c.roster.member)
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// announceOnce renews the registration and reads the list. While the
// store cannot be read, the last list read from it is kept.
func (c *Control) announceOnce(ctx context.Context) {
	st := c.srv.Snapshot().store
	r, ok := st.(store.Roster)
	if !ok {
		c.roster.read.Store(&rosterRead{st: st})
		return
	}
	read := &rosterRead{st: st}
	members, err := r.Announce(ctx, rosterKey, c.roster.member, time.Now(), instanceTTL)
	if err != nil {
		if prev := c.roster.read.Load(); prev != nil && prev.st == st {
			read.peers = prev.peers
		}
		read.err = err.Error()
		c.roster.read.Store(read)
		return
	}
	for _, m := range members {
		var p admin.Peer
		if json.Unmarshal([]byte(m), &p) == nil && p.ID != "" {
			read.peers = append(read.peers, p)
		}
	}
	slices.SortFunc(read.peers, func(a, b admin.Peer) int { return strings.Compare(a.ID, b.ID) })
	c.roster.read.Store(read)
}

// instances is how many instances serve cfg's backends: the config's
// count, else the peers registered in a redis store, else this one.
func (c *Control) instances(cfg *config.Config) admin.Instances {
	in := admin.Instances{Count: 1, Source: admin.InstancesAlone, Self: c.roster.self.ID, Peers: []admin.Peer{}}
	if read := c.roster.read.Load(); read != nil {
		if read.peers != nil {
			in.Peers = read.peers
		}
		in.Error = read.err
	}
	switch {
	case cfg.Instances > 0:
		in.Count, in.Source = cfg.Instances, admin.InstancesConfig
	case cfg.Store.Kind == config.StoreRedis:
		in.Count, in.Source = max(1, len(in.Peers)), admin.InstancesStore
	}
	return in
}
