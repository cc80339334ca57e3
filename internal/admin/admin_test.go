package admin

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/weirgw/weir/internal/connpool"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// source serves a real registry's ledger and canned status; Reload
// answers with the next result set.
type source struct {
	reg      *connpool.Registry
	ready    atomic.Bool
	reloadOK atomic.Bool
	reloads  atomic.Int32
	trigger  atomic.Value // string
}

func (s *source) Pools() []connpool.Stats { return s.reg.Stats() }
func (s *source) Ready() bool             { return s.ready.Load() }
func (s *source) Status() Status {
	return Status{Version: "v-test", ConfigFile: "weir.yaml", ConfigHash: "abc", APIs: 1, Ready: s.ready.Load()}
}
func (s *source) APIs() []API {
	return []API{{Name: "hello", BasePath: "/hello", Endpoints: []string{"http://127.0.0.1:9"}}}
}
func (s *source) Reload(ctx context.Context, trigger string) ReloadResult {
	s.reloads.Add(1)
	s.trigger.Store(trigger)
	if s.reloadOK.Load() {
		return ReloadResult{Trigger: trigger, OK: true, APIs: 1, Problems: []string{}}
	}
	return ReloadResult{Trigger: trigger, Problems: []string{"weir.yaml:3:5: unknown key \"nmae\""}}
}

func newSource(t *testing.T) *source {
	t.Helper()
	src := &source{reg: connpool.NewRegistry()}
	t.Cleanup(src.reg.Close)
	src.ready.Store(true)
	return src
}

// get does a request and returns the status and body.
func get(t *testing.T, method, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, body := peer.Fetch(t, http.DefaultClient, req)
	return resp.StatusCode, resp.Header, string(body)
}

func TestPoolsAndProbes(t *testing.T) {
	backend := peer.Hang(t)
	src := newSource(t)
	dest := connpool.Dest{Addr: backend.Addr()}
	var d net.Dialer
	pool := src.reg.Acquire(connpool.Key{Dest: dest}, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", dest.Addr.String())
	})
	c, err := pool.Get(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(connpool.BackendClose)

	ts := httptest.NewServer(Handler(src))
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/pools")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Pools []map[string]any `json:"pools"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /pools: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	if len(got.Pools) != 1 {
		t.Fatalf("got %d pools, want 1", len(got.Pools))
	}
	p := got.Pools[0]
	if p["dest"] != dest.String() || p["opened_total"] != 1.0 || p["closed_last_240s"] != 1.0 {
		t.Errorf("pool %v: want dest %s, opened_total 1, closed_last_240s 1", p, dest)
	}
	if by, _ := p["closed_by_reason"].(map[string]any); by["backend_close"] != 1.0 {
		t.Errorf("closed_by_reason %v: want backend_close 1", p["closed_by_reason"])
	}

	for _, tt := range []struct {
		name  string
		path  string
		ready bool
		want  int
	}{
		{"healthz", "/healthz", true, 200},
		{"readyz ready", "/readyz", true, 200},
		{"readyz draining", "/readyz", false, 503},
		{"healthz draining", "/healthz", false, 200},
		{"unknown", "/nope", true, 404},
		{"no metrics without WithMetrics", "/metrics", true, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src.ready.Store(tt.ready)
			if got, _, _ := get(t, "GET", ts.URL+tt.path); got != tt.want {
				t.Errorf("GET %s: got %d, want %d", tt.path, got, tt.want)
			}
		})
	}
}

