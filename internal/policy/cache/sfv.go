package cache

import (
	"strings"
	"time"
)

// sfKind is the type of a Structured Field bare item (RFC 8941 3.3).
type sfKind uint8

const (
	sfInteger sfKind = iota + 1
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfBoolean
	sfInnerList
)

// sfMember is one member of a Dictionary: its key and value (a bare item,
// or an inner list), parameters dropped: no cache directive uses them.
type sfMember struct {
	key  string
	kind sfKind
	num  int64  // Integer
	str  string // String (unescaped), Token
	yes  bool   // Boolean
}

// parseDictionary parses field lines as one RFC 8941 Dictionary (lines
// are joined with ", ", as the RFC combines them). ok is false when the
// value is not a valid Dictionary; a later member with a key already seen
// replaces the earlier one.
func parseDictionary(lines []string) (members []sfMember, ok bool) {
	p := sfParser{s: strings.Join(lines, ", ")}
	p.spaces()
	for p.i < len(p.s) {
		m, ok := p.member()
		if !ok {
			return nil, false
		}
		replaced := false
		for j := range members {
			if members[j].key == m.key {
				members[j], replaced = m, true
			}
		}
		if !replaced {
			members = append(members, m)
		}
		p.ows()
		if p.i == len(p.s) {
			break
		}
		if p.s[p.i] != ',' {
			return nil, false
		}
		p.i++
		p.ows()
		if p.i == len(p.s) {
			return nil, false // a trailing comma
		}
	}
	return members, true
}

// sfParser reads a Structured Field value left to right.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) spaces() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// member reads key [ "=" value ] parameters; no "=" is Boolean true.
func (p *sfParser) member() (sfMember, bool) {
	key, ok := p.key()
	if !ok {
		return sfMember{}, false
	}
	m := sfMember{key: key, kind: sfBoolean, yes: true}
	if p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '(' {
			if !p.innerList() {
				return sfMember{}, false
			}
			m = sfMember{key: key, kind: sfInnerList}
		} else if m, ok = p.bareItem(key); !ok {
			return sfMember{}, false
		}
	}
	return m, p.parameters()
}

// key reads ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key() (string, bool) {
	start := p.i
	if p.i >= len(p.s) || !(isLower(p.s[p.i]) || p.s[p.i] == '*') {
		return "", false
	}
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		if !isLower(c) && !isDigit(c) && !strings.ContainsRune("_-.*", rune(c)) {
			break
		}
	}
	return p.s[start:p.i], true
}

// parameters reads *( ";" *SP key [ "=" bare-item ] ).
func (p *sfParser) parameters() bool {
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		p.spaces()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			if _, ok := p.bareItem(""); !ok {
				return false
			}
		}
	}
	return true
}

// innerList reads "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters.
func (p *sfParser) innerList() bool {
	p.i++ // "("
	for {
		p.spaces()
		if p.i >= len(p.s) {
			return false
		}
		if p.s[p.i] == ')' {
			p.i++
			return p.parameters()
		}
		if _, ok := p.bareItem(""); !ok || !p.parameters() {
			return false
		}
		if p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' {
			return false
		}
	}
}

