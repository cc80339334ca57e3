// Package expr is weir's expression language: conditions in Apigee's
// syntax and Apigee-style message templates, compiled once when the config
// loads and evaluated per request against an Env (the request's variable
// scope). It imports no other weir package. Compile errors are *Error
// values carrying the byte offset of the fault in the source string;
// LineCol turns an offset into a line and column.
//
// # Values and variables
//
// A Value is null (an unset variable: the zero Value), a bool, a 64-bit
// integer, a 64-bit float or a string. Variables have Apigee's dotted
// names, which may hold '-' and '_' (request.header.x-api-key,
// ratelimit.q1.remaining); Condition.Vars and Template.Vars list the names
// an expression reads.
//
// # Conditions
//
//	request.verb = "POST" and (proxy.pathsuffix MatchesPath "/orders/**" or request.header.x-tier == "gold")
//
// An operand is a variable, a "double-quoted string" (\" and \\ are
// escapes; any other backslash is kept, so "\d+" is a regular expression),
// a number (12, -3, 2.5, 1e3; Apigee's suffixes L, f, d are accepted), or
// true, false, null. A name with other characters is written in single
// quotes: 'request.header.help!me'. Operators, symbol or word (words in
// any case):
//
//	=  ==  Equals  Is            equal (case-sensitive)
//	!=  NotEquals  IsNot         not equal ("is not" works too)
//	:=  EqualsCaseInsensitive    equal ignoring case
//	>  &gt;  GreaterThan         >=  &gt;=  GreaterThanOrEquals
//	<  &lt;  LesserThan          <=  &lt;=  LesserThanOrEquals
//	=|  StartsWith               prefix (case-sensitive)
//	~  Matches  Like             glob: * any run of characters, ? one, %x a literal x
//	!~                           does not match the glob
//	~~  JavaRegex                regular expression (RE2 syntax) matching the whole value
//	~/  MatchesPath  LikePath    path: * one element, ** any number, {name} one element, %x literal
//	and  &&    or  ||    not  !  ( )
//
// Precedence, tightest first: not, comparisons, and, or. "not" applies to
// the operand, negation or parenthesized condition right after it; "not a
// = b" is an error (write not (a = b)). The right side of ~, !~, ~~ and ~/
// is a double-quoted pattern, compiled once; a Java-only regular
// expression construct (lookaround, backreference, possessive quantifier,
// atomic group, class intersection) is a compile error.
//
// Operands of different kinds are adapted to the greater kind before they
// are compared, as Apigee documents: bool < integer < float < string, so
// an integer and a string compare as text (response.status.code = "503"
// holds for 503, and so does = 503). With a null operand the result is
// Apigee's table:
//
//	operator      null left   null right   both null
//	= == :=       false       false        true
//	!=            true        true         false
//	>             true        false        false
//	>=            false       true         true
//	<             true        false        false
//	<=            true        false        true
//	=| ~ ~~ ~/    false       false        false
//	!~            true        false        false
//
// A bare operand as a condition (flow.cachehit, not x) is true when its
// value is the bool true or the text "true" in any case, and false
// otherwise (null included).
//
// # Templates
//
//	{"error":"no deletes for {client.ip}","tier":"{toLowerCase(request.header.x-tier:none)}"}
//
// A '{' followed by a letter or '_' starts a reference: {name},
// {name:default} (the default when the variable is unset; it runs to the
// '}'), or {function(arg,...)}. Any other '{' is literal text, so JSON
// bodies need no escaping, but literal braces must balance; \{ and \} are
// braces that need not. An unset variable renders as nothing. Function
// arguments are variable names (with an optional :default),
// 'single-quoted' literals (\' and \\ are escapes), numbers, or true,
// false, null; no spaces and no nested calls, as in Apigee. Functions:
//
//	md5Hex sha1Hex sha256Hex sha384Hex sha512Hex (and ...Base64)   hash of a string
//	hmacMd5 hmacSha1 hmacSha224 hmacSha256 hmacSha384 hmacSha512(key, value[, keyencoding[, outputencoding]])
//	encodeBase64 decodeBase64 toUpperCase toLowerCase escapeJSON escapeXML escapeXML11 encodeHTML
//	substring(s, start[, end])      character indexes, negative from the end
//	replaceAll(s, regex, repl)  replaceFirst(s, regex, repl)   Java's $1 ${name} \$ in repl
//	firstnonnull(a, b, ...)         the first set argument
//	jsonPath(path, json[, wantArray])
//	timeFormat timeFormatMs timeFormatUTC timeFormatUTCMs(format, time)   SimpleDateFormat, in UTC
//	createUuid()  randomLong([min[, max]])
//
// An unknown function, a wrong number of arguments, an invalid literal
// pattern or format, and an unclosed reference or unbalanced brace are
// compile errors. Not implemented: xpath, xPath, xeger.
//
// Rendering a template of literal text and plain references, and
// evaluating comparisons of variables with literals (and and/or/not of
// them), do not allocate.
package expr
