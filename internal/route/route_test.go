package route

import "testing"

func TestMatch(t *testing.T) {
	table := New([]Route{
		{BasePath: "/hello", Index: 0},
		{BasePath: "/hello/world", Index: 1},
		{BasePath: "/", Index: 2},
		{BasePath: "/hello", Hosts: []string{"api.example.com"}, Index: 3},
		{BasePath: "/v2/", Hosts: []string{"*.example.org"}, Index: 4},
		{BasePath: "/only", Hosts: []string{"Only.Example.com"}, Index: 5},
	})
	tests := []struct {
		name, host, path string
		want             int
		wantRest         string
		wantOK           bool
	}{
		{name: "exact base path", host: "x", path: "/hello", want: 0, wantRest: "", wantOK: true},
		{name: "prefix on boundary", host: "x", path: "/hello/a/b", want: 0, wantRest: "/a/b", wantOK: true},
		{name: "trailing slash", host: "x", path: "/hello/", want: 0, wantRest: "/", wantOK: true},
		{name: "not a segment boundary falls to root", host: "x", path: "/helloworld", want: 2, wantRest: "/helloworld", wantOK: true},
		{name: "longest prefix wins", host: "x", path: "/hello/world/x", want: 1, wantRest: "/x", wantOK: true},
		{name: "root catches all", host: "x", path: "/other", want: 2, wantRest: "/other", wantOK: true},
		{name: "host match first", host: "api.example.com", path: "/hello/a", want: 3, wantRest: "/a", wantOK: true},
		{name: "host with port", host: "api.example.com:8080", path: "/hello", want: 3, wantRest: "", wantOK: true},
		{name: "host case-insensitive", host: "API.Example.COM", path: "/hello", want: 3, wantRest: "", wantOK: true},
		{name: "host api misses path, falls back to any", host: "api.example.com", path: "/hello2", want: 2, wantRest: "/hello2", wantOK: true},
		{name: "wildcard one label", host: "a.example.org", path: "/v2/x", want: 4, wantRest: "/x", wantOK: true},
		{name: "wildcard not bare suffix", host: "example.org", path: "/v2/x", want: 2, wantRest: "/v2/x", wantOK: true},
		{name: "configured host upper-case", host: "only.example.com", path: "/only", want: 5, wantRest: "", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest, ok := table.Match(tt.host, tt.path)
			if got != tt.want || rest != tt.wantRest || ok != tt.wantOK {
				t.Fatalf("Match(%q, %q) = %d, %q, %v; want %d, %q, %v", tt.host, tt.path, got, rest, ok, tt.want, tt.wantRest, tt.wantOK)
			}
		})
	}
}

func TestNoMatch(t *testing.T) {
	table := New([]Route{{BasePath: "/a", Index: 0}, {BasePath: "/b", Hosts: []string{"h"}, Index: 1}})
	for _, c := range []struct{ host, path string }{{"x", "/"}, {"x", "/b"}, {"x", "/ab"}} {
		if i, _, ok := table.Match(c.host, c.path); ok {
			t.Errorf("Match(%q, %q) = %d, true; want no match", c.host, c.path, i)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	table := New([]Route{{BasePath: "/hello"}, {BasePath: "/orders", Index: 1}, {BasePath: "/users", Hosts: []string{"api.example.com"}, Index: 2}})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := table.Match("api.example.com:8080", "/orders/123"); !ok {
			b.Fatal("no match")
		}
	}
}

func TestHostOnly(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"example.com:8080", "example.com"},
		{"[::1]:80", "::1"},
		{"[::1]", "::1"},
		{"::1", "::1"},
		{"", ""},
		{"127.0.0.1:80", "127.0.0.1"},
	}
	for _, tt := range tests {
		if got := hostOnly(tt.in); got != tt.want {
			t.Errorf("hostOnly(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = hostOnly("example.com") }); n != 0 {
		t.Errorf("hostOnly allocates %v times, want 0", n)
	}
}
