package expr

import (
	"strconv"
	"strings"
)

// Template is a compiled message template: literal text with {variable},
// {variable:default} and {function(args)} references. It is immutable and
// safe for concurrent use.
type Template struct {
	src   string
	parts []part
	vars  []string
	// konst is set when the template has no reference: text is all of it.
	konst bool
	text  string
}

// part is literal text (ref and call unset), a variable reference, or a
// function call.
type part struct {
	lit  string
	ref  *arg
	call *call
}

// CompileTemplate compiles a message template. A '{' followed by a letter
// or '_' starts a reference, which must be closed; any other '{' (as in a
// JSON body) is literal text and must be matched by a '}', and a '}' must
// match a '{'. \{ and \} are literal braces that match nothing. An unknown
// function, a wrong number of arguments, an unclosed reference or an
// unmatched brace is an *Error with the offset of the character at fault.
func CompileTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	var lit strings.Builder
	var open []int // offsets of the literal '{' not yet matched
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src) && (src[i+1] == '{' || src[i+1] == '}'):
			lit.WriteByte(src[i+1])
			i += 2
		case c == '{' && i+1 < len(src) && isNameStart(src[i+1]):
			p, end, err := t.parseRef(i)
			if err != nil {
				return nil, err
			}
			flush()
			t.parts = append(t.parts, p)
			i = end
		case c == '{':
			open = append(open, i)
			lit.WriteByte(c)
			i++
		case c == '}':
			if len(open) == 0 {
				return nil, errorAt(src, i, `unmatched } (write \} for a literal brace)`)
			}
			open = open[:len(open)-1]
			lit.WriteByte(c)
			i++
		default:
			lit.WriteByte(c)
			i++
		}
	}
	if len(open) > 0 {
		return nil, errorAt(src, open[len(open)-1], `unclosed { (write \{ for a literal brace)`)
	}
	flush()
	switch len(t.parts) {
	case 0:
		t.konst = true
	case 1:
		if p := t.parts[0]; p.ref == nil && p.call == nil {
			t.konst, t.text = true, p.lit
		}
	}
	return t, nil
}

// Append appends the rendered template to dst and returns it. A template
// of literal text and plain variable references does not allocate (beyond
// growing dst); an unset variable renders as its default, or as nothing.
func (t *Template) Append(dst []byte, env Env) []byte {
	if t.konst {
		return append(dst, t.text...)
	}
	for i := range t.parts {
		p := &t.parts[i]
		switch {
		case p.ref != nil:
			dst = p.ref.get(env).Append(dst)
		case p.call != nil:
			dst = p.call.fn.render(dst, p.call, env)
		default:
			dst = append(dst, p.lit...)
		}
	}
	return dst
}

// Constant returns the template's text and true when it has no reference
// (its rendering never changes).
func (t *Template) Constant() (string, bool) { return t.text, t.konst }

// Vars returns the names of the variables the template reads, each once,
// in the order they first appear. The caller must not modify the slice.
func (t *Template) Vars() []string { return t.vars }

// String returns the template's source.
func (t *Template) String() string { return t.src }

// arg is a function argument or a reference: a variable with an optional
// default, or a literal.
type arg struct {
	name   string // a variable; "" for a literal
	lit    Value  // the literal, or the default (a string) when hasDef
	hasDef bool
	off    int // where the argument starts in the template
}

// get returns the argument's value: the variable's, its default when it
// is unset, or the literal.
func (a *arg) get(env Env) Value {
	if a.name == "" {
		return a.lit
	}
	if v := env.Get(a.name); !v.IsNull() || !a.hasDef {
		return v
	}
	return a.lit
}

// call is a function call in a template.
type call struct {
	fn   *function
	args []arg
	off  int // the function name's offset
	// prep holds what the function compiled from its literal arguments
	// (a regular expression, a JSONPath, a date format), or nil.
	prep any
}

// parseRef parses the reference whose '{' is src[open]: {name},
// {name:default} or {function(args)}. It returns the part and the offset
// after the closing '}'.
func (t *Template) parseRef(open int) (part, int, *Error) {
	src := t.src
	start := open + 1
	end := scanName(src, start)
	name := src[start:end]
	if end == len(src) {
		return part{}, 0, errorAt(src, open, "unclosed {")
	}
	switch src[end] {
	case '}':
		t.addVar(name)
		return part{ref: &arg{name: name, off: start}}, end + 1, nil
	case ':':
		stop := end + 1 + strings.IndexAny(src[end+1:], "{}")
		if stop == end {
			return part{}, 0, errorAt(src, open, "unclosed {")
		}
		if src[stop] == '{' {
			return part{}, 0, errorAt(src, stop, "a default cannot hold a {")
		}
		t.addVar(name)
		def := src[end+1 : stop]
		return part{ref: &arg{name: name, off: start, lit: StringValue(def), hasDef: true}}, stop + 1, nil
	case '(':
		c, after, err := t.parseCall(open, name, end+1)
		if err != nil {
			return part{}, 0, err
		}
		return part{call: c}, after, nil
	}
	return part{}, 0, errorAt(src, end, "unexpected "+strconv.QuoteRune(firstRune(src[end:]))+
		" in a reference: write {name}, {name:default} or {function(args)}, or \\{ for a literal brace")
}

