package expr

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// Sources of the cases below (Apigee's documentation):
//
//	[CR] Conditions reference:
//	     https://cloud.google.com/apigee/docs/api-platform/reference/conditions-reference
//	[PM] Pattern matching with conditionals:
//	     https://cloud.google.com/apigee/docs/api-platform/fundamentals/pattern-matching-conditional-statements
//	[FV] Conditions with flow variables:
//	     https://cloud.google.com/apigee/docs/api-platform/fundamentals/flow-variables-and-conditions
//	[11] the weir issue that asks for this language (its example condition).

// baseEnv is the request the cases are evaluated against; a case's vars
// replace or add variables (a null Value removes one).
func baseEnv() MapEnv {
	return MapEnv{
		"request.verb":                StringValue("GET"),
		"request.path":                StringValue("/v1/statuses/user_timeline.json"),
		"proxy.pathsuffix":            StringValue("/statuses"),
		"request.header.accept":       StringValue("application/json"),
		"request.header.Content-Type": StringValue("text/xml"),
		"request.header.x-tier":       StringValue("silver"),
		"request.header.help!me":      StringValue("yes"),
		"response.status.code":        IntValue(503),
		"flow.cachehit":               BoolValue(true),
		"ratelimit.q1.remaining":      IntValue(7),
		"client.latency":              FloatValue(12.5),
	}
}

func envWith(vars MapEnv) MapEnv {
	env := baseEnv()
	maps.Copy(env, vars)
	for k, v := range env {
		if v.IsNull() {
			delete(env, k)
		}
	}
	return env
}

func path(p string) MapEnv { return MapEnv{"proxy.pathsuffix": StringValue(p)} }

// condCase is a condition and whether it holds for baseEnv with vars.
type condCase struct {
	name string
	cond string
	vars MapEnv
	want bool
}

func runConditions(t *testing.T, tests []condCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CompileCondition(tt.cond)
			if err != nil {
				t.Fatalf("CompileCondition(%q): %v", tt.cond, err)
			}
			if got := c.Eval(envWith(tt.vars)); got != tt.want {
				t.Errorf("%s: got %v, want %v", tt.cond, got, tt.want)
			}
		})
	}
}

// wantError checks that err is an *Error for src at offset with a message
// holding msg.
func wantError(t *testing.T, src string, err error, offset int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("compiling %q: got no error, want one", src)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %T %v, want *Error", err, err)
	}
	if e.Offset != offset || !strings.Contains(e.Msg, msg) || e.Source != src {
		t.Errorf("compiling %q: got offset %d %q, want offset %d and a message with %q", src, e.Offset, e.Msg, offset, msg)
	}
}

