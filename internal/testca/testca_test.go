package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"sync"
	"testing"
)

func TestLoadOrCreateIsShared(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	cas := make([]*CA, 4)
	for i := range cas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ca, err := LoadOrCreate(dir)
			if err != nil {
				t.Error(err)
				return
			}
			cas[i] = ca
		}()
	}
	wg.Wait()
	for _, ca := range cas[1:] {
		if ca == nil || !ca.Cert.Equal(cas[0].Cert) {
			t.Fatal("callers got different CAs")
		}
	}
	if !cas[0].Cert.IsCA || cas[0].Cert.Subject.CommonName != "coolkey-go Test CA" {
		t.Fatalf("CA certificate %v", cas[0].Cert.Subject)
	}
}

func TestIssueUser(t *testing.T) {
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		usage Usage
		pub   any
		ku    x509.KeyUsage
		eku   []x509.ExtKeyUsage
	}{
		{Signing, &rsaKey.PublicKey, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth}},
		{Encryption, &rsaKey.PublicKey, x509.KeyUsageKeyEncipherment, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}},
		{Encryption, &ecKey.PublicKey, x509.KeyUsageKeyAgreement, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}},
	}
	for _, tc := range tests {
		cert, err := ca.IssueUser(User{UID: "alice", CommonName: "Alice Example"}, tc.usage, tc.pub)
		if err != nil {
			t.Fatal(err)
		}
		if cert.KeyUsage != tc.ku || len(cert.ExtKeyUsage) != len(tc.eku) {
			t.Errorf("usage %d: key usage %v, EKU %v", tc.usage, cert.KeyUsage, cert.ExtKeyUsage)
		}
		if len(cert.EmailAddresses) != 1 || cert.EmailAddresses[0] != "alice@example.org" {
			t.Errorf("e-mail %v", cert.EmailAddresses)
		}
		uid := ""
		for _, n := range cert.Subject.Names {
			if n.Type.Equal(oidUID) {
				uid, _ = n.Value.(string)
			}
		}
		if cert.Subject.CommonName != "Alice Example" || uid != "alice" || cert.Subject.Organization[0] != "Token Key User" {
			t.Errorf("subject %q", cert.Subject)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
			t.Errorf("does not chain: %v", err)
		}
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv, err := ca.IssueServer([]string{"localhost", "127.0.0.1"}, &srvKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
}
