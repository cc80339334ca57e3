// Command weirlab is weir's port-exhaustion lab (`make lab`).
//
//	weirlab run [-weir bin/weir] [-scenarios 1,2,...]   the whole lab (root)
//
// Its other subcommands are the pieces the lab runs inside its network
// namespaces: load (the client), proxy (the egress proxy), tls-backend,
// sample (conntrack), wait and sysctl.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weirgw/weir/lab"
)

const usage = `weirlab: weir's port-exhaustion lab

Usage:
  weirlab run [flags]      run the lab (needs root, iproute2, iptables, nginx, haproxy)

Pieces the lab runs inside its namespaces:
  weirlab load -url URL -n N -c C -duration D -timeout T [-ready ADDR]
  weirlab proxy -listen ADDR
  weirlab tls-backend -listen ADDR -cert FILE -key FILE
  weirlab sample -dst CIDR [-every D]      conntrack peak, printed on SIGTERM
  weirlab wait ADDR...                     until each accepts TCP (10s each)
  weirlab sysctl KEY=VALUE...              in this network namespace
  weirlab get URL                          print the body of a 200 (weir's /pools)
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
		"run": cmdRun, "load": cmdLoad, "proxy": cmdProxy, "tls-backend": cmdTLSBackend,
		"sample": cmdSample, "wait": cmdWait, "sysctl": cmdSysctl, "get": cmdGet,
	}
	if f, ok := cmds[args[0]]; ok {
		return f(ctx, args[1:], stdout, stderr)
	}
	if h := args[0]; h == "-h" || h == "-help" || h == "--help" || h == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "weirlab: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parse prints the flags where they belong
	return fs
}

// parse parses args; done reports that the caller should return code
// (0 after -help, 2 after bad flags).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "weirlab %s flags:\n", fs.Name())
			fs.PrintDefaults()
			return 0, true
		}
		fs.PrintDefaults()
		return 2, true
	}
	return 0, false
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("run", stderr)
	weir := fs.String("weir", "bin/weir", "the weir binary")
	ports := fs.Int("ports", lab.DefaultPorts, "P: NAT ports per destination (held 240 s)")
	requests := fs.Int("requests", lab.DefaultRequests, "requests per burst")
	conc := fs.Int("concurrency", 0, "client concurrency (default 4P)")
	window := fs.Duration("window", lab.DefaultWindow, "how long a failing burst may go on")
	scen := fs.String("scenarios", "", "comma-separated scenario numbers 1-7 (default all)")
	keep := fs.Bool("keep", false, "keep the scratch directory (configs, logs)")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	o := lab.Options{Ports: *ports, Requests: *requests, Concurrency: *conc, Window: *window, Progress: stderr}
	for f := range strings.SplitSeq(*scen, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 7 {
			fmt.Fprintf(stderr, "weirlab: -scenarios: %q is not 1-7\n", f)
			return 2
		}
		o.Scenarios = append(o.Scenarios, n)
	}
	if err := lab.Available(ctx); err != nil {
		fmt.Fprintf(stderr, "weirlab: %v\n", err)
		return 1
	}
	var err error
	if o.Weir, err = absExisting(*weir); err != nil {
		fmt.Fprintf(stderr, "weirlab: weir binary: %v (build it with make build)\n", err)
		return 1
	}
	if o.Helper, err = os.Executable(); err != nil {
		fmt.Fprintf(stderr, "weirlab: %v\n", err)
		return 1
	}
	if o.Dir, err = os.MkdirTemp("", "weirlab-"); err != nil {
		fmt.Fprintf(stderr, "weirlab: %v\n", err)
		return 1
	}
	if *keep {
		fmt.Fprintf(stderr, "weirlab: configs and logs in %s\n", o.Dir)
	} else {
		defer os.RemoveAll(o.Dir)
	}
	rep, err := lab.Run(ctx, o)
	if err != nil {
		if rep != nil && len(rep.Rows) > 0 {
			rep.WriteTable(stdout)
		}
		fmt.Fprintf(stderr, "weirlab: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	rep.WriteReport(stdout)
	if !rep.OK() {
		return 1
	}
	return 0
}

func absExisting(path string) (string, error) {
	p, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(path, "/") {
		path = p + "/" + path
	}
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	return path, nil
}

func cmdLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("load", stderr)
	var s lab.LoadSpec
	fs.StringVar(&s.URL, "url", "", "URL to GET")
	fs.IntVar(&s.Requests, "n", 1000, "requests")
	fs.IntVar(&s.Concurrency, "c", 16, "concurrency")
	fs.DurationVar(&s.Duration, "duration", 10*time.Second, "stop sending after this long")
	fs.DurationVar(&s.Timeout, "timeout", 8*time.Second, "per-request timeout")
	fs.StringVar(&s.Ready, "ready", "", "host:port to wait for first")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	res, err := lab.Load(ctx, s, nil)
	if err != nil {
		fmt.Fprintf(stderr, "weirlab load: %v\n", err)
		return 1
	}
	return writeJSON(stdout, stderr, res)
}

func cmdProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("proxy", stderr)
	addr := fs.String("listen", "127.0.0.1:3128", "address to listen on")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "weirlab proxy: %v\n", err)
		return 1
	}
	if err := lab.ServeProxy(ctx, ln, 5*time.Second); err != nil {
		fmt.Fprintf(stderr, "weirlab proxy: %v\n", err)
		return 1
	}
	return 0
}

func cmdTLSBackend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("tls-backend", stderr)
	addr := fs.String("listen", "127.0.0.1:9443", "address to listen on")
	cert := fs.String("cert", "", "certificate PEM")
	key := fs.String("key", "", "key PEM")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "weirlab tls-backend: %v\n", err)
		return 1
	}
	if err := lab.ServeTLSBackend(ctx, ln, *cert, *key); err != nil {
		fmt.Fprintf(stderr, "weirlab tls-backend: %v\n", err)
		return 1
	}
	return 0
}

func cmdSample(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("sample", stderr)
	dst := fs.String("dst", "", "count conntrack entries toward this CIDR")
	every := fs.Duration("every", 100*time.Millisecond, "sampling interval")
	if code, done := parse(fs, args, stdout); done {
		return code
	}
	pfx, err := netip.ParsePrefix(*dst)
	if err != nil || *every <= 0 {
		fmt.Fprintf(stderr, "weirlab sample: -dst %q / -every %v: %v\n", *dst, *every, err)
		return 2
	}
	return writeJSON(stdout, stderr, lab.SampleConntrack(ctx, pfx, *every))
}

func cmdWait(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if err := lab.WaitTCP(ctx, 10*time.Second, args...); err != nil {
		fmt.Fprintf(stderr, "weirlab wait: %v\n", err)
		return 1
	}
	return 0
}

func cmdGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, "usage: weirlab get URL\n")
		return 2
	}
	body, err := lab.Get(ctx, args[0])
	if err != nil {
		fmt.Fprintf(stderr, "weirlab get: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(body)
	return 0
}

func cmdSysctl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if err := lab.WriteSysctls(args); err != nil {
		fmt.Fprintf(stderr, "weirlab sysctl: %v\n", err)
		return 1
	}
	return 0
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(stderr, "weirlab: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil && !errors.Is(err, os.ErrClosed) {
		return 1
	}
	return 0
}
