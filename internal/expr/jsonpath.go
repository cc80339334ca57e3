package expr

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// jsonPath is a compiled JSONPath, the subset weir implements for the
// jsonPath template function: $ (the root; may be left out), .name and
// ['name'] (several names: ['a','b']), [n] (negative from the end; several:
// [0,2]), [start:end] slices, * and [*] wildcards, .. (recursive descent,
// before a name, * or a bracket), and filters [?(@.a.b OP literal)] with
// ==, !=, <, <=, >, >= against a 'string', "string", number, true, false
// or null, or [?(@.a)] for existence, joined with && and ||. Not
// supported: script expressions, functions (length()), regex (=~), in.
type jsonPath struct {
	steps []jpStep
	// definite is set when the path names at most one value (only names
	// and single indexes); otherwise it selects a list.
	definite bool
}

type jpKind uint8

const (
	jpNames jpKind = iota
	jpIndexes
	jpWildcard
	jpSlice
	jpFilter
)

type jpStep struct {
	kind         jpKind
	recursive    bool // after ..
	names        []string
	idx          []int
	lo, hi       int
	hasLo, hasHi bool
	filter       [][]jpCmp // || of && of comparisons
}

// jpCmp is one comparison of a filter: the value at path (relative to
// the item, @) against lit, or only its existence when op is "".
type jpCmp struct {
	path []jpRel
	op   string
	lit  *jnode
}

type jpRel struct {
	name  string
	index int
	isIdx bool
}

// maxJSONResults bounds the values a path may select, so that a path such
// as $..*..* on a large document cannot take unbounded memory.
const maxJSONResults = 10000

// compileJSONPath compiles p; on error it returns the index in p and a
// message.
func compileJSONPath(p string) (*jsonPath, int, string) {
	c := jpCompiler{s: p}
	jp, err := c.compile()
	if err != "" {
		return nil, c.i, err
	}
	return jp, 0, ""
}

type jpCompiler struct {
	s string
	i int
}

func (c *jpCompiler) compile() (*jsonPath, string) {
	jp := &jsonPath{definite: true}
	s := c.s
	if s == "" {
		return nil, "empty JSONPath"
	}
	if s[0] == '$' {
		c.i = 1
	} else if s[0] != '.' && s[0] != '[' {
		// Like Jayway's JsonPath, "a.b" means "$.a.b".
		st, err := c.name(false)
		if err != "" {
			return nil, err
		}
		jp.steps = append(jp.steps, st)
	}
	for c.i < len(s) {
		var st jpStep
		var err string
		switch s[c.i] {
		case '.':
			c.i++
			recursive := c.i < len(s) && s[c.i] == '.'
			if recursive {
				c.i++
			}
			switch {
			case c.i < len(s) && s[c.i] == '*':
				c.i++
				st = jpStep{kind: jpWildcard}
			case c.i < len(s) && s[c.i] == '[' && recursive:
				st, err = c.bracket()
			default:
				st, err = c.name(recursive)
			}
			st.recursive = recursive
		case '[':
			st, err = c.bracket()
		default:
			return nil, "unexpected " + strconv.QuoteRune(firstRune(s[c.i:])) + " in JSONPath: expected . or ["
		}
		if err != "" {
			return nil, err
		}
		if st.recursive || st.kind == jpWildcard || st.kind == jpSlice || st.kind == jpFilter ||
			len(st.names) > 1 || len(st.idx) > 1 {
			jp.definite = false
		}
		jp.steps = append(jp.steps, st)
	}
	return jp, ""
}

// name reads a dotted name.
func (c *jpCompiler) name(recursive bool) (jpStep, string) {
	start := c.i
	for c.i < len(c.s) && c.s[c.i] != '.' && c.s[c.i] != '[' {
		if strings.IndexByte(" ]()'\",?@*", c.s[c.i]) >= 0 {
			return jpStep{}, "unexpected " + strconv.QuoteRune(firstRune(c.s[c.i:])) + " in a JSONPath name"
		}
		c.i++
	}
	if c.i == start {
		return jpStep{}, "expected a name in JSONPath"
	}
	return jpStep{kind: jpNames, names: []string{c.s[start:c.i]}, recursive: recursive}, ""
}

