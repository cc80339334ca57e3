// Package admin is weir's admin API. It sees the gateway only through the
// small Source interface and never imports gateway.
//
// Every endpoint answers JSON except /metrics (Prometheus text format) and
// whatever extra routes WithRoutes adds (the status page). When a token is
// set, every route except /healthz, /readyz and the status page's static
// files needs "Authorization: Bearer TOKEN".
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/connpool"
)

// Source is what the admin API reads from, and asks of, the running gateway.
type Source interface {
	// Pools returns the port ledger: one entry per destination pool.
	Pools() []connpool.Stats
	// Ready reports whether the gateway takes traffic (false while draining).
	Ready() bool
	// Status returns the instance's identity and config state.
	Status() Status
	// APIs returns the serving config's APIs, as routed now.
	APIs() []API
	// Reload loads, validates and builds the config file and swaps it in;
	// trigger says who asked (TriggerAdmin from this package). A rejected
	// config leaves the old one serving.
	Reload(ctx context.Context, trigger string) ReloadResult
}

// Reload triggers: who asked for a reload.
const (
	TriggerSignal = "signal" // SIGHUP
	TriggerAdmin  = "admin"  // POST /reload
	TriggerFile   = "file"   // the config file changed
)

// Status is GET /status: which weir this is and what config it serves.
type Status struct {
	Version   string    `json:"version"`
	GoVersion string    `json:"go_version"`
	Started   time.Time `json:"started"`
	// UptimeSeconds is the time since Started.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Ready is false while the instance drains.
	Ready bool `json:"ready"`
	// ConfigFile and ConfigHash (hex SHA-256 of the file's bytes) are of
	// the serving config; ConfigLoaded is when it started serving.
	ConfigFile   string    `json:"config_file"`
	ConfigHash   string    `json:"config_hash"`
	ConfigLoaded time.Time `json:"config_loaded"`
	// APIs is how many APIs the serving config has.
	APIs int `json:"apis"`
	// LastReload is the latest reload attempt, accepted or rejected; nil
	// until the first one.
	LastReload *ReloadResult `json:"last_reload"`
	// ReloadsOK and ReloadsFailed count reload attempts since start.
	ReloadsOK     uint64 `json:"reloads_ok"`
	ReloadsFailed uint64 `json:"reloads_failed"`
	// Instances is how many instances serve the same backends, and who.
	Instances Instances `json:"instances"`
}

// Where Instances.Count comes from.
const (
	InstancesConfig = "config" // the config's instances key
	InstancesStore  = "store"  // the instances registered in a redis store
	InstancesAlone  = "alone"  // a memory store: this instance alone
)

// Instances is how many weir instances serve the same backends. Each
// keeps its own port ledger (/pools), so N instances that leave through
// one NAT address hold about N times the ports one shows.
type Instances struct {
	// Count is the config's instances when set, else the instances
	// registered in the redis store (this one included), else 1.
	Count int `json:"count"`
	// Source is InstancesConfig, InstancesStore or InstancesAlone.
	Source string `json:"source"`
	// Self is this instance's id.
	Self string `json:"self"`
	// Peers are the instances registered in the store, this one included,
	// by id; empty without a redis store. While the store cannot be read,
	// the last list read is kept (and Error says why).
	Peers []Peer `json:"peers"`
	// Error is why the store's list could not be read last ("" if it was).
	Error string `json:"error,omitempty"`
}

// Peer is one instance as it registers itself in the store.
type Peer struct {
	ID      string    `json:"id"`
	Admin   string    `json:"admin"` // its admin API address
	Started time.Time `json:"started"`
	Version string    `json:"version"`
}

// ReloadResult is the outcome of one reload attempt (POST /reload's body,
// and Status.LastReload).
type ReloadResult struct {
	// Trigger is TriggerSignal, TriggerAdmin or TriggerFile.
	Trigger string    `json:"trigger"`
	Time    time.Time `json:"time"`
	// OK is true when the new config serves now; false when it was
	// rejected and the previous config keeps serving.
	OK bool `json:"ok"`
	// File is the config file read; Hash the hex SHA-256 of the bytes that
	// were loaded ("" when the file could not be read or parsed).
	File string `json:"file"`
	Hash string `json:"hash"`
	// APIs is the new config's API count (0 when rejected).
	APIs int `json:"apis"`
	// DurationMS is how long loading, building and swapping took.
	DurationMS float64 `json:"duration_ms"`
	// Problems are why the config was rejected, each as
	// "FILE:LINE:COL: message" where the place is known. Empty when OK.
	Problems []string `json:"problems"`
	// Warnings are the new config's warnings ("FILE:LINE:COL: warning:
	// ...") and settings that only a restart applies (listen addresses,
	// the request log, the admin token).
	Warnings []string `json:"warnings"`
}

