package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Every command's --help prints its help once, on stdout, and exits 0; a
// bad flag prints the error and the help on stderr and exits 2.
func TestHelpOnce(t *testing.T) {
	for _, cmd := range []struct{ name, first string }{
		{"run", "weir run [-c FILE]"},
		{"validate", "weir validate [-c FILE]"},
		{"demo-backend", "weir demo-backend [-listen ADDR]"},
		{"version", "weir version"},
		{"doctor", "weir doctor"},
		{"schema", "weir schema"},
	} {
		t.Run(cmd.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run([]string{cmd.name, "--help"}, &out, &errb); code != 0 {
				t.Errorf("--help: got exit %d, want 0", code)
			}
			if n := strings.Count(out.String(), cmd.first); n != 1 || errb.Len() != 0 {
				t.Errorf("--help: got the help %d times on stdout and %q on stderr, want once and nothing", n, errb.String())
			}
			out.Reset()
			errb.Reset()
			if code := run([]string{cmd.name, "-no-such-flag"}, &out, &errb); code != 2 {
				t.Errorf("bad flag: got exit %d, want 2", code)
			}
			if !strings.Contains(errb.String(), "no-such-flag") || strings.Count(errb.String(), cmd.first) != 1 || out.Len() != 0 {
				t.Errorf("bad flag: got stderr %q, stdout %q; want the error and the help once on stderr", errb.String(), out.String())
			}
		})
	}
}

// TestSchemaCommand checks that weir schema prints the schema the examples
// point at (the committed weir.schema.json; internal/config's test keeps
// that file current).
func TestSchemaCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"schema"}, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("weir schema: got exit %d, stderr %q; want 0 and nothing", code, errb.String())
	}
	want, err := os.ReadFile("../../weir.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("weir schema: got %d bytes that differ from weir.schema.json (%d bytes)", out.Len(), len(want))
	}
}
