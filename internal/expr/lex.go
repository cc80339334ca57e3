package expr

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Scanning shared by conditions and templates: variable names, quoted
// literals and numbers.

// maxDepth bounds nesting (parentheses, not, JSON documents) so that no
// input can exhaust the stack.
const maxDepth = 100

// isNameStart reports whether c may start a variable or function name.
func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// isNameByte reports whether c may continue a variable name: Apigee's
// names are dotted and may hold '-' and '_' (request.header.x-api-key).
func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '.' || c == '-'
}

// scanName returns the end of the name that starts at src[i].
func scanName(src string, i int) int {
	for i < len(src) && isNameByte(src[i]) {
		i++
	}
	return i
}

// scanQuoted reads the literal whose opening quote is src[i]. Inside, a
// backslash escapes the quote and itself; any other backslash is kept with
// the character after it, so regular expressions such as "\d+" need no
// doubling. It returns the text (a substring of src when there was no
// escape), the index after the closing quote, and ok=false when the
// literal is not closed.
func scanQuoted(src string, i int) (text string, end int, ok bool) {
	q := src[i]
	var b *strings.Builder
	start := i + 1
	for j := start; j < len(src); j++ {
		switch c := src[j]; {
		case c == q:
			if b == nil {
				return src[start:j], j + 1, true
			}
			b.WriteString(src[start:j])
			return b.String(), j + 1, true
		case c == '\\' && j+1 < len(src) && (src[j+1] == q || src[j+1] == '\\'):
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(src[start:j])
			start = j + 1 // keep the escaped character
			j++
		}
	}
	return "", len(src), false
}

// quotedOffset maps index idx of the text scanQuoted decoded from the
// literal opening at src[open] back to a byte offset in src.
func quotedOffset(src string, open, idx int) int {
	q := src[open]
	j := open + 1
	for n := 0; n < idx && j < len(src); n++ {
		if src[j] == '\\' && j+1 < len(src) && (src[j+1] == q || src[j+1] == '\\') {
			j++
		}
		j++
	}
	return j
}

// scanNumber reads the number that starts at src[i] (a digit, or '-'
// before one): an integer, or a float with a point or an exponent,
// optionally ending in one of Apigee's type suffixes (l or L for long, f,
// F, d or D for float and double). It returns the value, the end, and a
// message when the text is not a number.
func scanNumber(src string, i int) (Value, int, string) {
	j := i
	if j < len(src) && src[j] == '-' {
		j++
	}
	digits := func() int {
		n := 0
		for j < len(src) && '0' <= src[j] && src[j] <= '9' {
			j++
			n++
		}
		return n
	}
	if digits() == 0 {
		return Value{}, j, "expected a digit"
	}
	float := false
	if j+1 < len(src) && src[j] == '.' && '0' <= src[j+1] && src[j+1] <= '9' {
		j++
		digits()
		float = true
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && '0' <= src[k] && src[k] <= '9' {
			j = k
			digits()
			float = true
		}
	}
	text := src[i:j]
	if j < len(src) {
		switch src[j] {
		case 'l', 'L':
			if float {
				return Value{}, j, "a long (L) cannot have a fraction or exponent"
			}
			j++
		case 'f', 'F', 'd', 'D':
			float = true
			j++
		}
	}
	if j < len(src) && isNameByte(src[j]) {
		return Value{}, j, "unexpected " + strconv.Quote(src[j:j+1]) + " in a number"
	}
	if float {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return Value{}, i, "number out of range"
		}
		return FloatValue(f), j, ""
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return Value{}, i, "integer out of range"
	}
	return IntValue(n), j, ""
}

// firstRune returns the first character of s, for messages.
func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}