func (c *jpCompiler) spaces() {
	for c.i < len(c.s) && c.s[c.i] == ' ' {
		c.i++
	}
}

// expect consumes b after optional spaces.
func (c *jpCompiler) expect(b byte) string {
	c.spaces()
	if c.i >= len(c.s) || c.s[c.i] != b {
		return "expected " + strconv.QuoteRune(rune(b)) + " in JSONPath"
	}
	c.i++
	return ""
}

// bracket reads [...] at c.i.
func (c *jpCompiler) bracket() (jpStep, string) {
	c.i++ // [
	c.spaces()
	if c.i >= len(c.s) {
		return jpStep{}, "unclosed [ in JSONPath"
	}
	var st jpStep
	switch b := c.s[c.i]; {
	case b == '*':
		c.i++
		st.kind = jpWildcard
	case b == '\'' || b == '"':
		st.kind = jpNames
		for {
			text, end, ok := scanQuoted(c.s, c.i)
			if !ok {
				return st, "unterminated string in JSONPath"
			}
			st.names = append(st.names, text)
			c.i = end
			c.spaces()
			if c.i >= len(c.s) || c.s[c.i] != ',' {
				break
			}
			c.i++
			c.spaces()
			if c.i >= len(c.s) || c.s[c.i] != '\'' && c.s[c.i] != '"' {
				return st, "expected a quoted name in JSONPath"
			}
		}
	case b == '?':
		c.i++
		if err := c.expect('('); err != "" {
			return st, err
		}
		st.kind = jpFilter
		f, err := c.filter()
		if err != "" {
			return st, err
		}
		st.filter = f
		if err := c.expect(')'); err != "" {
			return st, err
		}
	case b == '-' || b == ':' || '0' <= b && b <= '9':
		st.kind = jpIndexes
		if b != ':' {
			n, err := c.int()
			if err != "" {
				return st, err
			}
			st.idx, st.lo, st.hasLo = []int{n}, n, true
		}
		c.spaces()
		if c.i < len(c.s) && c.s[c.i] == ':' {
			c.i++
			st.kind = jpSlice
			c.spaces()
			if c.i < len(c.s) && c.s[c.i] != ']' {
				n, err := c.int()
				if err != "" {
					return st, err
				}
				st.hi, st.hasHi = n, true
			}
			break
		}
		for c.i < len(c.s) && c.s[c.i] == ',' {
			c.i++
			c.spaces()
			n, err := c.int()
			if err != "" {
				return st, err
			}
			st.idx = append(st.idx, n)
			c.spaces()
		}
	default:
		return st, "unexpected " + strconv.QuoteRune(firstRune(c.s[c.i:])) + " in JSONPath brackets"
	}
	return st, c.expect(']')
}

func (c *jpCompiler) int() (int, string) {
	start := c.i
	if c.i < len(c.s) && c.s[c.i] == '-' {
		c.i++
	}
	for c.i < len(c.s) && '0' <= c.s[c.i] && c.s[c.i] <= '9' {
		c.i++
	}
	n, err := strconv.Atoi(c.s[start:c.i])
	if err != nil {
		c.i = start
		return 0, "expected an index in JSONPath"
	}
	return n, ""
}

// filter reads the inside of ?( ... ).
func (c *jpCompiler) filter() ([][]jpCmp, string) {
	var or [][]jpCmp
	var and []jpCmp
	for {
		cmp, err := c.comparison()
		if err != "" {
			return nil, err
		}
		and = append(and, cmp)
		c.spaces()
		switch {
		case strings.HasPrefix(c.s[c.i:], "&&"):
			c.i += 2
		case strings.HasPrefix(c.s[c.i:], "||"):
			c.i += 2
			or, and = append(or, and), nil
		default:
			return append(or, and), ""
		}
	}
}

