package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/child"
)

// Load is what a load generator measured in one run.
type Load struct {
	// Requests completed, and the seconds they took.
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	// Latency percentiles and maximum, in milliseconds.
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	// Errors: socket errors (connect, read, write, timeout) and responses
	// with a status of 400 or more (wrk's "Non-2xx or 3xx").
	Errors LoadErrors `json:"errors"`
}

// LoadErrors are a load run's failures by kind.
type LoadErrors struct {
	Connect int64 `json:"connect"`
	Read    int64 `json:"read"`
	Write   int64 `json:"write"`
	Timeout int64 `json:"timeout"`
	Status  int64 `json:"status"`
}

// Total is the count of every failure.
func (e LoadErrors) Total() int64 { return e.Connect + e.Read + e.Write + e.Timeout + e.Status }

// String lists the non-zero kinds ("read 3, status 12"), or "none".
func (e LoadErrors) String() string {
	var parts []string
	for _, f := range []struct {
		name string
		n    int64
	}{{"connect", e.Connect}, {"read", e.Read}, {"write", e.Write}, {"timeout", e.Timeout}, {"status>=400", e.Status}} {
		if f.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f.name, f.n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Target is one load run: what to send where, for how long.
type Target struct {
	URL      string
	Method   string // "" is GET
	BodySize int    // request body bytes (with Content-Length)
	Conns    int
	Threads  int
	Duration time.Duration
	// CPUs, when not empty, pins the load generator (taskset -c CPUS).
	CPUs string
}

// Loader is a load generator: wrk for HTTP/1.1 (h2load for HTTP/2 is the
// next one).
type Loader interface {
	// Name is the tool's name, as a scenario names it.
	Name() string
	// Argv is the command line of a run (for the report and for Run).
	Argv(t Target) []string
	// Run loads t and returns what it measured; the run stops by itself
	// after t.Duration and is killed if ctx ends first.
	Run(ctx context.Context, t Target) (Load, error)
}

// Wrk runs wrk with a Lua script that sets the method and body and prints
// the summary and latency percentiles as one JSON line.
type Wrk struct {
	// Bin is the wrk binary; Taskset the taskset binary (for pinned runs).
	Bin, Taskset string
	// Dir holds the generated scripts.
	Dir string
}

// Name implements Loader.
func (w *Wrk) Name() string { return "wrk" }

// wrkJSON marks the Lua script's result line in wrk's output.
const wrkJSON = "WEIRBENCH "

// script is the Lua script for a method and body size.
func wrkScript(method string, bodySize int) string {
	var b strings.Builder
	if method != "" {
		fmt.Fprintf(&b, "wrk.method = %q\n", method)
	}
	if bodySize > 0 {
		fmt.Fprintf(&b, "wrk.body = string.rep(\"x\", %d)\n", bodySize)
		b.WriteString("wrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n")
	}
	b.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('` + wrkJSON + `{"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,` +
		`"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
`)
	return b.String()
}

// scriptPath is where the script for t lives.
func (w *Wrk) scriptPath(t Target) string {
	m := t.Method
	if m == "" {
		m = "GET"
	}
	return filepath.Join(w.Dir, fmt.Sprintf("wrk-%s-%d.lua", m, t.BodySize))
}

// Argv implements Loader.
func (w *Wrk) Argv(t Target) []string {
	var argv []string
	if t.CPUs != "" {
		argv = append(argv, w.Taskset, "-c", t.CPUs)
	}
	// wrk reports latency in whole microseconds; its --timeout makes a
	// hung request a counted error instead of a hung run.
	return append(argv, w.Bin, "-t"+strconv.Itoa(max(t.Threads, 1)), "-c"+strconv.Itoa(t.Conns),
		"-d"+durationArg(t.Duration), "--timeout", "5s", "-s", w.scriptPath(t), t.URL)
}

// durationArg renders d for wrk's -d, which takes whole seconds or
// milliseconds ("2s", "1500ms").
func durationArg(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms"
}

// Run implements Loader.
func (w *Wrk) Run(ctx context.Context, t Target) (Load, error) {
	path := w.scriptPath(t)
	if _, err := os.Stat(path); err != nil {
		if err := os.WriteFile(path, []byte(wrkScript(t.Method, t.BodySize)), 0o644); err != nil {
			return Load{}, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, t.Duration+30*time.Second)
	defer cancel()
	out, err := child.Run(ctx, nil, "", w.Argv(t)...)
	if err != nil {
		return Load{}, err
	}
	return ParseWrk([]byte(out))
}

// ParseWrk reads the result line the suite's Lua script makes wrk print.
func ParseWrk(out []byte) (Load, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte(wrkJSON))
		if !ok {
			continue
		}
		var r struct {
			Requests   int64 `json:"requests"`
			DurationUS int64 `json:"duration_us"`
			P50        int64 `json:"p50"`
			P90        int64 `json:"p90"`
			P99        int64 `json:"p99"`
			P999       int64 `json:"p999"`
			Max        int64 `json:"max"`
			Connect    int64 `json:"connect"`
			Read       int64 `json:"read"`
			Write      int64 `json:"write"`
			Timeout    int64 `json:"timeout"`
			Status     int64 `json:"status"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return Load{}, fmt.Errorf("wrk result %q: %w", line, err)
		}
		if r.DurationUS <= 0 || r.Requests < 0 {
			return Load{}, fmt.Errorf("wrk result %q: duration %d us, %d requests", line, r.DurationUS, r.Requests)
		}
		ms := func(us int64) float64 { return float64(us) / 1000 }
		return Load{
			Requests: r.Requests,
			Seconds:  float64(r.DurationUS) / 1e6,
			P50:      ms(r.P50), P90: ms(r.P90), P99: ms(r.P99), P999: ms(r.P999), Max: ms(r.Max),
			Errors: LoadErrors{Connect: r.Connect, Read: r.Read, Write: r.Write, Timeout: r.Timeout, Status: r.Status},
		}, nil
	}
	return Load{}, fmt.Errorf("wrk printed no result line; its output: %q", out)
}
