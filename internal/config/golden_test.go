package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*.golden from the current output")

// goldenEnv is the environment testdata files are parsed with.
func goldenEnv() map[string]string {
	return map[string]string{
		"WEIR_BACKEND":   "http://127.0.0.1:9000",
		"WEIR_MAX_CONNS": "64",
	}
}

// TestGolden parses every testdata/bad/*.yaml, which must fail, and every
// testdata/good/*.yaml, which must load, and compares the problems (the
// warnings for good files) with the file's .golden twin, byte for byte.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"bad", "good"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no testdata/%s/*.yaml files", dir)
		}
		for _, file := range files {
			t.Run(filepath.ToSlash(file), func(t *testing.T) {
				t.Parallel()
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				name := filepath.ToSlash(file)
				c, err := parse(name, data, envOf(goldenEnv()))
				var got string
				switch {
				case dir == "bad" && err == nil:
					t.Fatalf("parse: got no error, want problems")
				case dir == "bad":
					var ps Problems
					if !errors.As(err, &ps) {
						t.Fatalf("parse: got error of type %T, want Problems", err)
					}
					got = err.Error() + "\n"
				case err != nil:
					t.Fatalf("parse: got error\n%v\nwant none", err)
				case len(c.Warnings) > 0:
					got = c.Warnings.Error() + "\n"
				}
				golden := strings.TrimSuffix(file, ".yaml") + ".golden"
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/config -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("problems of %s:\ngot\n%s\nwant (%s)\n%s", name, got, golden, want)
				}
			})
		}
	}
}
