package gateway

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/telemetry"
)

// TestStatus: each reason's status as the README documents it; a reason
// without a row in failure's table is an InternalError.
func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		name   failure.Reason
		status int
	}{
		{failure.BackendConnectionFailure, 502},
		{failure.BackendTimeout, 504},
		{failure.ConnectionLimitReached, 503},
		{failure.ClientConnectionFailure, 499},
		{failure.RouteNotFound, 404},
		{failure.BadRequest, 400},
		{failure.InternalError, 500},
		{failure.RateLimitExceeded, 429},
		{failure.QuotaExceeded, 429},
		{failure.StoreUnavailable, 503},
		{failure.NotCached, 504},
		{"NoSuchReason", 500},
	} {
		t.Run(string(tt.name), func(t *testing.T) {
			if got := Status(tt.name); got != tt.status {
				t.Errorf("got %d, want %d", got, tt.status)
			}
		})
	}
}

// TestFailReasonWithoutRow: a reason missing from failure's table is not
// answered as a silent 500 under its own name: the client, the record and
// the metrics see InternalError, and stderr names the missing reason.
func TestFailReasonWithoutRow(t *testing.T) {
	var errLog bytes.Buffer
	s := &Server{errLog: &errLog}
	w := httptest.NewRecorder()
	rec := &telemetry.Record{RequestID: "r1"}
	s.fail(w, rec, failure.New("NoSuchReason", "made up", nil))
	if w.Code != 500 {
		t.Errorf("status: got %d, want 500", w.Code)
	}
	if want := `{"error":"InternalError","request_id":"r1"}` + "\n"; w.Body.String() != want {
		t.Errorf("body: got %q, want %q", w.Body.String(), want)
	}
	if rec.Error != "InternalError" || rec.Status != 500 || !strings.Contains(rec.Detail, "NoSuchReason: made up") {
		t.Errorf("record: got error %q status %d detail %q, want InternalError, 500 and a detail naming NoSuchReason", rec.Error, rec.Status, rec.Detail)
	}
	if !strings.Contains(errLog.String(), `"NoSuchReason"`) {
		t.Errorf("stderr: got %q, want a line naming NoSuchReason", errLog.String())
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name, remote, want string
	}{
		{"ipv4", "192.0.2.1:1234", "192.0.2.1"},
		{"ipv6", "[2001:db8::1]:443", "2001:db8::1"},
		{"no port", "192.0.2.1", "192.0.2.1"},
		{"empty", "", ""},
		{"unix socket", "@", "@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientIP(tt.remote); got != tt.want {
				t.Errorf("clientIP(%q): got %q, want %q", tt.remote, got, tt.want)
			}
		})
	}
}
