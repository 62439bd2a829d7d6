package gp

import (
	"bytes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyType is the block cipher a key belongs to.
type KeyType uint8

const (
	// DES3 is two-key (16-byte) or three-key (24-byte) triple DES, used by
	// SCP01 and SCP02.
	DES3 KeyType = iota + 1
	// AES is AES-128, -192 or -256, used by SCP03.
	AES
)

func (t KeyType) String() string {
	switch t {
	case DES3:
		return "DES3"
	case AES:
		return "AES"
	}
	return fmt.Sprintf("KeyType(%d)", uint8(t))
}

// Key is a symmetric key. Its String and Format methods print only the type,
// length and key check value, never the key, so a Key (or a struct holding
// one) can be logged safely. The zero Key is "no key".
type Key struct {
	typ KeyType
	b   []byte
}

// ErrKeyLength reports key material of a length the key type cannot have.
var ErrKeyLength = errors.New("gp: invalid key length")

// NewKey copies b into a key of type t. DES3 keys are 16 or 24 bytes; AES
// keys 16, 24 or 32.
func NewKey(t KeyType, b []byte) (Key, error) {
	switch {
	case t == DES3 && (len(b) == 16 || len(b) == 24):
	case t == AES && (len(b) == 16 || len(b) == 24 || len(b) == 32):
	case t != DES3 && t != AES:
		return Key{}, fmt.Errorf("gp: unknown key type %d", uint8(t))
	default:
		return Key{}, fmt.Errorf("%w: %d bytes for a %v key", ErrKeyLength, len(b), t)
	}
	return Key{typ: t, b: bytes.Clone(b)}, nil
}

// ParseKey decodes a hex key (spaces and ':' ignored), as found in
// configuration files. The error never repeats the input.
func ParseKey(t KeyType, s string) (Key, error) {
	s = strings.NewReplacer(" ", "", ":", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return Key{}, errors.New("gp: key is not valid hex")
	}
	return NewKey(t, b)
}

// GenerateKey returns a random key of n bytes read from r (crypto/rand.Reader
// in production).
func GenerateKey(t KeyType, n int, r io.Reader) (Key, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return Key{}, fmt.Errorf("gp: generating key: %w", err)
	}
	return NewKey(t, b)
}

// Type returns the key's cipher; 0 for the zero Key.
func (k Key) Type() KeyType { return k.typ }

// Len returns the key length in bytes.
func (k Key) Len() int { return len(k.b) }

// IsZero reports whether k is the zero Key (no key).
func (k Key) IsZero() bool { return k.typ == 0 }

// Bytes returns a copy of the key material, for persisting a card image or
// loading a key into another API. Handle it as a secret.
func (k Key) Bytes() []byte { return bytes.Clone(k.b) }

// Equal reports whether two keys are the same, in constant time with respect
// to the key material.
func (k Key) Equal(o Key) bool {
	return k.typ == o.typ && len(k.b) == len(o.b) && subtle.ConstantTimeCompare(k.b, o.b) == 1
}

// KCV returns the 3-byte key check value: 3DES-ECB(k, 00×8)[0..2] for DES3
// keys, AES-CBC(k, IV 0, 01×16)[0..2] for AES keys (GP 2.2 Amendment D).
// It is public information (it travels in PUT KEY).
func (k Key) KCV() [3]byte {
	var out [3]byte
	switch k.typ {
	case DES3:
		copy(out[:], ecbEncrypt(tdesBlock(k.b), make([]byte, 8)))
	case AES:
		copy(out[:], ecbEncrypt(aesBlock(k.b), bytes.Repeat([]byte{1}, 16)))
	}
	return out
}

func (k Key) block() (cipher.Block, error) {
	switch k.typ {
	case DES3:
		return tdesBlock(k.b), nil
	case AES:
		return aesBlock(k.b), nil
	}
	return nil, errors.New("gp: no key")
}

// String describes the key without revealing it.
func (k Key) String() string {
	if k.IsZero() {
		return "gp.Key(none)"
	}
	kcv := k.KCV()
	return fmt.Sprintf("gp.Key(%v-%d, KCV %X)", k.typ, len(k.b)*8, kcv[:])
}

// Format makes every verb (%x and %v included) print the redacted form.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// KeySet is one GlobalPlatform key set: the three static keys and their key
// version number. ENC is what Dogtag calls "auth"; KEK is GP's DEK.
type KeySet struct {
	Version byte
	ENC     Key
	MAC     Key
	KEK     Key
}

// DeveloperKeyBytes is the GlobalPlatform developer key 40 41 … 4F that
// Dogtag (key info 01 01), tpsclient and most sample cards use for all three
// keys.
func DeveloperKeyBytes() []byte {
	return []byte{0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F}
}

// DeveloperKeySet returns the developer key set, version 1, as 2-key 3DES
// keys (SCP01, SCP02).
func DeveloperKeySet() KeySet { return developerKeySet(DES3) }

// DeveloperKeySetAES returns the developer key bytes as AES-128 keys,
// version 1 (SCP03 cards personalised with the developer key).
func DeveloperKeySetAES() KeySet { return developerKeySet(AES) }

func developerKeySet(t KeyType) KeySet {
	k, _ := NewKey(t, DeveloperKeyBytes())
	return KeySet{Version: 1, ENC: k, MAC: k, KEK: k}
}

// Validate checks that the three keys are present and of one type.
func (s KeySet) Validate() error {
	if s.ENC.IsZero() || s.MAC.IsZero() || s.KEK.IsZero() {
		return errors.New("gp: key set is missing a key")
	}
	if s.ENC.typ != s.MAC.typ || s.ENC.typ != s.KEK.typ {
		return errors.New("gp: key set mixes key types")
	}
	return nil
}

// Type returns the keys' type (that of ENC).
func (s KeySet) Type() KeyType { return s.ENC.typ }

// Equal reports whether two key sets have the same version and keys.
func (s KeySet) Equal(o KeySet) bool {
	return s.Version == o.Version && s.ENC.Equal(o.ENC) && s.MAC.Equal(o.MAC) && s.KEK.Equal(o.KEK)
}

// String describes the set by version and KCVs.
func (s KeySet) String() string {
	return fmt.Sprintf("gp.KeySet(version %02X, ENC %v, MAC %v, KEK %v)", s.Version, s.ENC, s.MAC, s.KEK)
}

// Format makes every verb print the redacted form.
func (s KeySet) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }
