package proxy

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/upstream"
)

// The head of a request weir builds itself (no client behind it), and of
// forwarded ones without a client address: only what a forwarder owes is
// added, and framing follows the body.
func TestAppendRequestHeadOwnRequests(t *testing.T) {
	ep := &upstream.Endpoint{Host: "backend", Path: "/v1"}
	tests := []struct {
		name   string
		req    Request
		line   string
		fields []string
	}{
		{
			name: "own request: fields as given, framing weir's",
			req: Request{Method: "POST", Path: "/p", RawQuery: "q=1", Body: []byte("abc"), Header: http.Header{
				"X-Forwarded-For": {"a"}, "Via": {"x"}, "X-Request-Id": {"r"}, "Connection": {"close"}, "Content-Length": {"9"},
			}},
			line:   "POST /v1/p?q=1 HTTP/1.1",
			fields: []string{"Content-Length: 3", "Host: backend", "Via: x", "X-Forwarded-For: a", "X-Request-Id: r"},
		},
		{
			name:   "own request, no fields",
			req:    Request{Method: "GET"},
			line:   "GET /v1 HTTP/1.1",
			fields: []string{"Host: backend"},
		},
		{
			name:   "stream of known length",
			req:    Request{Method: "PUT", Stream: strings.NewReader("abcd"), StreamLength: 4},
			line:   "PUT /v1 HTTP/1.1",
			fields: []string{"Content-Length: 4", "Host: backend"},
		},
		{
			name:   "stream of unknown length",
			req:    Request{Method: "PUT", Stream: strings.NewReader("abcd"), StreamLength: -1},
			line:   "PUT /v1 HTTP/1.1",
			fields: []string{"Host: backend", "Transfer-Encoding: chunked"},
		},
		{
			name: "forwarded, no client address: the client's list kept",
			req: Request{Method: "GET", Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}},
				Forwarded: &Forwarded{Host: "gw", RequestID: "rid"}},
			line: "GET /v1 HTTP/1.1",
			fields: []string{"Host: backend", "Via: 1.1 weir", "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Host: gw",
				"X-Forwarded-Proto: http", "X-Request-Id: rid"},
		},
		{
			name:   "forwarded, no client address, no list",
			req:    Request{Method: "GET", Forwarded: &Forwarded{Host: "gw", RequestID: "rid", TLS: true}},
			line:   "GET /v1 HTTP/1.1",
			fields: []string{"Host: backend", "Via: 1.1 weir", "X-Forwarded-Host: gw", "X-Forwarded-Proto: https", "X-Request-Id: rid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitHead(t, appendRequestHead(nil, &tt.req, ep))
			if got.line != tt.line {
				t.Errorf("request line: got %q, want %q", got.line, tt.line)
			}
			if !slices.Equal(got.fields, tt.fields) {
				t.Errorf("fields:\ngot  %q\nwant %q", got.fields, tt.fields)
			}
		})
	}
}
