// Package tlsfiles loads the PEM files a TLS setting names: a bundle of CA
// certificates to trust, and a certificate with its private key. Every
// error is a *FileError naming the file. It imports no weir package, so
// the backend dialer, the Redis store and a TLS listener share one loader
// without depending on each other.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"os"
)

// FileError is a TLS file that could not be used.
type FileError struct {
	Path    string
	Problem string
	Err     error // the underlying read or parse error, if any
}

func (e *FileError) Error() string {
	s := "tls file " + e.Path + ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FileError) Unwrap() error { return e.Err }

// Pool reads a PEM bundle of CA certificates; a file without one is an
// error.
func Pool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, &FileError{Path: file, Problem: "cannot read CA file", Err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &FileError{Path: file, Problem: "no PEM certificate in CA file"}
	}
	return pool, nil
}

// Pair loads a PEM certificate (chain) and its private key; both files are
// needed.
func Pair(certFile, keyFile string) (tls.Certificate, error) {
	switch {
	case certFile == "":
		return tls.Certificate{}, &FileError{Path: keyFile, Problem: "key without a certificate"}
	case keyFile == "":
		return tls.Certificate{}, &FileError{Path: certFile, Problem: "certificate without a key"}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, &FileError{Path: certFile, Problem: "cannot load certificate and key " + keyFile, Err: err}
	}
	return cert, nil
}

// Client builds the TLS config of a client from its files: caFile, if
// set, holds the roots to trust instead of the system's; certFile and
// keyFile, both or neither, the client certificate. It sets MinVersion
// TLS 1.2 and insecureSkipVerify as given, and no protocols (NextProtos):
// the caller speaks its own.
func Client(caFile, certFile, keyFile string, insecureSkipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: insecureSkipVerify, //nolint:gosec // the operator's explicit choice
	}
	if caFile != "" {
		pool, err := Pool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := Pair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
