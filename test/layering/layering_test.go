package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is weir's module path; the rules name packages relative to it.
const module = "github.com/weirgw/weir"

// rule forbids the packages in from (but not those in except) to import a
// package in deny, directly or through other weir packages. Patterns are
// module-relative paths: "x/..." is x and every package below it, "..."
// every weir package. Only what production code imports counts: test
// files may import anything.
type rule struct {
	name   string
	from   []string
	except []string
	deny   []string
}

var rules = []rule{
	{
		name: "the leaves import no weir package",
		from: []string{"internal/connpool", "internal/config", "internal/h1", "internal/failure", "internal/tlsfiles", "internal/expr", "internal/child"},
		deny: []string{"..."},
	},
	{
		name: "the shared-state store does not depend on the backend side",
		from: []string{"internal/store/..."},
		deny: []string{"internal/dialer/...", "internal/connpool/..."},
	},
	{
		name:   "only cmd/weir composes: nothing else imports the gateway",
		from:   []string{"..."},
		except: []string{"cmd/weir", "internal/gateway/...", "internal/weirtest/..."},
		deny:   []string{"internal/gateway/..."},
	},
	{
		name:   "no production package imports the test rigs",
		from:   []string{"..."},
		except: []string{"internal/weirtest/..."},
		deny:   []string{"internal/weirtest/..."},
	},
	{
		name: "the doctor sits below or beside the gateway",
		from: []string{"internal/doctor/..."},
		deny: []string{"internal/gateway/..."},
	},
	{
		name: "matching and the outbound request do not import each other",
		from: []string{"internal/route", "internal/proxy"},
		deny: []string{"internal/route", "internal/proxy"},
	},
}

// graph maps each weir package (module-relative, "." for the root) to
// the weir packages its production files import.
type graph map[string][]string

// TestLayering checks every rule against the module's import graph as go
// list reports it.
func TestLayering(t *testing.T) {
	g := loadGraph(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			// A rule that matches nothing checks nothing: a renamed package
			// must rename its rule.
			for _, p := range slices.Concat(r.from, r.except, r.deny) {
				if !g.matchesAny(p) {
					t.Errorf("pattern %q matches no package: update the rule", p)
				}
			}
			for _, v := range g.violations(r) {
				t.Error(v)
			}
		})
	}
}

// TestViolations checks the checker on small graphs: a rule broken
// directly or through another package is reported with its import chain,
// and a kept one is not.
func TestViolations(t *testing.T) {
	g := graph{
		"cmd/weir":          {"internal/gateway", "internal/doctor"},
		"internal/gateway":  {"internal/proxy", "internal/store", "internal/config"},
		"internal/proxy":    {"internal/upstream"},
		"internal/upstream": {"internal/dialer", "internal/config"},
		"internal/dialer":   {"internal/connpool"},
		"internal/connpool": nil,
		"internal/config":   nil,
		"internal/doctor":   {"internal/connpool"},
		"internal/store":    {"internal/config"},
		"internal/weirtest": {"internal/gateway"},
	}
	for _, tt := range []struct {
		name string
		add  [2]string // an import to add: from, to ("" for none)
		rule int       // index in rules
		want []string
	}{
		{name: "kept", rule: 2, want: nil},
		{name: "direct", add: [2]string{"internal/config", "internal/connpool"}, rule: 0,
			want: []string{"internal/config imports internal/connpool: internal/config -> internal/connpool"}},
		{name: "through another package", add: [2]string{"internal/store", "internal/upstream"}, rule: 1,
			want: []string{"internal/store imports internal/connpool: internal/store -> internal/upstream -> internal/dialer -> internal/connpool",
				"internal/store imports internal/dialer: internal/store -> internal/upstream -> internal/dialer"}},
		{name: "importers of a violator are named too", add: [2]string{"internal/doctor", "internal/weirtest"}, rule: 3,
			want: []string{"cmd/weir imports internal/weirtest: cmd/weir -> internal/doctor -> internal/weirtest",
				"internal/doctor imports internal/weirtest: internal/doctor -> internal/weirtest"}},
		{name: "beside the gateway is not above it", add: [2]string{"internal/doctor", "internal/proxy"}, rule: 2, want: nil},
		{name: "the doctor imports the gateway", add: [2]string{"internal/doctor", "internal/gateway"}, rule: 4,
			want: []string{"internal/doctor imports internal/gateway: internal/doctor -> internal/gateway"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := maps.Clone(g)
			if tt.add[0] != "" {
				g[tt.add[0]] = append(slices.Clone(g[tt.add[0]]), tt.add[1])
			}
			var got []string
			for _, v := range g.violations(rules[tt.rule]) {
				got = append(got, strings.SplitN(v, " (rule: ", 2)[0])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// loadGraph runs go list on the module.
func loadGraph(t *testing.T) graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		var weir []string
		for _, imp := range p.Imports {
			if rel, ok := relative(imp); ok {
				weir = append(weir, rel)
			}
		}
		rel, _ := relative(p.ImportPath)
		g[rel] = weir
	}
	// The graph must be weir's, whole: a go list that saw little would
	// pass every rule.
	for _, p := range []string{"cmd/weir", "internal/gateway", "internal/connpool", "internal/weirtest"} {
		if _, ok := g[p]; !ok {
			t.Fatalf("go list: no package %s among %d", p, len(g))
		}
	}
	return g
}

// relative returns a weir import path relative to the module.
func relative(importPath string) (string, bool) {
	if importPath == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(importPath, module+"/")
	return rel, ok
}

// match reports whether pkg is in pattern.
func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func matchAny(patterns []string, pkg string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, pkg) })
}

func (g graph) matchesAny(pattern string) bool {
	for pkg := range g {
		if match(pattern, pkg) {
			return true
		}
	}
	return false
}

// violations lists, for each package the rule is about and each denied
// package it reaches, the shortest import chain from one to the other.
func (g graph) violations(r rule) []string {
	var out []string
	for _, from := range sortedKeys(g) {
		if !matchAny(r.from, from) || matchAny(r.except, from) {
			continue
		}
		for _, to := range sortedKeys(g) {
			if to == from || !matchAny(r.deny, to) {
				continue
			}
			if chain := g.path(from, to); chain != nil {
				out = append(out, from+" imports "+to+": "+strings.Join(chain, " -> ")+" (rule: "+r.name+")")
			}
		}
	}
	return out
}

// path returns the shortest import chain from one package to another, or
// nil when from does not reach to.
func (g graph) path(from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, next := range g[p] {
			if _, seen := prev[next]; seen {
				continue
			}
			prev[next] = p
			if next == to {
				var chain []string
				for q := to; q != ""; q = prev[q] {
					chain = append(chain, q)
				}
				slices.Reverse(chain)
				return chain
			}
			queue = append(queue, next)
		}
	}
	return nil
}

func sortedKeys(g graph) []string { return slices.Sorted(maps.Keys(g)) }
