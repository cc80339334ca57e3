package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that its result is
// one of two shapes: nil and errors that all have a place in the file, or a
// config that validates again on its own and whose warnings have places.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		oneAPI,
		"",
		"---\n",
		"apis: &a [*a]\n",
		"a: &a\n  b: *a\n",
		"apis:\n  - &x {name: a, base_path: /a, target: {endpoints: [http://h]}}\n  - *x\n",
		"listen: ${\n",
		"listen: \"\\u00e9${X}\"\n",
		"transport: {properties: {HTTPTransport.keepalive.timeout.millis: 9223372036854775807}}\n",
		"<<: {listen: x}\n",
		"? [a]\n: b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("f.yaml", data, envOf(goldenEnv()))
		if err != nil {
			if c != nil {
				t.Errorf("got a config and an error, want one of them")
			}
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("got error %v of type %T, want non-empty Problems", err, err)
			}
			for _, p := range ps {
				if p.Warning || p.File != "f.yaml" || p.Line < 1 || p.Col < 1 {
					t.Errorf("got problem %#v, want an error with a place in f.yaml", p)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate of a loaded config: got %v, want nil", err)
		}
		for _, w := range c.Warnings {
			if !w.Warning || w.Line < 1 || w.Col < 1 {
				t.Errorf("got warning %#v, want a warning with a place", w)
			}
		}
	})
}
