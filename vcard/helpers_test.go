package vcard

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	testKeysOnce sync.Once
	testRSA1024  *rsa.PrivateKey
	testRSA2048  *rsa.PrivateKey
	testP256     *ecdsa.PrivateKey
	testP384     *ecdsa.PrivateKey
)

// testKeys loads the fixed test keys in testdata (test-only keys, checked
// in so that tests and fuzz workers do not spend time on key generation).
func testKeys(t testing.TB) {
	t.Helper()
	testKeysOnce.Do(func() {
		load := func(name string) any {
			b, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				panic(err)
			}
			blk, _ := pem.Decode(b)
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				panic(err)
			}
			return k
		}
		testRSA1024 = load("rsa1024.pem").(*rsa.PrivateKey)
		testRSA2048 = load("rsa2048.pem").(*rsa.PrivateKey)
		testP256 = load("p256.pem").(*ecdsa.PrivateKey)
		testP384 = load("p384.pem").(*ecdsa.PrivateKey)
	})
}

// testCPLC gives the CUID 4090 7A01 0042 12345678.
var testCPLC = func() []byte {
	b := make([]byte, 42)
	copy(b[0:], []byte{0x40, 0x90, 0x7A, 0x01})
	copy(b[12:], []byte{0x12, 0x34, 0x56, 0x78})
	copy(b[16:], []byte{0x00, 0x42})
	return b
}()

// testImage is a formatted card with PIN 0 "1234" (3 tries), RSA-1024 in
// 2/3, RSA-2048 in 4/5 and P-256 in 6/7 (private keys usable by PIN 0), a
// 300-byte z0 with the TPS ACLs and a 20-byte d1 only PIN 0 may touch.
func testImage(t testing.TB) *Image {
	t.Helper()
	testKeys(t)
	img := BlankImage(testCPLC)
	InstallApplet(img, 0)
	p, err := NewPINImage(0, []byte("1234"), 3)
	if err != nil {
		t.Fatal(err)
	}
	img.Applet.PINs = append(img.Applet.PINs, p)
	for _, kp := range []struct {
		prv, pub int
		key      any
	}{{2, 3, testRSA1024}, {4, 5, testRSA2048}, {6, 7, testP256}} {
		var pair [2]KeyImage
		switch k := kp.key.(type) {
		case *rsa.PrivateKey:
			pair, err = NewKeyPairImages(kp.prv, kp.pub, k, ACLUserPIN)
		case *ecdsa.PrivateKey:
			pair, err = NewKeyPairImages(kp.prv, kp.pub, k, ACLUserPIN)
		}
		if err != nil {
			t.Fatal(err)
		}
		img.Applet.Keys = append(img.Applet.Keys, pair[:]...)
	}
	z0 := make([]byte, 300)
	for i := range z0 {
		z0[i] = byte(i)
	}
	img.Applet.Objects = append(img.Applet.Objects,
		ObjectImage{ID: ObjectID(0x7A300000), ACL: TPSObjectACL, Data: z0},
		ObjectImage{ID: ObjectID(0x64310000), ACL: ACLImage{Read: 1, Write: 1, Delete: 1}, Data: make([]byte, 20)},
	)
	return img
}

func newTestCard(t testing.TB, img *Image, opts Options) *Card {
	t.Helper()
	c, err := New(img, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// unhex decodes hex with optional spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// tx sends a command and splits the response.
func tx(t testing.TB, c *Card, cmd []byte) ([]byte, uint16) {
	t.Helper()
	resp, err := c.Transmit(cmd)
	if err != nil {
		t.Fatalf("Transmit(% X): %v", cmd, err)
	}
	if len(resp) < 2 {
		t.Fatalf("Transmit(% X): response % X", cmd, resp)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1])
}

func txHex(t testing.TB, c *Card, cmd string) ([]byte, uint16) {
	t.Helper()
	return tx(t, c, unhex(t, cmd))
}

const selectCoolKey = "00 A4 04 00 07 62 76 01 FF 00 00 00"

// mustOK sends a command that must succeed.
func mustOK(t testing.TB, c *Card, cmd string) []byte {
	t.Helper()
	data, sw := txHex(t, c, cmd)
	if sw != 0x9000 {
		t.Fatalf("%s: SW %04X", cmd, sw)
	}
	return data
}
