package tpssim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

// keyGenOutput builds what the applet leaves in its I/O buffer after
// START ENROLLMENT, signing with priv (or with a different key when
// forge is set).
func keyGenOutput(t *testing.T, priv *rsa.PrivateKey, challenge []byte, forge *rsa.PrivateKey) []byte {
	t.Helper()
	b, err := buildKeyGenOutput(priv, challenge, forge)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func buildKeyGenOutput(priv *rsa.PrivateKey, challenge []byte, forge *rsa.PrivateKey) ([]byte, error) {
	mod := priv.N.Bytes()
	blob := []byte{0x00, 0x01}
	blob = binary.BigEndian.AppendUint16(blob, uint16(priv.N.BitLen()))
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(mod)))
	blob = append(blob, mod...)
	blob = binary.BigEndian.AppendUint16(blob, 3)
	blob = append(blob, 0x01, 0x00, 0x01)
	signer := priv
	if forge != nil {
		signer = forge
	}
	h := sha1.Sum(append(append([]byte(nil), blob...), challenge...))
	sig, err := rsa.SignPKCS1v15(rand.Reader, signer, crypto.SHA1, h[:])
	if err != nil {
		return nil, err
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(blob)))
	out = append(out, blob...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(sig)))
	return append(out, sig...), nil
}

var testKeys = func() [2]*rsa.PrivateKey {
	var k [2]*rsa.PrivateKey
	for i := range k {
		var err error
		if k[i], err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	}
	return k
}()

func TestVerifyKeyGenResult(t *testing.T) {
	priv := testKeys[0]
	challenge := []byte("0123456789abcdef")
	good := keyGenOutput(t, priv, challenge, nil)
	pub, err := verifyKeyGenResult(good, challenge, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&priv.PublicKey) {
		t.Error("wrong public key")
	}

	tests := map[string]struct {
		b         []byte
		challenge []byte
		bits      int
		want      string
	}{
		"proof by another key":  {keyGenOutput(t, priv, challenge, testKeys[1]), challenge, 1024, "proof"},
		"replayed challenge":    {good, []byte("fedcba9876543210"), 1024, "proof"},
		"wrong key size":        {good, challenge, 2048, "requested"},
		"truncated":             {good[:len(good)-1], challenge, 1024, "overruns"},
		"trailing bytes":        {append(append([]byte(nil), good...), 0), challenge, 1024, "after the proof"},
		"empty":                 {nil, challenge, 1024, "truncated"},
		"not an RSA blob":       {append([]byte{0, 4, 0, 2, 4, 0}, good[6:]...), challenge, 1024, ""},
		"blob length too large": {append([]byte{0xFF, 0xFF}, good[2:]...), challenge, 1024, "overruns"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := verifyKeyGenResult(tt.b, tt.challenge, tt.bits)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// The z0 the TPS writes must decode with the card-edge codec, in the
// Dogtag order, with the fixed attributes a real Dogtag-enrolled token
// has (cardedge.md §3.5).
func TestBuildCombinedMatchesDogtagLayout(t *testing.T) {
	srvCA, err := loadOrCreateAuthority(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for i, k := range profiles["userKey"].keys {
		c, err := srvCA.issueTokenCert("jjelen", &testKeys[i].PublicKey, k.usage)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	cuid, _ := cardedge.ParseCUID("534E0650004200500229")
	b, err := buildCombined(cuid, "jjelen", 71, profiles["userKey"], certs)
	if err != nil {
		t.Fatal(err)
	}
	comb, err := cardedge.DecodeCombined(b)
	if err != nil {
		t.Fatal(err)
	}
	if comb.ObjectVersion != 71 || comb.CUID != cuid || comb.TokenName != "jjelen" {
		t.Errorf("header: version %d cuid %v name %q", comb.ObjectVersion, comb.CUID, comb.TokenName)
	}
	want := []struct {
		id    string
		fixed cardedge.FixedAttributes
	}{
		{"c1", 0x00000091}, {"k3", 0x000C00A1}, {"k2", 0x001301B1},
		{"c2", 0x00000092}, {"k5", 0x000050A2}, {"k4", 0x0010A1B2},
	}
	if len(comb.Records) != len(want) {
		t.Fatalf("%d records, want %d", len(comb.Records), len(want))
	}
	for i, w := range want {
		r := comb.Records[i]
		if r.ID.String() != w.id || r.Fixed != w.fixed {
			t.Errorf("record %d: %v fixed %#08x, want %s %#08x", i, r.ID, uint32(r.Fixed), w.id, uint32(w.fixed))
		}
	}
	label, _ := comb.Records[0].Object().Attr(cardedge.CKA_LABEL)
	if string(label.Bytes) != "signing key for jjelen" {
		t.Errorf("label %q", label.Bytes)
	}
	value, _ := comb.Records[3].Object().Attr(cardedge.CKA_VALUE)
	if string(value.Bytes) != string(certs[1].Raw) {
		t.Error("c2 does not hold the encryption certificate")
	}
	if certs[0].KeyUsage&x509.KeyUsageDigitalSignature == 0 || certs[1].KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Error("certificate key usages")
	}
	if err := certs[0].CheckSignatureFrom(srvCA.ca.Cert); err != nil {
		t.Error(err)
	}
}

func TestParseCardRecognition(t *testing.T) {
	// GP 2.1.1 card recognition data announcing SCP02 i=15.
	crd := []byte{
		0x66, 0x31, 0x73, 0x2F,
		0x06, 0x07, 0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x01,
		0x60, 0x0C, 0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x02, 0x02, 0x01, 0x01,
		0x63, 0x09, 0x06, 0x07, 0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x03,
		0x64, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x04, 0x02, 0x15,
	}
	scp, impl, ok := parseCardRecognition(crd)
	if !ok || scp != 0x02 || impl != 0x15 {
		t.Fatalf("got %02X %02X %v", scp, impl, ok)
	}
	for _, bad := range [][]byte{nil, {0x66}, {0x67, 0x00}, crd[:20], {0x66, 0x02, 0x73, 0x00}} {
		if _, _, ok := parseCardRecognition(bad); ok {
			t.Errorf("accepted % X", bad)
		}
	}
}

func TestFCIAID(t *testing.T) {
	fci := []byte{0x6F, 0x10, 0x84, 0x08, 0xA0, 0, 0, 0, 3, 0, 0, 0, 0xA5, 0x04, 0x9F, 0x65, 0x01, 0xFF}
	if got := fciAID(fci); string(got) != string([]byte{0xA0, 0, 0, 0, 3, 0, 0, 0}) {
		t.Errorf("fciAID = % X", got)
	}
	for _, bad := range [][]byte{nil, {0x90, 0x00}, {0x6F, 0x03, 0x84, 0x01, 0x01}, {0x6F, 0x7F}} {
		if got := fciAID(bad); got != nil {
			t.Errorf("fciAID(% X) = % X", bad, got)
		}
	}
}

func FuzzVerifyKeyGenResult(f *testing.F) {
	challenge := []byte("0123456789abcdef")
	good, err := buildKeyGenOutput(testKeys[0], challenge, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := verifyKeyGenResult(b, challenge, 1024)
		if err == nil && pub.N.BitLen() != 1024 {
			t.Fatal("accepted a key of the wrong size")
		}
	})
}

func FuzzParseCardRecognition(f *testing.F) {
	f.Add([]byte{0x66, 0x0D, 0x73, 0x0B, 0x64, 0x09, 0x06, 0x07, 0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x04})
	f.Add([]byte{0x6F, 0x03, 0x84, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseCardRecognition(b)
		if aid := fciAID(b); aid != nil && (len(aid) < 5 || len(aid) > 16) {
			t.Fatalf("AID of %d bytes", len(aid))
		}
	})
}
