package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	want := time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"Thu, 18 Aug 2050 02:01:18 GMT", true},
		{"THU, 18 AUG 2050 02:01:18 gMT", true},
		{"Thursday, 18-Aug-50 02:01:18 GMT", true}, // 24 years ahead: 2050
		{"Thu Aug 18 02:01:18 2050", true},
		{"Thu, 18 Aug 2050 02:01:18 UTC", false},
		{"Thu, 18 Aug 2050 02:01:18 AEST", false},
		{"Thu, 18 Aug 50 02:01:18 GMT", false},
		{"Thu 18 Aug 2050 02:01:18 GMT", false},
		{"Thu, 18  Aug  2050 02:01:18 GMT", false},
		{"Thu, 18-Aug-2050 02:01:18 GMT", false},
		{"Thu, 18 Aug 2050 02.01.18 GMT", false},
		{"Thu, 18 Aug 2050 2:01:18 GMT", false},
		{"Thu, 18 Aug 2050 02:01:18 GMT ", false},
		{" Thu, 18 Aug 2050 02:01:18 GMT", false},
		{"Thu, 31 Feb 2050 02:01:18 GMT", false},
		{"Thu, 18 Aug 2050 24:01:18 GMT", false},
		{"Thursdays, 18-Aug-50 02:01:18 GMT", false},
		{"0", false},
		{"", false},
	} {
		got, ok := parseHTTPDate(tc.in, now)
		if ok != tc.ok || ok && !got.Equal(want) {
			t.Errorf("%q: got %v %v, want ok=%v (%v)", tc.in, got, ok, tc.ok, want)
		}
	}
	// A two-digit year more than 50 years ahead is in the past century.
	if got, ok := parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT", now); !ok || got.Year() != 1994 {
		t.Errorf("06-Nov-94: got %v %v, want 1994", got, ok)
	}
	if got, ok := parseHTTPDate("Sun Nov  6 08:49:37 1994", now); !ok || got != time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC) {
		t.Errorf("asctime with a one-digit day: got %v %v", got, ok)
	}
}

// FuzzParseHTTPDate: whatever it reads, a date parseHTTPDate accepts in
// IMF-fixdate form is one net/http also reads, to the same instant.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Thu, 18 Aug 2050 02:01:18 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Thu, 18 Aug 2050 2:01:18 GMT", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseHTTPDate(s, now)
		if !ok {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q: got %v, want UTC", s, got)
		}
		if again, ok := parseHTTPDate(got.Format(http.TimeFormat), now); !ok || !again.Equal(got) {
			t.Fatalf("%q: %v does not read back from its IMF-fixdate (%v %v)", s, got, again, ok)
		}
		if len(s) > 3 && s[3] == ',' && s[len(s)-3:] == "GMT" {
			if std, err := http.ParseTime(s); err == nil && !std.Equal(got) {
				t.Fatalf("%q: got %v, net/http reads %v", s, got, std)
			}
		}
	})
}
