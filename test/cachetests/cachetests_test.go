// Package cachetests runs the HTTP caching test suite (npm http-cache-tests,
// pinned in package.json) against weir: the suite's origin server behind a
// weir API with a cache policy, and the suite's client pointed at weir.
//
// `make test` installs the package (`npm ci` in this directory) when npm
// is present. Without node or the package the test is skipped, or fails
// when CI=true.
package cachetests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/weirtest"
)

// beatPasses is Apache Traffic Server's published passes: weir must pass
// more.
const beatPasses = 202

// requiredNotPassed are the required tests of the pinned suite weir does
// not pass, and why; README's Conformance paragraph names them too. Any
// other required failure fails the test, and so does one of these passing
// (the list stays exact).
var requiredNotPassed = map[string]string{
	// The pinned 0.4.5 counts an Age that is not one plain number as
	// stale; the suite's later cases (kept as weir's own tests) reverse
	// that: such an Age is ignored, and a list's first value counts.
	"age-parse-nonnumeric":     "Age ignored, not stale",
	"age-parse-negative":       "Age ignored, not stale",
	"age-parse-float":          "Age ignored, not stale",
	"age-parse-prefix-twoline": "the first Age line counts",
	"age-parse-dup-0":          "a list's first value counts",
	"age-parse-dup-0-twoline":  "the first Age line counts",
	"age-parse-dup-old":        "a list's first value counts",
	// The origin drops the connection: refusing the prohibited stale
	// response leaves an error the suite counts against the cache.
	"stale-close-must-revalidate":  "no cache can pass it",
	"stale-close-proxy-revalidate": "no cache can pass it",
	"stale-close-no-cache":         "no cache can pass it",
	"stale-close-s-maxage=2":       "no cache can pass it",
}

// suiteTimeout bounds the whole run; the suite takes about 20 s (its tests
// pause 3 s for freshness to lapse, 100 at a time).
const suiteTimeout = 3 * time.Minute

// weirConfig fronts the suite's origin with one API and a cache policy.
// stale_if_error lets the suite's serve-stale checks see weir serve a
// stale response when the origin drops the connection.
const weirConfig = `
admin: {listen: "off"}
log: {requests: "off"}
apis:
  - name: cachetests
    base_path: /
    target: {endpoints: ["http://%s"]}
    policies:
      inbound:
        - kind: cache
          stale_if_error: 10m
`

// result is one test's outcome as run.mjs prints it.
type result struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"` // required, optimal, check
	Passed  bool   `json:"passed"`
	Verdict string `json:"verdict"` // the suite's: pass, fail, optional_fail, yes, no, dependency_fail ...
	Detail  string `json:"detail"`
}

func TestHTTPCacheTests(t *testing.T) {
	if testing.Short() {
		t.Skip("the caching test suite takes about 20 s")
	}
	node := need(t)
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()

	origin := startOrigin(t, ctx, node)
	base := weirtest.Start(t, fmt.Sprintf(weirConfig, origin), weirtest.WithRequestLog(io.Discard)).URL

	var stderr strings.Builder
	run := exec.CommandContext(ctx, node, "--no-warnings", "run.mjs", base)
	run.Stderr = &stderr
	start := time.Now()
	out, err := run.Output()
	if err != nil {
		t.Fatalf("run.mjs: %v\n%s", err, stderr.String())
	}
	var results []result
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("run.mjs output: %v\n%.2000s", err, out)
	}

	var passed, required, requiredFailed int
	byVerdict := map[string]int{}
	var failedRequired, failedOther []string
	for _, r := range results {
		byVerdict[r.Verdict]++
		if r.Passed {
			passed++
		}
		if r.Kind == "required" {
			required++
		}
		switch {
		case r.Passed:
		case r.Kind == "required":
			requiredFailed++
			failedRequired = append(failedRequired, fmt.Sprintf("%s [%s] %s", r.ID, r.Verdict, r.Detail))
		default:
			failedOther = append(failedOther, fmt.Sprintf("%s (%s) [%s] %s", r.ID, r.Kind, r.Verdict, r.Detail))
		}
	}
	t.Logf("http-cache-tests against weir in %s: %d of %d passed; required: %d of %d passed, %d not passed",
		time.Since(start).Round(time.Second), passed, len(results), required-requiredFailed, required, requiredFailed)
	t.Logf("verdicts: %v", byVerdict)
	for _, f := range failedRequired {
		t.Logf("required not passed: %s", f)
	}
	if testing.Verbose() {
		for _, f := range failedOther {
			t.Logf("not passed: %s", f)
		}
	}
	if passed <= beatPasses {
		t.Errorf("passes: got %d, want more than %d (Apache Traffic Server)", passed, beatPasses)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		why, known := requiredNotPassed[r.ID]
		switch {
		case r.Kind != "required":
		case !r.Passed && !known:
			t.Errorf("required test %s not passed (%s): fix it, or list it in requiredNotPassed and README with the reason", r.ID, r.Detail)
		case r.Passed && known:
			t.Errorf("required test %s passes now: take it off requiredNotPassed (%s) and README", r.ID, why)
		}
	}
	for id := range requiredNotPassed {
		if !strings.Contains(string(readme), "`"+id+"`") {
			t.Errorf("README does not name the required test %s that weir does not pass", id)
		}
	}
}

// need returns node's path and checks that `npm ci` ran here; without
// them the test skips, or fails when CI=true.
func need(t *testing.T) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node not installed (Debian package nodejs): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "http-cache-tests", "package.json")); err != nil {
		skip("http-cache-tests not installed: run `make cachetests-deps` (npm ci in test/cachetests) (%v)", err)
	}
	return node
}

// startOrigin starts the suite's origin server on a loopback port, stopped
// when the test ends, and returns its host:port.
func startOrigin(t *testing.T, ctx context.Context, node string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, "--no-warnings", "origin.mjs")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "PORT "); ok {
				port <- p
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // the handlers' logging
	}()
	select {
	case p := <-port:
		return net.JoinHostPort("127.0.0.1", p)
	case <-time.After(10 * time.Second):
		t.Fatalf("origin.mjs did not report its port: %s", stderr.String())
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return ""
}