func TestStatusAPIsAndReload(t *testing.T) {
	src := newSource(t)
	ts := httptest.NewServer(Handler(src))
	defer ts.Close()

	code, _, body := get(t, "GET", ts.URL+"/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("GET /status: %d %v %s", code, err, body)
	}
	if st.Version != "v-test" || st.ConfigHash != "abc" || st.LastReload != nil {
		t.Errorf("status: got %+v, want version v-test, hash abc, no last reload", st)
	}
	if !strings.Contains(body, `"last_reload": null`) {
		t.Errorf("status body: got %s, want last_reload null", body)
	}

	code, _, body = get(t, "GET", ts.URL+"/apis")
	var apis struct{ APIs []API }
	if err := json.Unmarshal([]byte(body), &apis); err != nil || code != 200 || len(apis.APIs) != 1 || apis.APIs[0].Name != "hello" {
		t.Errorf("GET /apis: got %d %s, want the one API", code, body)
	}

	for _, tt := range []struct {
		name     string
		method   string
		ok       bool
		ready    bool
		hdr      []string
		want     int
		reloaded bool
	}{
		{"accepted", "POST", true, true, nil, 200, true},
		{"rejected", "POST", false, true, nil, 422, true},
		{"draining", "POST", true, false, nil, 503, false},
		{"GET is not allowed", "GET", true, true, nil, 405, false},
		{"cross-site form post", "POST", true, true, []string{"Sec-Fetch-Site", "cross-site"}, 403, false},
		{"other origin", "POST", true, true, []string{"Origin", "http://evil.example"}, 403, false},
		{"curl (no origin)", "POST", true, true, []string{"User-Agent", "curl/8"}, 200, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src.reloadOK.Store(tt.ok)
			src.ready.Store(tt.ready)
			before := src.reloads.Load()
			code, _, body := get(t, tt.method, ts.URL+"/reload", tt.hdr...)
			if code != tt.want {
				t.Fatalf("%s /reload: got %d (%s), want %d", tt.method, code, body, tt.want)
			}
			if got := src.reloads.Load() > before; got != tt.reloaded {
				t.Errorf("reload called: got %v, want %v", got, tt.reloaded)
			}
			if !tt.reloaded {
				return
			}
			var res ReloadResult
			if err := json.Unmarshal([]byte(body), &res); err != nil {
				t.Fatal(err)
			}
			if res.OK != tt.ok || res.Trigger != TriggerAdmin || src.trigger.Load() != TriggerAdmin {
				t.Errorf("result: got %+v, want ok %v, trigger admin", res, tt.ok)
			}
			if !tt.ok && (len(res.Problems) != 1 || !strings.HasPrefix(res.Problems[0], "weir.yaml:3:5: ")) {
				t.Errorf("problems: got %q, want one at weir.yaml:3:5", res.Problems)
			}
		})
	}
}

func TestToken(t *testing.T) {
	src := newSource(t)
	src.reloadOK.Store(true)
	const token = "s3cret-token-0123456789abcdef"
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "weir_up 1\n") })
	page := func(mux *http.ServeMux, s Source) {
		mux.HandleFunc("GET /extra", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "extra of "+s.Status().Version)
		})
	}
	ts := httptest.NewServer(Handler(src, WithToken(token), WithMetrics(metrics), WithRoutes(page)))
	defer ts.Close()

	for _, tt := range []struct {
		name   string
		method string
		path   string
		auth   string
		want   int
		body   string
	}{
		{"no header", "GET", "/status", "", 401, "Unauthorized"},
		{"wrong token", "GET", "/status", "Bearer wrong", 401, "Unauthorized"},
		{"token prefix", "GET", "/status", "Bearer " + token[:10], 401, "Unauthorized"},
		{"token plus more", "GET", "/status", "Bearer " + token + "x", 401, "Unauthorized"},
		{"basic scheme", "GET", "/status", "Basic " + token, 401, "Unauthorized"},
		{"empty bearer", "GET", "/status", "Bearer ", 401, "Unauthorized"},
		{"right token", "GET", "/status", "Bearer " + token, 200, "v-test"},
		{"scheme any case", "GET", "/apis", "bEARER " + token, 200, "hello"},
		{"pools", "GET", "/pools", "Bearer " + token, 200, "pools"},
		{"reload needs it", "POST", "/reload", "", 401, "Unauthorized"},
		{"reload with it", "POST", "/reload", "Bearer " + token, 200, `"ok": true`},
		{"metrics needs it", "GET", "/metrics", "", 401, "Unauthorized"},
		{"metrics with it", "GET", "/metrics", "Bearer " + token, 200, "weir_up 1"},
		{"extra route needs it", "GET", "/extra", "", 401, "Unauthorized"},
		{"extra route with it", "GET", "/extra", "Bearer " + token, 200, "extra of v-test"},
		{"healthz is open", "GET", "/healthz", "", 200, "ok"},
		{"readyz is open", "GET", "/readyz", "", 200, "ready"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			code, h, body := get(t, tt.method, ts.URL+tt.path, hdr...)
			if code != tt.want || !strings.Contains(body, tt.body) {
				t.Errorf("%s %s: got %d %q, want %d containing %q", tt.method, tt.path, code, body, tt.want, tt.body)
			}
			if code == 401 && h.Get("WWW-Authenticate") != `Bearer realm="weir admin"` {
				t.Errorf("WWW-Authenticate: got %q, want the Bearer challenge", h.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestBearer(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "Bearer abc", "abc", true},
		{"lower", "bearer abc", "abc", true},
		{"padded", "Bearer   abc  ", "abc", true},
		{"other scheme", "Basic abc", "", false},
		{"scheme only", "Bearer", "", false},
		{"empty", "", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := bearer(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("bearer(%q): got %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// BenchmarkTokenCheck measures the cost the token adds to an admin request.
func BenchmarkTokenCheck(b *testing.B) {
	h := requireToken("s3cret-token-0123456789abcdef", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/status", nil)
	req.Header.Set("Authorization", "Bearer s3cret-token-0123456789abcdef")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
