package expr

import (
	"strconv"
	"time"
)

// timeLayout is a compiled Java SimpleDateFormat pattern, formatted in
// UTC: the timeFormat functions' first argument.
type timeLayout []timeItem

// timeItem is a run of one pattern letter (n times), or literal text.
type timeItem struct {
	letter byte
	n      int
	lit    string
}

// timeLetters are the SimpleDateFormat letters supported: era, year, week
// year, month (M and L), day of month and of year, day name and number,
// AM/PM, hours (H, k, K, h), minutes, seconds, milliseconds and zone (z,
// Z, X: always UTC).
const timeLetters = "GyYMLdDEuaHkKhmsSzZX"

// compileTimeLayout compiles a SimpleDateFormat pattern: letters repeat
// for width or form ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"), text in single
// quotes is literal (two quotes make one). It returns the index and a message
// for an unsupported letter or an unclosed quote.
func compileTimeLayout(f string) (timeLayout, int, string) {
	var l timeLayout
	lit := func(s string) {
		if n := len(l); n > 0 && l[n-1].letter == 0 {
			l[n-1].lit += s
			return
		}
		l = append(l, timeItem{lit: s})
	}
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == '\'':
			if i+1 < len(f) && f[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			var text []byte
			j := i + 1
			for ; ; j++ {
				if j >= len(f) {
					return nil, i, "unclosed quote in date format"
				}
				if f[j] == '\'' {
					if j+1 < len(f) && f[j+1] == '\'' {
						j++ // '' inside quotes is a quote
					} else {
						break
					}
				}
				text = append(text, f[j])
			}
			lit(string(text))
			i = j + 1
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			if !containsByte(timeLetters, c) {
				return nil, i, "unsupported date format letter " + strconv.QuoteRune(rune(c))
			}
			j := i
			for j < len(f) && f[j] == c {
				j++
			}
			l = append(l, timeItem{letter: c, n: j - i})
			i = j
		default:
			lit(f[i : i+1])
			i++
		}
	}
	return l, 0, ""
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// append formats ms (milliseconds since the epoch) in UTC.
func (l timeLayout) append(dst []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	for _, it := range l {
		n := it.n
		switch it.letter {
		case 0:
			dst = append(dst, it.lit...)
		case 'G':
			if t.Year() > 0 {
				dst = append(dst, "AD"...)
			} else {
				dst = append(dst, "BC"...)
			}
		case 'y', 'Y':
			y := t.Year()
			if it.letter == 'Y' {
				y, _ = t.ISOWeek()
			}
			if n == 2 {
				dst = appendPadded(dst, int64(y%100), 2)
			} else {
				dst = appendPadded(dst, int64(y), n)
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				dst = append(dst, t.Month().String()...)
			case n == 3:
				dst = append(dst, t.Month().String()[:3]...)
			default:
				dst = appendPadded(dst, int64(t.Month()), n)
			}
		case 'd':
			dst = appendPadded(dst, int64(t.Day()), n)
		case 'D':
			dst = appendPadded(dst, int64(t.YearDay()), n)
		case 'E':
			if n >= 4 {
				dst = append(dst, t.Weekday().String()...)
			} else {
				dst = append(dst, t.Weekday().String()[:3]...)
			}
		case 'u':
			wd := int64(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = appendPadded(dst, wd, n)
		case 'a':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'H':
			dst = appendPadded(dst, int64(t.Hour()), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			dst = appendPadded(dst, int64(h), n)
		case 'K':
			dst = appendPadded(dst, int64(t.Hour()%12), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = appendPadded(dst, int64(h), n)
		case 'm':
			dst = appendPadded(dst, int64(t.Minute()), n)
		case 's':
			dst = appendPadded(dst, int64(t.Second()), n)
		case 'S':
			dst = appendPadded(dst, int64(t.Nanosecond()/1e6), n)
		case 'z':
			if n >= 4 {
				dst = append(dst, "Coordinated Universal Time"...)
			} else {
				dst = append(dst, "UTC"...)
			}
		case 'Z':
			dst = append(dst, "+0000"...)
		case 'X':
			dst = append(dst, 'Z')
		}
	}
	return dst
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(dst []byte, v int64, width int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}
