package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/connpool"
)

// ControlOptions configure a Control.
type ControlOptions struct {
	// Version is the weir version /status reports.
	Version string
	// Log receives one line per reload outcome, and each problem of a
	// rejected config as FILE:LINE:COL: message. nil discards.
	Log io.Writer
	// InstanceID names this instance among its peers (/status
	// instances); "" makes one of the host name and random characters.
	InstanceID string
	// AdminAddr is the address its peers reach its admin API at; "" for
	// none.
	AdminAddr string
}

// Control is the gateway's operations side: the one reload path that
// SIGHUP, POST /reload and the config file watcher share, and the status
// the admin API shows. It implements admin.Source.
type Control struct {
	srv     *Server
	version string
	log     io.Writer
	started time.Time
	roster  *roster // this instance among those sharing the store (instances.go)

	mu       sync.Mutex // serialises reloads
	last     atomic.Pointer[admin.ReloadResult]
	loadedAt atomic.Pointer[time.Time] // when the serving config started serving
	ok, bad  atomic.Uint64
}

// NewControl returns the control of srv, whose serving snapshot's
// Config.File is the file reloads read.
func NewControl(srv *Server, opts ControlOptions) *Control {
	c := &Control{srv: srv, version: opts.Version, log: opts.Log, started: time.Now()}
	c.roster = newRoster(opts.InstanceID, opts.AdminAddr, c.started, opts.Version)
	if c.log == nil {
		c.log = io.Discard
	}
	now := c.started
	c.loadedAt.Store(&now)
	srv.state.Metrics.SetBuildInfo(opts.Version)
	return c
}

// Reload loads the config file again, validates it (all or nothing),
// builds it aside and swaps it in; in-flight requests finish on the old
// config, whose pools are released once they have. A rejected config is
// logged with every problem and recorded for /status, and the old config
// keeps serving. trigger is one of admin.TriggerSignal, TriggerAdmin,
// TriggerFile.
func (c *Control) Reload(ctx context.Context, trigger string) admin.ReloadResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	cur := c.srv.Snapshot().Config
	res := admin.ReloadResult{Trigger: trigger, Time: start, File: cur.File, Problems: []string{}, Warnings: []string{}}

	cfg, err := config.Load(cur.File)
	var snap *Snapshot
	if err == nil {
		res.Hash = cfg.Hash
		for _, w := range cfg.Warnings {
			res.Warnings = append(res.Warnings, w.String())
		}
		res.Warnings = append(res.Warnings, restartOnly(cur, cfg)...)
		snap, err = c.srv.Apply(ctx, cfg)
	}
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				res.Problems = append(res.Problems, p.String())
			}
		} else {
			res.Problems = append(res.Problems, err.Error())
		}
		for _, p := range res.Problems {
			fmt.Fprintln(c.log, p)
		}
		fmt.Fprintf(c.log, "weir: reload (%s) rejected: %d problem(s); the previous config keeps serving\n", trigger, len(res.Problems))
		c.bad.Add(1)
		c.srv.state.Metrics.ObserveReload(false, start)
		c.last.Store(&res)
		return res
	}
	now := time.Now()
	c.loadedAt.Store(&now)
	res.OK = true
	res.APIs = len(snap.apis)
	for _, w := range res.Warnings {
		fmt.Fprintln(c.log, w)
	}
	fmt.Fprintf(c.log, "weir: reloaded %s (%s; %d APIs, sha256 %.12s)\n", cfg.File, trigger, res.APIs, cfg.Hash)
	c.ok.Add(1)
	c.srv.state.Metrics.ObserveReload(true, now)
	c.last.Store(&res)
	return res
}

