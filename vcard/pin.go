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

// pinHash is PBKDF2-HMAC-SHA256(pin, salt, iterations).
type pinHash struct {
	salt       []byte
	sum        []byte
	iterations int
}

func hashPIN(value []byte, rand io.Reader) (pinHash, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return pinHash{}, err
	}
	sum, err := pbkdf2.Key(sha256.New, string(value), salt, pinKDFIterations, sha256.Size)
	if err != nil {
		return pinHash{}, err
	}
	return pinHash{salt: salt, sum: sum, iterations: pinKDFIterations}, nil
}

func (h pinHash) matches(candidate []byte) bool {
	sum, err := pbkdf2.Key(sha256.New, string(candidate), h.salt, h.iterations, len(h.sum))
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