// parseCall parses a function call's arguments, from just after its '('
// to the '}' that ends the reference.
func (t *Template) parseCall(open int, name string, i int) (*call, int, *Error) {
	src := t.src
	fn, ok := functions[name]
	if !ok {
		return nil, 0, errorAt(src, open+1, "unknown function "+strconv.Quote(name))
	}
	c := &call{fn: fn, off: open + 1}
	if i < len(src) && src[i] == ')' {
		i++
	} else {
		for {
			a, end, err := t.parseArg(open, i)
			if err != nil {
				return nil, 0, err
			}
			c.args = append(c.args, a)
			if end == len(src) {
				return nil, 0, errorAt(src, open, "unclosed {")
			}
			i = end + 1
			if src[end] == ')' {
				break
			}
			if src[end] != ',' {
				return nil, 0, errorAt(src, end, "unexpected "+strconv.QuoteRune(firstRune(src[end:]))+
					" in a function call: expected , or )")
			}
		}
	}
	if i == len(src) {
		return nil, 0, errorAt(src, open, "unclosed {")
	}
	if src[i] != '}' {
		return nil, 0, errorAt(src, i, "expected } after "+name+"(...)")
	}
	if n := len(c.args); n < fn.min || fn.max >= 0 && n > fn.max {
		return nil, 0, errorAt(src, c.off, name+" takes "+fn.arity()+", got "+strconv.Itoa(n))
	}
	if fn.prepare != nil {
		if err := fn.prepare(c, src); err != nil {
			return nil, 0, err
		}
	}
	return c, i + 1, nil
}

// parseArg parses one argument at src[i]: a variable (with an optional
// :default), a 'single-quoted' literal, a number, or true, false or null.
// It returns the offset of the ',' or ')' after it (len(src) at the end).
func (t *Template) parseArg(open, i int) (arg, int, *Error) {
	src := t.src
	if i == len(src) {
		return arg{}, 0, errorAt(src, open, "unclosed {")
	}
	a := arg{off: i}
	var end int
	switch c := src[i]; {
	case c == '\'':
		text, e, ok := scanQuoted(src, i)
		if !ok {
			return arg{}, 0, errorAt(src, i, "unterminated string")
		}
		a.lit, end = StringValue(text), e
	case '0' <= c && c <= '9' || c == '-' && i+1 < len(src) && '0' <= src[i+1] && src[i+1] <= '9':
		v, e, msg := scanNumber(src, i)
		if msg != "" {
			return arg{}, 0, errorAt(src, e, msg)
		}
		a.lit, end = v, e
	case isNameStart(c):
		end = scanName(src, i)
		name := src[i:end]
		switch strings.ToLower(name) {
		case "true", "false":
			a.lit = BoolValue(strings.EqualFold(name, "true"))
		case "null":
		default:
			if end < len(src) && src[end] == '(' {
				return arg{}, 0, errorAt(src, i, "nested function calls are not supported: assign the inner result to a variable first")
			}
			a.name = name
			t.addVar(name)
			if end < len(src) && src[end] == ':' {
				d := strings.IndexAny(src[end+1:], ",)}{")
				if d < 0 || src[end+1+d] == '}' || src[end+1+d] == '{' {
					return arg{}, 0, errorAt(src, end, "a default in a function argument ends at , or )")
				}
				a.lit, a.hasDef = StringValue(src[end+1:end+1+d]), true
				end += 1 + d
			}
		}
	case c == '"':
		return arg{}, 0, errorAt(src, i, "string literals in template functions take single quotes")
	case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		return arg{}, 0, errorAt(src, i, "spaces are not allowed in a function call")
	case c == '{':
		return arg{}, 0, errorAt(src, i, "references cannot be nested: a variable argument is written without braces")
	default:
		return arg{}, 0, errorAt(src, i, "unexpected "+strconv.QuoteRune(firstRune(src[i:]))+" in a function call")
	}
	return a, end, nil
}

func (t *Template) addVar(name string) {
	for _, v := range t.vars {
		if v == name {
			return
		}
	}
	t.vars = append(t.vars, name)
}
