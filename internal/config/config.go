// Package config is weir's YAML schema: loading with file:line:col errors,
// ${ENV} substitution, defaults, merging of transport settings and
// validation. It is pure data and imports no other weir package.
//
// The comments on the fields below are the config reference: each states the
// default, what zero means and the effect.
//
// Any scalar value may use ${NAME} (an error if NAME is unset) or
// ${NAME:-default} (used when NAME is unset or empty); "$$" is a literal "$".
// Substitution happens before a value is converted, so
// "max_connections: ${MAXC}" works. In YAML flow style ({...} or [...]) such
// values must be quoted: "{max_connections: '${MAXC}'}".
package config

import "time"

// Config is one loaded, defaulted and validated configuration file.
type Config struct {
	// File is the path the config was loaded from (set by Load, not YAML).
	File string `yaml:"-"`
	// Hash is the hex SHA-256 of the file's bytes before ${ENV} substitution
	// (set by Load).
	Hash string `yaml:"-"`
	// Warnings are valid-but-unwise settings, each with its place. They do
	// not fail the load; `weir validate` prints them.
	Warnings Problems `yaml:"-"`

	// Listen is the address client traffic is served on.
	// Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// DrainTimeout bounds how long in-flight requests may finish after
	// SIGTERM/SIGINT before the process exits anyway. Default 30s. 0 means
	// in-flight requests are not waited for.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// Admin is the admin listener.
	Admin Admin `yaml:"admin"`
	// Log configures the request log.
	Log Log `yaml:"log"`
	// Transport holds the defaults for every target's backend connections.
	// Each target's own transport block overrides them field by field.
	Transport Transport `yaml:"transport"`
	// APIs are what clients call. At least one is required.
	APIs []API `yaml:"apis"`
	// Store is where policies keep state (counters, cached responses).
	// Default: memory. See Store.
	Store Store `yaml:"store"`
	// Policies are gateway-wide policy lists: inbound ones run before
	// every API's own, outbound and on_error ones after. Default none.
	Policies Policies `yaml:"policies"`
	// Instances is how many weir instances serve the same backends (each
	// keeps its own port ledger, so N instances behind one NAT hold about N
	// times the ports one shows). Default 0: discovered, as the instances
	// registered in a redis store (each registers itself, renewed every 5s,
	// gone 15s after it stops), or 1 with a memory store. Setting it
	// overrides the discovery.
	Instances int `yaml:"instances"`
}

// Admin configures the admin listener.
type Admin struct {
	// Listen is the admin API's address. Default "127.0.0.1:9901";
	// empty string after defaulting is impossible: set "off" to disable.
	Listen string `yaml:"listen"`
	// Token is the bearer token the admin API requires ("Authorization:
	// Bearer TOKEN") on every route but /healthz and /readyz. Default empty
	// = no token, allowed only when Listen is a loopback address (127.x,
	// ::1, localhost); a non-loopback admin without a token is an error.
	// Use ${ENV} to keep it out of the file.
	Token string `yaml:"token"`
}

// Log configures the request log.
type Log struct {
	// Requests is where the request log goes: "stdout" (default), "stderr",
	// "off", or a file path (appended to). One JSON object per line.
	Requests string `yaml:"requests"`
}

