package lab

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// headTimeout bounds how long the proxy waits for a CONNECT request head.
const headTimeout = 10 * time.Second

// ServeProxy is the lab's egress forward proxy: it serves CONNECT only,
// each tunnel one upstream TCP connection spliced both ways until either
// side closes, so its upstream connections (and NAT ports) are exactly the
// tunnels its clients hold. Anything but CONNECT is answered 405. A failed
// upstream dial is 504 on a timeout, else 502. It returns when ctx is done
// (closing ln and every tunnel) or ln fails.
func ServeProxy(ctx context.Context, ln net.Listener, dialTimeout time.Duration) error {
	var (
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
		wg    sync.WaitGroup
	)
	track := func(c net.Conn, add bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if add {
			if ctx.Err() != nil {
				return false
			}
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
		return true
	}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Go(func() {
			if !track(c, true) {
				c.Close()
				return
			}
			defer track(c, false)
			defer c.Close()
			tunnel(ctx, c, dialTimeout, track)
		})
	}
}

// tunnel serves one client connection.
func tunnel(ctx context.Context, c net.Conn, dialTimeout time.Duration, track func(net.Conn, bool) bool) {
	_ = c.SetReadDeadline(time.Now().Add(headTimeout))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		return
	}
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(ctx, "tcp", req.Host)
	if err != nil {
		status := "502 Bad Gateway"
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			status = "504 Gateway Timeout"
		}
		_, _ = io.WriteString(c, "HTTP/1.1 "+status+"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if !track(up, true) {
		up.Close()
		return
	}
	defer track(up, false)
	defer up.Close()
	_ = c.SetReadDeadline(time.Time{})
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent right behind its head belong to the tunnel.
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if _, err := up.Write(b); err != nil {
			return
		}
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	// One side ended: end the tunnel; closing both unblocks the other copy.
	c.Close()
	up.Close()
	<-done
}