func TestConditionApigeeDocs(t *testing.T) {
	tests := []condCase{
		// [CR] Structure of conditional statements; policy and flow execution.
		{"CR verb equals", `request.verb = "GET"`, nil, true},
		{"CR verb differs", `request.verb = "GET"`, MapEnv{"request.verb": StringValue("POST")}, false},
		{"CR path and verb", `(proxy.pathsuffix MatchesPath "/statuses") and (request.verb = "GET")`, nil, true},
		{"CR path and other verb", `(proxy.pathsuffix MatchesPath "/statuses") and (request.verb = "GET")`,
			MapEnv{"request.verb": StringValue("POST")}, false},
		{"CR accept header", `request.header.accept = "application/json"`, nil, true},
		{"CR request.path MatchesPath /statuses/**", `request.path MatchesPath "/v1/statuses/**"`, nil, true},
		{"CR status 503 or 400", `(response.status.code = 503) or (response.status.code = 400)`, nil, true},
		{"CR status neither", `(response.status.code = 503) or (response.status.code = 400)`,
			MapEnv{"response.status.code": IntValue(200)}, false},
		{"CR route rule on Content-Type", `request.header.Content-Type = "text/xml"`, nil, true},
		// [CR] Operators: every symbol and word (words in any case).
		{"CR Not", `Not (request.verb = "POST")`, nil, true},
		{"CR not", `not (request.verb = "GET")`, nil, false},
		{"CR !", `!(request.verb = "GET")`, nil, false},
		{"CR == ", `request.verb == "GET"`, nil, true},
		{"CR Equals", `request.verb Equals "GET"`, nil, true},
		{"CR Is", `request.verb Is "GET"`, nil, true},
		{"CR equals is case sensitive", `request.verb = "get"`, nil, false},
		{"CR !=", `request.verb != "POST"`, nil, true},
		{"CR NotEquals", `request.verb NotEquals "GET"`, nil, false},
		{"CR IsNot", `request.verb IsNot "POST"`, nil, true},
		{"CR :=", `request.verb := "get"`, nil, true},
		{"CR EqualsCaseInsensitive", `request.header.accept EqualsCaseInsensitive "Application/JSON"`, nil, true},
		{"CR >", `response.status.code > 500`, nil, true},
		{"CR &gt;", `response.status.code &gt; 503`, nil, false},
		{"CR GreaterThan", `ratelimit.q1.remaining GreaterThan 6`, nil, true},
		{"CR >=", `response.status.code >= 503`, nil, true},
		{"CR &gt;=", `response.status.code &gt;= 504`, nil, false},
		{"CR GreaterThanOrEquals", `ratelimit.q1.remaining GreaterThanOrEquals 7`, nil, true},
		{"CR <", `ratelimit.q1.remaining < 10`, nil, true},
		{"CR &lt;", `ratelimit.q1.remaining &lt; 7`, nil, false},
		{"CR LesserThan", `response.status.code LesserThan 400`, nil, false},
		{"CR <=", `ratelimit.q1.remaining <= 7`, nil, true},
		{"CR &lt;=", `ratelimit.q1.remaining &lt;= 6`, nil, false},
		{"CR LesserThanOrEquals", `response.status.code LesserThanOrEquals 503`, nil, true},
		{"CR &&", `request.verb = "GET" && response.status.code = 503`, nil, true},
		{"CR And", `request.verb = "GET" And response.status.code = 400`, nil, false},
		{"CR ||", `request.verb = "PUT" || response.status.code = 503`, nil, true},
		{"CR OR", `request.verb = "PUT" OR response.status.code = 400`, nil, false},
		{"CR ~~", `proxy.pathsuffix ~~ "/stat.*"`, nil, true},
		{"CR JavaRegex case sensitive", `proxy.pathsuffix JavaRegex "/STAT.*"`, nil, false},
		{"CR ~", `proxy.pathsuffix ~ "/stat*"`, nil, true},
		{"CR Like", `proxy.pathsuffix Like "/STAT*"`, nil, false},
		{"CR ~/", `proxy.pathsuffix ~/ "/*"`, nil, true},
		{"CR LikePath", `proxy.pathsuffix LikePath "/*/*"`, nil, false},
		{"CR =|", `request.header.accept =| "application/"`, nil, true},
		{"CR StartsWith case sensitive", `request.header.accept StartsWith "Application"`, nil, false},
		{"CR quoted name with an operator character", `'request.header.help!me' = "yes"`, nil, true},
		// [CR] Operands: adapted to a common type.
		{"CR status = \"503\" as a string", `response.status.code = "503"`, nil, true},
		{"CR status = 503 as an integer", `response.status.code = 503`, nil, true},
		{"CR status = \"400\"", `response.status.code = "400"`, nil, false},
		{"CR long suffix", `response.status.code = 503L`, nil, true},
		{"CR float suffix", `client.latency = 12.5f`, nil, true},
		{"CR integer against double", `response.status.code = 503.0d`, nil, true},
		{"CR integer and string compare as strings", `response.status.code > "6"`, nil, false},
		{"CR boolean and string compare as strings", `flow.cachehit = "true"`, nil, true},
		// [CR] Literals.
		{"CR is null, unset", `request.header.host is null`, nil, true},
		{"CR is null, set", `request.header.accept is null`, nil, false},
		{"CR is true", `flow.cachehit is true`, nil, true},
		{"CR is not null", `request.header.accept is not null`, nil, true},
		{"CR = null", `request.header.x = null`, nil, true},
		{"CR != null", `request.header.x != null`, nil, false},
		// [CR] Null operands: the documented table, LHS null / RHS null / both.
		{"CR null = : lhs", `request.header.x = "a"`, nil, false},
		{"CR null = : rhs", `request.verb = request.header.x`, nil, false},
		{"CR null = : both", `request.header.x = request.header.y`, nil, true},
		{"CR null := : both", `request.header.x := request.header.y`, nil, true},
		{"CR null =| : lhs", `request.header.x =| "a"`, nil, false},
		{"CR null =| : both", `request.header.x =| request.header.y`, nil, false},
		{"CR null != : lhs", `request.header.x != "a"`, nil, true},
		{"CR null != : rhs", `request.verb != request.header.x`, nil, true},
		{"CR null != : both", `request.header.x != request.header.y`, nil, false},
		{"CR null > : lhs", `request.header.x > 5`, nil, true},
		{"CR null > : rhs", `response.status.code > request.header.x`, nil, false},
		{"CR null > : both", `request.header.x > request.header.y`, nil, false},
		{"CR null >= : lhs", `request.header.x >= 5`, nil, false},
		{"CR null >= : rhs", `response.status.code >= request.header.x`, nil, true},
		{"CR null >= : both", `request.header.x >= request.header.y`, nil, true},
		{"CR null < : lhs", `request.header.x < 5`, nil, true},
		{"CR null < : rhs", `response.status.code < request.header.x`, nil, false},
		{"CR null <= : lhs", `request.header.x <= 5`, nil, true},
		{"CR null <= : both", `request.header.x <= request.header.y`, nil, true},
		{"CR null ~ : lhs", `request.header.x ~ "*"`, nil, false},
		{"CR null ~~ : lhs", `request.header.x ~~ ".*"`, nil, false},
		{"CR null !~ : lhs", `request.header.x !~ "a*"`, nil, true},
		{"CR null ~/ : lhs", `request.header.x ~/ "/**"`, nil, false},
		// [CR] Path expressions table.
		{"CR /*/a/", `proxy.pathsuffix MatchesPath "/*/a/"`, path("/x/a/"), true},
		{"CR /*/a/*", `proxy.pathsuffix MatchesPath "/*/a/*"`, path("/y/a/foo"), true},
		{"CR /*/a/**", `proxy.pathsuffix MatchesPath "/*/a/**"`, path("/x/a/b/c/d"), true},
		{"CR /*/a/{reader}/feed/", `proxy.pathsuffix MatchesPath "/*/a/{reader}/feed/"`, path("/y/a/foo/feed/"), true},
		{"CR /a/**/feed/**", `proxy.pathsuffix MatchesPath "/a/**/feed/**"`, path("/a/b/feed/rss/1234"), true},
		{"CR %{user%} matches {user}", `proxy.pathsuffix MatchesPath "%{user%}"`, path("{user}"), true},
		{"CR %{user%} not user", `proxy.pathsuffix MatchesPath "%{user%}"`, path("user"), false},
		// [PM] Matches: literal, or * for any run of characters.
		{"PM Matches /cat", `proxy.pathsuffix Matches "/cat"`, path("/cat"), true},
		{"PM Matches /cat not /cat/", `proxy.pathsuffix Matches "/cat"`, path("/cat/"), false},
		{"PM Matches /cat is case sensitive", `proxy.pathsuffix Matches "/cat"`, path("/Cat"), false},
		{"PM Matches /*at bat", `proxy.pathsuffix Matches "/*at"`, path("/bat"), true},
		{"PM Matches /*at not dog", `proxy.pathsuffix Matches "/*at"`, path("/dog"), false},
		{"PM Matches /cat* crosses /", `proxy.pathsuffix Matches "/cat*"`, path("/cat/bobcat"), true},
		{"PM Matches /c%*at literal star", `proxy.pathsuffix Matches "/c%*at"`, path("/c*at"), true},
		{"PM Matches /c%*at not cat", `proxy.pathsuffix ~ "/c%*at"`, path("/cat"), false},
		// [PM] JavaRegex: the whole string must match.
		{"PM JavaRegex /cat", `proxy.pathsuffix JavaRegex "/cat"`, path("/cat"), true},
		{"PM JavaRegex /cat not /cat/", `proxy.pathsuffix JavaRegex "/cat"`, path("/cat/"), false},
		{"PM JavaRegex /c*t not cat", `proxy.pathsuffix JavaRegex "/c*t"`, path("/cat"), false},
		{"PM JavaRegex /c*t ccct", `proxy.pathsuffix JavaRegex "/c*t"`, path("/ccct"), true},
		{"PM JavaRegex /ca?t ct", `proxy.pathsuffix JavaRegex "/ca?t"`, path("/ct"), true},
		{"PM JavaRegex /ca?t not caat", `proxy.pathsuffix JavaRegex "/ca?t"`, path("/caat"), false},
		{"PM JavaRegex /[cbr]at rat", `proxy.pathsuffix ~~ "/[cbr]at"`, path("/rat"), true},
		{"PM JavaRegex /[cbr]at not fat", `proxy.pathsuffix ~~ "/[cbr]at"`, path("/fat"), false},
		// [PM] MatchesPath: * one element, ** any number.
		{"PM MatchesPath /animals/* one", `proxy.pathsuffix MatchesPath "/animals/*"`, path("/animals/cat"), true},
		{"PM MatchesPath /animals/* not two", `proxy.pathsuffix MatchesPath "/animals/*"`, path("/animals/cat/wild"), false},
		{"PM MatchesPath /animals/** two", `proxy.pathsuffix MatchesPath "/animals/**"`, path("/animals/cat/wild"), true},
		{"PM MatchesPath /animals/*/wild/**", `proxy.pathsuffix ~/ "/animals/*/wild/**"`, path("/animals/bobcat/wild/african"), true},
		{"PM MatchesPath /animals/*/wild/** tame", `proxy.pathsuffix LikePath "/animals/*/wild/**"`, path("/animals/bobcat/tame"), false},
		// [FV] Conditions with flow variables.
		{"FV verb equals word form", `request.verb equals "GET"`, nil, true},
		{"FV notequals", `request.verb notequals "GET"`, nil, false},
		{"FV greaterthan", `response.status.code greaterthan 499`, nil, true},
		// [11] the example, both ways.
		{"11 post to orders", `request.verb = "POST" and (proxy.pathsuffix MatchesPath "/orders/**" or request.header.x-tier == "gold")`,
			MapEnv{"request.verb": StringValue("POST"), "proxy.pathsuffix": StringValue("/orders/17/lines")}, true},
		{"11 gold tier elsewhere", `request.verb = "POST" and (proxy.pathsuffix MatchesPath "/orders/**" or request.header.x-tier == "gold")`,
			MapEnv{"request.verb": StringValue("POST"), "request.header.x-tier": StringValue("gold")}, true},
		{"11 silver tier elsewhere", `request.verb = "POST" and (proxy.pathsuffix MatchesPath "/orders/**" or request.header.x-tier == "gold")`,
			MapEnv{"request.verb": StringValue("POST")}, false},
		{"11 no deletes unless admin", `request.verb = "DELETE" and not (request.header.x-admin = "yes")`,
			MapEnv{"request.verb": StringValue("DELETE")}, true},
	}
	if len(tests) < 40 {
		t.Fatalf("got %d cases, want at least 40", len(tests))
	}
	runConditions(t, tests)
}

