package telemetry

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRecordJSON(t *testing.T) {
	r := Record{
		Start: time.Date(2026, 11, 22, 10, 0, 0, 5, time.UTC), RequestID: "abc", API: "hello",
		Method: "GET", Path: "/hello/\"q\"\n\x01\xff", ClientIP: "127.0.0.1", Status: 502,
		BytesIn: 3, BytesOut: 70, Duration: 1500 * time.Microsecond,
		Destination: netip.MustParseAddrPort("127.0.0.1:9000"), Reused: true,
		Error: "BackendConnectionFailure", Detail: "x", Verdict: "no_response",
	}
	var buf bytes.Buffer
	NewRequestLog(&buf).Write(&r)
	line := buf.String()
	if !strings.HasSuffix(line, "}\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("got %q, want one JSON line", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("invalid JSON %q: %v", line, err)
	}
	want := map[string]any{
		"time": "2026-11-22T10:00:00.000000005Z", "request_id": "abc", "api": "hello", "method": "GET",
		"path": "/hello/\"q\"\n\x01\ufffd", "client_ip": "127.0.0.1", "status": 502.0, "bytes_in": 3.0,
		"bytes_out": 70.0, "duration_ms": 1.5, "backend_duration_ms": 0.0, "connect_duration_ms": 0.0,
		"destination": "127.0.0.1:9000", "reused": true, "error": "BackendConnectionFailure", "detail": "x", "verdict": "no_response",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d: %v", len(got), len(want), got)
	}
}

func TestRequestID(t *testing.T) {
	a, b := NewRequestID(), NewRequestID()
	if len(a) != 32 || a == b {
		t.Fatalf("got %q and %q, want two different 32-char ids", a, b)
	}
	if !ValidRequestID(a) {
		t.Fatalf("generated id %q not valid", a)
	}
	for _, bad := range []string{"", "a b", "x\"y", strings.Repeat("a", 129), "é"} {
		if ValidRequestID(bad) {
			t.Errorf("ValidRequestID(%q) = true, want false", bad)
		}
	}
}

func BenchmarkRecordJSON(b *testing.B) {
	r := Record{Start: time.Now(), RequestID: NewRequestID(), API: "hello", Method: "GET", Path: "/hello/echo",
		ClientIP: "127.0.0.1", Status: 200, Destination: netip.MustParseAddrPort("127.0.0.1:9000")}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}
