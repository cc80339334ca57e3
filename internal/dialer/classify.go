package dialer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/weirgw/weir/internal/connpool"
)

// Classify maps a dial-time error to a DialKind: an already classified
// *connpool.DialError keeps its Kind; a cancelled context is DialOther (the
// caller gave up); ECONNREFUSED, ECONNRESET, ECONNABORTED and EPIPE are
// DialRefused; EADDRNOTAVAIL from connect, and EADDRINUSE, are DialNoPorts
// (the local ephemeral ports ran out), while EADDRNOTAVAIL from bind is
// DialOther (a source address that is not on this host); deadlines and
// timeouts are DialTimeout; TLS alert, record-header and certificate errors
// are DialTLS; a *ProxyError is DialProxy; anything else is DialOther.
// It matches types and errno values only, never error text.
func Classify(err error) connpool.DialKind {
	if de, ok := errors.AsType[*connpool.DialError](err); ok {
		return de.Kind
	}
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return connpool.DialOther
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		if se, ok := errors.AsType[*os.SyscallError](err); ok && se.Syscall == "bind" {
			return connpool.DialOther
		}
		return connpool.DialNoPorts
	case errors.Is(err, syscall.EADDRINUSE):
		return connpool.DialNoPorts
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return connpool.DialRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ETIMEDOUT):
		return connpool.DialTimeout
	case isProxy(err):
		return connpool.DialProxy
	case isTLS(err):
		return connpool.DialTLS
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return connpool.DialTimeout
	}
	return connpool.DialOther
}

func isProxy(err error) bool {
	_, ok := errors.AsType[*ProxyError](err)
	return ok
}

// isTLS reports whether err is one of the typed handshake failures of
// crypto/tls and crypto/x509. Failures crypto/tls reports untyped (a remote
// alert over TCP, say) are charged to the handshake by the dialer itself.
func isTLS(err error) bool {
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.ECHRejectionError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.SystemRootsError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.ConstraintViolationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnhandledCriticalExtension](err); ok {
		return true
	}
	_, ok := errors.AsType[x509.InsecureAlgorithmError](err)
	return ok
}
