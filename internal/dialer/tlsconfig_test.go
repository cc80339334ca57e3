package dialer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// writeClientCert writes a self-signed client certificate and its key as
// PEM files in dir and returns their paths and the certificate.
func writeClientCert(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "weir-test-client"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile, cert
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTLSMutual(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, clientCert := writeClientCert(t, dir)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(clientCert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "client="+r.TLS.PeerCertificates[0].Subject.CommonName+" alpn="+r.TLS.NegotiatedProtocol)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", srv.Certificate().Raw)

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

func TestLoadTLSNoFiles(t *testing.T) {
	cfg, err := LoadTLS("", "", "", true)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if cfg.RootCAs != nil || len(cfg.Certificates) != 0 || !cfg.InsecureSkipVerify {
		t.Errorf("got roots %v certs %d insecure %v, want nil 0 true", cfg.RootCAs, len(cfg.Certificates), cfg.InsecureSkipVerify)
	}
}

func TestLoadTLSErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeClientCert(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name          string
		ca, cert, key string
		wantPath      string
		wantNotExist  bool
	}{
		{name: "CA file missing", ca: missing, wantPath: missing, wantNotExist: true},
		{name: "CA file without PEM", ca: junk, wantPath: junk},
		{name: "cert without key", cert: certFile, wantPath: certFile},
		{name: "key without cert", key: keyFile, wantPath: keyFile},
		{name: "key file is a cert", cert: certFile, key: certFile, wantPath: certFile},
		{name: "cert file missing", cert: missing, key: keyFile, wantPath: missing, wantNotExist: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadTLS(tt.ca, tt.cert, tt.key, false)
			if cfg != nil {
				t.Errorf("got config %v, want nil", cfg)
			}
			fe, ok := errors.AsType[*FileError](err)
			if !ok {
				t.Fatalf("got %T %v, want *FileError", err, err)
			}
			if fe.Path != tt.wantPath {
				t.Errorf("got path %q, want %q", fe.Path, tt.wantPath)
			}
			if got := errors.Is(err, os.ErrNotExist); got != tt.wantNotExist {
				t.Errorf("got errors.Is(ErrNotExist) %v, want %v", got, tt.wantNotExist)
			}
		})
	}
}
