package expr

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Condition is a compiled condition in Apigee's syntax. It is immutable
// and safe for concurrent use.
type Condition struct {
	src  string
	root cond
	vars []string
}

// CompileCondition compiles a condition such as
//
//	request.verb = "POST" and (proxy.pathsuffix MatchesPath "/orders/**" or request.header.x-tier == "gold")
//
// A syntax error, an unknown operator or an invalid pattern is an *Error
// with the offset of the character at fault.
func CompileCondition(src string) (*Condition, error) {
	p := &parser{src: src}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, errorAt(src, p.tok.off, "empty condition")
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		switch p.tok.kind {
		case tRParen:
			return nil, p.errorf("unmatched )")
		case tName:
			return nil, p.errorf("unknown operator %s", p.tokText())
		case tString, tLiteral:
			return nil, p.errorf("expected an operator before %s", p.tokText())
		}
		return nil, p.errorf("unexpected %s: join conditions with and/or", p.tokText())
	}
	return &Condition{src: src, root: root, vars: p.vars}, nil
}

// Eval evaluates the condition against env. Comparisons of variables with
// literals, and and/or/not of them, do not allocate.
func (c *Condition) Eval(env Env) bool { return c.root.eval(env) }

// Vars returns the names of the variables the condition reads, each once,
// in the order they first appear. The caller must not modify the slice.
func (c *Condition) Vars() []string { return c.vars }

// String returns the condition's source.
func (c *Condition) String() string { return c.src }

// cond is a node of a compiled condition.
type cond interface {
	eval(env Env) bool
}

type andCond []cond

func (a andCond) eval(env Env) bool {
	for _, c := range a {
		if !c.eval(env) {
			return false
		}
	}
	return true
}

type orCond []cond

func (o orCond) eval(env Env) bool {
	for _, c := range o {
		if c.eval(env) {
			return true
		}
	}
	return false
}

type notCond struct{ c cond }

func (n notCond) eval(env Env) bool { return !n.c.eval(env) }

// truthCond is a bare operand used as a condition.
type truthCond struct{ o operand }

func (t *truthCond) eval(env Env) bool { return t.o.get(env).truthy() }

// operand is a variable (name set) or a literal.
type operand struct {
	name string
	lit  Value
}

func (o *operand) get(env Env) Value {
	if o.name != "" {
		return env.Get(o.name)
	}
	return o.lit
}

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEq       cmpOp = iota + 1 // = == Equals Is
	opNe                        // != NotEquals IsNot
	opEqFold                    // := EqualsCaseInsensitive
	opGt                        // > &gt; GreaterThan
	opGe                        // >= &gt;= GreaterThanOrEquals
	opLt                        // < &lt; LesserThan
	opLe                        // <= &lt;= LesserThanOrEquals
	opStarts                    // =| StartsWith
	opMatch                     // ~ Matches Like
	opNotMatch                  // !~
	opRegex                     // ~~ JavaRegex
	opPath                      // ~/ MatchesPath LikePath
)

// isPattern reports whether op's right side is a pattern compiled once.
func (op cmpOp) isPattern() bool {
	return op == opMatch || op == opNotMatch || op == opRegex || op == opPath
}

// nullResult is Apigee's documented result of a comparison with a null
// (unset) operand, by operator, for a null left side only, a null right
// side only, and both null.
var nullResult = [...][3]bool{
	opEq:       {false, false, true},
	opNe:       {true, true, false},
	opEqFold:   {false, false, true},
	opGt:       {true, false, false},
	opGe:       {false, true, true},
	opLt:       {true, false, false},
	opLe:       {true, false, true},
	opStarts:   {false, false, false},
	opMatch:    {false, false, false},
	opNotMatch: {true, false, false},
	opRegex:    {false, false, false},
	opPath:     {false, false, false},
}

type cmpCond struct {
	op   cmpOp
	l, r operand
	re   *regexp.Regexp // opRegex
	path pathPattern    // opPath
}

func (c *cmpCond) eval(env Env) bool {
	a, b := c.l.get(env), c.r.get(env)
	if a.k == KindNull || b.k == KindNull {
		switch {
		case b.k != KindNull:
			return nullResult[c.op][0]
		case a.k != KindNull:
			return nullResult[c.op][1]
		}
		return nullResult[c.op][2]
	}
	switch c.op {
	case opEq:
		return compare(a, b) == 0
	case opNe:
		return compare(a, b) != 0
	case opEqFold:
		return equalFold(a, b)
	case opGt:
		return compare(a, b) > 0
	case opGe:
		return compare(a, b) >= 0
	case opLt:
		return compare(a, b) < 0
	case opLe:
		return compare(a, b) <= 0
	case opRegex:
		if a.k == KindString {
			return c.re.MatchString(a.s)
		}
		return c.re.Match(a.Append(nil))
	}
	var abuf, bbuf [32]byte
	s := textOf(a, abuf[:0])
	switch c.op {
	case opStarts:
		return strings.HasPrefix(s, textOf(b, bbuf[:0]))
	case opMatch:
		return globMatch(s, b.s)
	case opNotMatch:
		return !globMatch(s, b.s)
	case opPath:
		return c.path.match(s)
	}
	return false
}

