package expr

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The message template functions, with Apigee's names and arguments
// (Apigee's "Message templates" reference). A function's output is
// appended to the rendering; when its input cannot be used (an invalid
// number, Base64 text, JSON or encoding name held by a variable) it
// appends nothing, as Apigee renders an empty string.

// function is one template function.
type function struct {
	min, max int // argument counts; max < 0: no limit
	// prepare, when set, checks and compiles literal arguments at load.
	prepare func(c *call, src string) *Error
	render  func(dst []byte, c *call, env Env) []byte
}

func (f *function) arity() string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case f.max < 0:
		return "at least " + plural(f.min)
	case f.min == f.max && f.min == 0:
		return "no arguments"
	case f.min == f.max:
		return plural(f.min)
	case f.max == f.min+1:
		return strconv.Itoa(f.min) + " or " + plural(f.max)
	}
	return strconv.Itoa(f.min) + " to " + plural(f.max)
}

// functions are the template functions by name. Apigee's xpath, xPath and
// xeger are not implemented.
var functions = map[string]*function{
	"md5Hex":       hashFunc(md5.New, hex.AppendEncode),
	"sha1Hex":      hashFunc(sha1.New, hex.AppendEncode),
	"sha256Hex":    hashFunc(sha256.New, hex.AppendEncode),
	"sha384Hex":    hashFunc(sha512.New384, hex.AppendEncode),
	"sha512Hex":    hashFunc(sha512.New, hex.AppendEncode),
	"md5Base64":    hashFunc(md5.New, base64.StdEncoding.AppendEncode),
	"sha1Base64":   hashFunc(sha1.New, base64.StdEncoding.AppendEncode),
	"sha256Base64": hashFunc(sha256.New, base64.StdEncoding.AppendEncode),
	"sha384Base64": hashFunc(sha512.New384, base64.StdEncoding.AppendEncode),
	"sha512Base64": hashFunc(sha512.New, base64.StdEncoding.AppendEncode),

	"hmacMd5":    hmacFunc(md5.New),
	"hmacSha1":   hmacFunc(sha1.New),
	"hmacSha224": hmacFunc(sha256.New224),
	"hmacSha256": hmacFunc(sha256.New),
	"hmacSha384": hmacFunc(sha512.New384),
	"hmacSha512": hmacFunc(sha512.New),

	"encodeBase64": textFunc(func(dst []byte, s string) []byte { return base64.StdEncoding.AppendEncode(dst, []byte(s)) }),
	"decodeBase64": textFunc(decodeBase64),
	"toUpperCase":  textFunc(func(dst []byte, s string) []byte { return append(dst, strings.ToUpper(s)...) }),
	"toLowerCase":  textFunc(func(dst []byte, s string) []byte { return append(dst, strings.ToLower(s)...) }),
	"escapeJSON":   textFunc(appendJSONEscaped),
	"escapeXML":    textFunc(func(dst []byte, s string) []byte { return appendXMLEscaped(dst, s, false) }),
	"escapeXML11":  textFunc(func(dst []byte, s string) []byte { return appendXMLEscaped(dst, s, true) }),
	"encodeHTML":   textFunc(appendHTMLEncoded),

	"substring":    {min: 2, max: 3, render: renderSubstring},
	"replaceAll":   {min: 3, max: 3, prepare: prepareArg(1, compileFind), render: renderReplace(-1)},
	"replaceFirst": {min: 3, max: 3, prepare: prepareArg(1, compileFind), render: renderReplace(1)},
	"firstnonnull": {min: 1, max: -1, render: renderFirstNonNull},
	"jsonPath":     {min: 2, max: 3, prepare: prepareArg(0, compileJSONPathArg), render: renderJSONPath},

	"timeFormat":      timeFunc(1000),
	"timeFormatMs":    timeFunc(1),
	"timeFormatUTC":   timeFunc(1000),
	"timeFormatUTCMs": timeFunc(1),

	"createUuid": {min: 0, max: 0, render: renderUUID},
	"randomLong": {min: 0, max: 2, render: renderRandomLong},
}

// text returns argument i's text.
func (c *call) text(env Env, i int) string { return c.args[i].get(env).String() }

