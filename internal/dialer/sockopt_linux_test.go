package dialer

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSocketOptions reads back the options every backend socket must carry.
func TestSocketOptions(t *testing.T) {
	srv := serve(t, echo)
	tests := []struct {
		name       string
		sources    []netip.Addr
		wantNoPort int
	}{
		{name: "kernel-chosen source", wantNoPort: 0},
		{name: "bound source", sources: []netip.Addr{netip.MustParseAddr("127.0.0.2")}, wantNoPort: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Spec{SourceAddrs: tt.sources}).Func(srv.dest(), "")(context.Background())
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			defer func() { _ = c.Close() }()
			raw, err := c.(*net.TCPConn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []struct {
				name       string
				level, opt int
				want       int
			}{
				{"IP_BIND_ADDRESS_NO_PORT", unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, tt.wantNoPort},
				{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
				{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(keepAlive.Seconds())},
				{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
			} {
				var got int
				var gerr error
				if err := raw.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), o.level, o.opt) }); err != nil {
					t.Fatal(err)
				}
				if gerr != nil || got != o.want {
					t.Errorf("%s: got %d, %v, want %d, nil", o.name, got, gerr, o.want)
				}
			}
		})
	}
}