// restartOnly lists the settings that changed from cur to next but only
// take effect after a restart.
func restartOnly(cur, next *config.Config) []string {
	var out []string
	for _, s := range []struct{ name, was, now string }{
		{"listen", cur.Listen, next.Listen},
		{"admin.listen", cur.Admin.Listen, next.Admin.Listen},
		{"admin.token", cur.Admin.Token, next.Admin.Token},
		{"log.requests", cur.Log.Requests, next.Log.Requests},
	} {
		if s.was == s.now {
			continue
		}
		if s.name == "admin.token" {
			out = append(out, fmt.Sprintf("%s: admin.token changed: takes effect after a restart", next.File))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s changed from %q to %q: takes effect after a restart", next.File, s.name, s.was, s.now))
	}
	return out
}

// Watch reloads when the config file's content changes, reading and
// hashing it every interval (config files are small; comparing content,
// not modification times, also catches an edit within the clock's
// granularity and ignores a touch), until ctx ends. Content already
// serving, or tried and rejected, is not reloaded again until it changes;
// a file that cannot be read is left alone (an editor may be replacing it).
func (c *Control) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	tried := c.srv.Snapshot().Config.Hash
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(c.srv.Snapshot().Config.File)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		if hash == tried || hash == c.srv.Snapshot().Config.Hash {
			tried = hash
			continue
		}
		tried = hash
		c.Reload(ctx, admin.TriggerFile)
	}
}

// Pools returns the port ledger (admin.Source).
func (c *Control) Pools() []connpool.Stats { return c.srv.Pools() }

// Ready reports whether the gateway takes traffic (admin.Source).
func (c *Control) Ready() bool { return c.srv.Ready() }

// Status returns what /status shows (admin.Source).
func (c *Control) Status() admin.Status {
	cfg := c.srv.Snapshot().Config
	now := time.Now()
	gov := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		gov = bi.GoVersion
	}
	return admin.Status{
		Version:       c.version,
		GoVersion:     gov,
		Started:       c.started,
		UptimeSeconds: now.Sub(c.started).Seconds(),
		Ready:         c.srv.Ready(),
		ConfigFile:    cfg.File,
		ConfigHash:    cfg.Hash,
		ConfigLoaded:  *c.loadedAt.Load(),
		APIs:          len(cfg.APIs),
		LastReload:    c.last.Load(),
		ReloadsOK:     c.ok.Load(),
		ReloadsFailed: c.bad.Load(),
		Instances:     c.instances(cfg),
	}
}

// APIs returns the serving APIs with their effective transport and the
// destinations they use now (admin.Source).
func (c *Control) APIs() []admin.API {
	snap := c.srv.Snapshot()
	out := make([]admin.API, 0, len(snap.apis))
	for i, a := range snap.apis {
		ca := snap.Config.APIs[i]
		tr := ca.Target.Transport
		info := admin.API{
			Name:         a.name,
			BasePath:     ca.BasePath,
			Hosts:        nonNil(ca.Hosts),
			Endpoints:    nonNil(ca.Target.Endpoints),
			Destinations: []string{},
			Transport: admin.Transport{
				ConnectTimeoutMS:         tr.ConnectTimeout.Milliseconds(),
				ResponseTimeoutMS:        tr.ResponseTimeout.Milliseconds(),
				KeepaliveTimeoutMS:       tr.KeepaliveTimeout.Milliseconds(),
				MaxConnections:           tr.MaxConnections,
				MaxIdle:                  tr.MaxIdle,
				QueueTimeoutMS:           tr.QueueTimeout.Milliseconds(),
				MaxRequestsPerConnection: tr.MaxRequestsPerConnection,
				MaxConnectionLifetimeMS:  tr.MaxConnectionLifetime.Milliseconds(),
				ResolveIntervalMS:        tr.ResolveInterval.Milliseconds(),
				SourceAddresses:          nonNil(tr.SourceAddresses),
				EgressProxy:              tr.EgressProxy,
			},
		}
		for _, ep := range a.target.Endpoints() {
			for _, p := range ep.Pools() {
				info.Destinations = append(info.Destinations, p.Dest().String())
			}
		}
		out = append(out, info)
	}
	return out
}

// Control implements admin.Source.
var _ admin.Source = (*Control)(nil)

// nonNil makes a nil slice encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