// literal returns argument i when it is a string literal.
func (c *call) literal(i int) (string, bool) {
	if i >= len(c.args) || c.args[i].name != "" || c.args[i].lit.k != KindString {
		return "", false
	}
	return c.args[i].lit.s, true
}

// errorIn returns an error at index idx of argument i's text.
func (c *call) errorIn(src string, i, idx int, msg string) *Error {
	off := c.args[i].off
	if src[off] == '\'' {
		off = quotedOffset(src, off, idx)
	}
	return errorAt(src, off, msg)
}

// intArg returns argument i as an integer: an integer, a float cut to
// one, or text holding one.
func (c *call) intArg(env Env, i int) (int64, bool) {
	v := c.args[i].get(env)
	switch v.k {
	case KindInt:
		return v.Int(), true
	case KindFloat:
		if f := v.Float(); f >= math.MinInt64 && f < math.MaxInt64 {
			return int64(f), true
		}
	case KindString:
		n, err := strconv.ParseInt(strings.TrimSpace(v.s), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// textFunc is a function of one string argument.
func textFunc(f func(dst []byte, s string) []byte) *function {
	return &function{min: 1, max: 1, render: func(dst []byte, c *call, env Env) []byte {
		return f(dst, c.text(env, 0))
	}}
}

func hashFunc(h func() hash.Hash, enc func(dst, src []byte) []byte) *function {
	return textFunc(func(dst []byte, s string) []byte {
		d := h()
		d.Write([]byte(s))
		var sum [sha512.Size]byte
		return enc(dst, d.Sum(sum[:0]))
	})
}

// hmacFunc is Apigee's hmacShaNNN(key, valueToSign[, keyencoding[,
// outputencoding]]): the key is decoded per keyencoding (utf-8 by
// default, or hex, base16, base64), the result encoded per outputencoding
// (base64 by default, or hex, base16: lower-case hex).
func hmacFunc(h func() hash.Hash) *function {
	return &function{min: 2, max: 4,
		prepare: func(c *call, src string) *Error {
			for i, valid := range []func(string) bool{2: validKeyEncoding, 3: validOutputEncoding} {
				if s, lit := c.literal(i); lit && valid != nil && !valid(s) {
					return c.errorIn(src, i, 0, "unknown encoding "+strconv.Quote(s))
				}
			}
			return nil
		},
		render: func(dst []byte, c *call, env Env) []byte {
			keyEnc, outEnc := "utf-8", "base64"
			if len(c.args) > 2 {
				keyEnc = c.text(env, 2)
			}
			if len(c.args) > 3 {
				outEnc = c.text(env, 3)
			}
			key, ok := decodeKey(c.text(env, 0), keyEnc)
			if !ok || !validOutputEncoding(outEnc) {
				return dst
			}
			m := hmac.New(h, key)
			m.Write([]byte(c.text(env, 1)))
			if strings.EqualFold(outEnc, "base64") {
				return base64.StdEncoding.AppendEncode(dst, m.Sum(nil))
			}
			return hex.AppendEncode(dst, m.Sum(nil))
		},
	}
}

func validKeyEncoding(s string) bool {
	_, ok := decodeKey("", s)
	return ok
}

func validOutputEncoding(s string) bool {
	switch strings.ToLower(s) {
	case "hex", "base16", "base64":
		return true
	}
	return false
}

func decodeKey(key, enc string) ([]byte, bool) {
	switch strings.ToLower(enc) {
	case "utf-8", "utf8":
		return []byte(key), true
	case "hex", "base16":
		b, err := hex.DecodeString(key)
		return b, err == nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(key)
		return b, err == nil
	}
	return nil, false
}

// decodeBase64 appends the decoded text, padding optional as Java's
// decoder has it; invalid input (Base64URL included) appends nothing.
func decodeBase64(dst []byte, s string) []byte {
	out, err := base64.RawStdEncoding.AppendDecode(dst, []byte(strings.TrimRight(s, "=")))
	if err != nil {
		return dst
	}
	return out
}

// renderSubstring is substring(str, start[, end]): indexes count
// characters; a negative index counts from the end (substring(alpha,-4)
// is the last four); indexes past either end are clamped.
func renderSubstring(dst []byte, c *call, env Env) []byte {
	s := c.text(env, 0)
	n := int64(utf8.RuneCountInString(s))
	start, ok := c.intArg(env, 1)
	if !ok {
		return dst
	}
	end := n
	if len(c.args) > 2 {
		if end, ok = c.intArg(env, 2); !ok {
			return dst
		}
	}
	clamp := func(i int64) int64 {
		if i < 0 {
			i += n
		}
		return max(0, min(i, n))
	}
	start, end = clamp(start), clamp(end)
	if start >= end {
		return dst
	}
	var i int64
	for _, r := range s {
		if i >= end {
			break
		}
		if i >= start {
			dst = utf8.AppendRune(dst, r)
		}
		i++
	}
	return dst
}

// compiler compiles a literal argument ahead of rendering: a regular
// expression, a JSONPath, a date format. It returns the index in s and a
// message when s is not valid.
type compiler func(s string) (any, int, string)

func compileFind(s string) (any, int, string) { return compileRegex(s, false) }

func compileJSONPathArg(s string) (any, int, string) { return compileJSONPath(s) }

func compileTimeArg(s string) (any, int, string) { return compileTimeLayout(s) }

// prepareArg compiles argument i at load when it is a literal, so that an
// invalid one is a compile error and a valid one is compiled once.
func prepareArg(i int, compile compiler) func(c *call, src string) *Error {
	return func(c *call, src string) *Error {
		s, ok := c.literal(i)
		if !ok {
			return nil
		}
		v, idx, msg := compile(s)
		if msg != "" {
			return c.errorIn(src, i, idx, msg)
		}
		c.prep = v
		return nil
	}
}

// compiled returns what prepareArg compiled, or compiles argument i's
// value now (it came from a variable); ok is false when it is not valid.
func (c *call) compiled(env Env, i int, compile compiler) (v any, ok bool) {
	if c.prep != nil {
		return c.prep, true
	}
	v, _, msg := compile(c.text(env, i))
	return v, msg == ""
}

// renderReplace is replaceAll (n < 0) and replaceFirst (n = 1): Java's
// String.replaceAll and replaceFirst, whose replacement takes $n and
// ${name} for groups and \ to escape.
func renderReplace(n int) func(dst []byte, c *call, env Env) []byte {
	return func(dst []byte, c *call, env Env) []byte {
		v, ok := c.compiled(env, 1, compileFind)
		if !ok {
			return dst
		}
		re := v.(*regexp.Regexp)
		s, repl := c.text(env, 0), c.text(env, 2)
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(s, n) {
			dst = append(dst, s[last:m[0]]...)
			dst = appendJavaReplacement(dst, re, s, m, repl)
			last = m[1]
		}
		return append(dst, s[last:]...)
	}
}

// appendJavaReplacement appends repl with Java's group references
// expanded for match m of re in s. A reference to a group that does not
// exist expands to nothing.
func appendJavaReplacement(dst []byte, re *regexp.Regexp, s string, m []int, repl string) []byte {
	group := func(g int) {
		if g >= 0 && 2*g+1 < len(m) && m[2*g] >= 0 {
			dst = append(dst, s[m[2*g]:m[2*g+1]]...)
		}
	}
	for i := 0; i < len(repl); i++ {
		switch c := repl[i]; {
		case c == '\\' && i+1 < len(repl):
			i++
			dst = append(dst, repl[i])
		case c == '$' && i+1 < len(repl) && repl[i+1] == '{':
			end := strings.IndexByte(repl[i:], '}')
			if end < 0 {
				return append(dst, repl[i:]...)
			}
			group(re.SubexpIndex(repl[i+2 : i+end]))
			i += end
		case c == '$' && i+1 < len(repl) && '0' <= repl[i+1] && repl[i+1] <= '9':
			// Java takes the first digit, then more while the number
			// still names a group.
			i++
			g := int(repl[i] - '0')
			for i+1 < len(repl) && '0' <= repl[i+1] && repl[i+1] <= '9' {
				next := g*10 + int(repl[i+1]-'0')
				if next > re.NumSubexp() {
					break
				}
				g = next
				i++
			}
			group(g)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// renderFirstNonNull is firstnonnull(a, b, ...): the first argument that
// is set (a literal always is, so a last 'fallback' works).
func renderFirstNonNull(dst []byte, c *call, env Env) []byte {
	for i := range c.args {
		if v := c.args[i].get(env); !v.IsNull() {
			return v.Append(dst)
		}
	}
	return dst
}

// timeFunc is timeFormat(format, time) and its variants: the time is
// seconds since the epoch (unit 1000: timeFormat, timeFormatUTC) or
// milliseconds (unit 1: timeFormatMs, timeFormatUTCMs), formatted in UTC
// with a Java SimpleDateFormat pattern.
func timeFunc(unit int64) *function {
	return &function{min: 2, max: 2,
		prepare: prepareArg(0, compileTimeArg),
		render: func(dst []byte, c *call, env Env) []byte {
			l, ok := c.compiled(env, 0, compileTimeArg)
			if !ok {
				return dst
			}
			t, ok := c.intArg(env, 1)
			if !ok || t > math.MaxInt64/unit || t < math.MinInt64/unit {
				return dst
			}
			return l.(timeLayout).append(dst, t*unit)
		},
	}
}

// renderUUID is createUuid(): a random (version 4) UUID.
func renderUUID(dst []byte, _ *call, _ Env) []byte {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[:], u[:4])
	s[8] = '-'
	hex.Encode(s[9:], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return append(dst, s[:]...)
}

// renderRandomLong is randomLong([min[, max]]): a random integer from a
// secure source, at least min (default 0) and less than max (default the
// largest long).
func renderRandomLong(dst []byte, c *call, env Env) []byte {
	lo, hi := int64(0), int64(math.MaxInt64)
	var ok bool
	if len(c.args) > 0 {
		if lo, ok = c.intArg(env, 0); !ok {
			return dst
		}
	}
	if len(c.args) > 1 {
		if hi, ok = c.intArg(env, 1); !ok {
			return dst
		}
	}
	if lo >= hi {
		return dst
	}
	span := new(big.Int).Sub(big.NewInt(hi), big.NewInt(lo))
	n, err := rand.Int(rand.Reader, span)
	if err != nil {
		return dst
	}
	return strconv.AppendInt(dst, lo+n.Int64(), 10)
}

// appendJSONEscaped escapes s for the inside of a JSON string: quote,
// backslash and control characters; invalid UTF-8 becomes U+FFFD.
func appendJSONEscaped(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '\b':
			dst = append(dst, `\b`...)
		case '\f':
			dst = append(dst, `\f`...)
		default:
			if c < 0x20 || c == 0x7f {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
		i++
	}
	return dst
}

// appendXMLEscaped escapes the five XML entities and drops the characters
// XML cannot hold; for XML 1.1 (xml11) control characters are written as
// character references instead of dropped, as Apigee's escapeXML11 does.
func appendXMLEscaped(dst []byte, s string, xml11 bool) []byte {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == utf8.RuneError && n == 1, r == 0, r > 0xD7FF && r < 0xE000, r == 0xFFFE, r == 0xFFFF:
			// not a character XML can hold
		case r == '&':
			dst = append(dst, "&amp;"...)
		case r == '<':
			dst = append(dst, "&lt;"...)
		case r == '>':
			dst = append(dst, "&gt;"...)
		case r == '"':
			dst = append(dst, "&quot;"...)
		case r == '\'':
			dst = append(dst, "&apos;"...)
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r >= 0x7F && r <= 0x84, r >= 0x86 && r <= 0x9F:
			if xml11 {
				dst = append(dst, "&#"...)
				dst = strconv.AppendInt(dst, int64(r), 10)
				dst = append(dst, ';')
			} else if r >= 0x7F {
				dst = utf8.AppendRune(dst, r) // allowed in XML 1.0
			}
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// appendHTMLEncoded is encodeHTML: apostrophe, quote, angle brackets and
// ampersand as HTML entities.
func appendHTMLEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
