package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the backend's requests.
const (
	// MaxSize is the largest response body a request may ask for (size=N).
	MaxSize = 64 << 20
	// MaxDelay is the longest wait a request may ask for (delay=MS).
	MaxDelay = 10 * time.Second
	// maxHead bounds a request's line plus headers: more is 431 and close.
	maxHead = 64 << 10
	// patternSize is the shared body buffer, a whole number of alphabets
	// of at least 1 MiB: bigger bodies repeat it.
	patternSize = (1<<20 + 25) / 26 * 26
	// headerRead bounds how long a connection may take to send a head once
	// it began one, and how long it may sit idle between requests.
	headerRead = 2 * time.Minute
)

// Backend is the suite's origin server: a minimal HTTP/1.1 server that
// answers from prebuilt bytes, so that it costs less per request than any
// proxy in front of it. It listens on one port per proxy and counts, per
// port, the connections it accepted and the requests it answered, which is
// how the suite sees each proxy's backend connection churn.
//
// Every request is answered 200 with a body of the length the query asks
// for; the query string chooses the rest (see ParseQuery). A request body
// is read and dropped.
type Backend struct {
	ports []*port
	body  []byte                 // every response's body (repeated past its length)
	date  atomic.Pointer[[]byte] // "Date: ...\r\n", refreshed every second
}

// port is one listener and its counts.
type port struct {
	ln       net.Listener
	accepts  atomic.Int64
	requests atomic.Int64
}

// Counts are what one backend port saw since it started.
type Counts struct {
	Accepts  int64 `json:"accepts"`
	Requests int64 `json:"requests"`
}

// NewBackend listens on n ports of 127.0.0.1 chosen by the kernel.
func NewBackend(n int) (*Backend, error) {
	b := &Backend{body: make([]byte, patternSize)}
	for i := range b.body {
		b.body[i] = 'a' + byte(i%26)
	}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.close()
			return nil, err
		}
		b.ports = append(b.ports, &port{ln: ln})
	}
	b.setDate(time.Now())
	return b, nil
}

// Addrs are the listening addresses, in order.
func (b *Backend) Addrs() []string {
	out := make([]string, len(b.ports))
	for i, p := range b.ports {
		out[i] = p.ln.Addr().String()
	}
	return out
}

// Counts returns each port's counts, keyed by address.
func (b *Backend) Counts() map[string]Counts {
	out := make(map[string]Counts, len(b.ports))
	for _, p := range b.ports {
		out[p.ln.Addr().String()] = Counts{Accepts: p.accepts.Load(), Requests: p.requests.Load()}
	}
	return out
}

func (b *Backend) close() {
	for _, p := range b.ports {
		p.ln.Close()
	}
}

func (b *Backend) setDate(t time.Time) {
	d := []byte("Date: " + t.UTC().Format(http.TimeFormat) + "\r\n")
	b.date.Store(&d)
}

// Serve answers on every port until ctx is done, then closes the listeners
// and every open connection and returns once all handlers have ended.
func (b *Backend) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				b.setDate(now)
			}
		}
	})
	errc := make(chan error, len(b.ports))
	for _, p := range b.ports {
		wg.Go(func() {
			for {
				c, err := p.ln.Accept()
				if err != nil {
					if ctx.Err() == nil {
						errc <- err
						cancel()
					}
					return
				}
				p.accepts.Add(1)
				mu.Lock()
				conns[c] = struct{}{}
				mu.Unlock()
				wg.Go(func() {
					b.serveConn(c, p)
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				})
			}
		})
	}
	<-ctx.Done()
	b.close()
	mu.Lock()
	for c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// serveConn answers the requests of one connection in order.
func (b *Backend) serveConn(c net.Conn, p *port) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	out := make([]byte, 0, 8<<10)
	for {
		c.SetReadDeadline(time.Now().Add(headerRead))
		req, err := ReadRequest(br)
		if err != nil {
			var perr *RequestError
			if errors.As(err, &perr) {
				out = fmt.Appendf(out[:0], "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", perr.Status, http.StatusText(perr.Status))
				c.Write(out)
			}
			return
		}
		p.requests.Add(1)
		if req.Delay > 0 {
			time.Sleep(req.Delay)
		}
		out = b.appendHead(out[:0], req)
		// Head and a small body in one write; a big body goes on from the
		// buffer, wrapping around (it is whole alphabets, so byte i of a
		// body is always 'a'+i%26).
		n := req.Size
		off := min(n, cap(out)-len(out))
		out = append(out, b.body[:off]...)
		n -= off
		if _, err := c.Write(out); err != nil {
			return
		}
		for n > 0 {
			k := min(n, len(b.body)-off)
			if _, err := c.Write(b.body[off : off+k]); err != nil {
				return
			}
			n -= k
			off = (off + k) % len(b.body)
		}
		if !req.KeepAlive {
			return
		}
	}
}

// appendHead appends the response head for req.
func (b *Backend) appendHead(out []byte, req Request) []byte {
	out = append(out, "HTTP/1.1 200 OK\r\n"...)
	out = append(out, *b.date.Load()...)
	out = append(out, "Content-Type: application/octet-stream\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(req.Size), 10)
	out = append(out, "\r\n"...)
	if req.MaxAge > 0 {
		out = append(out, "Cache-Control: public, max-age="...)
		out = strconv.AppendInt(out, int64(req.MaxAge), 10)
		out = append(out, "\r\n"...)
	}
	if !req.KeepAlive {
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, "\r\n"...)
}

// ServeControl answers GET /counts on ln with the ports' counts as JSON
// ({"127.0.0.1:PORT": {"accepts": N, "requests": M}, ...}) until ctx is
// done.
func (b *Backend) ServeControl(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(b.Counts())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		srv.Close()
		<-errc
		return nil
	}
}

// FetchCounts reads a backend's counts from its control address.
func FetchCounts(ctx context.Context, control string) (map[string]Counts, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+control+"/counts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := loopbackClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("backend control %s: status %d", control, resp.StatusCode)
	}
	var out map[string]Counts
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("backend control %s: %w", control, err)
	}
	return out, nil
}

// loopbackClient talks to loopback servers directly, whatever the
// environment's proxy settings, on a fresh connection each time.
func loopbackClient() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

// ServeBackend runs a Backend on n ports with its control listener until
// ctx is done. Once it listens it writes a BackendInfo to the file info
// (whole: written aside, then renamed), which is how the suite learns the
// ports.
func ServeBackend(ctx context.Context, n int, info string) error {
	b, err := NewBackend(n)
	if err != nil {
		return err
	}
	control, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.close()
		return err
	}
	js, err := json.Marshal(BackendInfo{Control: control.Addr().String(), Listen: b.Addrs()})
	if err == nil {
		tmp := info + ".tmp"
		if err = os.WriteFile(tmp, js, 0o644); err == nil {
			err = os.Rename(tmp, info)
		}
	}
	if err != nil {
		b.close()
		control.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- b.ServeControl(ctx, control)
		cancel()
	}()
	err = b.Serve(ctx)
	cancel()
	return errors.Join(err, <-errc)
}