// Transport is the settings of backend connections. In the YAML every field
// is optional; after Load, Config.Transport and every Target.Transport hold
// fully merged values (built-in default <- gateway transport <- target
// transport <- target properties).
type Transport struct {
	// ConnectTimeout bounds a TCP connect (and TLS handshake, and CONNECT
	// through an egress proxy). Default 3s. Must be > 0.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ResponseTimeout bounds the time from the request's last byte written
	// to the backend's response headers. Default 55s. 0 means no deadline.
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// KeepaliveTimeout is how long an idle backend connection is kept for
	// reuse. Default 60s. 0 turns keep-alive off: one connection per
	// request (valid, but `weir validate` warns of its cost).
	KeepaliveTimeout time.Duration `yaml:"keepalive_timeout"`
	// MaxConnections caps connections (active + idle + dialing) per
	// destination. Default 0 = unlimited. Requests over the cap wait in a
	// FIFO queue up to QueueTimeout.
	MaxConnections int `yaml:"max_connections"`
	// MaxIdle caps idle connections kept per destination. Default 0 = no cap
	// of its own (bounded by MaxConnections if set).
	MaxIdle int `yaml:"max_idle"`
	// QueueTimeout is how long a request may wait for a connection under
	// MaxConnections before it fails with 503 ConnectionLimitReached.
	// Default 5s. 0 means fail at once when the cap is reached.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
	// MaxRequestsPerConnection closes a connection after this many
	// requests. Default 0 = unlimited.
	MaxRequestsPerConnection int `yaml:"max_requests_per_connection"`
	// MaxConnectionLifetime closes a connection (once idle) after this age,
	// with up to 10% random jitter so connections do not expire together.
	// Default 0 = unlimited.
	MaxConnectionLifetime time.Duration `yaml:"max_connection_lifetime"`
	// ResolveInterval is how often endpoint host names are re-resolved;
	// connections to addresses that disappeared are drained. Default 30s.
	// 0 means names are resolved once, when the config is loaded.
	ResolveInterval time.Duration `yaml:"resolve_interval"`
	// SourceAddresses binds outbound connections to these local IPs, spread
	// across them, multiplying the (source, destination) port tuples.
	// Default empty = the kernel picks.
	SourceAddresses []string `yaml:"source_addresses"`
	// EgressProxy sends backend traffic through a forward proxy
	// ("http://host:port"): plain HTTP in absolute form, HTTPS through
	// pooled CONNECT tunnels. Default empty = direct.
	EgressProxy string `yaml:"egress_proxy"`
	// TLS configures TLS to https:// endpoints.
	TLS TLS `yaml:"tls"`
	// Properties are Apigee-style aliases: at gateway level
	// "HTTPTransport.keepalive.timeout.millis"; at target level
	// "keepalive.timeout.millis", "connect.timeout.millis",
	// "io.timeout.millis". Load folds them into the fields above; a setting
	// given both ways is an error.
	Properties map[string]string `yaml:"properties"`
}

// TLS configures TLS to backends.
type TLS struct {
	// ServerName overrides the SNI and verified name. Default: the
	// endpoint's host.
	ServerName string `yaml:"server_name"`
	// CAFile is a PEM bundle of CAs to trust. Default: the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate (PEM) for mutual TLS.
	// Default none; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify turns certificate verification off. Default false;
	// allowed, but `weir validate` warns.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// API is what clients call.
type API struct {
	// Name identifies the API in logs and metrics. Required, unique.
	Name string `yaml:"name"`
	// BasePath is the path prefix this API serves, matched on a segment
	// boundary (longest wins) and replaced by the endpoint URL's path.
	// Required, starts with "/", unique among APIs with the same hosts.
	BasePath string `yaml:"base_path"`
	// Hosts restricts the API to these Host header values (port ignored;
	// "*.example.com" matches one label). Default empty = any host.
	Hosts []string `yaml:"hosts"`
	// Target is where requests go.
	Target Target `yaml:"target"`
	// Policies are the API's policy lists. Default none.
	Policies Policies `yaml:"policies"`
	// Pos is where the API is defined (set by Load).
	Pos Pos `yaml:"-"`
}

// Target is an API's backend.
type Target struct {
	// Endpoints are backend base URLs (http:// or https://, no query or
	// fragment). At least one is required. Requests are spread round-robin.
	Endpoints []string `yaml:"endpoints"`
	// Transport overrides Config.Transport for this target, field by field.
	// After Load it holds the merged effective values.
	Transport Transport `yaml:"transport"`
	// Properties are Apigee-style aliases for this target's transport
	// ("keepalive.timeout.millis", "connect.timeout.millis",
	// "io.timeout.millis"), merged into Transport by Load.
	Properties map[string]string `yaml:"properties"`
}

// Pos is a place in a config file.
type Pos struct {
	File      string
	Line, Col int
}