// TestConditionSemantics covers weir's decisions where Apigee's reference
// is silent.
func TestConditionSemantics(t *testing.T) {
	tests := []condCase{
		{"bare bool true", `flow.cachehit`, nil, true},
		{"bare bool false", `flow.cachehit`, MapEnv{"flow.cachehit": BoolValue(false)}, false},
		{"bare text TRUE", `x`, MapEnv{"x": StringValue("TRUE")}, true},
		{"bare text yes", `x`, MapEnv{"x": StringValue("yes")}, false},
		{"bare empty", `x`, MapEnv{"x": StringValue("")}, false},
		{"bare integer", `response.status.code`, nil, false},
		{"bare unset", `x`, nil, false},
		{"not bare unset", `not x`, nil, true},
		{"! bare", `!flow.cachehit`, nil, false},
		{"literal true", `true`, nil, true},
		{"literal false", `FALSE`, nil, false},
		{"and binds tighter than or", `request.verb = "POST" and request.verb = "PUT" or request.verb = "GET"`, nil, true},
		{"or under and", `request.verb = "GET" or request.verb = "PUT" and request.verb = "POST"`, nil, true},
		{"parentheses win", `(request.verb = "GET" or request.verb = "PUT") and request.verb = "POST"`, nil, false},
		{"double not", `not not (request.verb = "GET")`, nil, true},
		{"no spaces around an operator", `request.verb="GET"&&response.status.code>=500`, nil, true},
		{"literal on the left", `"GET" = request.verb`, nil, true},
		{"variable on the right", `request.verb = request.verb`, nil, true},
		{"escaped quote", `x = "say \"hi\""`, MapEnv{"x": StringValue(`say "hi"`)}, true},
		{"backslash kept for regex", `x ~~ "\d+"`, MapEnv{"x": StringValue("123")}, true},
		{"escaped backslash", `x = "a\\b"`, MapEnv{"x": StringValue(`a\b`)}, true},
		{"negative number", `x > -5`, MapEnv{"x": IntValue(-2)}, true},
		{"float against int", `client.latency > 12`, nil, true},
		{"exponent", `x = 1.5e3`, MapEnv{"x": IntValue(1500)}, true},
		{"float as text", `x = "1.0"`, MapEnv{"x": FloatValue(1)}, true},
		{"bool and int", `flow.cachehit = 1`, nil, true},
		{"int against regex", `response.status.code ~~ "5\d\d"`, nil, true},
		{"int against glob", `response.status.code ~ "5*"`, nil, true},
		{"int starts with", `response.status.code =| "50"`, nil, true},
		{"!~ not matches", `proxy.pathsuffix !~ "/o*"`, nil, true},
		{"? one character in Matches", `proxy.pathsuffix ~ "/status?s"`, path("/status_s"), true},
		{"? one rune in Matches", `proxy.pathsuffix ~ "/?"`, path("/é"), true},
		{"? is literal in MatchesPath", `proxy.pathsuffix ~/ "/a?"`, path("/ab"), false},
		{"* within an element", `proxy.pathsuffix ~/ "/v*/users"`, path("/v2/users"), true},
		{"* within an element stops at /", `proxy.pathsuffix ~/ "/v*/users"`, path("/v2/x/users"), false},
		{"/items/* matches an empty element", `proxy.pathsuffix ~/ "/items/*"`, path("/items/"), true},
		{"/items/** matches /items", `proxy.pathsuffix ~/ "/items/**"`, path("/items"), true},
		{"** at the start", `proxy.pathsuffix ~/ "**/feed"`, path("/a/b/feed"), true},
		{"trailing slash differs", `proxy.pathsuffix ~/ "/statuses"`, path("/statuses/"), false},
		{"regex multiline anchors", `x ~~ "a"`, MapEnv{"x": StringValue("a\n")}, false},
		{"regex alternation is anchored", `x ~~ "a|b"`, MapEnv{"x": StringValue("ab")}, false},
	}
	runConditions(t, tests)
}

