package vcard

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// A real card compares PIN bytes exactly; HMAC's zero-padding of short keys
// must not make "1234" and "1234\x00" the same PIN.
func TestPINTrailingZeroBytesDiffer(t *testing.T) {
	p, err := newPIN([]byte("1234"), 10, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		candidate string
		want      bool
	}{
		{"1234\x00", false},
		{"1234\x00\x00", false},
		{"123", false},
		{"1234", true},
	} {
		if got := p.check([]byte(c.candidate)); got != c.want {
			t.Errorf("check(%q) = %v, want %v", c.candidate, got, c.want)
		}
	}
}

// An image written with the legacy scheme still verifies, and the first
// successful VERIFY replaces its hash with the length-prefixed one.
func TestLegacyPINHashUpgradedOnVerify(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 16)
	sum, err := pbkdf2.Key(sha256.New, "123456", salt, 1000, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	a := &applet{card: newTestCard(t, testImage(t), Options{})}
	p := &pin{maxTries: 3, triesLeft: 3, hash: pinHash{kdf: kdfLegacy, salt: salt, sum: sum, iterations: 1000}}
	if !a.checkPIN(p, []byte("123456")) {
		t.Fatal("legacy hash did not verify its PIN")
	}
	if p.hash.kdf != kdfLengthPrefixed {
		t.Fatalf("hash scheme after VERIFY = %q, want %q", p.hash.kdf, kdfLengthPrefixed)
	}
	if !p.check([]byte("123456")) || p.check([]byte("123456\x00")) {
		t.Fatal("upgraded hash does not compare PIN bytes exactly")
	}
}
