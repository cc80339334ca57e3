// Package child runs the programs that weir's test rigs (the port-exhaustion
// lab, the benchmark suite) start: each in its own process group, so that a
// terminal's Ctrl-C reaches only the rig, which then stops the child and
// anything it forked (nginx's workers) by group; and killed if the rig
// dies. Imports no other weir package.
package child

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// OutputCap bounds what is kept of a child's output.
const OutputCap = 64 << 10

// Output keeps the first OutputCap bytes written to it; it is safe for
// concurrent use.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps what fits and reports everything written.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := OutputCap - o.buf.Len(); room > 0 {
		o.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String is what was kept.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Command builds argv as a command in its own process group, killed (with
// its group) when ctx ends or the calling process dies, with env added to
// the calling process's environment.
func Command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Output pipes held open by something outside the group must not
	// hold Wait forever.
	cmd.WaitDelay = 5 * time.Second
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	return cmd
}

// LookTool finds a program on PATH, else in /usr/sbin or /sbin (which a
// non-root PATH often lacks); a name with a slash is taken as it is. ok is
// false when it is nowhere.
func LookTool(name string) (path string, ok bool) {
	if strings.Contains(name, "/") {
		return name, true
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// Process is a child running in the background.
type Process struct {
	// Name names it in messages.
	Name string
	cmd  *exec.Cmd
	out  *Output
	done chan struct{}
	err  error // valid after done
}

// Start runs argv in the background, its output (stdout and stderr) kept.
func Start(name string, env []string, argv ...string) (*Process, error) {
	p := &Process{Name: name, cmd: Command(context.Background(), env, argv...), out: &Output{}, done: make(chan struct{})}
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

// Pid is the child's process id, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is what the child printed so far (the first OutputCap bytes).
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the child has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the child ended (nil for exit status 0); valid once Exited.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM to the child's process group, waits up to grace,
// then kills the group (the leader may be gone while its workers are not)
// and waits for the child. It reports whether the child had to be killed.
func (p *Process) Stop(grace time.Duration) (killed bool) {
	pgid := p.Pid()
	if !p.Exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		select {
		case <-p.done:
		case <-t.C:
			killed = true
		}
		t.Stop()
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
	return killed
}

// CommandError is a command that failed; Output is what it printed.
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

// Run runs argv to completion, bounded by ctx (its group is killed when
// ctx ends), feeding it stdin, and returns its standard output; a failure
// is a *CommandError with its standard error (and output), wrapping ctx's
// error when ctx ended it.
func Run(ctx context.Context, env []string, stdin string, argv ...string) (string, error) {
	cmd := Command(ctx, env, argv...)
	var stdout, stderr Output
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return stdout.String(), &CommandError{Args: cmd.Args, Err: err, Output: stderr.String() + stdout.String()}
	}
	return stdout.String(), nil
}
