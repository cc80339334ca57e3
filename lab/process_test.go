package lab

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunCmd(t *testing.T) {
	out, err := runCmd(t.Context(), "", "in", "sh", "-c", "cat; echo out")
	if err != nil || out != "inout\n" {
		t.Errorf("got %q, %v; want %q", out, err, "inout\n")
	}
	_, err = runCmd(t.Context(), "", "", "sh", "-c", "echo why >&2; exit 3")
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Output, "why") {
		t.Errorf("got %v, want a *CommandError with the stderr", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = runCmd(ctx, "", "", "sleep", "30")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
}

func TestProcStop(t *testing.T) {
	for _, tt := range []struct {
		name       string
		script     string
		wantKilled bool
	}{
		{"stops on SIGTERM", "echo ready; sleep 30 & wait", false},
		{"ignores SIGTERM", "trap '' TERM; echo ready; sleep 30 & wait; sleep 30", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := start("sh", "", "sh", "-c", tt.script)
			if err != nil {
				t.Fatal(err)
			}
			// Stop it only once its trap is set.
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.out.String(), "ready"); {
				if p.exited() || time.Now().After(deadline) {
					p.stop(0)
					t.Fatalf("never got ready: %q", p.out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if killed := p.stop(200 * time.Millisecond); killed != tt.wantKilled {
				t.Errorf("got killed %v, want %v", killed, tt.wantKilled)
			}
			if !p.exited() {
				t.Error("still running after stop")
			}
		})
	}
}

func TestCapped(t *testing.T) {
	var c capped
	big := strings.Repeat("x", outputCap+10)
	if n, err := c.Write([]byte(big)); n != len(big) || err != nil {
		t.Errorf("got %d, %v; want the whole write accepted", n, err)
	}
	if got := len(c.String()); got != outputCap {
		t.Errorf("got %d bytes kept, want %d", got, outputCap)
	}
}