// textOf returns v's text, formatting a non-string into buf (inlined, so
// the conversion stays on the stack).
func textOf(v Value, buf []byte) string {
	if v.k == KindString {
		return v.s
	}
	return string(v.Append(buf))
}

// Tokens.

type tokKind uint8

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tAnd
	tOr
	tNot
	tOp      // a comparison operator (op)
	tName    // a variable name, bare or single-quoted (text)
	tString  // a double-quoted literal (text)
	tLiteral // a number, true, false or null (val)
)

type token struct {
	kind     tokKind
	off, end int // the token's bytes in the source
	op       cmpOp
	text     string
	val      Value
	is       bool // the word "is", which "is not" turns into NotEquals
}

// words are the operator and literal words, matched in any case.
var words = map[string]token{
	"and":                   {kind: tAnd},
	"or":                    {kind: tOr},
	"not":                   {kind: tNot},
	"true":                  {kind: tLiteral, val: BoolValue(true)},
	"false":                 {kind: tLiteral, val: BoolValue(false)},
	"null":                  {kind: tLiteral},
	"equals":                {kind: tOp, op: opEq},
	"is":                    {kind: tOp, op: opEq, is: true},
	"notequals":             {kind: tOp, op: opNe},
	"isnot":                 {kind: tOp, op: opNe},
	"equalscaseinsensitive": {kind: tOp, op: opEqFold},
	"greaterthan":           {kind: tOp, op: opGt},
	"greaterthanorequals":   {kind: tOp, op: opGe},
	"lesserthan":            {kind: tOp, op: opLt},
	"lesserthanorequals":    {kind: tOp, op: opLe},
	"startswith":            {kind: tOp, op: opStarts},
	"matches":               {kind: tOp, op: opMatch},
	"like":                  {kind: tOp, op: opMatch},
	"javaregex":             {kind: tOp, op: opRegex},
	"matchespath":           {kind: tOp, op: opPath},
	"likepath":              {kind: tOp, op: opPath},
}

// symbols are the operator spellings made of punctuation, longest first
// where one is a prefix of another; the HTML entity forms are what the
// Apigee UI writes.
var symbols = []struct {
	s    string
	kind tokKind
	op   cmpOp
}{
	{"&&", tAnd, 0},
	{"||", tOr, 0},
	{"&gt;=", tOp, opGe},
	{"&gt;", tOp, opGt},
	{"&lt;=", tOp, opLe},
	{"&lt;", tOp, opLt},
	{"!=", tOp, opNe},
	{"!~", tOp, opNotMatch},
	{"!", tNot, 0},
	{"==", tOp, opEq},
	{"=|", tOp, opStarts},
	{"=", tOp, opEq},
	{":=", tOp, opEqFold},
	{"~~", tOp, opRegex},
	{"~/", tOp, opPath},
	{"~", tOp, opMatch},
	{">=", tOp, opGe},
	{">", tOp, opGt},
	{"<=", tOp, opLe},
	{"<", tOp, opLt},
	{"(", tLParen, 0},
	{")", tRParen, 0},
}

type parser struct {
	src   string
	pos   int // where the next token starts scanning
	tok   token
	depth int
	vars  []string
}

func (p *parser) errorf(format string, args ...any) *Error {
	return errorAt(p.src, p.tok.off, fmt.Sprintf(format, args...))
}

// tokText describes the current token for a message.
func (p *parser) tokText() string {
	if p.tok.kind == tEOF {
		return "end of condition"
	}
	return strconv.Quote(p.src[p.tok.off:p.tok.end])
}

// next scans the next token into p.tok.
func (p *parser) next() *Error {
	src := p.src
	i := p.pos
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	p.tok = token{off: i, end: i}
	if i == len(src) {
		p.pos = i
		return nil
	}
	c := src[i]
	switch {
	case c == '"' || c == '\'':
		text, end, ok := scanQuoted(src, i)
		if !ok {
			if c == '"' {
				return errorAt(src, i, "unterminated string")
			}
			return errorAt(src, i, "unterminated quoted name")
		}
		p.tok = token{kind: tString, off: i, end: end, text: text}
		if c == '\'' {
			if text == "" {
				return errorAt(src, i, "empty quoted name")
			}
			p.tok.kind = tName
		}
	case '0' <= c && c <= '9' || c == '-' && i+1 < len(src) && '0' <= src[i+1] && src[i+1] <= '9':
		v, end, msg := scanNumber(src, i)
		if msg != "" {
			return errorAt(src, end, msg)
		}
		p.tok = token{kind: tLiteral, off: i, end: end, val: v}
	case isNameStart(c):
		end := scanName(src, i)
		name := src[i:end]
		if w, ok := words[strings.ToLower(name)]; ok {
			p.tok = w
		} else {
			p.tok = token{kind: tName, text: name}
		}
		p.tok.off, p.tok.end = i, end
	default:
		for _, s := range symbols {
			if strings.HasPrefix(src[i:], s.s) {
				p.tok = token{kind: s.kind, op: s.op, off: i, end: i + len(s.s)}
				p.pos = p.tok.end
				return nil
			}
		}
		return errorAt(src, i, "unexpected "+strconv.QuoteRune(firstRune(src[i:])))
	}
	p.pos = p.tok.end
	return nil
}

