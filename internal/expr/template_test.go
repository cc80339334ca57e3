package expr

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Sources: [MT] Apigee's "Message templates" reference,
// https://cloud.google.com/apigee/docs/api-platform/reference/message-template-intro
// (the function examples and tables are its own), and [11] the weir issue.

func templateEnv() MapEnv {
	return MapEnv{
		"user.name":               StringValue("JDoe"),
		"client.ip":               StringValue("10.0.0.7"),
		"response.status.code":    IntValue(503),
		"flow.cachehit":           BoolValue(true),
		"ratio":                   FloatValue(0.5),
		"str":                     StringValue("abc"),
		"value":                   StringValue("abc"),
		"encoded":                 StringValue("aGVsbG8sIHdvcmxk"),
		"alpha":                   StringValue("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
		"badre":                   StringValue("a("),
		"seven":                   StringValue("7"),
		"header":                  StringValue("Bearer ABCDEFGHIJKLMNOPQRSTUVWXYZ-9993"),
		"regex1":                  StringValue("^Bearer "),
		"replacement":             StringValue("TOKEN: "),
		"standard.systemMessage":  StringValue(`Invalid value for "logonId" check your input.`),
		"food":                    StringValue(`"bread" & "butter"`),
		"epoch_time":              StringValue("1494390266"),
		"epoch_time_ms":           IntValue(1494390266000),
		"fmt1":                    StringValue("yyyy-MM-dd"),
		"fmt2":                    StringValue("yyyy-MM-dd HH-mm-ss"),
		"fmt3":                    StringValue("yyyyMMddHHmmss"),
		"private.secretkey":       StringValue("Jefe"),
		"valueToSign":             StringValue("what do ya want for nothing?"),
		"var2":                    StringValue("bar"),
		"var3":                    StringValue("baz"),
		"empty":                   StringValue(""),
		"the_query":               StringValue(`$.config.quota[?(@.operation=="ManageOrder")].appname`),
		"the_json_variable":       StringValue(maeWest),
		"quota_json":              StringValue(quotaConfig),
		"request.queryparam.page": StringValue("2"),
	}
}

const maeWest = `{"results":[
  {"address":{"line1":"18250 142ND AV NE","city":"Woodinville","state":"Washington","zip":"98072"},"name":"Fred Meyer"},
  {"address":{"line1":"1060 West Addison Street","city":"Chicago","state":"Illinois","zip":"60613"},"name":"Mae West"}]}`

const quotaConfig = `{"config":{"quota":[
  {"appname":"A","operation":"ManageOrder","value":"900"},
  {"appname":"B","operation":"ManageOrder","value":"1000"},
  {"appname":"B","operation":"SubmitOrder","value":"800"}]}}`

func TestTemplateRender(t *testing.T) {
	tests := []struct {
		name string
		tmpl string
		want string
	}{
		{"MT variable in a JSON payload", `{"name":"Alert", "message":"You entered an invalid username: {user.name}"}`,
			`{"name":"Alert", "message":"You entered an invalid username: JDoe"}`},
		{"MT unresolved is empty", `id={request.header.id}.`, "id=."},
		{"MT default", `Test message. id = {request.header.id:Unknown}`, "Test message. id = Unknown"},
		{"MT default unused when set", `{user.name:Unknown}`, "JDoe"},
		{"MT URL with defaults", `{protocol:https}://{site:google.com}/path`, "https://google.com/path"},
		{"MT default with colons", `{t:12:00:01}`, "12:00:01"},
		{"MT empty default", `[{nothing:}]`, "[]"},
		{"11 JSON body", `{"error":"no deletes for {client.ip}"}`, `{"error":"no deletes for 10.0.0.7"}`},
		{"nested JSON", `{"a":{"b":[{"c":"{user.name}"}]},"d":{}}`, `{"a":{"b":[{"c":"JDoe"}]},"d":{}}`},
		{"integer", `status {response.status.code}`, "status 503"},
		{"bool and float", `{flow.cachehit} {ratio}`, "true 0.5"},
		{"escaped braces", `\{user.name\} is {user.name}`, "{user.name} is JDoe"},
		{"double braces are a literal pair around a reference", `{{user.name}}`, "{JDoe}"},
		{"brace then space is literal", `{ user.name }`, "{ user.name }"},
		{"other backslashes are literal", `a\b\n{user.name}`, `a\b\nJDoe`},
		{"adjacent references", `{user.name}{user.name}.{client.ip}`, "JDoeJDoe.10.0.0.7"},
		{"multi-line", "line1\n{user.name}\nline3", "line1\nJDoe\nline3"},
		// [MT] Hash functions.
		{"MT sha256Hex literal", `{sha256Hex('abc')}`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"MT sha256Hex variable", `{sha256Hex(str)}`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"MT sha256Base64", `{sha256Base64('abc')}`, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="},
		{"md5Hex", `{md5Hex('abc')}`, "900150983cd24fb0d6963f7d28e17f72"},
		{"sha1Hex", `{sha1Hex('abc')}`, "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"sha512Hex", `{sha512Hex('abc')}`, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		{"sha384Base64", `{sha384Base64('')}`, "OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb"},
		// [MT] Base64.
		{"MT encodeBase64", `{encodeBase64(value)}`, "YWJj"},
		{"MT decodeBase64", `{decodeBase64(encoded)}`, "hello, world"},
		{"MT decodeBase64 literal", `Hello, {decodeBase64('d29ybGQK')}`, "Hello, world\n"},
		{"decodeBase64 without padding", `{decodeBase64('YWI')}`, "ab"},
		{"MT decodeBase64 of Base64URL is empty", `[{decodeBase64('-_-_')}]`, "[]"},
		// [MT] Case conversion.
		{"MT toLowerCase", `Hello, {toLowerCase(user.name)}`, "Hello, jdoe"},
		{"MT toLowerCase of a default", `Test header: {toLowerCase(foo.bar:FOO)}`, "Test header: foo"},
		{"toUpperCase", `{toUpperCase(user.name)}`, "JDOE"},
		// [MT] Substring.
		{"MT substring from 22", `{substring(alpha,22)}`, "WXYZ"},
		{"MT substring in text", `hello {substring(alpha,22)}`, "hello WXYZ"},
		{"MT substring negative", `{substring(alpha,-4)}`, "WXYZ"},
		{"MT substring both negative", `{substring(alpha,-8,-4)}`, "STUV"},
		{"MT substring 0 to 10", `{substring(alpha,0,10)}`, "ABCDEFGHIJ"},
		{"MT substring end from a variable", `{substring(alpha,0,seven)}`, "ABCDEFG"},
		{"substring clamped", `{substring(alpha,20,99)}`, "UVWXYZ"},
		{"substring counts characters", `{substring('héllo',1,3)}`, "él"},
		{"substring empty range", `[{substring(alpha,5,2)}]`, "[]"},
		{"substring bad index", `[{substring(alpha,'x')}]`, "[]"},
		// [MT] Replace.
		{"MT replaceAll literal", `{replaceAll(header,'9993','')}`, "Bearer ABCDEFGHIJKLMNOPQRSTUVWXYZ-"},
		{"MT replaceAll regex variable", `{replaceAll(header,regex1,'')}`, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-9993"},
		{"MT replaceAll all variables", `{replaceAll(header,regex1,replacement)}`, "TOKEN: ABCDEFGHIJKLMNOPQRSTUVWXYZ-9993"},
		{"MT replaceAll is case sensitive", `{replaceAll('BEARER: 1234','^Bearer ','TOKEN:')}`, "BEARER: 1234"},
		{"replaceAll every match", `{replaceAll('a-b-c','-','+')}`, "a+b+c"},
		{"replaceFirst", `{replaceFirst('a-b-c','-','+')}`, "a+b-c"},
		{"replaceAll Java groups", `{replaceAll('2024-05-01','(\d+)-(\d+)-(\d+)','$3/$2/$1')}`, "01/05/2024"},
		{"replaceAll named group", `{replaceAll('ab','(?<x>b)','[${x}]')}`, "a[b]"},
		{"replaceAll escaped dollar", `{replaceAll('ab','b','\$1')}`, "a$1"},
		{"replaceAll group 1 then a digit", `{replaceAll('ab','(b)','$10')}`, "ab0"},
		{"replaceAll bad regex variable", `[{replaceAll(header,badre,'x')}]`, "[]"},
		// [MT] Escapes.
		{"MT escapeJSON", `{"systemMessage": "{escapeJSON(standard.systemMessage)}"}`,
			`{"systemMessage": "Invalid value for \"logonId\" check your input."}`},
		{"escapeJSON controls", `{escapeJSON(x:a\b)}`, `a\\b`},
		{"MT escapeXML", `{escapeXML(food)}`, "&quot;bread&quot; &amp; &quot;butter&quot;"},
		{"MT encodeHTML", `{encodeHTML(food)}`, "&quot;bread&quot; &amp; &quot;butter&quot;"},
		{"encodeHTML apostrophe and brackets", `{encodeHTML('<it\'s>')}`, "&lt;it&#39;s&gt;"},
		// [MT] Time formats (in UTC).
		{"MT timeFormatUTC fmt1", `{timeFormatUTC(fmt1,epoch_time)}`, "2017-05-10"},
		// The reference prints 04:24:26 for fmt2, whose separators are dashes.
		{"MT timeFormatUTC fmt2", `{timeFormatUTC(fmt2,epoch_time)}`, "2017-05-10 04-24-26"},
		{"MT timeFormatUTC fmt3", `{timeFormatUTC(fmt3,epoch_time)}`, "20170510042426"},
		{"timeFormatMs is UTC too", `{timeFormatMs(fmt1,epoch_time_ms)}`, "2017-05-10"},
		{"timeFormatUTCMs literal with colons", `{timeFormatUTCMs('yyyy-MM-dd\'T\'HH:mm:ss.SSS\'Z\'',epoch_time_ms)}`, "2017-05-10T04:24:26.000Z"},
		{"timeFormat bad time", `[{timeFormat(fmt1,user.name)}]`, "[]"},
		{"timeFormat bad format variable", `[{timeFormat(user.name,epoch_time)}]`, "[]"},
		// [MT] HMAC (RFC 4231 test case 2 as the data).
		{"MT hmacSha256 default base64", `{hmacSha256(private.secretkey,valueToSign)}`, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="},
		{"hmacSha256 hex", `{hmacSha256(private.secretkey,valueToSign,'utf-8','base16')}`, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"hmacSha256 hex key", `{hmacSha256('4a656665',valueToSign,'hex','hex')}`, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"hmacSha256 base64 key", `{hmacSha256('SmVmZQ==',valueToSign,'base64','HEX')}`, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"hmacSha512", `{hmacSha512(private.secretkey,valueToSign,'utf-8','hex')}`, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
		{"hmac bad key for its encoding", `[{hmacSha256('zz',valueToSign,'hex')}]`, "[]"},
		// [MT] firstnonnull, every row of the reference's table.
		{"MT firstnonnull unset, foo", `{firstnonnull(var1,var2)}`, "bar"},
		{"MT firstnonnull foo, bar", `{firstnonnull(user.name,var2)}`, "JDoe"},
		{"MT firstnonnull foo, unset", `{firstnonnull(user.name,var9)}`, "JDoe"},
		{"MT firstnonnull three set", `{firstnonnull(user.name,var2,var3)}`, "JDoe"},
		{"MT firstnonnull unset, bar, baz", `{firstnonnull(var1,var2,var3)}`, "bar"},
		{"MT firstnonnull unset, unset, baz", `{firstnonnull(var1,var8,var3)}`, "baz"},
		{"MT firstnonnull none set", `[{firstnonnull(var1,var8,var9)}]`, "[]"},
		{"MT firstnonnull one unset", `[{firstnonnull(var1)}]`, "[]"},
		{"MT firstnonnull one set", `{firstnonnull(var2)}`, "bar"},
		{"MT firstnonnull empty is set", `[{firstnonnull(empty,var2)}]`, "[]"},
		{"MT firstnonnull fallback", `{firstnonnull(var1,var8,'fallback value')}`, "fallback value"},
		// [MT] jsonPath.
		{"MT jsonPath filter", `The address is {jsonPath('$.results[?(@.name == "Mae West")].address.line1',the_json_variable)}`,
			"The address is 1060 West Addison Street"},
		{"MT jsonPath want array", `{jsonPath('$.config.quota[?(@.operation=="ManageOrder")].appname',quota_json,true)}`, `["A","B"]`},
		{"MT jsonPath path in a variable", `{jsonPath(the_query,quota_json,true)}`, `["A","B"]`},
		{"jsonPath first of a list", `{jsonPath(the_query,quota_json)}`, "A"},
		{"jsonPath object as compact JSON", `{jsonPath('$.results[0].address',the_json_variable)}`,
			`{"line1":"18250 142ND AV NE","city":"Woodinville","state":"Washington","zip":"98072"}`},
		{"jsonPath invalid JSON", `[{jsonPath('$.a',user.name)}]`, "[]"},
		// Other functions' deterministic forms.
		{"randomLong in a range of one", `{randomLong(41,42)}`, "41"},
		{"randomLong empty range", `[{randomLong(5,5)}]`, "[]"},
		{"query parameter", `page {request.queryparam.page}`, "page 2"},
	}
	env := templateEnv()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := CompileTemplate(tt.tmpl)
			if err != nil {
				t.Fatalf("CompileTemplate(%q): %v", tt.tmpl, err)
			}
			if got := string(tm.Append([]byte("<"), env)); got != "<"+tt.want {
				t.Errorf("%s: got %q, want %q", tt.tmpl, got, "<"+tt.want)
			}
		})
	}
}

func TestTemplateRandom(t *testing.T) {
	tests := []struct {
		name string
		tmpl string
		want *regexp.Regexp
	}{
		{"MT createUuid", `{createUuid()}`, regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)},
		{"MT randomLong", `{randomLong()}`, regexp.MustCompile(`^[0-9]+$`)},
		{"randomLong from a minimum", `{randomLong(9223372036854775806)}`, regexp.MustCompile(`^9223372036854775806$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := CompileTemplate(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			a, b := string(tm.Append(nil, MapEnv{})), string(tm.Append(nil, MapEnv{}))
			if !tt.want.MatchString(a) {
				t.Errorf("%s: got %q, want a match of %v", tt.tmpl, a, tt.want)
			}
			if tt.name != "randomLong from a minimum" && a == b {
				t.Errorf("%s: got %q twice, want different values", tt.tmpl, a)
			}
		})
	}
	tm, err := CompileTemplate(`{randomLong(10,13)}`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 200 {
		seen[string(tm.Append(nil, MapEnv{}))] = true
	}
	if len(seen) != 3 || !seen["10"] || !seen["11"] || !seen["12"] {
		t.Errorf("randomLong(10,13) over 200 runs: got %v, want 10, 11 and 12", seen)
	}
}

func TestTemplateConstant(t *testing.T) {
	tests := []struct {
		name  string
		tmpl  string
		text  string
		konst bool
	}{
		{"empty", "", "", true},
		{"text", "plain text", "plain text", true},
		{"JSON", `{"a":[1,{}]}`, `{"a":[1,{}]}`, true},
		{"escaped braces", `\{not a reference\}`, "{not a reference}", true},
		{"reference", "a {b}", "", false},
		{"only a reference", "{b}", "", false},
		{"function", "{createUuid()}", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := CompileTemplate(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			text, konst := tm.Constant()
			if text != tt.text || konst != tt.konst {
				t.Errorf("Constant(): got (%q, %v), want (%q, %v)", text, konst, tt.text, tt.konst)
			}
			if konst {
				if got := string(tm.Append(nil, MapEnv{"b": StringValue("x")})); got != tt.text {
					t.Errorf("Append: got %q, want %q", got, tt.text)
				}
			}
			if tm.String() != tt.tmpl {
				t.Errorf("String(): got %q, want %q", tm.String(), tt.tmpl)
			}
		})
	}
}

func TestTemplateVars(t *testing.T) {
	tm, err := CompileTemplate(`{a}{b:c} {toLowerCase(d:x)}{firstnonnull(a,e,'f')}{createUuid()}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tm.Vars(), []string{"a", "b", "d", "e"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Vars: got %q, want %q", got, want)
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name   string
		tmpl   string
		offset int
		msg    string
	}{
		{"unknown function", `x {notAFunction(a)}`, 3, `unknown function "notAFunction"`},
		{"xpath is not implemented", `{xpath(expr,xml)}`, 1, `unknown function "xpath"`},
		{"too few arguments", `{substring(a)}`, 1, "substring takes 2 or 3 arguments, got 1"},
		{"too many arguments", `{toLowerCase(a,b)}`, 1, "toLowerCase takes 1 argument, got 2"},
		{"arguments to createUuid", `{createUuid(a)}`, 1, "createUuid takes no arguments, got 1"},
		{"no argument to firstnonnull", `{firstnonnull()}`, 1, "firstnonnull takes at least 1 argument, got 0"},
		{"hmac arity", `{hmacSha256(a)}`, 1, "hmacSha256 takes 2 to 4 arguments, got 1"},
		{"unclosed reference", `Hello {user.name`, 6, "unclosed {"},
		{"unclosed default", `{a:b`, 0, "unclosed {"},
		{"unclosed call", `{toLowerCase(a`, 0, "unclosed {"},
		{"unclosed after a comma", `{substring(a,`, 0, "unclosed {"},
		{"unmatched close", `a}b`, 1, "unmatched }"},
		{"unmatched after a reference", `{a}}`, 3, "unmatched }"},
		{"unclosed literal brace", `{"a":{"b":1}`, 0, "unclosed {"},
		{"space in a reference", `{a b}`, 2, "unexpected ' ' in a reference"},
		{"bracket in a reference", `{a[0]}`, 2, "unexpected '['"},
		{"space in a call", `{substring( alpha,0,4)}`, 11, "spaces are not allowed"},
		{"space after an argument", `{substring(alpha, 0)}`, 17, "spaces are not allowed"},
		{"junk after an argument", `{substring(alpha;0)}`, 16, "expected , or )"},
		{"double-quoted literal", `{toLowerCase("X")}`, 13, "single quotes"},
		{"nested call", `{toLowerCase(toUpperCase(x))}`, 13, "nested function calls"},
		{"nested reference", `{toLowerCase({x})}`, 13, "cannot be nested"},
		{"unterminated literal", `{toLowerCase('x)}`, 13, "unterminated string"},
		{"missing } after a call", `{createUuid()x`, 13, "expected } after createUuid(...)"},
		{"brace in a default", `{a:x{b}}`, 4, "cannot hold a {"},
		{"default in an argument runs out", `{toLowerCase(a:x}`, 14, "ends at , or )"},
		{"bad number argument", `{substring(a,1x)}`, 14, "in a number"},
		{"Java regex in replaceAll", `{replaceAll(x,'a(?=b)','')}`, 16, "lookahead"},
		{"bad JSONPath", `{jsonPath('$.a[',x)}`, 15, "JSONPath"},
		{"bad date format letter", `{timeFormatUTC('yyyy-bb',t)}`, 21, "unsupported date format letter 'b'"},
		{"unclosed date quote", `{timeFormatUTC('yy\'T',t)}`, 18, "unclosed quote"},
		{"bad key encoding", `{hmacSha256(k,v,'utf-16')}`, 17, `unknown encoding "utf-16"`},
		{"bad output encoding", `{hmacSha256(k,v,'hex','base32')}`, 23, `unknown encoding "base32"`},
		{"odd character", `{toLowerCase(#)}`, 13, `unexpected '#'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileTemplate(tt.tmpl)
			wantError(t, tt.tmpl, err, tt.offset, tt.msg)
		})
	}
}

func TestJavaReplacementGroups(t *testing.T) {
	// Java reads $12 as group 12 only when the pattern has 12 groups.
	pat := strings.Repeat("(.)", 12)
	tm, err := CompileTemplate(`{replaceAll('abcdefghijkl','` + pat + `','$12$1$13')}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(tm.Append(nil, MapEnv{})), "la"+"a3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
