// Command weir is the weir API gateway.
//
//	weir run -c FILE            serve until SIGTERM/SIGINT (SIGHUP reloads)
//	weir validate -c FILE       check a config; FILE:LINE:COL for each problem
//	weir demo-backend -listen ADDR
//	weir doctor -admin URL | -log FILE [-json]
//	weir schema                 the config's JSON Schema
//	weir version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/weirgw/weir/internal/admin"
	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/demo"
	"github.com/weirgw/weir/internal/doctor"
	"github.com/weirgw/weir/internal/gateway"
	"github.com/weirgw/weir/internal/store"
	"github.com/weirgw/weir/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `weir: a self-hosted API gateway

Usage:
  weir run [-c FILE]            serve the config (default weir.yaml) until SIGTERM/SIGINT; SIGHUP
                                (or POST /reload, or editing the file) reloads
  weir validate [-c FILE]       check a config: every problem as FILE:LINE:COL: message
  weir demo-backend [-listen ADDR]
                                run the built-in demo backend (default 127.0.0.1:9000)
  weir doctor [-admin URL] [-log FILE] [-json]
                                name the cause of backend trouble from a running instance or a request log
  weir schema                   print the config's JSON Schema (for editors: weir.schema.json)
  weir version                  print the version

Run 'weir COMMAND --help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "demo-backend":
		return cmdDemo(args[1:], stdout, stderr)
	case "doctor":
		return doctor.Main(context.Background(), args[1:], stdout, stderr)
	case "schema":
		return cmdSchema(args[1:], stdout, stderr)
	case "version":
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if code, done := parse(fs, args[1:], stdout, "weir version\n\nPrint the version.\n"); done {
			return code
		}
		fmt.Fprintf(stdout, "weir %s %s\n", version, goVersion())
		return 0
	}
	fmt.Fprintf(stderr, "weir: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return ""
}

// parse parses flags; done reports that the caller should return code
// (help printed, or bad flags).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer, help string) (code int, done bool) {
	usage := func(w io.Writer) {
		fmt.Fprint(w, help)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	stderr := fs.Output()
	fs.Usage = func() {} // printed below, once, where it belongs
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0, true
		}
		usage(stderr) // after the flag package's own error line
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return 2, true
	}
	return 0, false
}

// load loads a config, printing its problems and warnings.
func load(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
		}
		return nil, false
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, w.String())
	}
	return cfg, true
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "weir.yaml", "config file")
	if code, done := parse(fs, args, stdout, "weir validate [-c FILE]\n\nCheck a config. Exit 0 when valid (warnings are printed as FILE:LINE:COL: warning: ...), 1 otherwise.\n\n"); done {
		return code
	}
	cfg, ok := load(*file, stdout)
	if !ok {
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d APIs)\n", *file, len(cfg.APIs))
	return 0
}

func cmdSchema(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if code, done := parse(fs, args, stdout, "weir schema\n\nPrint the JSON Schema (draft 2020-12) of the config file, generated from the decoder's own tables: every key, its type, default and a one-line description. Editors with the YAML language server use it through a first line like\n  # yaml-language-server: $schema=weir.schema.json\n"); done {
		return code
	}
	b, err := config.Schema()
	if err != nil {
		fmt.Fprintf(stderr, "weir schema: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(b)
	return 0
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo-backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:9000", "address to listen on")
	if code, done := parse(fs, args, stdout, "weir demo-backend [-listen ADDR]\n\nRun the built-in demo backend: /echo, /status/N, /delay?ms=N, /bytes?n=N, /close.\n\n"); done {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Fprintf(stderr, "weir demo-backend listening on %s\n", *addr)
	if err := demo.ListenAndServe(ctx, *addr, stderr); err != nil {
		fmt.Fprintf(stderr, "weir demo-backend: %v\n", err)
		return 1
	}
	return 0
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "weir.yaml", "config file")
	if code, done := parse(fs, args, stdout, "weir run [-c FILE]\n\nServe the config until SIGTERM/SIGINT, then drain in-flight requests up to drain_timeout. SIGHUP, POST /reload on the admin API and a change of the file's content reload the config.\n\n"); done {
		return code
	}
	cfg, ok := load(*file, stderr)
	if !ok {
		return 1
	}
	logw, closeLog, err := openLog(cfg.Log.Requests, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "weir: request log: %v\n", err)
		return 1
	}
	defer closeLog()

	// Redis outages are two lines of weir's each; the Redis client's own
	// lines (a dial error per attempt while Redis is down) go through the
	// same log, which holds them back. go-redis has one process-wide logger.
	storeLog := store.NewLog(stderr)
	redis.SetLogger(storeLog)
	st := gateway.NewState()
	st.Stores.Log = storeLog
	snap, err := gateway.Build(context.Background(), cfg, st)
	if err != nil {
		fmt.Fprintf(stderr, "weir: %v\n", err)
		return 1
	}
	srv := gateway.NewServer(st, snap, telemetry.NewRequestLog(logw), stderr)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "weir: %v\n", err)
		return 1
	}
	var aln net.Listener
	if cfg.Admin.Listen != "off" {
		if aln, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			fmt.Fprintf(stderr, "weir: admin: %v\n", err)
			return 1
		}
	}
	ctl := gateway.NewControl(srv, gateway.ControlOptions{Version: version, Log: stderr, AdminAddr: advertised(aln)})
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go ctl.Watch(watchCtx, time.Second)
	// Registered in a redis store while serving; off the list once draining.
	announceCtx, stopAnnounce := context.WithCancel(context.Background())
	announced := make(chan struct{})
	go func() { ctl.Announce(announceCtx); close(announced) }()
	defer func() { stopAnnounce(); <-announced }()
	var adminSrv *http.Server
	if aln != nil {
		h := admin.Handler(ctl, admin.WithToken(cfg.Admin.Token), admin.WithMetrics(st.Metrics.Handler()), admin.WithRoutes(admin.StatusPage))
		adminSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = adminSrv.Serve(aln) }()
		fmt.Fprintf(stderr, "weir admin listening on %s\n", aln.Addr())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "weir %s listening on %s (%d APIs)\n", version, ln.Addr(), len(cfg.APIs))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-serveErr:
			fmt.Fprintf(stderr, "weir: serve: %v\n", err)
			return 1
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				ctl.Reload(context.Background(), admin.TriggerSignal)
				continue
			}
			stopWatch()
			stopAnnounce()
			<-announced
			drain := srv.Snapshot().Config.DrainTimeout
			fmt.Fprintf(stderr, "weir: %v: draining (up to %v)\n", sig, drain)
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			err := srv.Shutdown(ctx)
			cancel()
			if adminSrv != nil {
				_ = adminSrv.Close()
			}
			if err != nil {
				fmt.Fprintf(stderr, "weir: drain deadline passed with requests in flight: %v\n", err)
				return 1
			}
			fmt.Fprintln(stderr, "weir: stopped")
			return 0
		}
	}
}

// advertised is the admin address peers reach this instance at: the
// listener's, with this host's name when it listens on every interface;
// "" without an admin listener.
func advertised(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return ln.Addr().String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	return net.JoinHostPort(host, port)
}

// openLog opens the request log destination.
func openLog(dest string, stdout, stderr io.Writer) (io.Writer, func(), error) {
	switch dest {
	case "", "stdout":
		return stdout, func() {}, nil
	case "stderr":
		return stderr, func() {}, nil
	case "off":
		return nil, func() {}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil
}
