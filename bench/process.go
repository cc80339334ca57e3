package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/weirgw/weir/internal/child"
)

// stopGrace is how long a process gets after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// failure describes p's state for an error message: its exit and the end
// of its output.
func failure(p *child.Process) string {
	out := strings.TrimSpace(p.Output())
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	state := "running"
	if p.Exited() {
		state = fmt.Sprintf("exited (%v)", p.Err())
	}
	return fmt.Sprintf("%s %s; its output: %s", p.Name, state, out)
}

// waitListening waits until addr accepts a connection, p ends, or timeout
// passes.
func waitListening(ctx context.Context, p *child.Process, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case p.Exited():
			return fmt.Errorf("%s did not start listening on %s: %s", p.Name, addr, failure(p))
		case time.Now().After(deadline):
			return fmt.Errorf("%s did not listen on %s within %v: %s", p.Name, addr, timeout, failure(p))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// servers that must be told their port in a config file.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