// API is one entry of GET /apis.
type API struct {
	Name      string   `json:"name"`
	BasePath  string   `json:"base_path"`
	Hosts     []string `json:"hosts"`
	Endpoints []string `json:"endpoints"`
	// Destinations are the pools the API's target uses now (endpoint host
	// names resolved), as in GET /pools "dest".
	Destinations []string  `json:"destinations"`
	Transport    Transport `json:"transport"`
}

// Transport is an API's effective backend connection settings (after
// merging the gateway's, the target's and Apigee-style properties).
// Durations are in milliseconds; 0 means what the config reference says
// it means for each key.
type Transport struct {
	ConnectTimeoutMS         int64    `json:"connect_timeout_ms"`
	ResponseTimeoutMS        int64    `json:"response_timeout_ms"`
	KeepaliveTimeoutMS       int64    `json:"keepalive_timeout_ms"`
	MaxConnections           int      `json:"max_connections"`
	MaxIdle                  int      `json:"max_idle"`
	QueueTimeoutMS           int64    `json:"queue_timeout_ms"`
	MaxRequestsPerConnection int      `json:"max_requests_per_connection"`
	MaxConnectionLifetimeMS  int64    `json:"max_connection_lifetime_ms"`
	ResolveIntervalMS        int64    `json:"resolve_interval_ms"`
	SourceAddresses          []string `json:"source_addresses"`
	EgressProxy              string   `json:"egress_proxy"`
}

// Option configures Handler.
type Option func(*options)

type options struct {
	token   string
	metrics http.Handler
	routes  []func(*http.ServeMux, Source)
}

// WithToken requires "Authorization: Bearer token" on every route except
// the open ones (see open). An empty token requires nothing.
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// WithMetrics serves h (the Prometheus exposition) at GET /metrics.
func WithMetrics(h http.Handler) Option {
	return func(o *options) { o.metrics = h }
}

// WithRoutes lets another part of package admin, or the caller, add routes
// to the admin mux (the status page at GET /, its JSON feeds). register is
// called once, after the built-in routes; its routes get the same token
// check. Patterns must not collide with the built-in ones (ServeMux panics
// at registration, so a collision fails at start, not at run time).
func WithRoutes(register func(mux *http.ServeMux, src Source)) Option {
	return func(o *options) { o.routes = append(o.routes, register) }
}

// Handler returns the admin API:
//
//	GET  /status   version, uptime, config file and hash, last reload result
//	GET  /apis     the serving APIs with their effective transport
//	GET  /pools    the port ledger
//	POST /reload   reload the config file now; 200 with the result, 422 when rejected
//	GET  /metrics  Prometheus metrics (WithMetrics)
//	GET  /healthz  200 while the process runs
//	GET  /readyz   200 when ready, 503 while draining
//
// Unsafe cross-origin requests (a web page posting to /reload on
// localhost) are refused with 403 by http.CrossOriginProtection.
func Handler(src Source, opts ...Option) http.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, src.Status())
	})
	mux.HandleFunc("GET /apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"apis": nonNil(src.APIs())})
	})
	mux.HandleFunc("GET /pools", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"pools": nonNil(src.Pools())})
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		if !src.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, errorBody{"Draining", "the instance is shutting down"})
			return
		}
		// A client that hangs up must not turn a good reload into a
		// rejected one half way through its DNS lookups.
		res := src.Reload(context.WithoutCancel(r.Context()), TriggerAdmin)
		status := http.StatusOK
		if !res.OK {
			status = http.StatusUnprocessableEntity
		}
		writeJSON(w, status, res)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !src.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if o.metrics != nil {
		mux.Handle("GET /metrics", o.metrics)
	}
	for _, register := range o.routes {
		register(mux, src)
	}
	var h http.Handler = mux
	if o.token != "" {
		h = requireToken(o.token, mux)
	}
	return http.NewCrossOriginProtection().Handler(h)
}

// errorBody is the admin API's error response.
type errorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

// requireToken wraps next with a bearer token check. Both sides are hashed
// before the constant-time compare, so neither the token's content nor
// its length leaks through timing.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open(r) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="weir admin"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{"Unauthorized", "this admin API needs Authorization: Bearer <admin.token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// open reports the routes served without the token: the probes (load
// balancers rarely send credentials) and the status page's static files,
// which hold no data (a browser cannot send a bearer token for a page; the
// page asks for the token and sends it with its own data requests).
func open(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || p == "/readyz" || (r.Method == http.MethodGet && (p == "/" || strings.HasPrefix(p, "/assets/")))
}

// bearer returns the credentials of an "Authorization: Bearer X" value
// (the scheme is case-insensitive, RFC 9110 section 11.1).
func bearer(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(v[len(scheme):]), true
}

// nonNil makes a nil slice encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
