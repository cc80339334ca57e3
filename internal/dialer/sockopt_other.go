//go:build !linux

package dialer

import "syscall"

// bindNoPort does nothing where IP_BIND_ADDRESS_NO_PORT does not exist:
// bind then reserves the port itself.
func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