func TestConditionErrors(t *testing.T) {
	deep := strings.Repeat("(", maxDepth+5) + "a" + strings.Repeat(")", maxDepth+5)
	tests := []struct {
		name   string
		cond   string
		offset int
		msg    string // a part of the message
	}{
		{"empty", "   ", 3, "empty condition"},
		{"missing right side", `request.verb = `, 15, "end of the condition"},
		{"unclosed paren", `(request.verb = "GET"`, 0, "unclosed ("},
		{"unmatched paren", `request.verb = "GET")`, 20, "unmatched )"},
		{"missing operator", `request.verb "GET"`, 13, "expected an operator"},
		{"unknown operator word", `request.verb contains "G"`, 13, `unknown operator "contains"`},
		{"unknown symbol", `request.verb # "GET"`, 13, `unexpected '#'`},
		{"lone &", `a & b`, 2, `unexpected '&'`},
		{"unterminated string", `request.verb = "GET`, 15, "unterminated string"},
		{"unterminated quoted name", `'request.verb = "GET"`, 0, "unterminated quoted name"},
		{"empty quoted name", `'' = "x"`, 0, "empty quoted name"},
		{"dangling and", `request.verb = "GET" and`, 24, "end of the condition"},
		{"operator first", `= "GET"`, 0, "expected a variable or a value"},
		{"not before a comparison", `not request.verb = "GET"`, 17, "write not (a = b)"},
		{"chained comparison", `a = b = c`, 6, "do not chain"},
		{"pattern from a variable", `a ~ b`, 4, "must be a double-quoted string"},
		{"pattern missing", `a ~~`, 4, "expected a pattern"},
		{"Java lookahead", `a ~~ "x(?=y)"`, 7, "lookahead"},
		{"Java lookbehind", `a ~~ "(?<=y)x"`, 6, "lookbehind"},
		{"Java possessive", `a ~~ "x*+"`, 7, "possessive"},
		{"Java backreference", `a ~~ "(x)\1"`, 9, "backreference"},
		{"Java atomic group", `a JavaRegex "(?>x)"`, 13, "atomic group"},
		{"Java class intersection", `a ~~ "[a-z&&[def]]"`, 10, "intersection"},
		{"regex unexpected paren", `a ~~ "ab)"`, 8, "unexpected )"},
		{"regex offset after an escape", `a ~~ "\"x\"(?=y)"`, 11, "lookahead"},
		{"unclosed brace in a path", `a ~/ "/users/{id"`, 13, "unclosed {"},
		{"number then letters", `a = 12abc`, 6, "in a number"},
		{"long with a fraction", `a = 1.5L`, 7, "long"},
		{"integer out of range", `a = 99999999999999999999`, 4, "out of range"},
		{"nested too deeply", deep, maxDepth, "nested too deeply"},
		{"not too deeply", strings.Repeat("not ", maxDepth+1) + "a", 4 * maxDepth, "nested too deeply"},
		{"second line", "request.verb = \"GET\"\n and )", 26, "expected a variable or a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileCondition(tt.cond)
			wantError(t, tt.cond, err, tt.offset, tt.msg)
		})
	}
}

