package lab

import (
	"context"
	"slices"
	"time"

	"github.com/weirgw/weir/internal/child"
)

// stopGrace is how long a child gets after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// proc is a child process the lab started, in its own process group so a
// terminal's Ctrl-C reaches only the lab, which then stops it (and anything
// it forked, like nginx's workers) by group.
type proc = child.Process

// CommandError is a command the lab ran that failed; Output is what it
// printed.
type CommandError = child.CommandError

// inNS is argv to run in network namespace ns ("" = the lab's own), its
// program found by toolPath.
func inNS(ns string, argv []string) []string {
	argv = slices.Clone(argv)
	argv[0] = toolPath(argv[0])
	if ns != "" {
		argv = append([]string{toolPath("ip"), "netns", "exec", ns}, argv...)
	}
	return argv
}

// toolPath finds a command on PATH, else in /usr/sbin or /sbin (which a
// non-root PATH often lacks); a name not found anywhere is returned as is
// (running it then fails with its name).
func toolPath(name string) string {
	if p, ok := child.LookTool(name); ok {
		return p
	}
	return name
}

// start runs argv in ns in the background.
func start(name, ns string, argv ...string) (*proc, error) {
	return child.Start(name, nil, inNS(ns, argv)...)
}

// runCmd runs argv in ns to completion (bounded by ctx), feeding stdin, and
// returns its stdout; a failure is a *CommandError with stderr.
func runCmd(ctx context.Context, ns, stdin string, argv ...string) (string, error) {
	return child.Run(ctx, nil, stdin, inNS(ns, argv)...)
}
