package vcard

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/des"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"math/big"
	"testing"
)

// plainChannel is a SecureChannelProvider without cryptography, to test the
// card's routing of 84-class commands: the "MAC" is eight 4D bytes, data is
// sent in clear and key blocks are not encrypted.
type plainChannel struct{}

type plainSession struct{ authenticated bool }

var fakeMAC = bytes.Repeat([]byte{0x4D}, 8)

func (plainChannel) InitializeUpdate(sd *SecurityDomain, cmd Command) ([]byte, SecureSession, error) {
	if _, ok := sd.KeySet(cmd.P1); !ok {
		return nil, nil, SWReferencedDataNotFound
	}
	sd.SequenceCounter++
	resp := append(bytes.Clone(sd.KDD), sd.Keys[0].Version, sd.SCP)
	resp = binary.BigEndian.AppendUint16(resp, sd.SequenceCounter)
	return append(resp, make([]byte, 14)...), &plainSession{}, nil
}

func (s *plainSession) ExternalAuthenticate(cmd Command) error {
	if !bytes.HasSuffix(cmd.Data, fakeMAC) {
		return SWSecurityNotSatisfied
	}
	return nil
}

func (s *plainSession) Unwrap(cmd Command) (Command, error) {
	if !bytes.HasSuffix(cmd.Data, fakeMAC) {
		return Command{}, SWSecurityNotSatisfied
	}
	cmd.Data = cmd.Data[:len(cmd.Data)-8]
	return cmd, nil
}

func (s *plainSession) DecryptChallenge(block []byte) ([]byte, error) { return s.plainKey(block) }

func (s *plainSession) UnwrapTransportKey(block []byte) ([]byte, error) { return s.plainKey(block) }

func (s *plainSession) PutKey(plain Command) (GPKeySet, []byte, error) {
	return GPKeySet{}, nil, SWINSNotSupported
}

func (s *plainSession) plainKey(block []byte) ([]byte, error) {
	if len(block) < 2 || len(block) < 2+int(block[1]) {
		return nil, SWWrongData
	}
	return bytes.Clone(block[2 : 2+int(block[1])]), nil
}

// sec wraps a plain 84 command for plainChannel.
func sec(ins, p1, p2 byte, data ...[]byte) []byte {
	return cmd(0x84, ins, p1, p2, append(data, fakeMAC)...)
}

func openChannel(t *testing.T, c *Card) {
	t.Helper()
	if resp, sw := txHex(t, c, "80 50 00 00 08 0102030405060708"); sw != 0x9000 || len(resp) != 28 {
		t.Fatalf("INITIALIZE UPDATE: %04X % X", sw, resp)
	}
	if _, sw := tx(t, c, cmd(0x84, 0x82, 0x03, 0x00, make([]byte, 8), fakeMAC)); sw != 0x9000 {
		t.Fatalf("EXTERNAL AUTHENTICATE: %04X", sw)
	}
}

