package dialer

import (
	"crypto/tls"

	"github.com/weirgw/weir/internal/tlsfiles"
)

// LoadTLS builds the client *tls.Config for a backend from PEM files
// (tlsfiles.Client: caFile, extra roots replacing the system pool if set;
// certFile/keyFile, a client certificate, both or neither), with
// MinVersion TLS1.2 and NextProtos ["http/1.1"] (weir speaks HTTP/1.1 to
// backends). Errors are *tlsfiles.FileError.
func LoadTLS(caFile, certFile, keyFile string, insecureSkipVerify bool) (*tls.Config, error) {
	cfg, err := tlsfiles.Client(caFile, certFile, keyFile, insecureSkipVerify)
	if err != nil {
		return nil, err
	}
	cfg.NextProtos = []string{"http/1.1"}
	return cfg, nil
}
