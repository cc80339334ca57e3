// Package admin is weir's admin API. It sees the gateway only through the
// small Source interface and never imports gateway.
package admin

import (
	"encoding/json"
	"net/http"

	"github.com/weirgw/weir/internal/connpool"
)

// Source is what the admin API reads from the running gateway.
type Source interface {
	// Pools returns the port ledger: one entry per destination pool.
	Pools() []connpool.Stats
	// Ready reports whether the gateway takes traffic (false while draining).
	Ready() bool
}

// Handler returns the admin API:
//
//	GET /pools    the port ledger as JSON
//	GET /healthz  200 while the process runs
//	GET /readyz   200 when ready, 503 while draining
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pools", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"pools": src.Pools()})
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
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
