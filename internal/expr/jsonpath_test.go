package expr

import (
	"strings"
	"testing"
)

// store is the document of Goessner's JSONPath article, the usual test
// document of JSONPath implementations.
const store = `{ "store": {
    "book": [
      { "category": "reference", "author": "Nigel Rees", "title": "Sayings of the Century", "price": 8.95 },
      { "category": "fiction", "author": "Evelyn Waugh", "title": "Sword of Honour", "price": 12.99 },
      { "category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99 },
      { "category": "fiction", "author": "J. R. R. Tolkien", "title": "The Lord of the Rings", "isbn": "0-395-19395-8", "price": 22.99 }
    ],
    "bicycle": { "color": "red", "price": 19.95, "electric": false, "lock": null, "tags": ["a", "b\"c"] }
  },
  "weird key": {"a.b": 1}
}`

func TestJSONPath(t *testing.T) {
	tests := []struct {
		name, path string
		first      string // the template's rendering (first value)
		all        string // with wantArray true
	}{
		{"child", "$.store.bicycle.color", "red", "red"},
		{"root implied", "store.bicycle.color", "red", "red"},
		{"bracket name", "$['store']['bicycle']['color']", "red", "red"},
		{"double-quoted bracket name", `$["weird key"]["a.b"]`, "1", "1"},
		{"number raw", "$.store.bicycle.price", "19.95", "19.95"},
		{"false", "$.store.bicycle.electric", "false", "false"},
		{"null renders nothing", "$.store.bicycle.lock", "", ""},
		{"object compact, in order", "$.store.bicycle", `{"color":"red","price":19.95,"electric":false,"lock":null,"tags":["a","b\"c"]}`,
			`{"color":"red","price":19.95,"electric":false,"lock":null,"tags":["a","b\"c"]}`},
		{"string unescaped", "$.store.bicycle.tags[1]", `b"c`, `b"c`},
		{"index", "$.store.book[0].title", "Sayings of the Century", "Sayings of the Century"},
		{"negative index", "$.store.book[-1].author", "J. R. R. Tolkien", "J. R. R. Tolkien"},
		{"index out of range", "$.store.book[9].title", "", ""},
		{"missing name", "$.store.car", "", ""},
		{"name of an array", "$.store.book.title", "", ""},
		{"wildcard", "$.store.book[*].author", "Nigel Rees", `["Nigel Rees","Evelyn Waugh","Herman Melville","J. R. R. Tolkien"]`},
		{"dot wildcard", "$.store.bicycle.tags.*", "a", `["a","b\"c"]`},
		{"recursive", "$..author", "Nigel Rees", `["Nigel Rees","Evelyn Waugh","Herman Melville","J. R. R. Tolkien"]`},
		{"recursive bracket", "$..['color']", "red", `["red"]`},
		{"recursive wildcard count", "$.store.bicycle..*", "red", `["red",19.95,false,null,["a","b\"c"],"a","b\"c"]`},
		{"union of indexes", "$.store.book[0,2].price", "8.95", "[8.95,8.99]"},
		{"union of names", "$.store.bicycle['color','price']", "red", `["red",19.95]`},
		{"slice", "$.store.book[1:3].price", "12.99", "[12.99,8.99]"},
		{"slice from", "$.store.book[-2:].price", "8.99", "[8.99,22.99]"},
		{"slice to", "$.store.book[:1].price", "8.95", "[8.95]"},
		{"filter number", "$.store.book[?(@.price < 10)].title", "Sayings of the Century", `["Sayings of the Century","Moby Dick"]`},
		{"filter string", "$.store.book[?(@.category == 'fiction')].price", "12.99", "[12.99,8.99,22.99]"},
		{"filter exists", "$.store.book[?(@.isbn)].title", "Moby Dick", `["Moby Dick","The Lord of the Rings"]`},
		{"filter and", "$.store.book[?(@.price > 8.96 && @.price < 20)].author", "Evelyn Waugh", `["Evelyn Waugh","Herman Melville"]`},
		{"filter or", "$.store.book[?(@.price > 20 || @.author == 'Nigel Rees')].price", "8.95", "[8.95,22.99]"},
		{"filter !=", "$.store.book[?(@.category != 'fiction')].price", "8.95", "[8.95]"},
		{"filter kinds differ", "$.store.book[?(@.price == '8.95')].price", "", ""},
		{"filter bool", "$..[?(@.electric == false)].color", "red", `["red"]`},
		{"filter null", "$..[?(@.lock == null)].color", "red", `["red"]`},
		{"filter bracket path", "$.store.book[?(@['author'] >= 'J')].author", "Nigel Rees", `["Nigel Rees","J. R. R. Tolkien"]`},
		{"filter index path", "$..[?(@.tags[0] == 'a')].color", "red", `["red"]`},
		{"empty result list", "$.store.book[?(@.price > 100)].title", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := MapEnv{"doc": StringValue(store), "p": StringValue(tt.path)}
			for _, c := range []struct{ tmpl, want string }{
				{"{jsonPath(p,doc)}", tt.first},
				{"{jsonPath(p,doc,true)}", tt.all},
				{"{jsonPath('" + strings.ReplaceAll(tt.path, "'", `\'`) + "',doc,'true')}", tt.all},
			} {
				tm, err := CompileTemplate(c.tmpl)
				if err != nil {
					t.Fatalf("CompileTemplate(%q): %v", c.tmpl, err)
				}
				if got := string(tm.Append(nil, env)); got != c.want {
					t.Errorf("%s with %s: got %q, want %q", c.tmpl, tt.path, got, c.want)
				}
			}
		})
	}
}

func TestJSONPathErrors(t *testing.T) {
	tests := []struct {
		name, path string
		idx        int
		msg        string
	}{
		{"empty", "", 0, "empty JSONPath"},
		{"after $", "$a", 1, "expected . or ["},
		{"empty name", "$.a.", 4, "expected a name"},
		{"bad name character", "$.a b", 3, "in a JSONPath name"},
		{"unclosed bracket", "$.a[", 4, "unclosed ["},
		{"bracket junk", "$.a[%]", 4, "in JSONPath brackets"},
		{"missing ]", "$.a[0", 5, "expected ']'"},
		{"unterminated name", "$['a", 2, "unterminated string"},
		{"union of a name and an index", "$['a',0]", 6, "expected a quoted name"},
		{"regex filter", "$.a[?(@.b =~ /x/)]", 10, "unsupported JSONPath filter operator"},
		{"filter without @", "$.a[?(b == 1)]", 6, "expected @"},
		{"filter bad literal", "$.a[?(@.b == x)]", 13, "expected a string, number"},
		{"filter unclosed", "$.a[?(@.b == 1]", 14, "expected ')'"},
		{"bad index", "$.a[1,x]", 6, "expected an index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jp, idx, msg := compileJSONPath(tt.path)
			if msg == "" {
				t.Fatalf("compileJSONPath(%q): got %+v, want an error", tt.path, jp)
			}
			if idx != tt.idx || !strings.Contains(msg, tt.msg) {
				t.Errorf("compileJSONPath(%q): got %d %q, want %d and a message with %q", tt.path, idx, msg, tt.idx, tt.msg)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"object", `{"a":[1,-2.5e3,true,false,null,"x\u00e9"]}`, true},
		{"scalar", ` "x" `, true},
		{"empty containers", `{"a":{},"b":[]}`, true},
		{"trailing comma", `[1,]`, false},
		{"missing colon", `{"a" 1}`, false},
		{"key not a string", `{1:2}`, false},
		{"unterminated string", `"abc`, false},
		{"control character in a string", "\"a\nb\"", false},
		{"bad escape", `"\x"`, false},
		{"bad number", `01`, false},
		{"trailing text", `{} x`, false},
		{"bad word", `nul`, false},
		{"empty", ``, false},
		{"deep", strings.Repeat("[", maxJSONDepth+2) + strings.Repeat("]", maxJSONDepth+2), false},
		{"deep enough", strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := parseJSON(tt.doc); ok != tt.ok {
				t.Errorf("parseJSON(%.40q): got ok %v, want %v", tt.doc, ok, tt.ok)
			}
		})
	}
}

func TestJSONPathResultBound(t *testing.T) {
	doc := "[" + strings.Repeat(`[1,2,3,4,5,6,7,8,9,10],`, 200) + "0]"
	jp, _, msg := compileJSONPath("$..*..*..*")
	if msg != "" {
		t.Fatal(msg)
	}
	n, ok := parseJSON(doc)
	if !ok {
		t.Fatal("document did not parse")
	}
	if got := len(jp.eval(n)); got > maxJSONResults {
		t.Errorf("got %d results, want at most %d", got, maxJSONResults)
	}
}
