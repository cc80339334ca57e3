package failure

import "net/http"

// Reasons: what each means is its row in table; None (success) has none.
// Adding a reason is a constant here, its row, and its row in README's
// table of reasons (tests fail on a constant without a row, a row with an
// empty column, and a README that disagrees).
const (
	None                     Reason = ""
	BackendConnectionFailure Reason = "BackendConnectionFailure"
	BackendTimeout           Reason = "BackendTimeout"
	ConnectionLimitReached   Reason = "ConnectionLimitReached"
	ClientConnectionFailure  Reason = "ClientConnectionFailure"
	RouteNotFound            Reason = "RouteNotFound"
	BadRequest               Reason = "BadRequest"
	InternalError            Reason = "InternalError"
	RateLimitExceeded        Reason = "RateLimitExceeded"
	QuotaExceeded            Reason = "QuotaExceeded"
	StoreUnavailable         Reason = "StoreUnavailable"
	NotCached                Reason = "NotCached"
)

// StatusClientClosed is the status logged for a client that went away
// before a response could be written (nginx's 499 convention): nothing is
// sent.
const StatusClientClosed = 499

// Fault says whose doing a failure is. The zero value is not a fault: a row
// without one is incomplete.
type Fault uint8

// Faults.
const (
	_ Fault = iota
	// BackendFault: the backend could not be reached or did not answer in
	// time. A cache may answer with a stale response instead
	// (stale_if_error), and the doctor warns.
	BackendFault
	// GatewayFault: weir itself or what it depends on (a bug, its store);
	// the doctor warns.
	GatewayFault
	// ClientFault: the client's request, or the client going away; the
	// doctor only informs.
	ClientFault
	// PolicyFault: a policy refused the request as configured; the doctor
	// only informs.
	PolicyFault
)

// Info is a reason's row: everything weir says about it.
type Info struct {
	// Status is the HTTP status the client gets; StatusClientClosed for a
	// reason that is only logged (nothing is sent).
	Status int
	// Fault is whose doing the failure is.
	Fault Fault
	// Means is what happened, in one line.
	Means string
	// Mitigation is what to do about it, as `weir doctor` prints it.
	Mitigation string
}

// Lookup returns r's row. A reason without one is a bug in weir (a test
// checks that every reason the code uses has a row): false.
func Lookup(r Reason) (Info, bool) {
	i, ok := table[r]
	return i, ok
}

// IsBackendFault reports whether r means the backend could not be reached
// or did not answer in time.
func IsBackendFault(r Reason) bool { return table[r].Fault == BackendFault }

// table is the one list of reasons, keyed by the constants above. It is
// read only: nothing writes it.
var table = map[Reason]Info{
	BackendConnectionFailure: {
		Status: http.StatusBadGateway, Fault: BackendFault,
		Means:      "connect refused or reset, TLS failed, the egress proxy refused the tunnel, or the connection was lost before a complete response",
		Mitigation: "Connect refused or reset, TLS failed, or the connection was lost before a complete response: read `detail`. `local ports exhausted (EADDRNOTAVAIL)` means port exhaustion (see port_budget); resets on reused connections mean a backend idle timeout shorter than weir's.",
	},
	BackendTimeout: {
		Status: http.StatusGatewayTimeout, Fault: BackendFault,
		Means:      "the connect or response deadline passed",
		Mitigation: "A connect timeout (`connect_timeout`) under load is the SNAT symptom (dropped SYNs); a response timeout (`response_timeout`) is a slow backend.",
	},
	ConnectionLimitReached: {
		Status: http.StatusServiceUnavailable, Fault: BackendFault,
		Means:      "waited queue_timeout for a connection under the destination's max_connections",
		Mitigation: "Requests waited `queue_timeout` for a connection under `max_connections`: raise the cap if the backend has capacity, or find why responses are slow.",
	},
	ClientConnectionFailure: {
		Status: StatusClientClosed, Fault: ClientFault,
		Means:      "the client went away before the response",
		Mitigation: "The client went away before the response (logged as 499); many of them mean clients time out before weir does: compare their timeout with `response_timeout`.",
	},
	RouteNotFound: {
		Status: http.StatusNotFound, Fault: ClientFault,
		Means:      "no API matches the request's Host and path",
		Mitigation: "No API matches these requests' Host and path: check `apis[].base_path` and `hosts`.",
	},
	BadRequest: {
		Status: http.StatusBadRequest, Fault: ClientFault,
		Means:      "a malformed client request: dot-segments in the path, or a malformed body",
		Mitigation: "weir refused malformed requests (dot-segments in the path).",
	},
	InternalError: {
		Status: http.StatusInternalServerError, Fault: GatewayFault,
		Means:      "a bug in weir: a recovered panic, an unclassified error or a reason without a row",
		Mitigation: "A bug in weir: the stack trace is on stderr. Please report it.",
	},
	RateLimitExceeded: {
		Status: http.StatusTooManyRequests, Fault: PolicyFault,
		Means:      "a rate-limit-by-key or spike-arrest policy said no",
		Mitigation: "A rate-limit policy refused these requests (429): expected under abuse; if legitimate clients hit it, raise the limit or key it differently.",
	},
	QuotaExceeded: {
		Status: http.StatusTooManyRequests, Fault: PolicyFault,
		Means:      "a quota-by-key policy's calls or bytes are used up",
		Mitigation: "A quota policy refused these requests: the callers used up their quota.",
	},
	StoreUnavailable: {
		Status: http.StatusServiceUnavailable, Fault: GatewayFault,
		Means:      "a policy with on_store_error: deny could not reach its store",
		Mitigation: "A policy could not reach its store (Redis) and denied: check the store's address and health.",
	},
	NotCached: {
		Status: http.StatusGatewayTimeout, Fault: ClientFault,
		Means:      "only-if-cached and no usable stored response (answered by a cache policy; the request log's error stays empty)",
		Mitigation: "Clients sent `Cache-Control: only-if-cached` for responses weir had not stored: `request_directives: false` ignores it.",
	},
}
