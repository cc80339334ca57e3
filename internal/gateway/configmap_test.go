package gateway_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/weirtest"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// kubeletWrite writes content as the kubelet writes a ConfigMap volume
// (its AtomicWriter): into a new timestamped directory, then swaps the
// ..data symlink to it in one rename, then removes the old directory.
// The file weir reads, dir/weir.yaml, is a symlink to ..data/weir.yaml
// throughout: its own inode never changes.
func kubeletWrite(t *testing.T, dir, content string, n int) {
	t.Helper()
	ts := filepath.Join(dir, fmt.Sprintf("..2026_12_04_06_00_%02d.123456789", n))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "weir.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWatchSeesConfigMapSwap: in Kubernetes the config is a ConfigMap
// mounted as a directory, which the kubelet updates by swapping a symlink
// (deploy/kubernetes); weir's watcher, which reads the file through the
// symlinks and compares content, reloads it.
func TestWatchSeesConfigMapSwap(t *testing.T) {
	be := peer.HTTP(t, peer.OK, nil)
	cfgA, cfgB, _ := reloadConfigs(be.URL, be.URL)
	g := weirtest.Start(t, cfgA)
	dir := filepath.Dir(g.File)
	kubeletWrite(t, dir, cfgA, 1)
	link := g.File + ".link"
	if err := os.Symlink("..data/"+filepath.Base(g.File), link); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link, g.File); err != nil { // the same content, now through the symlinks
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Control.Watch(ctx, 10*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	kubeletWrite(t, dir, cfgB, 2)
	waitFor(t, func() bool { return g.Control.Status().ReloadsOK == 1 })
	if st := g.Control.Status(); st.LastReload.Trigger != admin.TriggerFile || st.APIs != 3 {
		t.Errorf("after the ConfigMap's swap: got %+v (%d APIs), want a file-triggered reload to config B", st.LastReload, st.APIs)
	}
	if code, err := do(client(1), "GET", g.URL+"/b/x", ""); err != nil || code != 200 {
		t.Errorf("API the swap added: got %d %v, want 200", code, err)
	}
	if fi, err := os.Lstat(g.File); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s: got %v %v, want it still a symlink", g.File, fi, err)
	}
}
