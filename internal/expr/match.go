package expr

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// The pattern operators: Matches (~, a glob), MatchesPath (~/, a path
// expression) and JavaRegex (~~, a regular expression matched against the
// whole string). Patterns are compiled once; matching never allocates.

// globMatch reports whether s matches the glob p as a whole: '*' matches
// any run of characters ('/' included), '?' exactly one character, and '%'
// makes the character after it literal ("/c%*at" matches "/c*at").
func globMatch(s, p string) bool {
	si, pi := 0, 0
	starP, starS := -1, 0 // where to resume after the last '*'
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				starP, starS = pi+1, si
				pi++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			default:
				n := 1
				if c == '%' && pi+1 < len(p) {
					c, n = p[pi+1], 2
				}
				if s[si] == c {
					si++
					pi += n
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' take one more character and try again.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		si, pi = starS, starP
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// pathPattern is a compiled path expression: one entry per '/'-separated
// element. An element is "**" (any number of elements, none included) or
// a glob over one element, in globMatch's syntax, where '*' and {name}
// stand for any run of characters within the element.
type pathPattern []string

const anyElements = "**"

// compilePath compiles a path expression. Apigee's rules: '*' is one
// element, '**' any number of them, {name} one element (the name is for
// the reader), '%' escapes the next character ("%{user%}" matches
// "{user}"). It returns the index in p and a message when p is not a
// valid pattern (an unclosed '{').
func compilePath(p string) (pathPattern, int, string) {
	var out pathPattern
	var b strings.Builder
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if p[start:i] == anyElements {
				out = append(out, anyElements)
			} else {
				out = append(out, b.String())
			}
			b.Reset()
			start = i + 1
			continue
		}
		switch c := p[i]; c {
		case '%':
			if i+1 < len(p) {
				b.WriteByte('%')
				b.WriteByte(p[i+1])
				i++
			} else {
				b.WriteString("%%")
			}
		case '?':
			b.WriteString("%?") // not a wildcard in a path expression
		case '{':
			end := strings.IndexAny(p[i:], "}/")
			if end < 0 || p[i+end] != '}' {
				return nil, i, "unclosed { in path pattern (write %{ for a literal brace)"
			}
			b.WriteByte('*')
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return out, 0, ""
}

// match reports whether path s matches the pattern as a whole.
func (pp pathPattern) match(s string) bool {
	// si is where the next element of s starts; len(s)+1 once all are used.
	si, pi := 0, 0
	starP, starS := -1, 0 // where to resume after the last "**"
	for si <= len(s) {
		if pi < len(pp) {
			if pp[pi] == anyElements {
				starP, starS = pi+1, si
				pi++
				continue
			}
			elem, next := pathElement(s, si)
			if globMatch(elem, pp[pi]) {
				si, pi = next, pi+1
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last "**" take one more element and try again.
		_, starS = pathElement(s, starS)
		si, pi = starS, starP
	}
	for pi < len(pp) && pp[pi] == anyElements {
		pi++
	}
	return pi == len(pp)
}

// pathElement returns the element of s that starts at i and where the
// next one starts (len(s)+1 after the last).
func pathElement(s string, i int) (string, int) {
	j := strings.IndexByte(s[i:], '/')
	if j < 0 {
		return s[i:], len(s) + 1
	}
	return s[i : i+j], i + j + 1
}

// compileRegex compiles a Java regular expression with Go's RE2 syntax;
// anchored, it must match the whole string, as Java's Matcher.matches()
// does for JavaRegex (otherwise it finds matches, as replaceAll does). A
// construct RE2 lacks
// (lookaround, backreferences, possessive quantifiers, atomic groups,
// class intersections) is an error: it returns the index in p of the
// construct and a message.
func compileRegex(p string, anchored bool) (*regexp.Regexp, int, string) {
	if i := classIntersection(p); i >= 0 {
		return nil, i, "Java character class intersection (&&) is not supported: weir uses RE2 syntax"
	}
	if _, err := syntax.Parse(p, syntax.Perl); err != nil {
		var se *syntax.Error
		if !errors.As(err, &se) {
			return nil, 0, err.Error()
		}
		at := max(0, strings.Index(p, se.Expr))
		if se.Code == syntax.ErrUnexpectedParen {
			at = unmatchedParen(p)
		}
		return nil, at, regexMessage(se)
	}
	if anchored {
		p = `^(?:` + p + `)$`
	}
	re, err := regexp.Compile(p)
	if err != nil { // a valid pattern stays valid inside a group
		return nil, 0, err.Error()
	}
	return re, 0, ""
}

// regexMessage explains a syntax error, naming the Java construct when
// that is what RE2 refused.
func regexMessage(se *syntax.Error) string {
	java := ""
	switch {
	case strings.HasPrefix(se.Expr, "(?=") || strings.HasPrefix(se.Expr, "(?!"):
		java = "lookahead"
	case strings.HasPrefix(se.Expr, "(?<=") || strings.HasPrefix(se.Expr, "(?<!"):
		java = "lookbehind"
	case strings.HasPrefix(se.Expr, "(?>"):
		java = "an atomic group"
	case se.Code == syntax.ErrInvalidRepeatOp && strings.HasSuffix(se.Expr, "+"):
		java = "a possessive quantifier"
	case se.Code == syntax.ErrInvalidEscape && len(se.Expr) == 2 && '1' <= se.Expr[1] && se.Expr[1] <= '9',
		strings.HasPrefix(se.Expr, `\k`):
		java = "a backreference"
	}
	if java != "" {
		return "Java regular expression " + java + " " + se.Expr + " is not supported: weir uses RE2 syntax"
	}
	return "regular expression: " + se.Code.String() + ": " + se.Expr
}

// classIntersection returns the index of a Java "&&" inside a character
// class (RE2 would read it as two literal '&'), or -1.
func classIntersection(p string) int {
	depth := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case '&':
			if depth > 0 && i+1 < len(p) && p[i+1] == '&' {
				return i
			}
		}
	}
	return -1
}

// unmatchedParen returns the index of the first ')' in p that closes no
// group (RE2 reports the whole pattern for it).
func unmatchedParen(p string) int {
	depth, class := 0, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case class:
			class = c != ']'
		case c == '[':
			class = true
			if i+1 < len(p) && p[i+1] == ']' {
				i++ // a leading ] is literal
			}
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return 0
}
