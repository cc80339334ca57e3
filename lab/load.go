package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client-side failure reasons: what the load client saw when it got no
// response at all.
const (
	// ReasonClientTimeout is a request that got no complete response
	// within LoadSpec.Timeout: the gateway hung.
	ReasonClientTimeout = "client timeout"
	// ReasonClientError is a request whose connection to the gateway
	// failed (refused, reset, closed early).
	ReasonClientError = "client error"
)

// maxBodyRead bounds what the load client reads of a response body.
const maxBodyRead = 64 << 10

// LoadSpec is one burst of client traffic: Concurrency workers send GETs to
// URL until Requests have been sent or Duration has passed, whichever is
// first.
type LoadSpec struct {
	URL         string
	Requests    int
	Concurrency int
	// Duration bounds the sending; requests in flight at the end finish
	// (each bounded by Timeout). Must be > 0.
	Duration time.Duration
	// Timeout bounds each request, response body included. Must be > 0.
	Timeout time.Duration
	// Ready is a host:port to wait for (TCP connect) before the burst;
	// "" = none.
	Ready string
}

// validate reports a spec that would not be bounded.
func (s LoadSpec) validate() error {
	switch {
	case s.URL == "":
		return errors.New("load: no URL")
	case s.Requests <= 0 || s.Concurrency <= 0:
		return errors.New("load: requests and concurrency must be > 0")
	case s.Duration <= 0 || s.Timeout <= 0:
		return errors.New("load: duration and timeout must be > 0")
	}
	return nil
}

// LoadResult is what a burst got. Failed is keyed by reason: the "error"
// of weir's JSON error body, "HTTP <status>" for another gateway's error
// page, or one of the client-side reasons.
type LoadResult struct {
	Sent       int            `json:"sent"`
	OK         int            `json:"ok"`
	Failed     map[string]int `json:"failed"`
	DurationMS int64          `json:"duration_ms"`
}

// FailedTotal is the number of requests that failed for any reason.
func (r LoadResult) FailedTotal() int {
	n := 0
	for _, v := range r.Failed {
		n += v
	}
	return n
}

// Load runs the burst of spec with client (nil = one made for it: keep-alive
// to the gateway, one connection per worker).
func Load(ctx context.Context, spec LoadSpec, client *http.Client) (LoadResult, error) {
	if err := spec.validate(); err != nil {
		return LoadResult{}, err
	}
	if client == nil {
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: spec.Concurrency,
			DisableCompression:  true,
		}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	if spec.Ready != "" {
		if err := waitTCP(ctx, spec.Ready, 10*time.Second); err != nil {
			return LoadResult{}, err
		}
	}
	start := time.Now()
	deadline := start.Add(spec.Duration)
	var issued atomic.Int64
	results := make([]LoadResult, spec.Concurrency)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			r.Failed = make(map[string]int)
			for ctx.Err() == nil && time.Now().Before(deadline) && issued.Add(1) <= int64(spec.Requests) {
				r.Sent++
				if reason := get(ctx, client, spec.URL, spec.Timeout); reason == "" {
					r.OK++
				} else {
					r.Failed[reason]++
				}
			}
		})
	}
	wg.Wait()
	total := LoadResult{Failed: make(map[string]int), DurationMS: time.Since(start).Milliseconds()}
	for _, r := range results {
		total.Sent += r.Sent
		total.OK += r.OK
		for k, v := range r.Failed {
			total.Failed[k] += v
		}
	}
	return total, ctx.Err()
}

// get sends one request and returns "" on a 2xx, else the failure reason.
func get(ctx context.Context, client *http.Client, url string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ReasonClientError
	}
	resp, err := client.Do(req)
	if err != nil {
		return clientReason(ctx, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead))
	resp.Body.Close()
	if err != nil {
		return clientReason(ctx, err)
	}
	return Classify(resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

func clientReason(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ReasonClientTimeout
	}
	return ReasonClientError
}

// Classify names a response: "" for a 2xx; the "error" field of a JSON
// error body (weir's {"error": REASON, ...}); otherwise "HTTP <status>".
func Classify(status int, contentType string, body []byte) string {
	if status >= 200 && status <= 299 {
		return ""
	}
	if strings.HasPrefix(contentType, "application/json") {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" && len(e.Error) <= 64 {
			return e.Error
		}
	}
	return fmt.Sprintf("HTTP %d", status)
}

// Get GETs url (bounded by 5 s) and returns its body; a status other
// than 200 is an error.
func Get(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, err
}

// waitTCP waits until addr accepts a TCP connection, up to limit.
func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting connections after %v: %w", addr, limit, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitTCP waits until every addr accepts a TCP connection, up to limit each.
func WaitTCP(ctx context.Context, limit time.Duration, addrs ...string) error {
	for _, a := range addrs {
		if err := waitTCP(ctx, a, limit); err != nil {
			return err
		}
	}
	return nil
}
