// Package testca is the project's test certificate authority: an RSA-2048 CA
// kept in a directory (ca.pem, ca.key) that issues realistic certificates —
// token user signing and encryption certificates as a Dogtag CA would for a
// CoolKey token, and TLS server certificates for test servers. Tests and
// demos trust ca.pem.
//
// It is for tests only: the CA key is stored unencrypted.
package testca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
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
	"syscall"
	"time"
)

// File names inside a CA directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca.key"
	lockFile = ".lock"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Dir is where the CA is kept; empty for an in-memory CA.
	Dir string
}

// New creates an in-memory CA.
func New() (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "coolkey-go Test CA", Organization: []string{"coolkey-go"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadOrCreate opens the CA kept in dir, creating the directory and the CA
// when there is none. Concurrent callers (other processes included) get the
// same CA.
func LoadOrCreate(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lock(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	defer unlock()
	ca, err := Load(dir)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return ca, err
	}
	if ca, err = New(); err != nil {
		return nil, err
	}
	ca.Dir = dir
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, CertFile), ca.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

// Load opens an existing CA directory.
func Load(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("testca: %s: not PEM", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("testca: %s: %w", dir, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("testca: %s: %w", dir, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("testca: %s: key of type %T", dir, k)
	}
	return &CA{Cert: cert, Key: signer, Dir: dir}, nil
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Usage is what a token user certificate is for.
type Usage int

const (
	// Signing: digital signature and non-repudiation; e-mail protection
	// (S/MIME signing) and TLS client authentication.
	Signing Usage = iota
	// Encryption: key encipherment (and key agreement for EC keys);
	// e-mail protection.
	Encryption
)

// User describes the subject of a token user certificate.
type User struct {
	// UID is the user ID (LDAP uid); CommonName defaults to it.
	UID        string
	CommonName string
	// Email goes into the subject alternative name; empty for
	// UID@example.org.
	Email string
}

var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// IssueUser issues a token user certificate for pub, with a subject shaped
// like Dogtag's token profiles: CN=<name>, O=Token Key User, UID=<uid>.
func (ca *CA) IssueUser(u User, usage Usage, pub crypto.PublicKey) (*x509.Certificate, error) {
	if u.UID == "" {
		return nil, errors.New("testca: user without a UID")
	}
	cn := u.CommonName
	if cn == "" {
		cn = u.UID
	}
	email := u.Email
	if email == "" {
		email = u.UID + "@example.org"
	}
	tmpl := ca.template()
	tmpl.Subject = pkix.Name{
		CommonName:   cn,
		Organization: []string{"Token Key User"},
		ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidUID, Value: u.UID}},
	}
	tmpl.EmailAddresses = []string{email}
	_, isRSA := pub.(*rsa.PublicKey)
	switch usage {
	case Signing:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth}
	case Encryption:
		tmpl.KeyUsage = x509.KeyUsageKeyEncipherment
		if !isRSA {
			tmpl.KeyUsage = x509.KeyUsageKeyAgreement
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	default:
		return nil, fmt.Errorf("testca: unknown usage %d", usage)
	}
	return ca.issue(tmpl, pub)
}

// IssueServer issues a TLS server certificate for the given host names and
// IP addresses.
func (ca *CA) IssueServer(hosts []string, pub crypto.PublicKey) (*x509.Certificate, error) {
	if len(hosts) == 0 {
		return nil, errors.New("testca: server certificate without a host")
	}
	tmpl := ca.template()
	tmpl.Subject = pkix.Name{CommonName: hosts[0], Organization: []string{"coolkey-go"}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	return ca.issue(tmpl, pub)
}

func (ca *CA) template() *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:   randomSerial(),
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.AddDate(2, 0, 0),
		AuthorityKeyId: ca.Cert.SubjectKeyId,
	}
}

func (ca *CA) issue(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	tmpl.SubjectKeyId = keyID(pub)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("testca: %w", err)
	}
	return x509.ParseCertificate(der)
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

// keyID is the SHA-1 of the public key bits (RFC 5280 method 1).
func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algo      pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:]
}

// lock takes an exclusive flock on path.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// writeFile writes through a temporary file and a rename, so a reader never
// sees half a file.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
