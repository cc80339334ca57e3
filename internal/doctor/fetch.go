package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/weirgw/weir/internal/connpool"
)

// maxAdminBody bounds an admin API response read by Fetch.
const maxAdminBody = 32 << 20

// FetchError is a failed read of a running instance's admin API.
type FetchError struct {
	URL    string // what was requested
	Status int    // the HTTP status, 0 when no response came
	Err    error  // the transport or decoding error; nil for a bad status
}

func (e *FetchError) Error() string {
	switch {
	case e.Err != nil:
		return "GET " + e.URL + ": " + e.Err.Error()
	case e.Status == http.StatusUnauthorized:
		return "GET " + e.URL + ": 401 Unauthorized (pass the admin token with -token or WEIR_ADMIN_TOKEN)"
	}
	return fmt.Sprintf("GET %s: status %d", e.URL, e.Status)
}

func (e *FetchError) Unwrap() error { return e.Err }

// Fetch reads what the rules need from a running instance's admin API at
// base ("http://127.0.0.1:9901"): GET /pools (required), GET /apis
// (optional: an instance without it gives 404 and the rules infer from
// the ledger) and GET /status (optional: how many instances share the
// backends). token, when set, is sent as a bearer token.
func Fetch(ctx context.Context, client *http.Client, base, token string) (Input, error) {
	base = strings.TrimRight(base, "/")
	var in Input
	var pools struct {
		Pools []connpool.Stats `json:"pools"`
	}
	if _, err := getJSON(ctx, client, base+"/pools", token, &pools, false); err != nil {
		return in, err
	}
	in.Pools = pools.Pools
	var apis struct {
		APIs []struct {
			Name         string   `json:"name"`
			Destinations []string `json:"destinations"`
			Transport    struct {
				KeepaliveTimeoutMS int64 `json:"keepalive_timeout_ms"`
				MaxConnections     int   `json:"max_connections"`
			} `json:"transport"`
		} `json:"apis"`
	}
	found, err := getJSON(ctx, client, base+"/apis", token, &apis, true)
	if err != nil {
		return in, err
	}
	if found {
		for _, a := range apis.APIs {
			in.APIs = append(in.APIs, API{
				Name: a.Name, Destinations: a.Destinations,
				KeepaliveTimeoutMS: a.Transport.KeepaliveTimeoutMS, MaxConnections: a.Transport.MaxConnections,
			})
		}
	}
	var status struct {
		Instances struct {
			Count int `json:"count"`
		} `json:"instances"`
	}
	if _, err := getJSON(ctx, client, base+"/status", token, &status, true); err != nil {
		return in, err
	}
	in.Instances = status.Instances.Count
	return in, nil
}

// getJSON decodes url's JSON body into v. With optional, a 404 returns
// found=false and no error.
func getJSON(ctx context.Context, client *http.Client, url, token string, v any, optional bool) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, &FetchError{URL: url, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, &FetchError{URL: url, Err: err}
	}
	defer resp.Body.Close()
	if optional && resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, &FetchError{URL: url, Status: resp.StatusCode}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAdminBody)).Decode(v); err != nil {
		return false, &FetchError{URL: url, Status: resp.StatusCode, Err: fmt.Errorf("decoding: %w", err)}
	}
	return true, nil
}
