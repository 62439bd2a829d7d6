package esc

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coolkey-go/coolkey-go/internal/atomicfile"
)

// Trust says which certificates a TPS (and a phone-home server) may
// present: the system's roots, the user's CA bundle (`coolkey trust add`)
// and any extra CA files given for one run. Verification is never skipped
// unless InsecureSkipVerify is set, which the command line only offers
// under a loudly named flag.
type Trust struct {
	BundlePath         string
	ExtraCAFiles       []string
	InsecureSkipVerify bool
	// NoSystemRoots leaves the system store out (tests; a locked-down
	// deployment that trusts only its own CA).
	NoSystemRoots bool
}

// Pool returns the trusted roots.
func (t Trust) Pool() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !t.NoSystemRoots {
		if sys, err := x509.SystemCertPool(); err == nil && sys != nil {
			pool = sys
		}
	}
	files := t.ExtraCAFiles
	if t.BundlePath != "" {
		if _, err := os.Stat(t.BundlePath); err == nil {
			files = append([]string{t.BundlePath}, files...)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, newErr(KindUser, 0, err, "CA file")
		}
		certs, err := ParseCertificates(b)
		if err != nil {
			return nil, newErr(KindUser, 0, err, "CA file %s", f)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// TLSConfig returns a client TLS configuration for HTTP/1.1 with these
// roots.
func (t Trust) TLSConfig() (*tls.Config, error) {
	pool, err := t.Pool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		RootCAs:            pool,
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
		InsecureSkipVerify: t.InsecureSkipVerify,
	}, nil
}

// ParseCertificates decodes PEM certificates. Anything but CERTIFICATE
// blocks, or no certificate at all, is an error (a private key pasted into
// a CA file should not pass silently).
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a certificate", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(b)) != 0 && len(out) == 0 {
		return nil, errors.New("not PEM")
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate found")
	}
	return out, nil
}

// AddTrust adds the certificates in pemData to the bundle at path (ESC's
// "import CA certificate chain") and returns those that were new.
func AddTrust(path string, pemData []byte) ([]*x509.Certificate, error) {
	certs, err := ParseCertificates(pemData)
	if err != nil {
		return nil, err
	}
	existing, err := ListTrust(path)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, c := range existing {
		have[string(c.Raw)] = true
	}
	var added []*x509.Certificate
	var out bytes.Buffer
	if b, err := os.ReadFile(path); err == nil {
		out.Write(b)
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteByte('\n')
		}
	}
	for _, c := range certs {
		if have[string(c.Raw)] {
			continue
		}
		have[string(c.Raw)] = true
		added = append(added, c)
		fmt.Fprintf(&out, "# %s\n", c.Subject)
		pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if len(added) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return added, atomicfile.Write(path, out.Bytes(), 0o644)
}

// ListTrust returns the certificates in the bundle (none if it does not
// exist).
func ListTrust(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	return ParseCertificates(b)
}

// isTrustError reports whether err is a certificate verification failure.
func isTrustError(err error) bool {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cv)
}
