package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/doctor"
)

// pageSource is a fixed Source: one API with keep-alive off and its
// churning destination.
type pageSource struct{}

func (pageSource) Pools() []connpool.Stats {
	by := map[string]uint64{}
	for r := range connpool.NumCloseReasons {
		by[r.String()] = 0
	}
	by["idle_timeout"] = 50
	return []connpool.Stats{{
		Dest: "127.0.0.1:9000", RequestsTotal: 50, OpenedTotal: 50, ClosedTotal: 50, ClosedLast240s: 50,
		ClosedByReason: by, Replays: map[string]uint64{},
	}}
}
func (pageSource) Ready() bool    { return true }
func (pageSource) Status() Status { return Status{Version: "test", Ready: true} }
func (pageSource) APIs() []API {
	return []API{{Name: "hello", BasePath: "/hello", Destinations: []string{"127.0.0.1:9000"}}}
}
func (pageSource) Reload(context.Context, string) ReloadResult { return ReloadResult{} }

func TestStatusPage(t *testing.T) {
	ts := httptest.NewServer(Handler(pageSource{}, WithRoutes(StatusPage)))
	defer ts.Close()
	for _, tt := range []struct {
		name        string
		path        string
		status      int
		contentType string // prefix
		body        string // substring
	}{
		{"page", "/", 200, "text/html", `<script src="assets/status.js"`},
		{"script", "/assets/status.js", 200, "text/javascript", "function drawChart("},
		{"style", "/assets/status.css", 200, "text/css", "svg.chart"},
		{"missing asset", "/assets/nope.js", 404, "", ""},
		{"no listing", "/assets/", 404, "", ""},
		{"unknown path", "/nope", 404, "", ""},
		{"doctor", "/doctor", 200, "application/json", `"rule": "keepalive_disabled"`},
		{"built-in routes still there", "/pools", 200, "application/json", `"127.0.0.1:9000"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(ts.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s: got %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("GET %s: got Content-Type %q, want %q", tt.path, ct, tt.contentType)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("GET %s: got body %.300q, want it to contain %q", tt.path, body, tt.body)
			}
			if tt.status == 200 && strings.HasPrefix(tt.path, "/assets/") || tt.path == "/" {
				if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
					t.Errorf("GET %s: got CSP %q, want script-src 'self'", tt.path, csp)
				}
			}
		})
	}
}

// TestStatusPageNoExternalResources: the page is self-contained: no URL in
// its files points anywhere but the admin API itself.
func TestStatusPageNoExternalResources(t *testing.T) {
	for _, name := range []string{"assets/index.html", "assets/status.js", "assets/status.css"} {
		b, err := assets.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "") // the SVG namespace is a name, not a fetch
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: got %q in it, want no external resources", name, bad)
			}
		}
	}
}

func TestDoctorReport(t *testing.T) {
	rep := DoctorReport(pageSource{}, time.Time{})
	if rep.Pools != 1 || len(rep.Findings) == 0 {
		t.Fatalf("got %d pools, findings %+v; want 1 pool and findings", rep.Pools, rep.Findings)
	}
	f := rep.Findings[0]
	if f.Rule != doctor.RuleKeepaliveDisabled || f.Subject != "api hello" || f.Source != "apis" {
		t.Errorf("got first finding %s %s %s, want keepalive_disabled api hello apis", f.Rule, f.Subject, f.Source)
	}
	b, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(b), `"severity":"warning"`) {
		t.Errorf("got JSON %s %v, want severity by name", b, err)
	}
}

// With a token, the page's static files are served (they hold no data and
// a browser cannot send a bearer token for a page); every data feed, the
// doctor's included, needs the token.
func TestStatusPageNeedsToken(t *testing.T) {
	ts := httptest.NewServer(Handler(pageSource{}, WithToken("s3cret"), WithRoutes(StatusPage)))
	defer ts.Close()
	for _, tt := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/", "", http.StatusOK},
		{"GET", "/assets/status.js", "", http.StatusOK},
		{"GET", "/doctor", "", http.StatusUnauthorized},
		{"GET", "/pools", "", http.StatusUnauthorized},
		{"GET", "/doctor", "s3cret", http.StatusOK},
		{"POST", "/", "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s (token %q): got %d, want %d", tt.method, tt.path, tt.token, resp.StatusCode, tt.want)
		}
	}
}
