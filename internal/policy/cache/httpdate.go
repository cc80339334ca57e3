package cache

import (
	"strings"
	"time"

	"github.com/weirgw/weir/internal/h1"
)

// httpDateLayouts are the HTTP-date formats (RFC 9110 5.6.7): IMF-fixdate,
// then the obsolete RFC 850 and asctime. In a layout, Www is a day name,
// Wwww a long one, Mmm a month, DD two digits, _D two digits or a space
// and one, YYYY and YY a year, hh:mm:ss the time; GMT and the rest must be
// there as written. Names are taken in any case (caches are expected to
// be lenient there), nothing else is: one space, two-digit hours, the
// comma, GMT.
var httpDateLayouts = [...]string{
	"Www, DD Mmm YYYY hh:mm:ss GMT",
	"Wwww, DD-Mmm-YY hh:mm:ss GMT",
	"Www Mmm _D hh:mm:ss YYYY",
}

var (
	dayNames   = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays   = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// parseHTTPDate parses an HTTP-date strictly; a value that is not one is
// invalid (for Expires: already expired). A two-digit year more than 50
// years after now's is in the previous century.
func parseHTTPDate(s string, now time.Time) (time.Time, bool) {
	for _, layout := range httpDateLayouts {
		if t, ok := parseLayout(s, layout, now); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseLayout parses s in one of httpDateLayouts.
func parseLayout(s, layout string, now time.Time) (time.Time, bool) {
	var year, mon, day, hh, mm, ss int
	yy := -1 // a two-digit year
	i := 0
	// num reads n digits; spaceOK lets a space stand for the first ("_D").
	num := func(n int, spaceOK bool) (int, bool) {
		if spaceOK && i < len(s) && s[i] == ' ' {
			i++
			n--
		}
		v := 0
		if len(s)-i < n {
			return 0, false
		}
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		i += n
		return v, true
	}
	// name reads one of names, whole, in any case, and returns its index.
	name := func(names []string) (int, bool) {
		for k, n := range names {
			end := i + len(n)
			if end <= len(s) && h1.EqualFold(s[i:end], n) && (end == len(s) || !isLetter(s[end])) {
				i = end
				return k, true
			}
		}
		return 0, false
	}
	var ignored int
	names := []struct {
		tok   string
		names []string
		out   *int
	}{{"Wwww", longDays, &ignored}, {"Www", dayNames, &ignored}, {"Mmm", monthNames, &mon}, {"GMT", []string{"GMT"}, &ignored}}
	numbers := []struct {
		tok string
		out *int
	}{{"YYYY", &year}, {"YY", &yy}, {"DD", &day}, {"_D", &day}, {"hh", &hh}, {"mm", &mm}, {"ss", &ss}}
next:
	for layout != "" {
		for _, n := range names {
			if strings.HasPrefix(layout, n.tok) {
				v, ok := name(n.names)
				if !ok {
					return time.Time{}, false
				}
				*n.out, layout = v, layout[len(n.tok):]
				continue next
			}
		}
		for _, n := range numbers {
			if strings.HasPrefix(layout, n.tok) {
				v, ok := num(len(n.tok), n.tok[0] == '_')
				if !ok {
					return time.Time{}, false
				}
				*n.out, layout = v, layout[len(n.tok):]
				continue next
			}
		}
		if i >= len(s) || s[i] != layout[0] {
			return time.Time{}, false
		}
		i++
		layout = layout[1:]
	}
	if yy >= 0 {
		year = now.UTC().Year()/100*100 + yy
		if year > now.UTC().Year()+50 {
			year -= 100
		}
	}
	t := time.Date(year, time.Month(mon+1), day, hh, mm, ss, 0, time.UTC)
	if i != len(s) || t.Day() != day || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	return t, true
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
