package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"time"

	"github.com/weirgw/weir/internal/doctor"
)

// assets are the status page's files: one HTML page, its script and its
// style sheet, served as they are (no CDN, no build step).
//
//go:embed assets
var assets embed.FS

// pageCSP keeps the page to its own embedded files: no inline script, no
// third-party origin, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// StatusPage registers the status page and its doctor feed on mux; pass it
// to Handler with WithRoutes:
//
//	GET /           the status page (HTML): APIs, each destination's pool and
//	                port ledger as live charts, the latest doctor findings;
//	                it polls /status, /apis, /pools and /doctor every second
//	GET /assets/... its script and style sheet
//	GET /doctor     the doctor's findings on the live ledger and config, as
//	                JSON (doctor.Report)
func StatusPage(mux *http.ServeMux, src Source) {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	// One segment, files only: no directory listings.
	mux.Handle("GET /assets/{file}", pageHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, r.PathValue("file"))
	})))
	mux.Handle("GET /{$}", pageHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, "index.html")
	})))
	mux.HandleFunc("GET /doctor", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, DoctorReport(src, time.Now()))
	})
}

// DoctorReport diagnoses the live ledger and config of src with the
// default thresholds.
func DoctorReport(src Source, now time.Time) doctor.Report {
	apis := src.APIs()
	in := doctor.Input{Pools: src.Pools(), APIs: make([]doctor.API, 0, len(apis)), Instances: src.Status().Instances.Count}
	for _, a := range apis {
		in.APIs = append(in.APIs, doctor.API{
			Name:               a.Name,
			Destinations:       a.Destinations,
			KeepaliveTimeoutMS: a.Transport.KeepaliveTimeoutMS,
			MaxConnections:     a.Transport.MaxConnections,
		})
	}
	return doctor.NewReport("admin", in, doctor.Options{}, now)
}

// pageHeaders sets the page's security and caching headers.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
