package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// echoBackend answers with what it received, as JSON.
func echoBackend(t *testing.T) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=30")
		w.Header().Set("X-End", "kept")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "uri": r.RequestURI, "host": r.Host, "headers": r.Header, "body": string(body),
			"trailer": r.Trailer,
		})
	}))
	t.Cleanup(ts.Close)
	return ts
}

type echoed struct {
	Method  string
	URI     string
	Host    string
	Headers http.Header
	Body    string
	Trailer http.Header
}

func TestForwardRewritesHeaders(t *testing.T) {
	be := echoBackend(t)
	g := weirtest.Start(t, weirtest.API("", be.URL+"/v1"))
	req, _ := http.NewRequest("GET", g.URL+"/api/x/y?q=1&r=%20", nil)
	req.Header.Set("Connection", "X-Client-Hop")
	req.Header.Set("X-Client-Hop", "1")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic xx")
	req.Header.Set("Te", "trailers, deflate")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Via", "1.0 edge")
	req.Header.Set("X-Request-Id", "req-123")
	req.Header.Set("X-Custom", "a")
	req.Header.Add("X-Custom", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got echoed
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"uri", got.URI, "/v1/x/y?q=1&r=%20"},
		{"host", got.Host, strings.TrimPrefix(be.URL, "http://")},
		{"hop listed in Connection", got.Headers.Get("X-Client-Hop"), ""},
		{"keep-alive", got.Headers.Get("Keep-Alive"), ""},
		{"proxy-authorization", got.Headers.Get("Proxy-Authorization"), ""},
		{"te", got.Headers.Get("Te"), "trailers"},
		{"xff", got.Headers.Get("X-Forwarded-For"), "203.0.113.9, 127.0.0.1"},
		{"xfp", got.Headers.Get("X-Forwarded-Proto"), "http"},
		{"xfh", got.Headers.Get("X-Forwarded-Host"), strings.TrimPrefix(g.URL, "http://")},
		{"via", got.Headers.Get("Via"), "1.0 edge, 1.1 weir"},
		{"request id to backend", got.Headers.Get("X-Request-Id"), "req-123"},
		{"custom", strings.Join(got.Headers["X-Custom"], ","), "a,b"},
		{"request id to client", resp.Header.Get("X-Request-Id"), "req-123"},
		{"response hop listed", resp.Header.Get("X-Hop"), ""},
		{"response keep-alive", resp.Header.Get("Keep-Alive"), ""},
		{"response end-to-end", resp.Header.Get("X-End"), "kept"},
		{"response via", resp.Header.Get("Via"), "1.1 weir"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	recs := g.RequestLog.Records(t)
	if len(recs) != 1 {
		t.Fatalf("got %d log records, want 1", len(recs))
	}
	r := recs[0]
	if r["api"] != "t" || r["status"] != 200.0 || r["request_id"] != "req-123" || r["error"] != "" || r["destination"] != strings.TrimPrefix(be.URL, "http://") {
		t.Errorf("log record %v: want api t, status 200, request_id req-123, no error, destination %s", r, be.URL)
	}
}

func TestForwardStreamsBodiesAndTrailers(t *testing.T) {
	be := echoBackend(t)
	g := weirtest.Start(t, weirtest.API("", be.URL))

	// A chunked request body with a trailer.
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(pw, "part%d;", i)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", g.URL+"/api/upload", pr)
	req.Trailer = http.Header{"X-Checksum": nil}
	req.ContentLength = -1
	go func() {}()
	req.Trailer.Set("X-Checksum", "abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got echoed
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got.Body != "part0;part1;part2;" {
		t.Errorf("body: got %q, want the three parts", got.Body)
	}
	if got.Headers.Get("Content-Length") != "" {
		t.Errorf("chunked request forwarded with Content-Length %q", got.Headers.Get("Content-Length"))
	}
	if got.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("request trailer: got %q, want abc", got.Trailer.Get("X-Checksum"))
	}

	// A large Content-Length body (over the replay buffer) is streamed intact.
	big := bytes.Repeat([]byte("0123456789"), 20000)
	resp, err = http.Post(g.URL+"/api/big", "application/octet-stream", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got = echoed{}
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got.Body != string(big) {
		t.Errorf("big body: got %d bytes, want %d", len(got.Body), len(big))
	}
}

func TestResponseTrailersAndStreaming(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.WriteHeader(200)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "chunk%d\n", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "42")
	}))
	defer be.Close()
	g := weirtest.Start(t, weirtest.API("", be.URL))
	req, _ := http.NewRequest("GET", g.URL+"/api/s", nil)
	req.Header.Set("TE", "trailers")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "chunk0\nchunk1\nchunk2\n" {
		t.Errorf("body: got %q", body)
	}
	if resp.Trailer.Get("X-Sum") != "42" {
		t.Errorf("trailer: got %q, want 42", resp.Trailer.Get("X-Sum"))
	}
}

