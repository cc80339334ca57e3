package dialer

import (
	"crypto/tls"
	"crypto/x509"
	"os"
)

// FileError is a TLS file LoadTLS could not use.
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

// LoadTLS builds a client *tls.Config from PEM files (caFile: extra roots
// replacing the system pool if set; certFile/keyFile: client cert, both or
// neither), with MinVersion TLS1.2 and NextProtos ["http/1.1"] (weir speaks
// HTTP/1.1 to backends). Errors are *FileError.
func LoadTLS(caFile, certFile, keyFile string, insecureSkipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
		InsecureSkipVerify: insecureSkipVerify, //nolint:gosec // the operator's explicit choice
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, &FileError{Path: caFile, Problem: "cannot read CA file", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &FileError{Path: caFile, Problem: "no PEM certificate in CA file"}
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "":
		return nil, &FileError{Path: keyFile, Problem: "client key without a client certificate"}
	case keyFile == "":
		return nil, &FileError{Path: certFile, Problem: "client certificate without a key"}
	default:
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, &FileError{Path: certFile, Problem: "cannot load client certificate and key " + keyFile, Err: err}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
