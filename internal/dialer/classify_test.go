package dialer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/weirgw/weir/internal/connpool"
)

// opErr wraps errno the way net reports a failed system call.
func opErr(op, syscallName string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(syscallName, errno)}
}

type fakeTimeout struct{}

func (fakeTimeout) Error() string   { return "fake timeout" }
func (fakeTimeout) Timeout() bool   { return true }
func (fakeTimeout) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want connpool.DialKind
	}{
		{name: "nil", err: nil, want: connpool.DialOther},
		{name: "already classified", err: fmt.Errorf("pool: %w", &connpool.DialError{Kind: connpool.DialNoPorts, Err: io.EOF}), want: connpool.DialNoPorts},
		{name: "ECONNREFUSED", err: opErr("dial", "connect", syscall.ECONNREFUSED), want: connpool.DialRefused},
		{name: "ECONNRESET on read", err: opErr("read", "read", syscall.ECONNRESET), want: connpool.DialRefused},
		{name: "ECONNABORTED", err: opErr("read", "read", syscall.ECONNABORTED), want: connpool.DialRefused},
		{name: "EPIPE on write", err: opErr("write", "write", syscall.EPIPE), want: connpool.DialRefused},
		{name: "bare errno wrapped", err: fmt.Errorf("x: %w", syscall.ECONNREFUSED), want: connpool.DialRefused},
		{name: "EADDRNOTAVAIL on connect", err: opErr("dial", "connect", syscall.EADDRNOTAVAIL), want: connpool.DialNoPorts},
		{name: "EADDRNOTAVAIL wrapped twice", err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", syscall.EADDRNOTAVAIL)), want: connpool.DialNoPorts},
		{name: "EADDRNOTAVAIL on bind", err: opErr("dial", "bind", syscall.EADDRNOTAVAIL), want: connpool.DialOther},
		{name: "EADDRINUSE on bind", err: opErr("dial", "bind", syscall.EADDRINUSE), want: connpool.DialNoPorts},
		{name: "ETIMEDOUT", err: opErr("dial", "connect", syscall.ETIMEDOUT), want: connpool.DialTimeout},
		{name: "ctx deadline", err: fmt.Errorf("handshake: %w", context.DeadlineExceeded), want: connpool.DialTimeout},
		{name: "conn deadline", err: &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, want: connpool.DialTimeout},
		{name: "net.Error timeout", err: &net.OpError{Op: "dial", Err: fakeTimeout{}}, want: connpool.DialTimeout},
		{name: "ctx cancelled", err: &net.OpError{Op: "dial", Err: context.Canceled}, want: connpool.DialOther},
		{name: "tls.AlertError", err: tls.AlertError(40), want: connpool.DialTLS},
		{name: "tls.RecordHeaderError", err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, want: connpool.DialTLS},
		{name: "tls.CertificateVerificationError", err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, want: connpool.DialTLS},
		{name: "x509.HostnameError", err: fmt.Errorf("v: %w", x509.HostnameError{Host: "a.test"}), want: connpool.DialTLS},
		{name: "x509.CertificateInvalidError", err: x509.CertificateInvalidError{Reason: x509.Expired}, want: connpool.DialTLS},
		{name: "x509.UnknownAuthorityError", err: x509.UnknownAuthorityError{}, want: connpool.DialTLS},
		{name: "proxy refusal", err: &ProxyError{StatusCode: 407}, want: connpool.DialProxy},
		{name: "proxy hang-up", err: fmt.Errorf("t: %w", &ProxyError{Detail: "closed", Err: io.ErrUnexpectedEOF}), want: connpool.DialProxy},
		{name: "ENETUNREACH", err: opErr("dial", "connect", syscall.ENETUNREACH), want: connpool.DialOther},
		{name: "EOF", err: io.EOF, want: connpool.DialOther},
		{name: "spec error", err: &SpecError{Field: "Proxy"}, want: connpool.DialOther},
		{name: "anything else", err: errors.New("connection refused i/o timeout"), want: connpool.DialOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("got %s, want %s", kindName(got), kindName(tt.want))
			}
		})
	}
}
