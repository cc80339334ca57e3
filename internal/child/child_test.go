package child

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	out, err := Run(t.Context(), nil, "in", "sh", "-c", "cat; echo out")
	if err != nil || out != "inout\n" {
		t.Errorf("got %q, %v; want %q", out, err, "inout\n")
	}
	out, err = Run(t.Context(), []string{"CHILD_TEST=set"}, "", "sh", "-c", "echo $CHILD_TEST")
	if err != nil || out != "set\n" {
		t.Errorf("with env: got %q, %v; want %q", out, err, "set\n")
	}
	_, err = Run(t.Context(), nil, "", "sh", "-c", "echo why >&2; exit 3")
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Output, "why") {
		t.Errorf("got %v, want a *CommandError with the stderr", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The sleep is a grandchild holding the output pipe: the group dies.
	_, err = Run(ctx, nil, "", "sh", "-c", "sleep 30; true")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a cancelled run took %v to return, want it prompt", took)
	}
}

func TestStop(t *testing.T) {
	for _, tt := range []struct {
		name       string
		script     string
		wantKilled bool
	}{
		{"stops on SIGTERM", "echo ready; sleep 30 & wait", false},
		{"ignores SIGTERM", "trap '' TERM; echo ready; sleep 30 & wait; sleep 30", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start("sh", nil, "sh", "-c", tt.script)
			if err != nil {
				t.Fatal(err)
			}
			// Stop it only once its trap is set.
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Output(), "ready"); {
				if p.Exited() || time.Now().After(deadline) {
					p.Stop(0)
					t.Fatalf("never got ready: %q", p.Output())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if killed := p.Stop(200 * time.Millisecond); killed != tt.wantKilled {
				t.Errorf("got killed %v, want %v", killed, tt.wantKilled)
			}
			if !p.Exited() || p.Err() == nil {
				t.Errorf("after Stop: got exited %v, error %v; want exited by a signal", p.Exited(), p.Err())
			}
		})
	}
}

func TestStartFails(t *testing.T) {
	if _, err := Start("nothing", nil, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("got no error starting a missing program, want one")
	}
}

func TestOutput(t *testing.T) {
	var o Output
	big := strings.Repeat("x", OutputCap+10)
	if n, err := o.Write([]byte(big)); n != len(big) || err != nil {
		t.Errorf("got %d, %v; want the whole write accepted", n, err)
	}
	if got := len(o.String()); got != OutputCap {
		t.Errorf("got %d bytes kept, want %d", got, OutputCap)
	}
}

func TestLookTool(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tool, want string
		ok               bool
	}{
		{name: "on PATH", tool: "tool", want: exe, ok: true},
		{name: "a path", tool: "./x/y", want: "./x/y", ok: true},
		{name: "nowhere", tool: "no-such-tool-anywhere", want: "", ok: false},
	}
	for _, tt := range tests {
		if got, ok := LookTool(tt.tool); got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
