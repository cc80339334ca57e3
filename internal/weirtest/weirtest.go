// Package weirtest runs weir for tests: a whole instance in this process
// (Start: the gateway on a loopback listener, its admin API beside it, its
// request log and its own log in memory), the weir binary as a subprocess
// (Binary, Run), and what their tests share: a config with one API (API),
// a goroutine-safe Buffer that reads back request log records.
//
// It imports the gateway (and config, admin, telemetry), so tests of the
// packages the gateway is built from cannot import it: those use package
// peer (internal/weirtest/peer: backends that misbehave on purpose, TLS
// files, a redis-server), which imports no weir package. No production
// package imports either; a layering test enforces both.
package weirtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// Buffer is a goroutine-safe in-memory log: a request log, or what a
// server or process writes to stderr.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Bytes returns a copy of what was written.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Records decodes what was written as a request log: one JSON object a
// line. A line that is not one fails the test.
func (b *Buffer) Records(t testing.TB) []map[string]any {
	t.Helper()
	return Records(t, b.Bytes())
}

// Records decodes a request log: one JSON object a line, empty lines
// skipped. A line that is not one fails the test.
func Records(t testing.TB, log []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(string(log), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("request log line %q is not a JSON object: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// API is a config with one API, "t" at /api, over endpoints, with the
// given transport keys (the content of a YAML flow mapping, e.g.
// "keepalive_timeout: 0s"; "" for the defaults).
func API(transport string, endpoints ...string) string {
	return "apis:\n  - name: t\n    base_path: /api\n    target:\n      endpoints: [" +
		strings.Join(endpoints, ", ") + "]\n      transport: {" + transport + "}\n"
}
