package store

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirgw/weir/internal/config"
)

func TestStoreTLS(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tc, err := storeTLS(config.StoreTLS{Enabled: true, TLS: config.TLS{ServerName: "redis.internal", CAFile: ca}})
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || tc.ServerName != "redis.internal" || len(tc.NextProtos) != 0 {
		t.Errorf("got roots %v, server name %q, ALPN %v; want the CA, redis.internal, no ALPN", tc.RootCAs != nil, tc.ServerName, tc.NextProtos)
	}
	if _, err := storeTLS(config.StoreTLS{Enabled: true, TLS: config.TLS{CAFile: filepath.Join(t.TempDir(), "missing.pem")}}); err == nil {
		t.Error("a missing CA file: got no error, want one")
	}
	if _, err := storeTLS(config.StoreTLS{Enabled: true, TLS: config.TLS{CertFile: ca}}); err == nil {
		t.Error("a client certificate without a key: got no error, want one")
	}
}