func TestHeadAndExpectContinue(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Length", "11")
		if r.Method == "HEAD" {
			return
		}
		if len(body) > 0 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
			return
		}
		io.WriteString(w, "hello world")
	}))
	defer be.Close()
	g := weirtest.Start(t, weirtest.API("", be.URL))
	resp, err := http.Head(g.URL + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 11 {
		t.Errorf("HEAD: got %d with length %d, want 200 with 11", resp.StatusCode, resp.ContentLength)
	}
	// A GET right after on the same pooled connection must still frame correctly.
	resp, err = http.Get(g.URL + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello world" {
		t.Errorf("GET after HEAD: got %q", b)
	}

	// Expect: 100-continue over a raw connection: weir answers 100 itself.
	c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("got %q, want 100 Continue first", line)
	}
	br.ReadString('\n')
	io.WriteString(c, "abcde")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "abcde" {
		t.Errorf("got %d %q, want 200 abcde", resp.StatusCode, b)
	}
}

// errorBody decodes weir's JSON error body.
func errorBody(t *testing.T, resp *http.Response) (reason, id string) {
	t.Helper()
	var m map[string]string
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", b, err)
	}
	return m["error"], m["request_id"]
}

func TestErrorMapping(t *testing.T) {
	refused := "http://" + peer.FreeAddr(t)
	hang := peer.Hang(t).URL()
	resetBefore := peer.ResetBeforeResponse(t).URL()
	resetMid := peer.ResetMidBody(t).URL()
	garbage := peer.Garbage(t).URL()

	tests := []struct {
		name      string
		endpoint  string
		transport string
		path      string
		status    int
		reason    string
	}{
		{"refused", refused, "", "/api/x", 502, "BackendConnectionFailure"},
		{"response timeout", hang, "response_timeout: 200ms", "/api/x", 504, "BackendTimeout"},
		{"reset before response", resetBefore, "", "/api/x", 502, "BackendConnectionFailure"},
		{"malformed response", garbage, "", "/api/x", 502, "BackendConnectionFailure"},
		{"no route", refused, "", "/nothing", 404, "RouteNotFound"},
		{"dot segment", refused, "", "/api/../admin", 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := weirtest.Start(t, weirtest.API(tt.transport, tt.endpoint))
			c, _ := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
			defer c.Close()
			// Raw request so the client library does not clean the path.
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", tt.path)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			reason, id := errorBody(t, resp)
			if resp.StatusCode != tt.status || reason != tt.reason || id == "" || id != resp.Header.Get("X-Request-Id") {
				t.Errorf("got %d %q (id %q, header %q), want %d %q with the request id", resp.StatusCode, reason, id, resp.Header.Get("X-Request-Id"), tt.status, tt.reason)
			}
			recs := g.RequestLog.Records(t)
			if len(recs) != 1 || recs[0]["error"] != tt.reason || recs[0]["status"] != float64(tt.status) {
				t.Errorf("log: got %v, want one record with error %s", recs, tt.reason)
			}
		})
	}

	t.Run("reset mid-body", func(t *testing.T) {
		g := weirtest.Start(t, weirtest.API("", resetMid))
		// The response started, so the client must see it cut (either before
		// the buffered head reached it, or mid-body), never a complete one.
		resp, err := http.Get(g.URL + "/api/x")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("got a complete response (status %d), want the connection cut", resp.StatusCode)
		}
		waitFor(t, func() bool { return len(g.RequestLog.Records(t)) == 1 })
		if r := g.RequestLog.Records(t)[0]; r["error"] != "BackendConnectionFailure" {
			t.Errorf("log: got error %v, want BackendConnectionFailure", r["error"])
		}
	})
}

// waitFor polls cond for up to 5 s (for logs written after the response).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}
