package provision

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
)

var testCA = func() *testca.CA {
	ca, err := testca.New()
	if err != nil {
		panic(err)
	}
	return ca
}()

func transmit(t *testing.T, c *vcard.Card, cmd []byte) ([]byte, uint16) {
	t.Helper()
	resp, err := c.Transmit(cmd)
	if err != nil {
		t.Fatal(err)
	}
	n := len(resp) - 2
	return resp[:n], binary.BigEndian.Uint16(resp[n:])
}

func ok(t *testing.T, c *vcard.Card, cmd []byte) []byte {
	t.Helper()
	data, sw := transmit(t, c, cmd)
	if sw != 0x9000 {
		t.Fatalf("% X: SW %04X", cmd, sw)
	}
	return data
}

var (
	selectApplet = []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00}
	lifeCycle    = []byte{0xB0, 0xF2, 0x00, 0x00, 0x04}
	zeroNonce    = make([]byte, 8)
)

// readZ0 reads z0 the way the hosts do, in 255-byte pieces.
func readZ0(t *testing.T, c *vcard.Card, nonce []byte) []byte {
	t.Helper()
	info := ok(t, c, []byte{0xB0, 0x58, 0x00, 0x00, 0x0E})
	if !bytes.Equal(info[:4], []byte{0x7A, 0x30, 0, 0}) || !bytes.Equal(info[8:], []byte{0xFF, 0xFF, 0x40, 0, 0x40, 0}) {
		t.Fatalf("first object % X", info)
	}
	if _, sw := transmit(t, c, []byte{0xB0, 0x58, 0x01, 0x00, 0x0E}); sw != 0x9C12 {
		t.Fatalf("more than z0 on the card (SW %04X)", sw)
	}
	size := int(binary.BigEndian.Uint16(info[6:]))
	var z0 []byte
	for off := 0; off < size; off += 255 {
		n := min(255, size-off)
		cmd := append([]byte{0xB0, 0x56, 0, 0, 17, 0x7A, 0x30, 0, 0}, binary.BigEndian.AppendUint32(nil, uint32(off))...)
		cmd = append(append(cmd, byte(n)), nonce...)
		z0 = append(z0, ok(t, c, cmd)...)
	}
	return z0
}