// comparison reads @.path [OP literal].
func (c *jpCompiler) comparison() (jpCmp, string) {
	var cmp jpCmp
	c.spaces()
	if c.i >= len(c.s) || c.s[c.i] != '@' {
		return cmp, "expected @ in a JSONPath filter"
	}
	c.i++
	for c.i < len(c.s) {
		switch c.s[c.i] {
		case '.':
			c.i++
			start := c.i
			for c.i < len(c.s) && (isNameByte(c.s[c.i]) && c.s[c.i] != '.' || c.s[c.i] == '$') {
				c.i++
			}
			if c.i == start {
				return cmp, "expected a name in a JSONPath filter"
			}
			cmp.path = append(cmp.path, jpRel{name: c.s[start:c.i]})
			continue
		case '[':
			c.i++
			c.spaces()
			if c.i < len(c.s) && (c.s[c.i] == '\'' || c.s[c.i] == '"') {
				text, end, ok := scanQuoted(c.s, c.i)
				if !ok {
					return cmp, "unterminated string in JSONPath"
				}
				c.i = end
				cmp.path = append(cmp.path, jpRel{name: text})
			} else {
				n, err := c.int()
				if err != "" {
					return cmp, err
				}
				cmp.path = append(cmp.path, jpRel{index: n, isIdx: true})
			}
			if err := c.expect(']'); err != "" {
				return cmp, err
			}
			continue
		}
		break
	}
	c.spaces()
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(c.s[c.i:], op) {
			cmp.op = op
			c.i += len(op)
			break
		}
	}
	if cmp.op == "" {
		if c.i < len(c.s) && c.s[c.i] != ')' && c.s[c.i] != '&' && c.s[c.i] != '|' {
			return cmp, "unsupported JSONPath filter operator: use ==, !=, <, <=, >, >="
		}
		return cmp, ""
	}
	c.spaces()
	lit, err := c.literal()
	cmp.lit = lit
	return cmp, err
}

// literal reads a filter's literal as a JSON node.
func (c *jpCompiler) literal() (*jnode, string) {
	if c.i >= len(c.s) {
		return nil, "expected a value in a JSONPath filter"
	}
	if q := c.s[c.i]; q == '\'' || q == '"' {
		text, end, ok := scanQuoted(c.s, c.i)
		if !ok {
			return nil, "unterminated string in JSONPath"
		}
		c.i = end
		return &jnode{kind: '"', str: text}, ""
	}
	for _, w := range []string{"true", "false", "null"} {
		if strings.HasPrefix(c.s[c.i:], w) {
			c.i += len(w)
			return &jnode{kind: w[0], raw: w}, ""
		}
	}
	start := c.i
	for c.i < len(c.s) && strings.IndexByte("+-.0123456789eE", c.s[c.i]) >= 0 {
		c.i++
	}
	if _, err := strconv.ParseFloat(c.s[start:c.i], 64); err != nil {
		c.i = start
		return nil, "expected a string, number, true, false or null in a JSONPath filter"
	}
	return &jnode{kind: '0', raw: c.s[start:c.i]}, ""
}

// eval returns the values p selects in doc.
func (p *jsonPath) eval(doc *jnode) []*jnode {
	cur := []*jnode{doc}
	for i := range p.steps {
		st := &p.steps[i]
		var next []*jnode
		for _, n := range cur {
			if st.recursive {
				n.walk(func(d *jnode) bool {
					next = st.apply(d, next)
					return len(next) < maxJSONResults
				})
			} else {
				next = st.apply(n, next)
			}
			if len(next) >= maxJSONResults {
				break
			}
		}
		cur = next
	}
	return cur
}

