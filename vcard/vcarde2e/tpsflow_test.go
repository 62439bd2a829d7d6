package vcarde2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
	"github.com/coolkey-go/coolkey-go/gp"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/internal/tpsscript"
)

// flowPIN is the PIN the scripted TPS sets; it differs from testPIN so
// that a pass proves the judges use the PIN that was set.
const flowPIN = "86420135"

// TestTPSFlowJudged is issue 6's done-when check: a scripted TPS session on
// package gp's host side formats a blank virtual card through pcscd
// (delete, load, install, issuer info), changes its keys to version 2 and
// authenticates with them (the old keys fail), sets the PIN, generates two
// RSA-2048 key pairs on the card (both proofs verified), writes z0 and sets
// life cycle 0F. Then the C++ CoolKey module and OpenSC must read an
// enrolled token and sign with that PIN. Once with an SCP01 card (GP 2.0.1
// forms), once with SCP02 (GP 2.1.1 forms).
func TestTPSFlowJudged(t *testing.T) {
	setup(t, coolkeyModule, openscModule)
	for _, scp := range []byte{1, 2} {
		t.Run(fmt.Sprintf("SCP0%d", scp), func(t *testing.T) {
			dir := t.TempDir()
			ca, err := testca.LoadOrCreate(filepath.Join(dir, "ca"))
			if err != nil {
				t.Fatal(err)
			}
			cuid, _ := cardedge.ParseCUID(testCUID)
			img := vcard.BlankImage(cardedge.CPLCForCUID(cuid).Encode()[3:])
			img.CardManager.SCP = vcard.HexByte(scp)
			if scp == 1 {
				img.CardManager.SCPParam = 0x05
			}
			c := &card{path: filepath.Join(dir, "card.json"), ca: ca, certs: map[byte][]byte{}}
			if err := vcard.WriteImage(c.path, img); err != nil {
				t.Fatal(err)
			}
			s := e2e.ServeVPCD(t, c.path, 0, vcard.Options{})

			e := runTPS(t, s.Reader, scp, ca)
			for i, cert := range e.Certs {
				c.certs[byte(i+1)] = cert.Raw
			}
			t.Logf("judged: %v card formatted, rekeyed to version 2 and enrolled through pcscd; z0 of %d bytes", gp.Protocol(scp), len(e.Z0))
			stored, err := vcard.LoadImage(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if a := stored.Applet; a == nil || a.LifeCycle != 0x0F || len(a.PINs) != 1 || len(a.Keys) != 4 ||
				len(stored.CardManager.KeySets) != 1 || stored.CardManager.KeySets[0].Version != 2 {
				t.Fatalf("image after the session: %+v", stored)
			}

			judgeCoolKey(t, c, s.Reader)
			judgeOpenSC(t, c, s.Reader)
		})
	}
}

// runTPS plays the TPS over PC/SC.
func runTPS(t *testing.T, reader string, scp byte, ca *testca.CA) *tpsscript.Enrollment {
	t.Helper()
	src := pcsc.NewSource()
	defer src.Close()
	tr, err := src.Connect(reader)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	defer tr.EndTransaction()
	s := &tpsscript.Script{Card: tr, Keys: gp.DeveloperKeySet(), GP211: scp == 2}

	res, err := s.Format(tpsscript.FormatOptions{IssuerInfo: "http://tps.example:8080/tps/phoneHome"})
	if err != nil {
		t.Fatalf("format: %v", err)
	}
	if res.DeleteInstanceSW != 0x6A88 || res.DeletePackageSW != 0x6A88 {
		t.Fatalf("DELETEs on a blank card: %04X %04X", res.DeleteInstanceSW, res.DeletePackageSW)
	}
	t.Logf("judged: format: DELETE %04X/%04X, INSTALL [for load], %d LOAD blocks, INSTALL [for install], SET ISSUER INFO",
		res.DeleteInstanceSW, res.DeletePackageSW, res.LoadBlocks)

	v2 := gp.KeySet{Version: 2}
	for _, k := range []*gp.Key{&v2.ENC, &v2.MAC, &v2.KEK} {
		if *k, err = gp.GenerateKey(gp.DES3, 16, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ChangeKeys(v2); err != nil {
		t.Fatalf("PUT KEY: %v", err)
	}
	old := &tpsscript.Script{Card: tr, Keys: gp.DeveloperKeySet(), GP211: s.GP211}
	if err := old.SelectCardManager(); err != nil {
		t.Fatal(err)
	}
	if err := old.OpenChannel(1); !errors.Is(err, gp.ErrKeyVersion) {
		t.Fatalf("INITIALIZE UPDATE for version 1 after the changeover: %v", err)
	}
	if err := old.OpenChannel(0); !errors.Is(err, gp.ErrCardCryptogram) {
		t.Fatalf("channel with the old keys: %v", err)
	}
	if err := s.SelectCardManager(); err != nil {
		t.Fatal(err)
	}
	if err := s.OpenChannel(2); err != nil {
		t.Fatalf("channel with the version 2 keys: %v", err)
	}
	t.Logf("judged: key changeover: version 2 opens a channel; version 1 answers 6A88, the old keys fail the card cryptogram")

	e, err := s.Enroll(tpsscript.EnrollOptions{User: testUser, PIN: []byte(flowPIN), CA: ca, ObjectVersion: 1})
	if err != nil {
		t.Fatalf("enrollment: %v", err)
	}
	t.Logf("judged: enrollment: CREATE PIN %04X, SET PIN, two RSA-2048 keys generated on the card with verified proofs, z0, SET LIFECYCLE 0F", e.CreatePINSW)
	return e
}

func judgeCoolKey(t *testing.T, c *card, reader string) {
	t.Helper()
	clearCoolKeyCache(t)
	out := mustP11(t, coolkeyModule, "-L", "-O")
	if got := field(t, out, reader, "token label"); got != testUser {
		t.Errorf("C++ CoolKey: token label %q", got)
	}
	if got := field(t, out, reader, "serial num"); got != "12345678" {
		t.Errorf("C++ CoolKey: serial %q", got)
	}
	if flags := field(t, out, reader, "token flags"); !strings.Contains(flags, "token initialized") || !strings.Contains(flags, "PIN initialized") {
		t.Errorf("C++ CoolKey: token flags %q", flags)
	}
	wantObjects(t, out, "Certificate", "Public Key", "Private Key")
	dir := t.TempDir()
	msg := []byte("signed by the C++ CoolKey module after a TPS session")
	write(t, filepath.Join(dir, "in"), digestInfo(msg))
	for _, id := range []byte{1, 2} {
		sigPath := filepath.Join(dir, "sig")
		mustP11(t, coolkeyModule, "--login", "--pin", flowPIN, "--sign", "--mechanism", "RSA-PKCS",
			"--id", fmt.Sprintf("%02d", id), "-i", filepath.Join(dir, "in"), "-o", sigPath)
		c.verifyWithOpenSSL(t, id, msg, read(t, sigPath))
	}
	if res := p11(t, coolkeyModule, "--login", "--pin", testPIN, "-O"); res.Err == nil {
		t.Errorf("C++ CoolKey accepted a PIN that was never set")
	}
	if !t.Failed() {
		t.Logf("judged: C++ CoolKey module: enrolled token %q, both keys sign with the PIN set by the TPS session", testUser)
	}
}

func judgeOpenSC(t *testing.T, c *card, reader string) {
	t.Helper()
	out := mustP11(t, openscModule, "-L", "-O")
	if got := field(t, out, reader, "token label"); !strings.HasPrefix(got, testUser) {
		t.Errorf("OpenSC: token label %q", got)
	}
	wantObjects(t, out, "Certificate", "Public Key")
	out = mustP11(t, openscModule, "--login", "--pin", flowPIN, "-O")
	wantObjects(t, out, "Certificate", "Public Key", "Private Key")
	dir := t.TempDir()
	msg := []byte("signed through OpenSC after a TPS session")
	write(t, filepath.Join(dir, "msg"), msg)
	// the signing key signs; the encryption key (no CKA_SIGN) decrypts
	sigPath := filepath.Join(dir, "sig")
	mustP11(t, openscModule, "--login", "--pin", flowPIN, "--sign", "--mechanism", "SHA256-RSA-PKCS",
		"--id", "01", "-i", filepath.Join(dir, "msg"), "-o", sigPath)
	c.verifyWithOpenSSL(t, 1, msg, read(t, sigPath))
	cert, err := x509.ParseCertificate(c.certs[2])
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a session key wrapped for the encryption key")
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, cert.PublicKey.(*rsa.PublicKey), secret)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "ct"), ct)
	mustP11(t, openscModule, "--login", "--pin", flowPIN, "--decrypt", "--mechanism", "RSA-PKCS",
		"--id", "02", "-i", filepath.Join(dir, "ct"), "-o", filepath.Join(dir, "pt"))
	if got := read(t, filepath.Join(dir, "pt")); !bytes.Equal(got, secret) {
		t.Errorf("OpenSC decrypted %q", got)
	}
	if !t.Failed() {
		t.Logf("judged: OpenSC: enrolled token %q, the signing key signs and the encryption key decrypts with the PIN set by the TPS session", testUser)
	}
}
