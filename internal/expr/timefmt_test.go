package expr

import (
	"strings"
	"testing"
)

func TestTimeLayout(t *testing.T) {
	const may10 = 1494390266123 // 2017-05-10T04:24:26.123Z, a Wednesday
	const midnight = 1494374400000
	tests := []struct {
		name   string
		layout string
		ms     int64
		want   string
	}{
		{"ISO with quotes", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", may10, "2017-05-10T04:24:26.123Z"},
		{"RFC 1123 style", "EEE, dd MMM yyyy HH:mm:ss z", may10, "Wed, 10 May 2017 04:24:26 UTC"},
		{"long names", "EEEE d MMMM yy", may10, "Wednesday 10 May 17"},
		{"12-hour clock", "h:mm a", may10, "4:24 AM"},
		{"afternoon", "hh a", may10 + 9*3600e3, "01 PM"},
		{"k at midnight", "kk:mm", midnight, "24:00"},
		{"K and h at midnight", "K h H", midnight, "0 12 0"},
		{"day of year and ISO day", "D u", may10, "130 3"},
		{"zones", "Z X zzzz", may10, "+0000 Z Coordinated Universal Time"},
		{"era and week year", "G YYYY", may10, "AD 2017"},
		{"L month", "LL", may10, "05"},
		{"millisecond widths", "S SS SSSS", may10, "123 123 0123"},
		{"padded year", "yyyyy", may10, "02017"},
		{"quote", "''", may10, "'"},
		{"quote inside quotes", "'o''clock' h", may10, "o'clock 4"},
		{"punctuation is literal", "HH.mm!", may10, "04.24!"},
		{"before the epoch", "yyyy-MM-dd", -86400e3, "1969-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, msg := compileTimeLayout(tt.layout)
			if msg != "" {
				t.Fatalf("compileTimeLayout(%q): %s", tt.layout, msg)
			}
			if got := string(l.append(nil, tt.ms)); got != tt.want {
				t.Errorf("%q: got %q, want %q", tt.layout, got, tt.want)
			}
		})
	}
}

func TestTimeLayoutErrors(t *testing.T) {
	tests := []struct {
		name, layout string
		idx          int
		msg          string
	}{
		{"unsupported letter", "yyyy-ww", 5, "unsupported date format letter 'w'"},
		{"unclosed quote", "HH 'h", 3, "unclosed quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, idx, msg := compileTimeLayout(tt.layout)
			if idx != tt.idx || !strings.Contains(msg, tt.msg) {
				t.Errorf("compileTimeLayout(%q): got %d %q, want %d and %q", tt.layout, idx, msg, tt.idx, tt.msg)
			}
		})
	}
}