// walk calls f for n and every value under it, depth first, while f
// returns true.
func (n *jnode) walk(f func(*jnode) bool) bool {
	if !f(n) {
		return false
	}
	for _, v := range n.vals {
		if !v.walk(f) {
			return false
		}
	}
	return true
}

// apply appends to out what step st selects in n.
func (st *jpStep) apply(n *jnode, out []*jnode) []*jnode {
	switch st.kind {
	case jpNames:
		for _, name := range st.names {
			if v := n.field(name); v != nil {
				out = append(out, v)
			}
		}
	case jpIndexes:
		for _, i := range st.idx {
			if v := n.item(i); v != nil {
				out = append(out, v)
			}
		}
	case jpWildcard:
		if n.kind == '{' || n.kind == '[' {
			out = append(out, n.vals...)
		}
	case jpSlice:
		if n.kind != '[' {
			break
		}
		l := len(n.vals)
		lo, hi := 0, l
		if st.hasLo {
			lo = st.lo
		}
		if st.hasHi {
			hi = st.hi
		}
		if lo < 0 {
			lo += l
		}
		if hi < 0 {
			hi += l
		}
		lo, hi = max(0, min(lo, l)), max(0, min(hi, l))
		if lo < hi {
			out = append(out, n.vals[lo:hi]...)
		}
	case jpFilter:
		switch n.kind {
		case '[':
			for _, v := range n.vals {
				if st.matches(v) {
					out = append(out, v)
				}
			}
		case '{':
			if st.matches(n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func (st *jpStep) matches(n *jnode) bool {
	for _, and := range st.filter {
		ok := true
		for i := range and {
			if !and[i].matches(n) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c *jpCmp) matches(n *jnode) bool {
	for _, r := range c.path {
		if r.isIdx {
			n = n.item(r.index)
		} else {
			n = n.field(r.name)
		}
		if n == nil {
			return false
		}
	}
	if c.op == "" {
		return true
	}
	var order int
	switch {
	case n.kind == '0' && c.lit.kind == '0':
		x, _ := strconv.ParseFloat(n.raw, 64)
		y, _ := strconv.ParseFloat(c.lit.raw, 64)
		order = cmpOrdered(x, y)
	case n.kind == '"' && c.lit.kind == '"':
		order = strings.Compare(n.str, c.lit.str)
	case n.kind == c.lit.kind && (n.kind == 't' || n.kind == 'f' || n.kind == 'n'):
		order = 0
	default: // different kinds (or objects, arrays): only != holds
		return c.op == "!="
	}
	switch c.op {
	case "==":
		return order == 0
	case "!=":
		return order != 0
	case "<":
		return order < 0
	case "<=":
		return order <= 0
	case ">":
		return order > 0
	}
	return order >= 0
}

// jnode is a parsed JSON value that keeps its source text and the order
// of object keys.
type jnode struct {
	kind byte   // '{' object, '[' array, '"' string, '0' number, 't' true, 'f' false, 'n' null
	raw  string // the value's JSON text
	str  string // a string's decoded text
	keys []string
	vals []*jnode // an object's values (by keys) or an array's items
}

// field returns an object's value for key (the first, if repeated).
func (n *jnode) field(key string) *jnode {
	if n.kind != '{' {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// item returns an array's item i (negative from the end).
func (n *jnode) item(i int) *jnode {
	if n.kind != '[' {
		return nil
	}
	if i < 0 {
		i += len(n.vals)
	}
	if i < 0 || i >= len(n.vals) {
		return nil
	}
	return n.vals[i]
}

// appendText appends a selected value as the template shows it: a string
// unquoted, null as nothing, anything else as compact JSON.
func (n *jnode) appendText(dst []byte) []byte {
	switch n.kind {
	case '"':
		return append(dst, n.str...)
	case 'n':
		return dst
	}
	return n.appendJSON(dst)
}

// appendJSON appends n's JSON text without insignificant space.
func (n *jnode) appendJSON(dst []byte) []byte {
	if n.kind != '{' && n.kind != '[' {
		return append(dst, n.raw...)
	}
	b := bytes.NewBuffer(dst)
	if json.Compact(b, []byte(n.raw)) != nil {
		return append(dst, n.raw...)
	}
	return b.Bytes()
}

// parseJSON parses a JSON document; ok is false when it is not valid or
// nests deeper than maxJSONDepth.
func parseJSON(s string) (n *jnode, ok bool) {
	p := jsonParser{s: s}
	n = p.value(0)
	p.space()
	if n == nil || p.i != len(s) {
		return nil, false
	}
	return n, true
}

const maxJSONDepth = 512

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonParser) value(depth int) *jnode {
	p.space()
	if p.i >= len(p.s) || depth > maxJSONDepth {
		return nil
	}
	start := p.i
	n := &jnode{}
	switch c := p.s[p.i]; {
	case c == '{' || c == '[':
		n.kind = c
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		p.space()
		if p.i < len(p.s) && p.s[p.i] == closer {
			p.i++
			break
		}
		for {
			if c == '{' {
				p.space()
				k := p.value(depth + 1)
				if k == nil || k.kind != '"' {
					return nil
				}
				p.space()
				if p.i >= len(p.s) || p.s[p.i] != ':' {
					return nil
				}
				p.i++
				n.keys = append(n.keys, k.str)
			}
			v := p.value(depth + 1)
			if v == nil {
				return nil
			}
			n.vals = append(n.vals, v)
			p.space()
			if p.i >= len(p.s) {
				return nil
			}
			if p.s[p.i] == closer {
				p.i++
				break
			}
			if p.s[p.i] != ',' {
				return nil
			}
			p.i++
		}
	case c == '"':
		n.kind = '"'
		escaped := false
		for p.i++; ; p.i++ {
			if p.i >= len(p.s) || p.s[p.i] < 0x20 {
				return nil
			}
			if p.s[p.i] == '\\' {
				escaped = true
				p.i++
				continue
			}
			if p.s[p.i] == '"' {
				p.i++
				break
			}
		}
		n.str = p.s[start+1 : p.i-1]
		if escaped && json.Unmarshal([]byte(p.s[start:p.i]), &n.str) != nil {
			return nil
		}
	case c == '-' || '0' <= c && c <= '9':
		n.kind = '0'
		for p.i < len(p.s) && strings.IndexByte("+-.0123456789eE", p.s[p.i]) >= 0 {
			p.i++
		}
		if !json.Valid([]byte(p.s[start:p.i])) {
			return nil
		}
	default:
		for _, w := range []string{"true", "false", "null"} {
			if strings.HasPrefix(p.s[p.i:], w) {
				n.kind = w[0]
				p.i += len(w)
				break
			}
		}
		if n.kind == 0 {
			return nil
		}
	}
	n.raw = p.s[start:p.i]
	return n
}

// renderJSONPath is jsonPath(path, json[, wantArray]): a path that names
// one value renders it; one that selects a list renders its first value,
// or, when wantArray is true, the whole list as a JSON array. A string
// renders unquoted, other values as compact JSON; no match, null and
// invalid JSON render nothing.
func renderJSONPath(dst []byte, c *call, env Env) []byte {
	v, ok := c.compiled(env, 0, compileJSONPathArg)
	if !ok {
		return dst
	}
	jp := v.(*jsonPath)
	doc, ok := parseJSON(c.text(env, 1))
	if !ok {
		return dst
	}
	res := jp.eval(doc)
	if len(res) == 0 {
		return dst
	}
	if !jp.definite && len(c.args) > 2 && c.args[2].get(env).truthy() {
		dst = append(dst, '[')
		for i, n := range res {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = n.appendJSON(dst)
		}
		return append(dst, ']')
	}
	return res[0].appendText(dst)
}
