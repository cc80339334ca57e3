package doctor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultAdmin is the admin API `weir doctor` reads when given neither
// -admin nor -log: the default admin.listen.
const DefaultAdmin = "http://127.0.0.1:9901"

// Exit codes of Main, like grep's and diff's: whether something was found.
const (
	ExitHealthy  = 0 // no finding at warning or above
	ExitFindings = 1 // at least one warning or critical finding
	ExitTrouble  = 2 // bad usage, or the input could not be read
)

const help = `weir doctor [-admin URL] [-log FILE] [-json] [-port-budget N] [-token TOKEN]

Diagnose a running instance (its admin API: the port ledger of /pools and
the config of /apis) and/or a request log file, and print findings most
severe first, each with its evidence and the mitigation. With neither
-admin nor -log it reads ` + DefaultAdmin + `.

Exit status: 0 no finding at warning or above, 1 at least one, 2 bad usage
or unreadable input.

`

// Main runs `weir doctor` with args (the flags after the subcommand) and
// returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "", "admin API base URL of a running instance, e.g. "+DefaultAdmin)
	logFile := fs.String("log", "", "request log file to read (- for stdin)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	budget := fs.Int("port-budget", DefaultPortBudget, "ports one (source IP, destination) tuple may hold: the ephemeral range, or your NAT's ports per instance and destination")
	token := fs.String("token", os.Getenv("WEIR_ADMIN_TOKEN"), "admin bearer token (default $WEIR_ADMIN_TOKEN)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on reading the admin API")
	usage := func(w io.Writer) {
		fmt.Fprint(w, help)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // printed below, once, where it belongs
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return ExitHealthy
		}
		usage(stderr) // after the flag package's own error line
		return ExitTrouble
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "weir doctor: unexpected arguments: %v\n", fs.Args())
		return ExitTrouble
	}
	if *budget <= 0 {
		fmt.Fprintln(stderr, "weir doctor: -port-budget must be > 0")
		return ExitTrouble
	}
	if *admin == "" && *logFile == "" {
		*admin = DefaultAdmin
	}

	var in Input
	var sources []string
	if *admin != "" {
		if !strings.Contains(*admin, "://") {
			*admin = "http://" + *admin
		}
		actx, cancel := context.WithTimeout(ctx, *timeout)
		got, err := Fetch(actx, &http.Client{}, *admin, *token)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "weir doctor: %v\n", err)
			return ExitTrouble
		}
		in.Pools, in.APIs = got.Pools, got.APIs
		sources = append(sources, *admin)
	}
	if *logFile != "" {
		l, err := readLogFile(*logFile)
		if err != nil {
			fmt.Fprintf(stderr, "weir doctor: %v\n", err)
			return ExitTrouble
		}
		in.Log = l
		sources = append(sources, *logFile)
	}

	rep := NewReport(strings.Join(sources, " + "), in, Options{PortBudget: *budget}, time.Now())
	var err error
	if *asJSON {
		err = WriteJSON(stdout, rep)
	} else {
		err = WriteText(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "weir doctor: %v\n", err)
		return ExitTrouble
	}
	if w, ok := Worst(rep.Findings); ok && w >= Warning {
		return ExitFindings
	}
	return ExitHealthy
}

func readLogFile(name string) (*Log, error) {
	if name == "-" {
		return ReadLog(os.Stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := ReadLog(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return l, nil
}
