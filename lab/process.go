package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a child gets after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// outputCap bounds what is kept of a child's combined output.
const outputCap = 64 << 10

// proc is a child process the lab started, in its own process group so a
// terminal's Ctrl-C reaches only the lab, which then stops it (and anything
// it forked, like nginx's workers) by group.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *capped
	done chan struct{}
	err  error // valid after done
}

// capped is a bytes.Buffer that keeps at most outputCap bytes.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := outputCap - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// command builds a command that runs in network namespace ns ("" = the
// lab's own), in its own process group, killed if the lab dies.
func command(ns string, argv ...string) *exec.Cmd {
	argv = slices.Clone(argv)
	argv[0] = toolPath(argv[0])
	if ns != "" {
		argv = append([]string{toolPath("ip"), "netns", "exec", ns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// toolPath finds a command on PATH, else in /usr/sbin or /sbin (which a
// non-root PATH often lacks); a path with a slash is returned as is, and a
// name not found anywhere too (running it then fails with its name).
func toolPath(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}

// start runs argv in ns in the background.
func start(name, ns string, argv ...string) (*proc, error) {
	p := &proc{name: name, cmd: command(ns, argv...), out: &capped{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether p has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to p's process group, waits up to grace, then kills
// the group. It reports whether p had to be killed.
func (p *proc) stop(grace time.Duration) (killed bool) {
	pgid := p.cmd.Process.Pid
	if !p.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			killed = true
		}
	}
	// The leader may be gone while its workers are not (nginx).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
	return killed
}

// CommandError is a command the lab ran that failed; Output is what it
// printed.
type CommandError struct {
	Args   []string
	Err    error
	Output string
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 2000 {
		out = out[:2000] + "..."
	}
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Args, " "), e.Err, out)
}

func (e *CommandError) Unwrap() error { return e.Err }

// runCmd runs argv in ns to completion (bounded by ctx), feeding stdin, and
// returns its stdout; a failure is a *CommandError with stderr.
func runCmd(ctx context.Context, ns, stdin string, argv ...string) (string, error) {
	cmd := command(ns, argv...)
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Start(); err != nil {
		return "", &CommandError{Args: cmd.Args, Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = ctx.Err()
	}
	if err != nil {
		return stdout.String(), &CommandError{Args: cmd.Args, Err: err, Output: stderr.String() + stdout.String()}
	}
	return stdout.String(), nil
}
