package tpssim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/internal/atomicfile"
	"github.com/coolkey-go/coolkey-go/internal/testca"
)

// Files of the server certificate in the state directory; the CA itself
// is testca's (ca.pem, what clients trust, and ca.key).
const (
	serverCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
)

// authority is the test TPS's certificate authority, playing the Dogtag
// CA's part: it signs the HTTPS server certificate and the certificates of
// enrolled tokens. It is the project's test CA (internal/testca), kept in
// the state directory.
type authority struct {
	mu sync.Mutex
	ca *testca.CA
}

func loadOrCreateAuthority(dir string) (*authority, error) {
	ca, err := testca.LoadOrCreate(dir)
	if err != nil {
		return nil, err
	}
	return &authority{ca: ca}, nil
}

// CertPEM returns the CA certificate in PEM form.
func (a *authority) CertPEM() []byte { return a.ca.CertPEM() }

// serverCertificate returns the HTTPS certificate from dir, issuing a new
// one when there is none, it expires within a day, or it does not cover
// hosts.
func (a *authority) serverCertificate(dir string, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && c.Leaf != nil {
		ok := now.Add(24*time.Hour).Before(c.Leaf.NotAfter) && c.Leaf.CheckSignatureFrom(a.ca.Cert) == nil
		for _, h := range hosts {
			if c.Leaf.VerifyHostname(h) != nil {
				ok = false
			}
		}
		if ok {
			return c, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	a.mu.Lock()
	cert, err := a.ca.IssueServer(hosts, key.Public())
	a.mu.Unlock()
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	certPEM = append(certPEM, a.ca.CertPEM()...)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// certUsage is what a token certificate is for.
type certUsage int

const (
	usageSigning certUsage = iota
	usageEncryption
)

// issueTokenCert certifies a key generated on a token, shaped like
// Dogtag's caTokenUserSigningKeyEnrollment and
// caTokenUserEncryptionKeyEnrollment certificates.
func (a *authority) issueTokenCert(uid string, pub *rsa.PublicKey, usage certUsage) (*x509.Certificate, error) {
	u := testca.Signing
	if usage == usageEncryption {
		u = testca.Encryption
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ca.IssueUser(testca.User{UID: uid}, u, pub)
}
