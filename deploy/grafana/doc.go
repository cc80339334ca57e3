// Package grafana holds weir's Grafana dashboard (weir.json: requests,
// failures by reason, and the per-destination port ledger) and the test
// that keeps its queries true to the metrics weir exports. Import the JSON
// in Grafana (Dashboards > New > Import) and pick a Prometheus data source
// that scrapes weir's admin /metrics.
package grafana
