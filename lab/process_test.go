package lab

import (
	"context"
	"errors"
	"slices"
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

func TestInNS(t *testing.T) {
	tests := []struct {
		name string
		ns   string
		argv []string
		want []string
	}{
		{name: "own namespace", argv: []string{"/bin/true", "x"}, want: []string{"/bin/true", "x"}},
		{name: "in a namespace", ns: "lab-gw", argv: []string{"/bin/true"}, want: []string{toolPath("ip"), "netns", "exec", "lab-gw", "/bin/true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inNS(tt.ns, tt.argv); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
