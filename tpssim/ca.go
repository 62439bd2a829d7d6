package tpssim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Files of the authority in the state directory.
const (
	caCertFile     = "ca.pem"     // what clients trust (coolkey trust add DIR/ca.pem)
	caKeyFile      = "ca-key.pem" // 0600
	serverCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
)

// authority is the test TPS's certificate authority: it signs the HTTPS
// server certificate and the certificates of enrolled tokens. It plays the
// Dogtag CA's part, with a key kept in the state directory.
type authority struct {
	mu   sync.Mutex
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

// loadOrCreateAuthority reads the CA from dir, or creates one.
func loadOrCreateAuthority(dir string, now time.Time) (*authority, error) {
	certPEM, err1 := os.ReadFile(filepath.Join(dir, caCertFile))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err1 == nil && err2 == nil {
		return parseAuthority(certPEM, keyPEM)
	}
	if !errors.Is(err1, os.ErrNotExist) || !errors.Is(err2, os.ErrNotExist) {
		return nil, fmt.Errorf("incomplete CA in %s (need both %s and %s): %v / %v", dir, caCertFile, caKeyFile, err1, err2)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "coolkey-go test TPS CA", Organization: []string{"coolkey-go"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(key.Public()),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// The key first: a ca.pem without its key would be taken for a
	// half-written directory next time.
	if err := writeFileAtomic(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, caCertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	return parseAuthority(certPEM, keyPEM)
}

func parseAuthority(certPEM, keyPEM []byte) (*authority, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, errors.New("CA key: not a PKCS#8 private key")
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key cannot sign")
	}
	return &authority{cert: cert, key: signer, pem: certPEM}, nil
}

// CertPEM returns the CA certificate in PEM form.
func (a *authority) CertPEM() []byte { return a.pem }

// serverCertificate returns the HTTPS certificate from dir, issuing a new
// one when there is none, it expires within a day, or it does not cover
// hosts.
func (a *authority) serverCertificate(dir string, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && c.Leaf != nil {
		ok := now.Add(24*time.Hour).Before(c.Leaf.NotAfter) && c.Leaf.CheckSignatureFrom(a.cert) == nil
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
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"coolkey-go test TPS"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	a.mu.Lock()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	a.mu.Unlock()
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certPEM = append(certPEM, a.pem...)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
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

// issueTokenCert signs a certificate for a key generated on a token, with
// the extensions of Dogtag's caTokenUserSigningKeyEnrollment and
// caTokenUserEncryptionKeyEnrollment profiles.
func (a *authority) issueTokenCert(uid string, pub *rsa.PublicKey, usage certUsage, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			CommonName:   uid,
			Organization: []string{"Token Key User"},
			ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidUID, Value: uid}},
		},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(validity),
		SubjectKeyId: keyID(pub),
	}
	switch usage {
	case usageSigning:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}
	case usageEncryption:
		tmpl.KeyUsage = x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	a.mu.Lock()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, pub, a.key)
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// oidUID is the LDAP userid attribute (0.9.2342.19200300.100.1.1) Dogtag
// puts in token certificate subjects.
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha1.Sum(der)
	return sum[:]
}