func TestConditionVars(t *testing.T) {
	c, err := CompileCondition(`a.b = "x" and ('c!d' ~ "y*" or a.b = e-f) and not g_h and "lit" = 1`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Vars(), []string{"a.b", "c!d", "e-f", "g_h"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Vars: got %q, want %q", got, want)
	}
	if got, want := c.String(), `a.b = "x" and ('c!d' ~ "y*" or a.b = e-f) and not g_h and "lit" = 1`; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}

func TestErrorPosition(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		offset    int
		line, col int
		text      string
	}{
		{"start", "abc", 0, 1, 1, "column 1: m"},
		{"middle", "abc", 2, 1, 3, "column 3: m"},
		{"end", "abc", 3, 1, 4, "column 4: m"},
		{"past the end", "abc", 9, 1, 4, "column 4: m"},
		{"second line", "ab\ncd", 4, 2, 2, "line 2, column 2: m"},
		{"first line of two", "ab\ncd", 1, 1, 2, "line 1, column 2: m"},
		{"runes not bytes", "é = x", 3, 1, 3, "column 3: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, col := LineCol(tt.src, tt.offset)
			if line != tt.line || col != tt.col {
				t.Errorf("LineCol(%q, %d): got %d:%d, want %d:%d", tt.src, tt.offset, line, col, tt.line, tt.col)
			}
			if got := (&Error{Source: tt.src, Offset: tt.offset, Msg: "m"}).Error(); got != tt.text {
				t.Errorf("Error(): got %q, want %q", got, tt.text)
			}
		})
	}
}
