package dialer

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/weirgw/weir/internal/tlsfiles"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

// TestLoadTLSMutual: a backend that requires a client certificate gets
// it over a dialed connection, and HTTP/1.1 is the protocol negotiated.
func TestLoadTLSMutual(t *testing.T) {
	certFile, keyFile, clientCert := peer.Cert(t, "weir-test-client")
	srv, caFile := peer.TLSBackend(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "client="+r.TLS.PeerCertificates[0].Subject.CommonName+" alpn="+r.TLS.NegotiatedProtocol)
	}, peer.RequireClientCert(clientCert))

	cfg, err := LoadTLS(caFile, certFile, keyFile, false)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || !slices.Equal(cfg.NextProtos, []string{"http/1.1"}) || cfg.InsecureSkipVerify {
		t.Errorf("got min %x protos %v insecure %v, want %x [http/1.1] false", cfg.MinVersion, cfg.NextProtos, cfg.InsecureSkipVerify, tls.VersionTLS12)
	}
	c, err := New(Spec{ConnectTimeout: safety, TLS: cfg}).Func(backendDest(t, srv, "example.com"), "")(context.Background())
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	defer func() { _ = c.Close() }()
	if got, want := get(t, c, "/"), "client=weir-test-client alpn=http/1.1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestLoadTLSError: a file problem is tlsfiles' error, as it is.
func TestLoadTLSError(t *testing.T) {
	certFile, _, _ := peer.Cert(t, "client")
	cfg, err := LoadTLS("", certFile, "", false)
	if fe, ok := errors.AsType[*tlsfiles.FileError](err); cfg != nil || !ok || fe.Path != certFile {
		t.Errorf("got %v and %T %v, want nil and a *tlsfiles.FileError for %s", cfg, err, err, certFile)
	}
}