func TestEnrolledLayout(t *testing.T) {
	cuid, _ := cardedge.ParseCUID("40907A01004212345678")
	img, err := NewImage(Options{
		State: Enrolled, CUID: cuid, User: "alice", PIN: []byte("123456"),
		Keys: []KeySpec{RSA1024, RSA1024}, CA: testCA, IssuerInfo: "http://tps.example:8080/tps/phoneHome",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ok(t, c, selectApplet)
	if got := ok(t, c, lifeCycle); !bytes.Equal(got, []byte{0x0F, 0x01, 0x01, 0x01}) {
		t.Fatalf("life cycle % X", got)
	}
	if got := ok(t, c, []byte{0xB0, 0x4A, 0, 0, 1}); got[0] != 127 {
		t.Fatalf("PIN tries %d", got[0])
	}
	z0 := readZ0(t, c, zeroNonce)
	obj, err := cardedge.DecodeCombined(z0)
	if err != nil {
		t.Fatal(err)
	}
	if obj.CUID != cuid || obj.TokenName != "alice" || obj.ObjectVersion > 999 {
		t.Fatalf("header: CUID %v, name %q, version %d", obj.CUID, obj.TokenName, obj.ObjectVersion)
	}
	// cardedge.md §3.5, the real SafeNet token's records
	want := []struct {
		id    string
		fixed uint32
	}{{"c1", 0x91}, {"k3", 0x000C00A1}, {"k2", 0x001301B1}, {"c2", 0x92}, {"k5", 0x000050A2}, {"k4", 0x0010A1B2}}
	if len(obj.Records) != len(want) {
		t.Fatalf("%d records", len(obj.Records))
	}
	for i, w := range want {
		r := obj.Records[i]
		if r.ID.String() != w.id || uint32(r.Fixed) != w.fixed {
			t.Errorf("record %d: %v %#08x, want %s %#08x", i, r.ID, uint32(r.Fixed), w.id, w.fixed)
		}
	}
	if l := obj.Records[0].Attributes[0]; string(l.Bytes) != "signing key for alice" {
		t.Errorf("label %q", l.Bytes)
	}
	if got := ok(t, c, []byte{0xB0, 0xF6, 0, 0, 0xE0}); !bytes.HasPrefix(got, []byte("http://tps.example:8080/tps/phoneHome\x00")) {
		t.Errorf("issuer info %q", got)
	}

	// The signing key matches the certificate, and needs the PIN.
	cert, err := x509.ParseCertificate(obj.Records[0].Attributes[1].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: testCA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("message"))
	block := pkcs1(t, digest[:], 128)
	sign := append([]byte{0xB0, 0x36, 0x02, 0x04, 141, 0x00, 0x03, 0x01, 0x00, 0x80}, block...)
	if _, sw := transmit(t, c, append(bytes.Clone(sign), zeroNonce...)); sw != 0x9C06 {
		t.Fatalf("sign without login: %04X", sw)
	}
	nonce := ok(t, c, append([]byte{0xB0, 0x42, 0, 0, 6}, "123456"...))
	sig := ok(t, c, append(sign, nonce...))
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig[2:]); err != nil {
		t.Fatal(err)
	}
	enc, _ := x509.ParseCertificate(obj.Records[3].Attributes[1].Bytes)
	if enc.KeyUsage != x509.KeyUsageKeyEncipherment {
		t.Errorf("encryption certificate key usage %v", enc.KeyUsage)
	}
}

func pkcs1(t *testing.T, digest []byte, size int) []byte {
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	di := append(prefix, digest...)
	b := bytes.Repeat([]byte{0xFF}, size)
	b[0], b[1] = 0, 1
	b[size-len(di)-1] = 0
	copy(b[size-len(di):], di)
	return b
}

func TestNoPINAndEC(t *testing.T) {
	img, err := NewImage(Options{State: Enrolled, User: "bob", NoPIN: true, Keys: []KeySpec{EC256}, CA: testCA})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := vcard.New(img, vcard.Options{})
	ok(t, c, selectApplet)
	if got := ok(t, c, lifeCycle); !bytes.Equal(got, []byte{0x0F, 0x00, 0x01, 0x01}) {
		t.Fatalf("life cycle % X", got)
	}
	obj, err := cardedge.DecodeCombined(readZ0(t, c, zeroNonce))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(obj.Records[0].Attributes[1].Bytes)
	if kt, ok := obj.Records[2].Object().Attr(cardedge.CKA_KEY_TYPE); !ok || kt.Ulong != cardedge.CKK_EC {
		t.Fatalf("private key type %v", kt)
	}
	digest := sha256.Sum256([]byte("m"))
	cmd := append([]byte{0xB0, 0x37, 0x02, 0x04, 43, 0x01, 0x00, 0x20}, digest[:]...)
	sig := ok(t, c, append(cmd, zeroNonce...))
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig[2:]) {
		t.Fatal("EC signature without a PIN does not verify")
	}
}

func TestFormattedAndBlank(t *testing.T) {
	img, err := NewImage(Options{State: Formatted})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := vcard.New(img, vcard.Options{})
	ok(t, c, selectApplet)
	if got := ok(t, c, lifeCycle); !bytes.Equal(got, []byte{0x07, 0x00, 0x01, 0x01}) {
		t.Fatalf("life cycle % X", got)
	}
	if _, sw := transmit(t, c, []byte{0xB0, 0x58, 0x00, 0x00, 0x0E}); sw != 0x9C12 {
		t.Fatalf("objects on a formatted card: %04X", sw)
	}
	img, _ = NewImage(Options{State: Blank})
	c, _ = vcard.New(img, vcard.Options{})
	if _, sw := transmit(t, c, selectApplet); sw != 0x6A82 {
		t.Fatalf("SELECT on a blank card: %04X", sw)
	}
	cplc := ok(t, c, []byte{0x80, 0xCA, 0x9F, 0x7F, 0x2D})
	if p, err := cardedge.ParseCPLC(cplc); err != nil || p.CUID().Fabricator() != 0x4090 {
		t.Fatalf("CPLC %v %v", p, err)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{
		{State: Enrolled, PIN: []byte("1234"), Keys: []KeySpec{RSA1024}, CA: testCA},
		{State: Enrolled, User: "x", PIN: []byte("12"), Keys: []KeySpec{RSA1024}, CA: testCA},
		{State: Enrolled, User: "x", PIN: []byte("1234"), CA: testCA},
		{State: Enrolled, User: "x", PIN: []byte("1234"), Keys: []KeySpec{RSA1024}},
	} {
		if _, err := NewImage(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := ParseKeySpecs("rsa2048,dsa"); err == nil {
		t.Error("dsa accepted")
	}
	if ks, err := ParseKeySpecs("rsa2048, ec256"); err != nil || len(ks) != 2 {
		t.Errorf("%v %v", ks, err)
	}
}
