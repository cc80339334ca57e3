package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// ports hands out TCP ports on 127.0.0.1 for servers that must be told
// theirs in a config file: ports below the kernel's ephemeral range (so no
// outgoing connection takes one between the pick and the server's bind),
// each free when picked and never handed out twice.
type ports struct {
	mu   sync.Mutex
	next int // the next port to try
	low  int // the first ephemeral port
}

// newPorts reads the ephemeral range from proc and starts below it.
func newPorts(proc string) (*ports, error) {
	b, err := os.ReadFile(filepath.Join(proc, "sys", "net", "ipv4", "ip_local_port_range"))
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(b))
	low := 0
	if len(f) == 2 {
		low, err = strconv.Atoi(f[0])
	}
	if len(f) != 2 || err != nil || low <= 1024 {
		return nil, fmt.Errorf("ip_local_port_range %q: want two ports, the first above 1024", bytes.TrimSpace(b))
	}
	// Start somewhere in the lower half of the range below it, so that
	// two suites at once are unlikely to race for the same ports.
	first := max(1024, low/2)
	return &ports{next: first + rand.IntN(low/4), low: low}, nil
}

// pick returns the next port that is free now.
func (p *ports) pick() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 1000 {
		port := p.next
		p.next++
		if p.next >= p.low {
			p.next = max(1024, p.low/2)
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port on 127.0.0.1 below %d", p.low)
}
