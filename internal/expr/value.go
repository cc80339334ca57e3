package expr

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a Value. The order matters: when two values of
// different kinds are compared, both are adapted to the greater kind
// (Apigee's rule: boolean < integer < float < string).
type Kind uint8

// Kinds.
const (
	KindNull   Kind = iota // unset: the zero Value
	KindBool               // true or false
	KindInt                // a 64-bit integer (Apigee's integer and long)
	KindFloat              // a 64-bit float (Apigee's float and double)
	KindString             // text
)

var kindNames = [...]string{"null", "bool", "int", "float", "string"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a flow variable's value: null, a bool, an integer, a float or a
// string. It is a small struct passed by value; making, copying and
// comparing one never allocates. The zero Value is null (an unset
// variable).
type Value struct {
	s string // KindString: the text
	n uint64 // KindInt: the int64; KindFloat: the float64 bits; KindBool: 0 or 1
	k Kind
}

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{s: s, k: KindString} }

// IntValue returns an integer Value.
func IntValue(n int64) Value { return Value{n: uint64(n), k: KindInt} }

// FloatValue returns a float Value.
func FloatValue(f float64) Value { return Value{n: math.Float64bits(f), k: KindFloat} }

// BoolValue returns a bool Value.
func BoolValue(b bool) Value {
	v := Value{k: KindBool}
	if b {
		v.n = 1
	}
	return v
}

// Kind returns v's kind.
func (v Value) Kind() Kind { return v.k }

// IsNull reports whether v is null (unset).
func (v Value) IsNull() bool { return v.k == KindNull }

// Str returns the text of a string Value, and "" for other kinds (use
// Append or String for their text form).
func (v Value) Str() string { return v.s }

// Int returns the integer of an integer Value, and 0 for other kinds.
func (v Value) Int() int64 {
	if v.k != KindInt {
		return 0
	}
	return int64(v.n)
}

// Float returns the float of a float Value, and 0 for other kinds.
func (v Value) Float() float64 {
	if v.k != KindFloat {
		return 0
	}
	return math.Float64frombits(v.n)
}

// Bool returns the bool of a bool Value, and false for other kinds.
func (v Value) Bool() bool { return v.k == KindBool && v.n == 1 }

// Append appends v's text form to dst: a string as it is, an integer in
// decimal, a float as Java prints a double (1.0, 0.5, 1.0E20), a bool as
// true or false, and nothing for null. Templates render values this way,
// and comparisons that adapt a value to a string use the same text.
func (v Value) Append(dst []byte) []byte {
	switch v.k {
	case KindString:
		return append(dst, v.s...)
	case KindInt:
		return strconv.AppendInt(dst, int64(v.n), 10)
	case KindFloat:
		return appendJavaDouble(dst, math.Float64frombits(v.n))
	case KindBool:
		return strconv.AppendBool(dst, v.n == 1)
	}
	return dst
}

// String returns v's text form, as Append writes it ("" for null).
func (v Value) String() string {
	if v.k == KindString {
		return v.s
	}
	var buf [32]byte
	return string(v.Append(buf[:0]))
}

// appendJavaDouble appends f as Java's Double.toString would for the
// common cases: at least one digit after the point, exponent form
// outside [1e-3, 1e7). Digits are Go's shortest representation, which is
// what Java 19 and later print too.
func appendJavaDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-3 || a >= 1e7) {
		// Go writes 1E+20 and 1.5E-05; Java writes 1.0E20 and 1.5E-5.
		var tmp [32]byte
		t := strconv.AppendFloat(tmp[:0], f, 'E', -1, 64)
		e := bytes.IndexByte(t, 'E')
		dst = append(dst, t[:e]...)
		if bytes.IndexByte(t[:e], '.') < 0 {
			dst = append(dst, ".0"...)
		}
		dst = append(dst, 'E')
		if t[e+1] == '-' {
			dst = append(dst, '-')
		}
		return append(dst, bytes.TrimLeft(t[e+2:], "0")...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// asInt returns v adapted to an integer (bools are 0 and 1).
func (v Value) asInt() int64 { return int64(v.n) }

// asFloat returns v adapted to a float.
func (v Value) asFloat() float64 {
	switch v.k {
	case KindFloat:
		return math.Float64frombits(v.n)
	case KindInt:
		return float64(int64(v.n))
	}
	return float64(v.n) // bool
}

// truthy reports whether v counts as true where a condition is a bare
// operand: the bool true or the text "true" in any case (Java's
// Boolean.parseBoolean). Everything else, null included, is false.
func (v Value) truthy() bool {
	switch v.k {
	case KindBool:
		return v.n == 1
	case KindString:
		return strings.EqualFold(v.s, "true")
	}
	return false
}

// compare orders a and b, neither null, after adapting both to the
// greater of their kinds (Apigee's operand adaptation: integer and string
// compare as strings, integer and float as floats). It returns -1, 0 or
// +1; floats that are NaN compare equal to each other and greater than
// every other float, as Java's Double.compare has it.
func compare(a, b Value) int {
	switch max(a.k, b.k) {
	case KindBool, KindInt:
		return cmpOrdered(a.asInt(), b.asInt())
	case KindFloat:
		x, y := a.asFloat(), b.asFloat()
		xn, yn := math.IsNaN(x), math.IsNaN(y)
		switch {
		case xn && yn:
			return 0
		case xn:
			return 1
		case yn:
			return -1
		}
		return cmpOrdered(x, y)
	}
	// At least one is a string: compare texts, formatting the other side
	// into a stack buffer.
	if a.k == KindString && b.k == KindString {
		return strings.Compare(a.s, b.s)
	}
	var buf [32]byte
	if a.k == KindString {
		return compareText(a.s, b.Append(buf[:0]))
	}
	return -compareText(b.s, a.Append(buf[:0]))
}

// compareText orders s and b by bytes, as strings.Compare(s, string(b))
// would, without converting b.
func compareText(s string, b []byte) int {
	for i := 0; i < len(s) && i < len(b); i++ {
		if s[i] != b[i] {
			return cmpOrdered(int64(s[i]), int64(b[i]))
		}
	}
	return cmpOrdered(int64(len(s)), int64(len(b)))
}

// equalFold reports whether a and b, neither null, are equal ignoring case
// once adapted to a common kind (the := operator).
func equalFold(a, b Value) bool {
	if max(a.k, b.k) != KindString {
		return compare(a, b) == 0
	}
	if a.k == KindString && b.k == KindString {
		return strings.EqualFold(a.s, b.s)
	}
	var buf [32]byte
	if a.k == KindString {
		return strings.EqualFold(a.s, string(b.Append(buf[:0])))
	}
	return strings.EqualFold(string(a.Append(buf[:0])), b.s)
}

func cmpOrdered[T int64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Env is where evaluation reads variables. The policy layer implements it
// over a request's variable scope.
type Env interface {
	// Get returns the named variable's value, or the null Value when it is
	// unset. Names are Apigee's flow variable names (request.verb,
	// request.header.x-api-key, ratelimit.q1.remaining).
	Get(name string) Value
}

// MapEnv is an Env over a map, for tests and simple callers.
type MapEnv map[string]Value

// Get returns m[name] (null when absent).
func (m MapEnv) Get(name string) Value { return m[name] }