func (p *parser) parseOr() (cond, *Error) {
	list, err := p.parseJoined(tOr, p.parseAnd)
	if err != nil || len(list) == 1 {
		return list[0], err
	}
	return orCond(list), nil
}

func (p *parser) parseAnd() (cond, *Error) {
	list, err := p.parseJoined(tAnd, p.parseUnary)
	if err != nil || len(list) == 1 {
		return list[0], err
	}
	return andCond(list), nil
}

// parseJoined parses one or more conditions with parse, separated by sep
// tokens.
func (p *parser) parseJoined(sep tokKind, parse func() (cond, *Error)) ([]cond, *Error) {
	var list []cond
	for {
		c, err := parse()
		if err != nil {
			return []cond{nil}, err
		}
		list = append(list, c)
		if p.tok.kind != sep {
			return list, nil
		}
		if err := p.next(); err != nil {
			return []cond{nil}, err
		}
	}
}

// enter counts one level of nesting at the current token.
func (p *parser) enter() *Error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("nested too deeply (more than %d levels)", maxDepth)
	}
	return nil
}

// parseUnary parses a negation or a primary. Not binds tighter than a
// comparison, as in Java: what follows "not" is a parenthesized condition,
// another not, or a single operand, and "not a = b" is an error rather
// than the comparison of (not a) with b.
func (p *parser) parseUnary() (cond, *Error) {
	if p.tok.kind != tNot {
		return p.parsePrimary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	not := p.src[p.tok.off:p.tok.end]
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tNot || p.tok.kind == tLParen {
		c, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	o, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tOp {
		return nil, p.errorf("%s applies to the operand before %s: write %s (a %s b)",
			not, p.tokText(), not, p.src[p.tok.off:p.tok.end])
	}
	return notCond{&truthCond{o}}, nil
}

func (p *parser) parsePrimary() (cond, *Error) {
	if p.tok.kind == tLParen {
		open := p.tok.off
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		if err := p.next(); err != nil {
			return nil, err
		}
		c, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tRParen:
			return c, p.next()
		case tEOF:
			return nil, errorAt(p.src, open, "unclosed (")
		}
		return nil, p.errorf("unexpected %s: expected ), and or or", p.tokText())
	}
	lhs, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tOp {
		return &truthCond{lhs}, nil
	}
	op, opTok := p.tok.op, p.tok
	if err := p.next(); err != nil {
		return nil, err
	}
	if opTok.is && p.tok.kind == tNot { // "is not"
		op = opNe
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	c := &cmpCond{op: op, l: lhs}
	if op.isPattern() {
		if err := p.compilePattern(c, opTok); err != nil {
			return nil, err
		}
	} else if c.r, err = p.parseOperand(); err != nil {
		return nil, err
	}
	if p.tok.kind == tOp {
		return nil, p.errorf("comparisons do not chain: join them with and/or")
	}
	return c, nil
}

// compilePattern reads the right side of a pattern operator, which must
// be a string literal, and compiles it once.
func (p *parser) compilePattern(c *cmpCond, opTok token) *Error {
	if p.tok.kind != tString {
		if p.tok.kind == tEOF {
			return p.errorf("expected a pattern after %s", p.src[opTok.off:opTok.end])
		}
		return p.errorf("the pattern after %s must be a double-quoted string", p.src[opTok.off:opTok.end])
	}
	pat := p.tok.text
	c.r = operand{lit: StringValue(pat)}
	var idx int
	var msg string
	switch c.op {
	case opRegex:
		c.re, idx, msg = compileRegex(pat, true)
	case opPath:
		c.path, idx, msg = compilePath(pat)
	}
	if msg != "" {
		return errorAt(p.src, quotedOffset(p.src, p.tok.off, idx), msg)
	}
	return p.next()
}

// parseOperand reads a variable name or a literal.
func (p *parser) parseOperand() (operand, *Error) {
	var o operand
	switch p.tok.kind {
	case tName:
		o.name = p.tok.text
		p.addVar(o.name)
	case tString:
		o.lit = StringValue(p.tok.text)
	case tLiteral:
		o.lit = p.tok.val
	case tEOF:
		return o, p.errorf("expected a variable or a value, got the end of the condition")
	default:
		return o, p.errorf("expected a variable or a value, got %s", p.tokText())
	}
	return o, p.next()
}

func (p *parser) addVar(name string) {
	for _, v := range p.vars {
		if v == name {
			return
		}
	}
	p.vars = append(p.vars, name)
}
