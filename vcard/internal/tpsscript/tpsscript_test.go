package tpsscript

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/binary"
	"math/big"
	"sync"
	"testing"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

// keyGenResult builds what START ENROLLMENT leaves in the I/O buffer for
// a 1024-bit key, with its proof over blob ‖ challenge.
func keyGenResult(t testing.TB, challenge []byte) []byte {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	mod := key.N.Bytes()
	exp := big.NewInt(int64(key.E)).Bytes()
	blob := []byte{0x00, 0x01, 0x04, 0x00}
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(mod)))
	blob = append(blob, mod...)
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(exp)))
	blob = append(blob, exp...)
	h := sha1.Sum(append(bytes.Clone(blob), challenge...))
	proof, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, h[:])
	if err != nil {
		t.Fatal(err)
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(blob)))
	out = append(out, blob...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(proof)))
	return append(out, proof...)
}

func TestParseKeyGenResult(t *testing.T) {
	challenge := []byte("0123456789abcdef")
	good := keyGenResult(t, challenge)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name      string
		b         []byte
		challenge []byte
		bits      int
		ok        bool
	}{
		{"good", good, challenge, 1024, true},
		{"other challenge", good, []byte("fedcba9876543210"), 1024, false},
		{"other size asked", good, challenge, 2048, false},
		{"modulus bit flipped", flip(10), challenge, 1024, false},
		{"proof bit flipped", flip(len(good) - 1), challenge, 1024, false},
		{"truncated", good[:len(good)-1], challenge, 1024, false},
		{"trailing byte", append(bytes.Clone(good), 0), challenge, 1024, false},
		{"not a plain RSA blob", flip(3), challenge, 1024, false},
		{"empty", nil, challenge, 1024, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := ParseKeyGenResult(tc.b, tc.challenge, tc.bits)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if tc.ok && pub.N.Cmp(key.N) != 0 {
				t.Fatal("wrong modulus")
			}
		})
	}
}

// FuzzParseKeyGenResult: no input crashes the parser, and whatever it
// accepts carries a proof that verifies.
func FuzzParseKeyGenResult(f *testing.F) {
	challenge := []byte("0123456789abcdef")
	f.Add(keyGenResult(f, challenge))
	f.Add([]byte{0x00, 0x04, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParseKeyGenResult(b, challenge, 1024)
		if err != nil {
			return
		}
		if pub.N.BitLen() != 1024 {
			t.Fatalf("accepted a %d-bit key", pub.N.BitLen())
		}
	})
}
