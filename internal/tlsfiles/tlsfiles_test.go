package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirgw/weir/internal/weirtest/peer"
)

// TestClientFiles: the config trusts the CA file's certificates only and
// presents the client certificate. (The dialer's tests complete a mutual
// TLS exchange with such a config.)
func TestClientFiles(t *testing.T) {
	certFile, keyFile, clientCert := peer.Cert(t, "weir-test-client")
	caFile, _, ca := peer.Cert(t, "weir-test-ca")
	cfg, err := Client(caFile, certFile, keyFile, false)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || len(cfg.NextProtos) != 0 || cfg.InsecureSkipVerify {
		t.Errorf("got min %x protos %v insecure %v, want %x none false", cfg.MinVersion, cfg.NextProtos, cfg.InsecureSkipVerify, tls.VersionTLS12)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if cfg.RootCAs == nil || !cfg.RootCAs.Equal(roots) {
		t.Errorf("got roots %v, want the CA file's certificate alone", cfg.RootCAs)
	}
	if len(cfg.Certificates) != 1 || !cfg.Certificates[0].Leaf.Equal(clientCert) {
		t.Errorf("got %d certificates, want the client certificate alone", len(cfg.Certificates))
	}
}

func TestClientNoFiles(t *testing.T) {
	cfg, err := Client("", "", "", true)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if cfg.RootCAs != nil || len(cfg.Certificates) != 0 || !cfg.InsecureSkipVerify {
		t.Errorf("got roots %v certs %d insecure %v, want nil 0 true", cfg.RootCAs, len(cfg.Certificates), cfg.InsecureSkipVerify)
	}
}

func TestClientErrors(t *testing.T) {
	certFile, keyFile, _ := peer.Cert(t, "client")
	dir := t.TempDir()
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
			cfg, err := Client(tt.ca, tt.cert, tt.key, false)
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

// FuzzPool: any file content gives a pool or a *FileError naming the file.
func FuzzPool(f *testing.F) {
	certFile, _, _ := peer.Cert(f, "ca")
	pem, err := os.ReadFile(certFile)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][]byte{pem, []byte("not PEM\n"), nil, pem[:len(pem)/2], append([]byte("junk\n"), pem...)} {
		f.Add(s)
	}
	file := filepath.Join(f.TempDir(), "ca.pem")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		pool, err := Pool(file)
		if fe, ok := errors.AsType[*FileError](err); err != nil && (!ok || fe.Path != file) {
			t.Errorf("got %T %v, want a *FileError for %s", err, err, file)
		}
		if (pool == nil) == (err == nil) {
			t.Errorf("got pool %v and error %v, want exactly one", pool != nil, err)
		}
	})
}
