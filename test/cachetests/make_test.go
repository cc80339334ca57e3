package cachetests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstallsSuite runs the Makefile's cachetests-deps (a step of
// `make test`) against a copy of this directory: with npm on PATH it runs
// `npm ci` there once (again only when the lock is newer than the install),
// and without npm it says the suite will be skipped and does not fail.
func TestMakeInstallsSuite(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skipf("make not installed: %v", err)
	}
	dir := t.TempDir()
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), lock, 0o644); err != nil {
		t.Fatal(err)
	}
	// A fake npm that records its arguments and installs like npm ci does.
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	fake := "#!/bin/sh\necho \"$PWD $*\" >> " + calls + "\nmkdir -p node_modules && touch node_modules/.package-lock.json\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	makeDeps := func(path string) string {
		t.Helper()
		cmd := exec.Command(mk, "-s", "-C", "../..", "cachetests-deps", "CACHETESTS_DIR="+dir)
		cmd.Env = append(os.Environ(), "PATH="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make cachetests-deps: %v\n%s", err, out)
		}
		return string(out)
	}
	recorded := func() []string {
		b, err := os.ReadFile(calls)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(b) == 0 {
			return nil
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}

	out := makeDeps(bin + ":/usr/bin:/bin")
	if got := recorded(); len(got) != 1 || !strings.HasPrefix(got[0], dir+" ci ") {
		t.Fatalf("with npm: got npm calls %q (output %q), want one `npm ci` in %s", got, out, dir)
	}
	if out := makeDeps(bin + ":/usr/bin:/bin"); len(recorded()) != 1 || out != "" {
		t.Errorf("installed and current: got npm calls %q, output %q; want no second npm ci, nothing said", recorded(), out)
	}
	empty := t.TempDir()
	if out := makeDeps(empty); !strings.Contains(out, "npm not found") || !strings.Contains(out, "skipped") {
		t.Errorf("without npm: got output %q, want it to say npm is missing and the suite skipped", out)
	}
}
