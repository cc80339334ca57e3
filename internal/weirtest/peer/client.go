package peer

import (
	"io"
	"net/http"
	"testing"
)

// Fetch sends req with c and returns the response with its body read and
// closed, failing the test if either the exchange or the body read fails.
func Fetch(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, body
}
