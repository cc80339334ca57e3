package weirtest

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary builds the weir command into dir and returns the binary's path:
// for a TestMain, once per test binary. The error holds go build's
// output.
func Binary(dir string) (string, error) {
	bin := filepath.Join(dir, "weir")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/weirgw/weir/cmd/weir").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building weir: %w\n%s", err, out)
	}
	return bin, nil
}

// Proc is a running weir subprocess.
type Proc struct {
	Cmd  *exec.Cmd
	Out  *Buffer       // its stdout and stderr
	done chan struct{} // closed once the process has exited
	err  error         // Wait's result, set before done is closed
}

// Run starts bin (a Binary) with args; env, if not nil, is its whole
// environment. The process is killed at the end of the test if it is still
// running, and its output logged if the test failed.
func Run(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(bin, args...), Out: &Buffer{}, done: make(chan struct{})}
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = p.Out, p.Out
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting weir %v: %v", args, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of weir %s:\n%s", strings.Join(args, " "), p.Out)
		}
	})
	return p
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error (nil: exit status 0), once Done is
// closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// WaitListening waits (up to 10 s) until addr accepts connections,
// failing the test at once if the process exits first.
func (p *Proc) WaitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("weir exited (%v) before listening on %s:\n%s", p.err, addr, p.Out)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listening on %s after 10s:\n%s", addr, p.Out)
}
