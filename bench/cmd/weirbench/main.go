// Command weirbench is weir's benchmark suite against nginx, HAProxy and
// Caddy (`make bench`).
//
//	weirbench run [-weir bin/weir] [-rounds 3] [-short] ...   the suite; writes BENCHMARKS.md and plots
//	weirbench report -json bench/results.json                 the report again from saved results
//	weirbench backend -ports N -info FILE                     the suite's backend
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/weirgw/weir/bench"
)

const usage = `weirbench: weir's benchmark suite against nginx, HAProxy and Caddy

Usage:
  weirbench run [flags]        run the suite; write BENCHMARKS.md, the plots and the raw results
  weirbench report [flags]     write BENCHMARKS.md and the plots again from saved results
  weirbench backend [flags]    the suite's backend (the suite starts it)

Run 'weirbench COMMAND -help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) int{
		"run": cmdRun, "report": cmdReport, "backend": cmdBackend,
	}
	if f, ok := cmds[args[0]]; ok {
		return f(ctx, args[1:], stdout, stderr)
	}
	if h := args[0]; h == "-h" || h == "-help" || h == "--help" || h == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "weirbench: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parse prints the flags where they belong
	return fs
}

// parse parses args; done reports that the caller should return code (0
// after -help, 2 after bad flags or stray arguments).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "weirbench %s flags:\n", fs.Name())
			fs.PrintDefaults()
			return 0, true
		}
		fs.PrintDefaults()
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "weirbench %s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return 2, true
	}
	return 0, false
}

// outputs are where the report goes.
type outputs struct {
	report, plots, json, note string
}

func (o *outputs) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.report, "report", "BENCHMARKS.md", "the Markdown report to write")
	fs.StringVar(&o.plots, "plots", "bench/plots", "directory of the PNG plots (linked from the report)")
	fs.StringVar(&o.note, "note", "", "a note for the top of the report (say, that the machine was busy)")
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("run", stderr)
	var out outputs
	out.flags(fs)
	fs.StringVar(&out.json, "json", "bench/results.json", "the raw results to write (JSON; input of weirbench report)")
	weir := fs.String("weir", "bin/weir", "the weir binary")
	rounds := fs.Int("rounds", 3, "rounds of every scenario (peers take turns within a round)")
	duration := fs.Duration("duration", 5*time.Second, "length of a measured run")
	warmup := fs.Duration("warmup", time.Second, "unmeasured load each peer gets after it starts")
	modes := fs.String("modes", "pinned,unpinned", "modes, in order: pinned (proxy on CPU 0, load and backend on CPU 1), unpinned")
	short := fs.Bool("short", false, "only the scenarios marked short (the smoke test's set)")
	scenarios := fs.String("scenarios", "", "comma-separated scenario names (default all)")
	peers := fs.String("peers", "", "comma-separated peer names (default all)")
	install := fs.Bool("install", true, "apt-get install missing peers and tools when running as root")
	require := fs.Bool("require", false, "fail when a peer is missing instead of leaving it out")
	timeout := fs.Duration("timeout", 40*time.Minute, "bound on the whole run")
	keep := fs.Bool("keep", false, "keep the scratch directory (configs, logs)")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	o := bench.Options{
		Rounds: *rounds, Duration: *duration, Warmup: *warmup, Short: *short,
		Scenarios: list(*scenarios), Peers: list(*peers), Install: *install, Require: *require, Progress: stderr,
	}
	for _, m := range list(*modes) {
		o.Modes = append(o.Modes, bench.Mode(m))
	}
	var err error
	if o.Weir, err = filepath.Abs(*weir); err == nil {
		_, err = os.Stat(o.Weir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "weirbench: weir binary: %v (build it with make build)\n", err)
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "weirbench: %v\n", err)
		return 1
	}
	o.Backend = []string{self, "backend"}
	if o.Dir, err = os.MkdirTemp("", "weirbench-"); err != nil {
		fmt.Fprintf(stderr, "weirbench: %v\n", err)
		return 1
	}
	if *keep {
		fmt.Fprintf(stderr, "weirbench: configs and logs in %s\n", o.Dir)
	} else {
		defer os.RemoveAll(o.Dir)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := bench.RunSuite(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "weirbench: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	res.Machine.Revision = revision(ctx)
	res.Command = commandLine(append([]string{"weirbench", "run"}, args...))
	res.Note = out.note
	if err := write(res, out); err != nil {
		fmt.Fprintf(stderr, "weirbench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", out.report, out.plots, out.json)
	if n := res.FailedRuns(); n > 0 {
		fmt.Fprintf(stderr, "weirbench: %d runs had errors or problems (see the report)\n", n)
		return 1
	}
	return 0
}

func cmdReport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("report", stderr)
	var out outputs
	out.flags(fs)
	fs.StringVar(&out.json, "json", "bench/results.json", "the raw results to read")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	b, err := os.ReadFile(out.json)
	if err != nil {
		fmt.Fprintf(stderr, "weirbench: %v\n", err)
		return 1
	}
	var res bench.Results
	if err := json.Unmarshal(b, &res); err != nil {
		fmt.Fprintf(stderr, "weirbench: %s: %v\n", out.json, err)
		return 1
	}
	out.json = "" // read, not written
	if out.note != "" {
		res.Note = out.note
	}
	if err := write(&res, out); err != nil {
		fmt.Fprintf(stderr, "weirbench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", out.report, out.plots)
	return 0
}

// write writes the plots, the report and (when out.json is set) the raw
// results.
func write(res *bench.Results, out outputs) error {
	if out.json != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out.json), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out.json, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	plots, err := bench.WritePlots(res, out.plots)
	if err != nil {
		return err
	}
	rel := make([]string, len(plots))
	for i, p := range plots {
		if rel[i], err = filepath.Rel(filepath.Dir(out.report), p); err != nil {
			return err
		}
	}
	f, err := os.Create(out.report)
	if err != nil {
		return err
	}
	if err := bench.WriteReport(f, res, rel); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// revision names the checked-out weir source, when this is a git checkout.
func revision(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// commandLine renders argv for a shell, quoting the arguments that need it.
func commandLine(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`;&|<>()*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// list splits a comma-separated flag value.
func list(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func cmdBackend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("backend", stderr)
	ports := fs.Int("ports", 1, "ports to listen on (127.0.0.1, chosen by the kernel), one per proxy")
	info := fs.String("info", "", "file to write the addresses to, as JSON, once listening (required)")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	if *info == "" || *ports < 1 {
		fmt.Fprintln(stderr, "weirbench backend: -info is required and -ports must be at least 1")
		return 2
	}
	if err := bench.ServeBackend(ctx, *ports, *info); err != nil {
		fmt.Fprintf(stderr, "weirbench backend: %v\n", err)
		return 1
	}
	return 0
}
