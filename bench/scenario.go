package bench

import "fmt"

// Scenario is one kind of load, run against every peer that supports it.
// Adding a scenario is adding one entry to Scenarios.
type Scenario struct {
	// Name identifies the scenario in flags, tables and plots ("get-c64").
	Name string
	// Title says what it is, for the report.
	Title string
	// Conns is the load generator's connection count.
	Conns int
	// Method and BodySize are the request ("" is GET; BodySize bytes of
	// body with Content-Length).
	Method   string
	BodySize int
	// Query is the backend's parameters (see ParseQuery): the response
	// size, a delay, Connection: close, cacheability.
	Query string
	// Size is the response body's length the query asks for, checked on
	// a first request through each peer.
	Size int
	// Policy, when set, is configured on the route; peers without an
	// equivalent sit the scenario out.
	Policy *Policy
	// Baseline names the scenario, run in the same mode and loaded the
	// same way, whose weir figures are "weir without the policy"; the
	// report gives weir's ratio to them.
	Baseline string
	// Defaults includes the peers' -defaults rows.
	Defaults bool
	// Unpinned runs the scenario in unpinned mode too (pinned always).
	Unpinned bool
	// Short runs the scenario in the short mode (the smoke test).
	Short bool
	// Loader names the load generator: "wrk" ("" too); "h2load" once weir
	// speaks HTTP/2.
	Loader string
	// Check, when set, verifies the scenario's premise on a measured run
	// (say, that the cache answered): a non-empty result is a problem of
	// the run.
	Check func(r *Run) string
}

// Scenarios is the suite's table.
func Scenarios() []*Scenario {
	return []*Scenario{
		{
			Name: "get-c64", Title: "GET, 1 KiB response, 64 connections",
			Conns: 64, Query: "size=1024", Size: 1024,
			Defaults: true, Unpinned: true, Short: true,
		},
		{
			Name: "get-c256", Title: "GET, 1 KiB response, 256 connections",
			Conns: 256, Query: "size=1024", Size: 1024,
			Defaults: true, Unpinned: true,
		},
		{
			Name: "delay20-c256", Title: "GET, backend answers after 20 ms, 1 KiB, 256 connections",
			Conns: 256, Query: "size=1024&delay=20", Size: 1024,
		},
		{
			Name: "post64k-c64", Title: "POST, 64 KiB request body, 1 KiB response, 64 connections",
			Conns: 64, Method: "POST", BodySize: 64 << 10, Query: "size=1024", Size: 1024,
			Short: true,
		},
		{
			Name: "get1m-c64", Title: "GET, 1 MiB response, 64 connections",
			Conns: 64, Query: "size=1048576", Size: 1 << 20,
			Short: true,
		},
		{
			Name: "close-c64", Title: "GET, 1 KiB, backend answers Connection: close, 64 connections",
			Conns: 64, Query: "size=1024&close=1", Size: 1024,
			Short: true, Check: checkBackendCloses,
		},
		{
			Name: "cache-c64", Title: "GET, 1 KiB, cache hit (memory), 64 connections",
			Conns: 64, Query: "size=1024&max_age=3600", Size: 1024,
			Policy: cachePolicy(), Baseline: "get-c64",
			Short: true, Check: checkCacheHits,
		},
		{
			Name: "ratelimit-c64", Title: "GET, 1 KiB, rate-limited route (memory store, nothing refused), 64 connections",
			Conns: 64, Query: "size=1024", Size: 1024,
			Policy: rateLimitPolicy(), Baseline: "get-c64",
			Short: true,
		},
	}
}

// cachePolicy is each peer's in-memory response cache, storing the
// backend's cacheable (max-age) answers.
func cachePolicy() *Policy {
	return &Policy{
		Name:           "cache",
		Weir:           "- kind: cache\n",
		NginxHTTP:      "proxy_cache_path cache levels=1:2 keys_zone=bench:10m max_size=64m inactive=1h use_temp_path=off;\n",
		NginxLocation:  "proxy_cache bench;\n",
		HAProxyTop:     "cache bench\n  total-max-size 64\n  max-object-size 65536\n  max-age 3600\n",
		HAProxyBackend: "http-request cache-use bench\nhttp-response cache-store bench\n",
	}
}

// rateLimitPolicy limits calls per client address far above what the
// load reaches, so the figures are the policy's cost, not its refusals.
func rateLimitPolicy() *Policy {
	return &Policy{
		Name:          "rate-limit",
		Weir:          "- kind: rate-limit-by-key\n  calls: 1000000\n  period: 1s\n  key: [ip]\n",
		NginxHTTP:     "limit_req_zone $binary_remote_addr zone=bench:10m rate=1000000r/s;\n",
		NginxLocation: "limit_req zone=bench burst=100000 nodelay;\n",
		HAProxyFrontend: "stick-table type ip size 100k expire 30s store http_req_rate(1s)\n" +
			"http-request track-sc0 src\n" +
			"http-request deny deny_status 429 if { sc_http_req_rate(0) gt 1000000 }\n",
	}
}

// checkCacheHits: nearly every request was answered from the cache, so
// almost none reached the backend.
func checkCacheHits(r *Run) string {
	if r.BackendRequests*100 > r.Requests {
		return fmt.Sprintf("the backend answered %d of %d requests: the cache did not hit", r.BackendRequests, r.Requests)
	}
	return ""
}

// checkBackendCloses: the backend's Connection: close made the peer open
// a connection per request.
func checkBackendCloses(r *Run) string {
	if r.BackendAccepts*100 < r.BackendRequests*99 {
		return fmt.Sprintf("%d backend connections for %d backend requests: the backend's Connection: close was not honoured", r.BackendAccepts, r.BackendRequests)
	}
	return ""
}
