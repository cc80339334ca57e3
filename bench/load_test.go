package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := `Running 2s test @ http://127.0.0.1:1/bench
  1 threads and 64 connections
  4000 requests in 2.00s, 4.5MB read
Requests/sec:   2000.00
WEIRBENCH {"requests":4000,"duration_us":2000000,"p50":1500,"p90":2500,"p99":9000,"p999":12000,"max":20000,"connect":0,"read":1,"write":0,"timeout":2,"status":3}
`
	got, err := ParseWrk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := Load{Requests: 4000, Seconds: 2, P50: 1.5, P90: 2.5, P99: 9, P999: 12, Max: 20,
		Errors: LoadErrors{Read: 1, Timeout: 2, Status: 3}}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, want := got.Errors.Total(), int64(6); got != want {
		t.Errorf("total errors: got %d, want %d", got, want)
	}
	if got, want := got.Errors.String(), "read 1, timeout 2, status>=400 3"; got != want {
		t.Errorf("errors: got %q, want %q", got, want)
	}

	for _, bad := range []string{
		"Running 2s test\n",
		`WEIRBENCH {"requests":1,"duration_us":0}`,
		`WEIRBENCH {"requests":1,"duration_us":5,"extra":1}`,
		`WEIRBENCH {"requests":`,
	} {
		if _, err := ParseWrk([]byte(bad)); err == nil {
			t.Errorf("ParseWrk(%q): got no error, want one", bad)
		}
	}
}

func FuzzParseWrk(f *testing.F) {
	f.Add([]byte(`WEIRBENCH {"requests":4000,"duration_us":2000000,"p50":1500,"p90":2500,"p99":9000,"p999":12000,"max":20000,"connect":0,"read":1,"write":0,"timeout":2,"status":3}`))
	f.Fuzz(func(t *testing.T, out []byte) {
		if l, err := ParseWrk(out); err == nil && (l.Seconds <= 0 || l.Requests < 0) {
			t.Fatalf("accepted %+v", l)
		}
	})
}

func TestWrkArgv(t *testing.T) {
	w := &Wrk{Bin: "wrk", Taskset: "taskset", Dir: "/s"}
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{name: "pinned GET", t: Target{URL: "http://u/", Conns: 64, Threads: 1, Duration: 5 * time.Second, CPUs: "1"},
			want: "taskset -c 1 wrk -t1 -c64 -d5s --timeout 5s -s /s/wrk-GET-0.lua http://u/"},
		{name: "unpinned POST", t: Target{URL: "http://u/", Method: "POST", BodySize: 10, Conns: 8, Threads: 2, Duration: 1500 * time.Millisecond},
			want: "wrk -t2 -c8 -d1500ms --timeout 5s -s /s/wrk-POST-10.lua http://u/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(w.Argv(tt.t), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	script := wrkScript("POST", 10)
	for _, want := range []string{`wrk.method = "POST"`, `string.rep("x", 10)`, "latency:percentile(99)", wrkJSON} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(wrkScript("", 0), "wrk.body") {
		t.Error("a GET script sets a body")
	}
}
