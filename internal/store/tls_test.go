package store

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/tlsfiles"
	"github.com/weirgw/weir/internal/weirtest/peer"
)

func TestStoreTLS(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	ca := peer.CAFile(t, ts.Certificate())
	tc, err := storeTLS(config.StoreTLS{Enabled: true, TLS: config.TLS{ServerName: "redis.internal", CAFile: ca}})
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || tc.ServerName != "redis.internal" || len(tc.NextProtos) != 0 {
		t.Errorf("got roots %v, server name %q, ALPN %v; want the CA, redis.internal, no ALPN", tc.RootCAs != nil, tc.ServerName, tc.NextProtos)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tt := range []struct {
		name     string
		tls      config.TLS
		wantPath string
	}{
		{"a missing CA file", config.TLS{CAFile: missing}, missing},
		{"a client certificate without a key", config.TLS{CertFile: ca}, ca},
	} {
		_, err := storeTLS(config.StoreTLS{Enabled: true, TLS: tt.tls})
		if fe, ok := errors.AsType[*tlsfiles.FileError](err); !ok || fe.Path != tt.wantPath {
			t.Errorf("%s: got %T %v, want a *tlsfiles.FileError for %s", tt.name, err, err, tt.wantPath)
		}
	}
}
