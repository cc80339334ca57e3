package expr

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzEnvs set the variables the seeds use, with values of every kind, so
// that evaluation reaches every comparison path.
func fuzzEnvs() []MapEnv {
	kinds := []Value{StringValue("/a/b"), IntValue(-3), FloatValue(2.5), BoolValue(true), {}}
	names := []string{"a", "b", "x", "request.verb", "proxy.pathsuffix", "response.status.code", "doc", "t", "p"}
	var envs []MapEnv
	for i := range kinds {
		env := MapEnv{}
		for j, n := range names {
			env[n] = kinds[(i+j)%len(kinds)]
		}
		envs = append(envs, env)
	}
	return append(envs, MapEnv{"doc": StringValue(store), "p": StringValue("$..price"), "t": IntValue(1494390266)})
}

// checkError checks that err is an *Error with a place in src.
func checkError(t *testing.T, src string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %T %v, want *Error", err, err)
	}
	if e.Source != src || e.Offset < 0 || e.Offset > len(src) || e.Msg == "" {
		t.Fatalf("got error %+v for %q, want one with an offset in 0..%d", e, src, len(src))
	}
	if line, col := LineCol(src, e.Offset); line < 1 || col < 1 {
		t.Fatalf("LineCol(%q, %d): got %d:%d", src, e.Offset, line, col)
	}
	_ = e.Error()
}

func FuzzCondition(f *testing.F) {
	for _, c := range hotConditions {
		f.Add(c.cond)
	}
	for _, s := range []string{
		`request.verb = "GET"`,
		`(a = "x" or b != 3.5e2) and not (x ~~ "[a-z]+\\d") && !flow.cachehit`,
		`a ~/ "/*/a/{reader}/**" || b =| "x" or a !~ "%*?"`,
		`'request.header.help!me' := "YES"`,
		`a is not null`, `a &gt;= 5L`, `a &lt; 1.5f`, `a LesserThanOrEquals b`,
		`not not not a`, `((((a))))`, `a = "\"\\"`, `a ~~ "(?=x)"`, `a = -12`,
		strings.Repeat("(", 120), strings.Repeat("not ", 120) + "a",
		"", " ", "(", ")", `"`, `'`, "a = ", "= a", "a b", "a & b", "a\n=\nb",
	} {
		f.Add(s)
	}
	envs := fuzzEnvs()
	f.Fuzz(func(t *testing.T, src string) {
		c, err := CompileCondition(src)
		if err != nil {
			if c != nil {
				t.Fatalf("got a condition and an error for %q", src)
			}
			checkError(t, src, err)
			return
		}
		if c.String() != src {
			t.Fatalf("String(): got %q, want %q", c.String(), src)
		}
		for _, name := range c.Vars() {
			if name == "" {
				t.Fatalf("Vars of %q: got an empty name", src)
			}
		}
		for _, env := range envs {
			c.Eval(env)
		}
	})
}

func FuzzTemplate(f *testing.F) {
	for _, c := range hotTemplates {
		f.Add(c.tmpl)
	}
	for _, s := range []string{
		`Hello {user.name:nobody}, {toLowerCase(a:X)} \{literal\}`,
		`{substring(a,-4,b)}{replaceAll(a,'(\w)','$1${x}\$')}{firstnonnull(x,b,'f',1,true,null)}`,
		`{jsonPath(p,doc,true)}{jsonPath('$..[?(@.price < 10 && @.x)]',doc)}`,
		`{timeFormatUTCMs('yyyy-MM-dd\'T\'HH:mm:ss.SSS',t)}{timeFormat(a,t)}`,
		`{hmacSha256(a,b,'hex','base64')}{sha512Base64(a)}{encodeBase64(a)}{decodeBase64(a)}`,
		`{escapeJSON(a)}{escapeXML(a)}{escapeXML11(a)}{encodeHTML(a)}{createUuid()}{randomLong(1,3)}`,
		`{"a":{"b":[{}]}}`, `{{a}}`, `{a}}`, `{`, `}`, `{a`, `{a:`, `{f(`, `{substring(`, `\`, `\{`,
	} {
		f.Add(s)
	}
	envs := fuzzEnvs()
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := CompileTemplate(src)
		if err != nil {
			if tm != nil {
				t.Fatalf("got a template and an error for %q", src)
			}
			checkError(t, src, err)
			return
		}
		text, konst := tm.Constant()
		for _, env := range envs {
			out := tm.Append(nil, env)
			if konst && string(out) != text {
				t.Fatalf("constant %q: Append got %q, want %q", src, out, text)
			}
		}
		if konst && !strings.Contains(src, `\`) && text != src {
			t.Fatalf("constant %q without escapes: got text %q, want the source", src, text)
		}
	})
}

// FuzzJSONPath checks the JSON parser and the JSONPath compiler and
// evaluator: no input panics, parseJSON agrees with encoding/json on
// validity, and a value selected renders without panicking.
func FuzzJSONPath(f *testing.F) {
	f.Add("$.store.book[?(@.price < 10)].title", store)
	f.Add("$..*", `[1,[2,[3,{"a":[4]}]]]`)
	f.Add("$['a','b'][0:2]", `{"a":[1,2,3],"b":"x\u00e9\"\\"}`)
	f.Add("a.b", `{"a":{"b":null}}`)
	f.Add("$[-1:]", `[true,false,null,-0.5e-3]`)
	f.Fuzz(func(t *testing.T, path, doc string) {
		if _, ok := parseJSON(doc); ok != json.Valid([]byte(doc)) && utf8.ValidString(doc) &&
			strings.Count(doc, "[")+strings.Count(doc, "{") < maxJSONDepth {
			t.Fatalf("parseJSON(%q): got ok %v, want %v", doc, ok, !ok)
		}
		jp, idx, msg := compileJSONPath(path)
		if msg != "" {
			if idx < 0 || idx > len(path) {
				t.Fatalf("compileJSONPath(%q): got index %d", path, idx)
			}
			return
		}
		if n, ok := parseJSON(doc); ok {
			for _, r := range jp.eval(n) {
				r.appendText(nil)
			}
		}
	})
}

func FuzzTimeLayout(f *testing.F) {
	f.Add("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", int64(1494390266123))
	f.Add("EEEE, d MMMM yy h:mm a z Z X G u D k K ''", int64(-1))
	f.Add("'unclosed", int64(0))
	f.Fuzz(func(t *testing.T, layout string, ms int64) {
		l, idx, msg := compileTimeLayout(layout)
		if msg != "" {
			if idx < 0 || idx >= len(layout) {
				t.Fatalf("compileTimeLayout(%q): got index %d", layout, idx)
			}
			return
		}
		l.append(nil, ms)
	})
}