func TestSecureChannelRouting(t *testing.T) {
	store := &countingStore{}
	c := newTestCard(t, testImage(t), Options{SecureChannel: plainChannel{}, Store: store})
	mustOK(t, c, selectCoolKey)
	if _, sw := txHex(t, c, "80 50 05 00 08 0102030405060708"); sw != 0x6A88 {
		t.Fatalf("unknown key version: %04X", sw)
	}
	if _, sw := tx(t, c, sec(0xF0, 0x0F, 0)); sw != 0x6982 {
		t.Fatalf("84 without a channel: %04X", sw)
	}
	openChannel(t, c)
	if store.saves != 1 || store.last.CardManager.SequenceCounter != 1 {
		t.Fatalf("the sequence counter change was not saved (%d saves)", store.saves)
	}
	steps := []struct {
		name string
		cmd  []byte
		sw   uint16
	}{
		{"set life cycle", sec(0xF0, 0x0F, 0), 0x9000},
		{"set life cycle to installed", sec(0xF0, 0x03, 0), 0x9C0F},
		{"set issuer info", sec(0xF4, 0, 0, append([]byte("http://tps.example/phoneHome"), make([]byte, 224-28)...)), 0x9000},
		{"issuer info length", sec(0xF4, 0, 0, make([]byte, 10)), 0x6700},
		{"create PIN 1", sec(0x40, 1, 5, []byte("abcd")), 0x9000},
		{"create PIN 1 again", sec(0x40, 1, 5, []byte("abcd")), 0x9C10},
		{"create PIN with no tries", sec(0x40, 2, 0, []byte("abcd")), 0x6F00},
		{"set PIN 0", sec(0x04, 0, 0, []byte("654321")), 0x9000},
		{"set PIN too short", sec(0x04, 0, 0, []byte("654")), 0x9C0F},
		{"set missing PIN", sec(0x04, 3, 0, []byte("6543")), 0x9C10},
		{"replace z0 as the RA", sec(0x5A, 0, 0, []byte{0x7A, 0x30, 0, 0, 0, 0, 0x01, 0x10, 0xFF, 0xFF, 0x40, 0, 0x40, 0}), 0x9000},
		{"write z0", sec(0x54, 0, 0, []byte{0x7A, 0x30, 0, 0, 0, 0, 0, 0, 2, 0x01, 0x00}), 0x9000},
		{"read z0", sec(0x56, 0, 0, []byte{0x7A, 0x30, 0, 0, 0, 0, 0, 0, 2}), 0x9000},
		{"builtin ACL locked", sec(0xF8, 0, 0, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0}), 0x9C03},
		{"read I/O buffer is compiled out", sec(0x08, 0, 0, []byte{0, 0}), 0x6D00},
		{"verify is not a secure command", sec(0x42, 0, 0, []byte("1234")), 0x6D00},
	}
	for _, s := range steps {
		if _, sw := tx(t, c, s.cmd); sw != s.sw {
			t.Fatalf("%s: SW %04X, want %04X", s.name, sw, s.sw)
		}
	}
	if got := mustOK(t, c, "B0 F2 00 00 04"); !bytes.Equal(got, []byte{0x0F, 1, 1, 1}) {
		t.Fatalf("life cycle % X", got)
	}
	if got := mustOK(t, c, "B0 F6 00 00 E0"); !bytes.HasPrefix(got, []byte("http://tps.example/")) {
		t.Fatalf("issuer info %q", got)
	}
	if got := mustOK(t, c, "B0 48 00 00 02"); !bytes.Equal(got, []byte{0, 3}) {
		t.Fatalf("PINs % X", got)
	}
	if _, sw := txHex(t, c, "B0 42 00 00 04 31323334"); sw != 0x9C02 {
		t.Fatalf("old PIN: %04X", sw)
	}
	mustOK(t, c, "B0 42 00 00 06 363534333231")
	// the replaced z0 is empty, newest first
	if got := mustOK(t, c, "B0 58 00 00 0E"); !bytes.Equal(got, unhex(t, "7A300000 0000 0110 FFFF 4000 4000")) {
		t.Fatalf("listing % X", got)
	}
	img := c.Image()
	if img.Applet.LifeCycle != 0x0F || img.Applet.IssuerInfo != "http://tps.example/phoneHome" || len(img.Applet.PINs) != 2 {
		t.Fatalf("image not updated: %+v", img.Applet)
	}

	// A bad MAC ends the channel.
	if _, sw := tx(t, c, cmd(0x84, 0xF0, 0x0F, 0, make([]byte, 8))); sw != 0x6982 {
		t.Fatalf("bad MAC: %04X", sw)
	}
	if _, sw := tx(t, c, sec(0xF0, 0x0F, 0)); sw != 0x6982 {
		t.Fatalf("after a bad MAC: %04X", sw)
	}
	// So do SELECT and reset.
	openChannel(t, c)
	mustOK(t, c, selectCoolKey)
	if _, sw := tx(t, c, sec(0xF0, 0x0F, 0)); sw != 0x6982 {
		t.Fatalf("after SELECT: %04X", sw)
	}
	openChannel(t, c)
	c.Reset()
	mustOK(t, c, selectCoolKey)
	if _, sw := tx(t, c, sec(0xF0, 0x0F, 0)); sw != 0x6982 {
		t.Fatalf("after reset: %04X", sw)
	}
	// The security domain takes the channel too (GET DATA under 84).
	mustOK(t, c, "00 A4 04 00 00")
	openChannel(t, c)
	if got, sw := tx(t, c, sec(0xCA, 0x9F, 0x7F)); sw != 0x9000 || len(got) != 45 {
		t.Fatalf("84 GET DATA: %04X", sw)
	}
}

