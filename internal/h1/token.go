package h1

// Comma-separated header lists (RFC 9110 5.6.1): Connection, TE,
// Transfer-Encoding, Cache-Control. Shared by the forwarder and the policies
// so that every part of weir reads a list the same way.

// EqualFold reports whether a and b are equal ignoring ASCII case.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// NextToken splits off the next comma-separated element of a list value,
// trimmed of optional white space; rest is what follows the comma.
func NextToken(v string) (tok, rest string) {
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	tok, rest = v[:i], v[min(i+1, len(v)):]
	return trimOWS(tok), rest
}

// HasToken reports whether a list header (all its field values) names tok,
// ignoring ASCII case. A Connection header naming a field makes that field
// hop-by-hop.
func HasToken(vs []string, tok string) bool {
	for _, v := range vs {
		for len(v) > 0 {
			var t string
			t, v = NextToken(v)
			if EqualFold(t, tok) {
				return true
			}
		}
	}
	return false
}
