package h1

import (
	"strings"
	"testing"
)

func TestNextToken(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		tok      string
		rest     string
		wantDone bool
	}{
		{"one", "close", "close", "", true},
		{"two", "close, X-Hop", "close", " X-Hop", false},
		{"trimmed", " \tX-Hop\t , y", "X-Hop", " y", false},
		{"empty element", ",x", "", "x", false},
		{"trailing comma", "x,", "x", "", true},
		{"only spaces", "   ", "", "", true},
		{"inner space kept", "a b,c", "a b", "c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, rest := NextToken(tt.in)
			if tok != tt.tok || rest != tt.rest {
				t.Errorf("NextToken(%q): got (%q, %q), want (%q, %q)", tt.in, tok, rest, tt.tok, tt.rest)
			}
			if done := rest == ""; done != tt.wantDone {
				t.Errorf("NextToken(%q): got done %v, want %v", tt.in, done, tt.wantDone)
			}
		})
	}
}

func TestHasTokenConnection(t *testing.T) {
	tests := []struct {
		name string
		conn []string
		key  string
		want bool
	}{
		{"none", nil, "X-Hop", false},
		{"exact", []string{"X-Hop"}, "X-Hop", true},
		{"case-insensitive", []string{"x-hop"}, "X-Hop", true},
		{"in a list", []string{"close, x-hop , keep-alive"}, "X-Hop", true},
		{"second field", []string{"close", "X-Hop"}, "X-Hop", true},
		{"prefix is not a match", []string{"X-Hopper"}, "X-Hop", false},
		{"longer key is not a match", []string{"X-Ho"}, "X-Hop", false},
		{"empty tokens", []string{",, ,"}, "X-Hop", false},
		{"tab separated", []string{"close,\tX-Hop\t"}, "X-Hop", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasToken(tt.conn, tt.key); got != tt.want {
				t.Errorf("HasToken(%q, %q): got %v, want %v", tt.conn, tt.key, got, tt.want)
			}
		})
	}
}

func TestHasTokenTrailers(t *testing.T) {
	tests := []struct {
		name string
		vs   []string
		want bool
	}{
		{"none", nil, false},
		{"trailers", []string{"trailers"}, true},
		{"case", []string{"Trailers"}, true},
		{"listed", []string{"gzip, trailers"}, true},
		{"second field", []string{"gzip", " trailers "}, true},
		{"only codings", []string{"gzip, deflate;q=0.5"}, false},
		{"prefix", []string{"trailersx"}, false},
		// "trailers" takes no parameters; a parameterised one is not it.
		{"with parameter", []string{"trailers;q=1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasToken(tt.vs, "trailers"); got != tt.want {
				t.Errorf("HasToken(trailers, %q): got %v, want %v", tt.vs, got, tt.want)
			}
		})
	}
}

// FuzzNextToken checks nextToken's contract: the token holds no comma and
// no surrounding whitespace, and the rest is what follows the first comma.
func FuzzNextToken(f *testing.F) {
	f.Add("close, X-Hop")
	f.Add(" , ,\t")
	f.Fuzz(func(t *testing.T, v string) {
		tok, rest := NextToken(v)
		if strings.Contains(tok, ",") {
			t.Errorf("token %q holds a comma", tok)
		}
		if strings.Trim(tok, " \t") != tok {
			t.Errorf("token %q is not trimmed", tok)
		}
		before, after, found := strings.Cut(v, ",")
		if !found {
			after = ""
		}
		if rest != after || strings.Trim(before, " \t") != tok {
			t.Errorf("NextToken(%q): got (%q, %q), want (%q, %q)", v, tok, rest, strings.Trim(before, " \t"), after)
		}
	})
}

func TestEqualFold(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"chunked", "chunked", true},
		{"Chunked", "CHUNKED", true},
		{"chunked", "chunke", false},
		{"", "", true},
		{"a", "b", false},
		{"ké", "KÉ", false}, // ASCII folding only
	}
	for _, tt := range tests {
		if got := EqualFold(tt.a, tt.b); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