func TestStartEnrollment(t *testing.T) {
	c := newTestCard(t, testImage(t), Options{SecureChannel: plainChannel{}})
	mustOK(t, c, selectCoolKey)
	openChannel(t, c)
	challenge := []byte("0123456789abcdef")
	// RSA-1024 into slots 8 (private, owner PIN 0) and 9 (public)
	data := append([]byte{0x80, 0x04, 0x00, 0x00, 0x00, 0x10}, challenge...)
	data = append(data, 0x00)
	resp, sw := tx(t, c, append(sec(0x0C, 0x08, 0x19, data), 0x00))
	if sw != 0x9000 || len(resp) != 2 {
		t.Fatalf("START ENROLLMENT: %04X % X", sw, resp)
	}
	size := int(binary.BigEndian.Uint16(resp))
	var buf []byte
	for off := 0; off < size; off += 0xD0 {
		n := min(0xD0, size-off)
		chunk, sw := tx(t, c, sec(0x56, 0, 0, []byte{0xFF, 0xFF, 0xFF, 0xFF}, binary.BigEndian.AppendUint32(nil, uint32(off)), []byte{byte(n)}))
		if sw != 0x9000 {
			t.Fatalf("READ I/O at %d: %04X", off, sw)
		}
		buf = append(buf, chunk...)
	}
	blobLen := int(binary.BigEndian.Uint16(buf))
	blob := buf[2 : 2+blobLen]
	sig := buf[2+blobLen+2:]
	if blob[0] != 0 || blob[1] != 1 || binary.BigEndian.Uint16(blob[2:]) != 1024 {
		t.Fatalf("public key blob % X", blob[:8])
	}
	modLen := int(binary.BigEndian.Uint16(blob[4:]))
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(blob[6 : 6+modLen]), E: int(new(big.Int).SetBytes(blob[8+modLen:]).Int64())}
	digest := sha1.Sum(append(bytes.Clone(blob), challenge...))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig); err != nil {
		t.Fatalf("proof: %v", err)
	}
	if got := mustOK(t, c, "B0 3A 00 00 0B"); got[0] != 2 {
		t.Fatalf("first key % X", got)
	}
	var listed [][]byte
	for p1 := byte(0); ; p1 = 1 {
		k := mustOK(t, c, hexCmd(0xB0, 0x3A, p1, 0, 11))
		if len(k) == 0 {
			break
		}
		listed = append(listed, k)
	}
	last := listed[len(listed)-2:]
	if !bytes.Equal(last[0], unhex(t, "08 03 09 0400 0000 4000 0001")) || !bytes.Equal(last[1], unhex(t, "09 01 08 0400 FFFF 4000 FFFF")) {
		t.Fatalf("new keys listed as % X", last)
	}
	// slots stay paired
	if _, sw := tx(t, c, append(sec(0x0C, 0x08, 0x1A, data), 0x00)); sw != 0x9C1E {
		t.Fatalf("re-pairing: %04X", sw)
	}
	// CLEAR KEY SLOTS keeps the listed pairs and wipes the others
	if _, sw := tx(t, c, sec(0x55, 0, 0, []byte{2, 3, 4, 5})); sw != 0x9000 {
		t.Fatalf("CLEAR KEY SLOTS: %04X", sw)
	}
	status := mustOK(t, c, "B0 3C 00 00 10")
	if status[13] != 8 {
		t.Fatalf("key objects after clear: %d (cleared slots keep their object)", status[13])
	}
	if got := mustOK(t, c, hexCmd(0xB0, 0x3A, 0, 0, 11)); got[0] != 2 {
		t.Fatalf("after clear % X", got)
	}
	for i := 0; i < 3; i++ {
		mustOK(t, c, hexCmd(0xB0, 0x3A, 1, 0, 11))
	}
	if got := mustOK(t, c, hexCmd(0xB0, 0x3A, 1, 0, 11)); len(got) != 0 {
		t.Fatalf("cleared slots still listed: % X", got)
	}
	if _, sw := tx(t, c, sec(0x55, 0, 0, []byte{2})); sw != 0x9C0F {
		t.Fatalf("odd list: %04X", sw)
	}
	// a cleared slot of another size cannot be reused
	data[1], data[2] = 0x08, 0x00
	if _, sw := tx(t, c, append(sec(0x0C, 0x08, 0x19, data), 0x00)); sw != 0x6F00 {
		t.Fatalf("reusing a cleared 1024-bit slot for 2048: %04X", sw)
	}
}

