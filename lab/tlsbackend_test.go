package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestTLSBackend(t *testing.T) {
	certs, err := WriteCerts(t.TempDir(), []netip.Addr{netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeTLSBackend(ctx, ln, certs.Cert, certs.Key) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeTLSBackend: got %v, want nil after cancel", err)
		}
	}()

	pem, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	trusted := x509.NewCertPool()
	if !trusted.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}
	url := "https://" + ln.Addr().String() + "/v1/echo"
	for _, tt := range []struct {
		name   string
		roots  *x509.CertPool
		wantOK bool
	}{
		{"trusting the lab CA", trusted, true},
		{"trusting nothing", x509.NewCertPool(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tt.roots}}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(url)
			if !tt.wantOK {
				if err == nil {
					resp.Body.Close()
					t.Fatal("got a response without trusting the CA, want a verification error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "/v1/echo") {
				t.Errorf("got %d %q, want 200 echoing the path", resp.StatusCode, body)
			}
		})
	}
}

func TestTLSBackendBadCert(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ServeTLSBackend(t.Context(), ln, "/nonexistent/cert.pem", "/nonexistent/key.pem"); err == nil {
		t.Error("got nil error for missing certificate files, want one")
	}
}
