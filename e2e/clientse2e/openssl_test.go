package clientse2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// libp11Engine is Debian's libengine-pkcs11-openssl for OpenSSL 3.
const libp11Engine = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"

// engineConf writes an OpenSSL configuration that loads the libp11 engine
// with our module (as its documentation tells users to) and returns the
// environment naming it.
func engineConf(t testing.TB, mod string) []string {
	t.Helper()
	if _, err := os.Stat(libp11Engine); err != nil {
		e2e.Skipf(t, "libengine-pkcs11-openssl is not installed: %v", err)
	}
	cnf := writeFile(t, filepath.Join(t.TempDir(), "openssl.cnf"), []byte(strings.Join([]string{
		"openssl_conf = openssl_init",
		"[openssl_init]", "engines = engine_section",
		"[engine_section]", "pkcs11 = pkcs11_section",
		"[pkcs11_section]", "engine_id = pkcs11", "dynamic_path = " + libp11Engine, "MODULE_PATH = " + mod, "init = 0", "",
	}, "\n")))
	return []string{"OPENSSL_CONF=" + cnf}
}

// opensslEngine signs with the card's signing key by PKCS#11 URI through
// libp11 (PKCS#1 v1.5 and PSS for RSA, ECDSA for EC) and verifies with
// OpenSSL's own code and the certificate's public key; makes a
// self-signed certificate with the card's key (req -x509); and
// authenticates to a TLS 1.3 server with s_client.
func opensslEngine(t *testing.T, c *card, tr *transport) {
	needTools(t, "openssl")
	mod := module(t)
	env := append(engineConf(t, mod), tr.env...)
	dir := t.TempDir()
	pub := filepath.Join(dir, "pub.pem")
	mustRun(t, nil, "openssl", "x509", "-in", c.certPEM(t, 1), "-pubkey", "-noout", "-out", pub)
	msg := writeFile(t, filepath.Join(dir, "msg"), []byte("signed by the card through libp11"))
	digest := filepath.Join(dir, "msg.sha256")
	mustRun(t, nil, "openssl", "dgst", "-sha256", "-binary", "-out", digest, msg)
	// RFC 7512: the PIN as a query attribute.
	key := "pkcs11:token=" + testUser + ";id=%01;type=private?pin-value=" + testPIN

	_, isRSA := c.certs[1].PublicKey.(interface{ Size() int })
	opts := [][]string{{"-pkeyopt", "digest:sha256"}}
	if isRSA {
		opts = append(opts, []string{"-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32"})
	}
	for _, o := range opts {
		sig := filepath.Join(dir, "sig")
		os.Remove(sig)
		mustRun(t, env, "openssl", append([]string{"pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", key,
			"-sign", "-in", digest, "-out", sig}, o...)...)
		out := mustRun(t, nil, "openssl", append([]string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", digest, "-sigfile", sig}, o...)...)
		if !strings.Contains(out, "Signature Verified Successfully") {
			t.Errorf("pkeyutl %v: signature not verified: %s", o, out)
		}
	}

	self := filepath.Join(dir, "self.pem")
	mustRun(t, env, "openssl", "req", "-engine", "pkcs11", "-keyform", "engine", "-key", key,
		"-new", "-x509", "-subj", "/CN=made with the card", "-days", "1", "-out", self)
	if out := mustRun(t, nil, "openssl", "verify", "-CAfile", self, self); !strings.Contains(out, "OK") {
		t.Errorf("the self-signed certificate does not verify: %s", out)
	}
	selfPub := mustRun(t, nil, "openssl", "x509", "-in", self, "-pubkey", "-noout")
	if string(mustRead(t, pub)) != selfPub {
		t.Error("the self-signed certificate does not carry the card's public key")
	}

	files := issueServer(t, c.ca, t.TempDir())
	srv := startSServer(t, files, c.caPEM(), "-tls1_3")
	res := runStdin(t, env, "GET / HTTP/1.0\r\n\r\n", "openssl", "s_client", "-engine", "pkcs11", "-keyform", "engine", "-key", key,
		"-cert", c.certPEM(t, 1), "-CAfile", c.caPEM(), "-verify_return_error", "-connect", srv.Addr,
		"-servername", "localhost", "-quiet")
	if res.Err != nil {
		t.Fatalf("openssl s_client: %v", res.Err)
	}
	version, certPEM := parseStatusPage(res.Stdout)
	if der, _ := pemDecode([]byte(certPEM)); !bytes.Equal(der, c.certs[1].Raw) || version != "TLSv1.3" {
		t.Errorf("the server's page shows protocol %q and another client certificate", version)
	}
	subject, alg := srv.Handshake()
	t.Logf("server: client certificate %q, CertificateVerify %s", subject, alg)
	if !strings.Contains(subject, "CN = "+testUser) || alg == "" {
		t.Errorf("the server saw no client authentication by the card:\n%s", clip(srv.Output()))
	}
}

// OpenSSL through libp11 with an RSA card through pcscd and vpcd.
func TestOpenSSLEngineRSA(t *testing.T) {
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	opensslEngine(t, c, serveVPCD(t, c))
}

// And with an EC card on the socket transport.
func TestOpenSSLEngineEC(t *testing.T) {
	c := newCard(t, false, provision.KeySpec("ec256"), provision.KeySpec("ec256"))
	opensslEngine(t, c, serveSocket(t, c))
}
