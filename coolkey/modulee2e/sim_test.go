package modulee2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// A card on the socket transport (COOLKEY_SIM), with an RSA and an EC key
// on the same token, which the C++ module cannot use together: no pcscd
// needed.
func TestSimMixedToken(t *testing.T) {
	needTools(t, "pkcs11-tool", "openssl")
	mod := module(t)
	// In the TPS layout: an EC signing key (01), an EC key-agreement
	// key (02, the "encryption" role), an RSA signing key (03).
	c := enrolled(t, provision.KeySpec("ec256"), provision.KeySpec("ec256"), provision.KeySpec("rsa2048"))
	addr := serveSocket(t, c)
	e := newEnv(t, "COOLKEY_SIM="+addr, "COOLKEY_PCSC=off")
	vars := e.vars()
	// e.vars sets COOLKEY_SIM= first; the later value wins.
	out := mustRun(t, vars, "pkcs11-tool", "--module", mod, "-L")
	slots := slotFields(out)
	tok, ok := slots["CoolKey virtual card "+addr]
	if !ok || len(slots) != 1 {
		t.Fatalf("slots %v", slots)
	}
	if tok["token label"] != testUser || tok["serial num"] != "12345678" {
		t.Errorf("token %v", tok)
	}
	ms := mustRun(t, vars, "pkcs11-tool", "--module", mod, "-M")
	for _, m := range []string{"RSA-PKCS-PSS", "SHA256-RSA-PKCS", "ECDSA", "ECDSA-SHA256", "ECDH1-DERIVE"} {
		if !strings.Contains(ms, m) {
			t.Errorf("mechanism list lacks %s", m)
		}
	}

	dir := t.TempDir()
	msg := writeFile(t, dir, "msg", []byte("mixed token"))
	ecSign := certPub(t, dir, c.certs[1], "c1")
	ecDerive := certPub(t, dir, c.certs[2], "c2")
	rsaSign := certPub(t, dir, c.certs[3], "c3")
	login := []string{"--module", mod, "--login", "--pin", testPIN}

	sig := filepath.Join(dir, "ec.sig")
	mustRun(t, vars, "pkcs11-tool", append(login, "--sign", "--id", "01", "-m", "ECDSA-SHA256", "--signature-format", "openssl", "-i", msg, "-o", sig)...)
	mustRun(t, nil, "openssl", "dgst", "-sha256", "-verify", ecSign, "-signature", sig, msg)

	digest := filepath.Join(dir, "msg.sha384")
	mustRun(t, nil, "openssl", "dgst", "-sha384", "-binary", "-out", digest, msg)
	sig = filepath.Join(dir, "ec-raw.sig")
	mustRun(t, vars, "pkcs11-tool", append(login, "--sign", "--id", "01", "-m", "ECDSA", "--signature-format", "openssl", "-i", digest, "-o", sig)...)
	mustRun(t, nil, "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", ecSign, "-in", digest, "-sigfile", sig)

	sig = filepath.Join(dir, "rsa.sig")
	mustRun(t, vars, "pkcs11-tool", append(login, "--sign", "--id", "03", "-m", "SHA512-RSA-PKCS-PSS", "-i", msg, "-o", sig)...)
	mustRun(t, nil, "openssl", "dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1", "-verify", rsaSign, "-signature", sig, msg)

	// ECDH with a peer key made by OpenSSL: both sides get the same secret.
	peer := filepath.Join(dir, "peer.pem")
	mustRun(t, nil, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", peer)
	peerPubDER := filepath.Join(dir, "peer.der")
	mustRun(t, nil, "openssl", "ec", "-in", peer, "-pubout", "-outform", "DER", "-out", peerPubDER)
	theirs := filepath.Join(dir, "theirs")
	mustRun(t, nil, "openssl", "pkeyutl", "-derive", "-inkey", peer, "-peerkey", ecDerive, "-out", theirs)
	ours := filepath.Join(dir, "ours")
	mustRun(t, vars, "pkcs11-tool", append(login, "--derive", "--id", "02", "-m", "ECDH1-DERIVE", "--input-file", peerPubDER, "--output-file", ours)...)
	if a, b := mustRead(t, ours), mustRead(t, theirs); string(a) != string(b) || len(a) != 32 {
		t.Errorf("ECDH secrets differ: %x vs %x", a, b)
	}

	out = mustRun(t, vars, "pkcs11-tool", "--module", mod, "--test", "--login", "--pin", testPIN)
	if !strings.Contains(out, "No errors") {
		t.Error("pkcs11-tool --test reported errors")
	}
}