// bareItem reads an Integer, Decimal, String, Token, Byte Sequence or
// Boolean.
func (p *sfParser) bareItem(key string) (sfMember, bool) {
	m := sfMember{key: key}
	if p.i >= len(p.s) {
		return m, false
	}
	switch c := p.s[p.i]; {
	case c == '-' || isDigit(c):
		return p.number(m)
	case c == '"':
		m.kind = sfString
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			switch c := p.s[p.i]; {
			case c == '\\':
				p.i++
				if p.i >= len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '\\' {
					return m, false
				}
				b.WriteByte(p.s[p.i])
			case c == '"':
				p.i++
				m.str = b.String()
				return m, true
			case c < 0x20 || c > 0x7e:
				return m, false
			default:
				b.WriteByte(c)
			}
		}
		return m, false
	case c == '*' || isLetter(c):
		m.kind = sfToken
		start := p.i
		for p.i++; p.i < len(p.s) && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/'); p.i++ {
		}
		m.str = p.s[start:p.i]
		return m, true
	case c == ':':
		m.kind = sfBytes
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return m, false
		}
		for _, b := range []byte(p.s[p.i+1 : p.i+1+end]) {
			if !isLetter(b) && !isDigit(b) && !strings.ContainsRune("+/=", rune(b)) {
				return m, false
			}
		}
		p.i += end + 2
		return m, true
	case c == '?':
		m.kind = sfBoolean
		if p.i+1 >= len(p.s) || p.s[p.i+1] != '0' && p.s[p.i+1] != '1' {
			return m, false
		}
		m.yes = p.s[p.i+1] == '1'
		p.i += 2
		return m, true
	}
	return m, false
}

// number reads an Integer (at most 15 digits) or a Decimal (at most 12
// digits, a point, 1 to 3 digits).
func (p *sfParser) number(m sfMember) (sfMember, bool) {
	neg := p.s[p.i] == '-'
	if neg {
		p.i++
	}
	start, point := p.i, -1
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		if c == '.' && point < 0 {
			point = p.i
			continue
		}
		if !isDigit(c) {
			break
		}
	}
	digits := p.s[start:p.i]
	if point < 0 {
		if digits == "" || len(digits) > 15 {
			return m, false
		}
		m.kind = sfInteger
		for _, c := range []byte(digits) {
			m.num = m.num*10 + int64(c-'0')
		}
		if neg {
			m.num = -m.num
		}
		return m, true
	}
	whole, frac := point-start, p.i-point-1
	if whole < 1 || whole > 12 || frac < 1 || frac > 3 {
		return m, false
	}
	m.kind = sfDecimal
	return m, true
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseTargeted reads a targeted cache-control field (RFC 9213: a
// Dictionary of cache directives) as response directives. ok is false
// when the field is not a valid Dictionary, is empty, or gives a known
// directive a value of the wrong type (max-age="60"): such a field is
// ignored, as if absent.
func parseTargeted(lines []string) (rd responseDirectives, ok bool) {
	members, ok := parseDictionary(lines)
	if !ok || len(members) == 0 {
		return rd, false
	}
	seconds := func(m sfMember) (time.Duration, bool) {
		if m.kind != sfInteger || m.num < 0 {
			return 0, false
		}
		if m.num >= int64(maxDelta/time.Second) {
			return maxDelta, true
		}
		return time.Duration(m.num) * time.Second, true
	}
	flag := func(m sfMember, set *bool) bool {
		if m.kind != sfBoolean {
			return false
		}
		*set = m.yes
		return true
	}
	for _, m := range members {
		valid := true
		switch m.key {
		case "max-age":
			rd.maxAge, valid = seconds(m)
			rd.hasMaxAge = valid
		case "s-maxage":
			rd.sMaxAge, valid = seconds(m)
			rd.hasSMaxAge = valid
		case "stale-if-error":
			rd.staleIfError, valid = seconds(m)
		case "no-store":
			valid = flag(m, &rd.noStore)
		case "public":
			valid = flag(m, &rd.public)
		case "must-revalidate":
			valid = flag(m, &rd.mustRevalidate)
		case "proxy-revalidate":
			valid = flag(m, &rd.proxyRevalidate)
		case "must-understand":
			valid = flag(m, &rd.mustUnderstand)
		case "no-cache", "private":
			all, fields := &rd.noCache, &rd.noCacheFields
			if m.key == "private" {
				all, fields = &rd.private, &rd.privateFields
			}
			if m.kind == sfString {
				*fields = appendFieldNames(*fields, m.str)
			} else {
				valid = flag(m, all)
			}
		}
		if !valid {
			return responseDirectives{}, false
		}
	}
	return rd, true
}
