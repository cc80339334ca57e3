package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSBackend starts an HTTPS httptest server with h on 127.0.0.1 (its
// certificate also names example.com), tune adjusting its tls.Config
// first (nil: none), and returns it with a CA file that trusts it. The
// handshakes it refuses are not logged: tests refuse them on purpose.
func TLSBackend(t testing.TB, h http.HandlerFunc, tune func(*tls.Config)) (ts *httptest.Server, caFile string) {
	t.Helper()
	ts = httptest.NewUnstartedServer(h)
	ts.TLS = &tls.Config{}
	if tune != nil {
		tune(ts.TLS)
	}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts, CAFile(t, ts.Certificate())
}

// RequireClientCert is a TLSBackend tune: the backend asks for a client
// certificate and accepts cert only.
func RequireClientCert(cert *x509.Certificate) func(*tls.Config) {
	return func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = x509.NewCertPool()
		c.ClientCAs.AddCert(cert)
	}
}

// Cert makes a self-signed certificate for cn (valid an hour either side
// of now, for client and server auth, able to sign: it can stand as its
// own CA) and writes it and its PKCS #8 key as PEM files cn.pem and
// cn-key.pem in a new temporary directory. It returns the files and the
// certificate, for a peer to trust.
func Cert(t testing.TB, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
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
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile, cert
}

// CAFile writes cert (an httptest TLS server's Certificate(), say) as a
// PEM file, for a tls.ca_file that trusts it, and returns its path.
func CAFile(t testing.TB, cert *x509.Certificate) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, file, "CERTIFICATE", cert.Raw)
	return file
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
