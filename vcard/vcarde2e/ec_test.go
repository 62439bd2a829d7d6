package vcarde2e

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// apduExchanges extracts (command, response) pairs from an OPENSC_DEBUG log.
func apduExchanges(log string) [][2]string {
	re := regexp.MustCompile(`(?m)^(Outgoing|Incoming) APDU \(\d+ bytes\):\n((?:[0-9A-F]{2} .*\n)+)`)
	var out [][2]string
	var cmd string
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		var hex []string
		for _, l := range strings.Split(strings.TrimSpace(m[2]), "\n") {
			// "B0 38 02 04 ... .8.." — keep the hex columns
			for _, f := range strings.Fields(l) {
				if len(f) == 2 && strings.Trim(f, "0123456789ABCDEF") == "" {
					hex = append(hex, f)
				} else {
					break
				}
			}
		}
		if m[1] == "Outgoing" {
			cmd = strings.Join(hex, " ")
		} else {
			out = append(out, [2]string{cmd, strings.Join(hex, " ")})
		}
	}
	return out
}

// TestOpenSCWithECC enrols P-256 keys. OpenSC lists them, but its coolkey
// driver has the SC650 applet's ECC instruction codes swapped (it signs
// with 38 and derives with 37, cardedge.md §4.2). Our card keeps the
// applet's codes, so OpenSC's ECDSA signature runs the key agreement (which
// rejects a hash as a point: SW 0001) and its ECDH runs the signature (which
// rejects a 65-byte "hash": 9C09). The test pins down that observation, and
// checks through PC/SC that the card signs correctly with the applet's own
// instruction.
func TestOpenSCWithECC(t *testing.T) {
	setup(t, openscModule)
	c := enrolled(t, []provision.KeySpec{provision.EC256, provision.EC256}, 0)
	s := e2e.ServeVPCD(t, c.path, 0, vcard.Options{})

	out := mustP11(t, openscModule, "--login", "--pin", testPIN, "-O")
	for _, kind := range []string{"Private Key Object; EC", "Public Key Object; EC"} {
		if strings.Count(out, kind) != 2 {
			t.Fatalf("want two %q in:\n%s", kind, out)
		}
	}

	dir := t.TempDir()
	h := sha256.Sum256([]byte("ecc through OpenSC"))
	write(t, filepath.Join(dir, "hash"), h[:])
	res := e2e.RunEnv(t, 60*time.Second, []string{"OPENSC_DEBUG=9"}, "pkcs11-tool", "--module", openscModule,
		"--login", "--pin", testPIN, "--sign", "--mechanism", "ECDSA", "--id", "01",
		"-i", filepath.Join(dir, "hash"), "-o", filepath.Join(dir, "sig"))
	if res.Err == nil {
		t.Fatal("OpenSC produced an ECDSA signature; has its driver's ECC INS mix-up been fixed? Update cardedge.md §4.2 and this test.")
	}
	var sawSign bool
	for _, x := range apduExchanges(res.Stderr) {
		if strings.HasPrefix(x[0], "B0 38 02 04") {
			sawSign = true
			if x[1] != "00 01" {
				t.Errorf("the card answered OpenSC's B0 38 with %s, want 00 01", x[1])
			}
		}
		if strings.HasPrefix(x[0], "B0 37") {
			t.Errorf("OpenSC signed with INS 37: %s", x[0])
		}
	}
	if !sawSign {
		t.Fatalf("no B0 38 in OpenSC's log:\n%s", tail(res.Stderr, 40))
	}
	t.Logf("OpenSC ECDSA: %s", firstLine(res.Stderr, "error:"))

	// ECDH the other way round.
	peer := filepath.Join(dir, "peer.pem")
	peerDER := filepath.Join(dir, "peer.der")
	if r := e2e.Run(t, 30*time.Second, "openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", peer); r.Err != nil {
		t.Fatal(r.Stderr)
	}
	if r := e2e.Run(t, 30*time.Second, "openssl", "ec", "-in", peer, "-pubout", "-outform", "DER", "-out", peerDER); r.Err != nil {
		t.Fatal(r.Stderr)
	}
	res = e2e.RunEnv(t, 60*time.Second, []string{"OPENSC_DEBUG=9"}, "pkcs11-tool", "--module", openscModule,
		"--login", "--pin", testPIN, "--derive", "--mechanism", "ECDH1-DERIVE", "--id", "02",
		"-i", peerDER, "-o", filepath.Join(dir, "secret"))
	var sawDerive bool
	for _, x := range apduExchanges(res.Stderr) {
		if strings.HasPrefix(x[0], "B0 37 04 04") {
			sawDerive = true
			if x[1] != "9C 09" {
				t.Errorf("the card answered OpenSC's B0 37 with %s, want 9C 09", x[1])
			}
		}
	}
	if res.Err == nil || !sawDerive {
		t.Fatalf("OpenSC ECDH: err %v, B0 37 sent: %v", res.Err, sawDerive)
	}
	t.Logf("OpenSC ECDH: %s", firstLine(res.Stderr, "error:"))

	// The card itself does ECDSA with INS 37, through pcscd.
	src := pcsc.NewSource()
	defer src.Close()
	tr, err := src.Connect(s.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	defer tr.EndTransaction()
	exchange := func(cmd []byte) []byte {
		t.Helper()
		resp, err := tr.Transmit(cmd)
		if err != nil || len(resp) < 2 || resp[len(resp)-2] != 0x90 {
			t.Fatalf("% X: % X %v", cmd, resp, err)
		}
		return resp[:len(resp)-2]
	}
	exchange([]byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00})
	nonce := exchange(append([]byte{0xB0, 0x42, 0x00, 0x00, byte(len(testPIN))}, testPIN...))
	cmd := append([]byte{0xB0, 0x37, 0x02, 0x04, 3 + 32 + 8, 0x01, 0x00, 0x20}, h[:]...)
	sig := exchange(append(cmd, nonce...))
	cert, err := x509.ParseCertificate(c.certs[1])
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), h[:], sig[2:]) {
		t.Fatal("the card's ECDSA signature does not verify")
	}
	os.Remove(filepath.Join(dir, "sig"))
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
