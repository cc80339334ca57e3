package failure

import (
	"bufio"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is where go.mod is, two levels up from this package.
const moduleRoot = "../.."

// TestTableComplete: every row fills every column.
func TestTableComplete(t *testing.T) {
	for r, info := range table {
		t.Run(string(r), func(t *testing.T) {
			if r == None {
				t.Errorf("got a row for None, want none (it is success)")
			}
			if s := info.Status; s != StatusClientClosed && (s < 400 || s > 599) {
				t.Errorf("status: got %d, want a 4xx or 5xx, or %d", s, StatusClientClosed)
			}
			if info.Fault < BackendFault || info.Fault > PolicyFault {
				t.Errorf("fault: got %d, want one of the Fault constants", info.Fault)
			}
			if info.Means == "" || strings.Contains(info.Means, "\n") {
				t.Errorf("means: got %q, want one non-empty line", info.Means)
			}
			if info.Mitigation == "" {
				t.Errorf("mitigation: got empty, want what to do")
			}
		})
	}
}

// TestEveryReasonHasARow: each Reason constant declared in this package has
// a row, and each row is a declared constant.
func TestEveryReasonHasARow(t *testing.T) {
	declared := reasonConstants(t)
	if len(declared) == 0 {
		t.Fatal("got no Reason constants from the package's source, want them all")
	}
	for _, r := range declared {
		if _, ok := Lookup(r); !ok && r != None {
			t.Errorf("%s: got no row, want one in table", r)
		}
	}
	for r := range table {
		if !slices.Contains(declared, r) {
			t.Errorf("row %s: got no constant, want one", r)
		}
	}
}

// reasonConstants parses the package's own source for its constants of type
// Reason.
func reasonConstants(t *testing.T) []Reason {
	t.Helper()
	var out []Reason
	files, _ := parseGo(t, ".", false)
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
					continue
				}
				for _, v := range vs.Values {
					if s, ok := stringLit(v); ok {
						out = append(out, Reason(s))
					}
				}
			}
		}
	}
	return out
}

// TestReasonsUsedInCodeHaveARow: a reason spelled as a string literal
// anywhere in weir's code (failure.Reason("X"), failure.New("X", ...),
// failure.Error{Reason: "X"}, failure.Lookup("X")) has a row. Constants
// are covered by TestEveryReasonHasARow; this catches a reason made up on
// the spot, which the gateway would answer as an InternalError.
func TestReasonsUsedInCodeHaveARow(t *testing.T) {
	const path = `"github.com/weirgw/weir/internal/failure"`
	importers, uses := 0, 0
	files, fset := parseGo(t, moduleRoot, true)
	for _, f := range files {
		name := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == path {
				name = "failure"
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			continue
		}
		importers++
		isFailure := func(e ast.Expr) bool {
			sel, ok := e.(*ast.SelectorExpr)
			if !ok {
				return false
			}
			x, ok := sel.X.(*ast.Ident)
			return ok && x.Name == name
		}
		check := func(e ast.Expr) {
			if s, ok := stringLit(e); ok {
				uses++
				if _, known := Lookup(Reason(s)); !known {
					t.Errorf("%s: got reason %q, want one with a row in failure's table", fset.Position(e.Pos()), s)
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if isFailure(n.Fun) && len(n.Args) > 0 {
					check(n.Args[0])
				}
			case *ast.CompositeLit:
				if isFailure(n.Type) {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Reason" {
								check(kv.Value)
							}
						}
					}
				}
			}
			return true
		})
	}
	if importers == 0 {
		t.Fatalf("got no file importing %s under %s, want the gateway's and the forwarder's", path, moduleRoot)
	}
	t.Logf("%d files import failure; %d reasons spelled as literals", importers, uses)
}

// parseGo parses the .go files under dir (recursively when deep), test
// files and testdata excluded.
func parseGo(t *testing.T, dir string, deep bool) ([]*ast.File, *token.FileSet) {
	t.Helper()
	fset := token.NewFileSet()
	var out []*ast.File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (!deep || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, fset
}

// stringLit returns the value of a string literal.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	return constant.StringVal(constant.MakeFromLiteral(lit.Value, lit.Kind, 0)), true
}

// TestREADMETableOfReasons: README's table of reasons (under
// Troubleshooting) lists exactly the reasons of the table, with their
// statuses.
func TestREADMETableOfReasons(t *testing.T) {
	f, err := os.Open(filepath.Join(moduleRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	readme, err := readmeReasons(bufio.NewScanner(f))
	if err != nil {
		t.Fatal(err)
	}
	if len(readme) == 0 {
		t.Fatal("README: got no table of reasons (a `| reason | status |` table), want one")
	}
	for r, status := range readme {
		info, ok := Lookup(r)
		if !ok {
			t.Errorf("README: %s: got a row, want none (it is not in failure's table)", r)
			continue
		}
		if status != info.Status {
			t.Errorf("README: %s: got status %d, want %d", r, status, info.Status)
		}
	}
	for r := range table {
		if _, ok := readme[r]; !ok {
			t.Errorf("README: %s: got no row, want one with status %d", r, table[r].Status)
		}
	}
}

var statusCell = regexp.MustCompile(`\b[1-5][0-9][0-9]\b`)

// readmeReasons returns the reasons and statuses of the first markdown
// table whose header starts with "| reason | status |". A status cell may
// be "502" or "(499 in the log)": its first three-digit number counts.
func readmeReasons(sc *bufio.Scanner) (map[Reason]int, error) {
	out := map[Reason]int{}
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "| reason | status |"):
			in = true
			continue
		case !in:
			continue
		case !strings.HasPrefix(line, "|"):
			return out, sc.Err()
		case strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		status := 0
		if m := statusCell.FindString(cells[2]); m != "" {
			status, _ = strconv.Atoi(m)
		}
		out[Reason(name)] = status
	}
	return out, sc.Err()
}
