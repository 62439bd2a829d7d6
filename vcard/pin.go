package vcard

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
)

// PIN policy of the applet (CheckPINPolicy) and OwnerPIN's maximum size.
const (
	minPINLength = 4
	maxPINLength = 16
	maxPINs      = 8
)

// pinKDFIterations is the PBKDF2 work factor for stored PINs. The image must
// not reveal the PIN; it is not meant to resist a determined offline search
// of a 4-digit space, which no hash can.
const pinKDFIterations = 10000

// pin is a Java Card OwnerPIN whose value is kept only as a salted hash.
type pin struct {
	maxTries  byte
	triesLeft byte
	hash      pinHash
}

// PIN hash schemes as named in images. HMAC zero-pads short keys, so plain
// PBKDF2 over the PIN cannot tell "1234" from "1234\x00", which a real card
// does; the length-prefixed scheme hashes len(pin) ‖ pin. The legacy scheme
// is still read, and a PIN stored with it is rehashed at its next successful
// VERIFY.
const (
	kdfLengthPrefixed = "pbkdf2-sha256-lp"
	kdfLegacy         = "pbkdf2-sha256"
)

// pinHash is PBKDF2-HMAC-SHA256(password(pin), salt, iterations), where
// password depends on kdf.
type pinHash struct {
	kdf        string
	salt       []byte
	sum        []byte
	iterations int
}

func (h pinHash) password(pin []byte) string {
	if h.kdf == kdfLegacy {
		return string(pin)
	}
	return string(append([]byte{byte(len(pin))}, pin...))
}

func hashPIN(value []byte, rand io.Reader) (pinHash, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return pinHash{}, err
	}
	h := pinHash{kdf: kdfLengthPrefixed, salt: salt, iterations: pinKDFIterations}
	sum, err := pbkdf2.Key(sha256.New, h.password(value), salt, pinKDFIterations, sha256.Size)
	if err != nil {
		return pinHash{}, err
	}
	h.sum = sum
	return h, nil
}

func (h pinHash) matches(candidate []byte) bool {
	sum, err := pbkdf2.Key(sha256.New, h.password(candidate), h.salt, h.iterations, len(h.sum))
	return err == nil && subtle.ConstantTimeCompare(sum, h.sum) == 1
}

func newPIN(value []byte, maxTries byte, rand io.Reader) (*pin, error) {
	h, err := hashPIN(value, rand)
	if err != nil {
		return nil, fmt.Errorf("vcard: hashing PIN: %w", err)
	}
	return &pin{maxTries: maxTries, triesLeft: maxTries, hash: h}, nil
}

// check is OwnerPIN.check: a blocked PIN never matches; otherwise one try is
// spent, and a match restores all tries.
func (p *pin) check(candidate []byte) bool {
	if p.triesLeft == 0 {
		return false
	}
	p.triesLeft--
	if len(candidate) > maxPINLength || !p.hash.matches(candidate) {
		return false
	}
	p.triesLeft = p.maxTries
	return true
}

// update sets a new value (OwnerPIN.update); tries are left as they are.
func (p *pin) update(value []byte, rand io.Reader) error {
	h, err := hashPIN(value, rand)
	if err != nil {
		return fmt.Errorf("vcard: hashing PIN: %w", err)
	}
	p.hash = h
	return nil
}

func validPINLength(n int) bool { return n >= minPINLength && n <= maxPINLength }