func hexCmd(cla, ins, p1, p2 byte, le int) string {
	return bytesHex(Command{CLA: cla, INS: ins, P1: p1, P2: p2, Le: le}.Bytes())
}

func bytesHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func TestImportKeyEncrypted(t *testing.T) {
	testKeys(t)
	c := newTestCard(t, testImage(t), Options{SecureChannel: plainChannel{}})
	mustOK(t, c, selectCoolKey)
	openChannel(t, c)
	transport := []byte("0123456789ABCDEF")
	iv := []byte("initvect")
	pkcs8, err := x509.MarshalPKCS8PrivateKey(testRSA1024)
	if err != nil {
		t.Fatal(err)
	}
	plain := append(bytes.Clone(pkcs8), make([]byte, (8-len(pkcs8)%8)%8)...)
	block, _ := des.NewTripleDESCipher(append(bytes.Clone(transport), transport[:8]...))
	enc := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(enc, plain)
	blob := append([]byte{0x01, 0x09, 0x04, 0x00}, enc...)
	id := []byte{0xFF, 0x00, 0xFF, 0xF3}
	if _, sw := tx(t, c, sec(0x5A, 0, 0, id, binary.BigEndian.AppendUint32(nil, uint32(len(blob))), []byte{0x40, 0, 0x40, 0, 0x40, 0})); sw != 0x9000 {
		t.Fatalf("create blob object: %04X", sw)
	}
	for off := 0; off < len(blob); off += 0xD0 {
		chunk := blob[off:min(off+0xD0, len(blob))]
		if _, sw := tx(t, c, sec(0x54, 0, 0, id, binary.BigEndian.AppendUint32(nil, uint32(off)), []byte{byte(len(chunk))}, chunk)); sw != 0x9000 {
			t.Fatalf("write blob: %04X", sw)
		}
	}
	data := append(bytes.Clone(id), 0x80, 0x10)
	data = append(data, transport...)
	data = append(data, 0x00, 0x08)
	data = append(data, iv...)
	if _, sw := tx(t, c, sec(0x0A, 0x0A, 0x0B, data)); sw != 0x9000 {
		t.Fatalf("IMPORT KEY ENCRYPTED: %04X", sw)
	}
	// the blob object was wiped
	if got, _ := tx(t, c, sec(0x56, 0, 0, id, []byte{0, 0, 0, 0, 4})); !bytes.Equal(got, make([]byte, 4)) {
		t.Fatalf("blob not wiped: % X", got)
	}
	// the key signs (slot 10, owner PIN 0)
	nonce := mustOK(t, c, "B0 42 00 00 04 31323334")
	msgBlock := pkcs1Block(t, []byte("imported"), 128)
	resp, sw := tx(t, c, cmd(0xB0, 0x36, 0x0A, 4, []byte{0, 3, 1, 0, 128}, msgBlock, nonce))
	if sw != 0x9000 {
		t.Fatalf("sign with the imported key: %04X", sw)
	}
	if got, _ := rawRSA(&key{typ: KeyRSAPublic, initialized: true, rsaPub: &testRSA1024.PublicKey, bits: 1024}, resp[2:]); !bytes.Equal(got, msgBlock) {
		t.Fatal("imported key signs wrongly")
	}
	// wrong transport key length
	bad := bytes.Clone(data)
	bad[5] = 0x08
	if _, sw := tx(t, c, sec(0x0A, 0x0A, 0x0B, bad)); sw != 0x9C1A {
		t.Fatalf("short transport key: %04X", sw)
	}
}

type countingStore struct {
	saves int
	last  *Image
}

func (s *countingStore) Save(img *Image) error {
	s.saves++
	s.last = img
	return nil
}
