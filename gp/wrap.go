package gp

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Key block types: the first byte of a wrapped-key block.
const (
	// KeyBlockPlain marks the START ENROLLMENT challenge block (Dogtag sends
	// 00 and no check value).
	KeyBlockPlain byte = 0x00
	// KeyBlockDES is a 2-key 3DES key, 3DES-ECB wrapped, no check value
	// (IMPORT KEY ENCRYPTED "80").
	KeyBlockDES byte = 0x80
	// KeyBlockDESCheck is a 2-key 3DES key, 3DES-ECB wrapped, with a KCV; the
	// type Dogtag's PUT KEY (SCP01) and IMPORT KEY ENCRYPTED use.
	KeyBlockDESCheck byte = 0x81
	// KeyBlockAES is an AES key, AES-CBC (IV 0) wrapped, as in SCP03 PUT KEY.
	KeyBlockAES byte = 0x88
)

// KeyBlock is GlobalPlatform's wrapped-key block, the format of each key in
// PUT KEY and of the key given to the OP 2.0.1 decryptVerifyKey call (START
// ENROLLMENT's challenge, IMPORT KEY ENCRYPTED's transport key):
//
//	type(1) ‖ length(1) ‖ wrapped key ‖ check length(1) ‖ check value
//
// For KeyBlockAES the length byte counts a key-length byte that follows it:
// 88 ‖ (1+n) ‖ n ‖ wrapped key(n) ‖ 03 ‖ KCV (GP 2.2 Amendment D, Dogtag's
// createKeySetData).
type KeyBlock struct {
	Type    byte
	Wrapped []byte // the encrypted key (or challenge)
	Check   []byte // key check value of the plain key; empty for none
}

// Encode returns the block bytes.
func (b KeyBlock) Encode() ([]byte, error) {
	n := len(b.Wrapped)
	if b.Type == KeyBlockAES {
		n++
	}
	if n > 255 || len(b.Check) > 255 {
		return nil, fmt.Errorf("gp: key block too long: %w", ErrLength)
	}
	out := []byte{b.Type, byte(n)}
	if b.Type == KeyBlockAES {
		out = append(out, byte(len(b.Wrapped)))
	}
	out = append(out, b.Wrapped...)
	out = append(out, byte(len(b.Check)))
	return append(out, b.Check...), nil
}

// ParseKeyBlock decodes one key block at the start of data and returns it
// with the number of bytes it used.
func ParseKeyBlock(data []byte) (KeyBlock, int, error) {
	bad := func(what string) (KeyBlock, int, error) {
		return KeyBlock{}, 0, fmt.Errorf("gp: key block: %s: %w", what, ErrBadKeyData)
	}
	if len(data) < 2 {
		return bad("truncated header")
	}
	b := KeyBlock{Type: data[0]}
	n, off := int(data[1]), 2
	if b.Type == KeyBlockAES {
		if n < 1 || len(data) < 3 || int(data[2]) != n-1 {
			return bad("inconsistent AES key length")
		}
		n, off = n-1, 3
	}
	if len(data) < off+n+1 {
		return bad("truncated key")
	}
	b.Wrapped = bytes.Clone(data[off : off+n])
	off += n
	cl := int(data[off])
	off++
	if len(data) < off+cl {
		return bad("truncated check value")
	}
	b.Check = bytes.Clone(data[off : off+cl])
	return b, off + cl, nil
}

// WrapKey wraps key k under kek into a key block with a KCV: 3DES-ECB for a
// 3DES kek (type KeyBlockDESCheck; k must be a 16-byte 3DES key), AES-CBC
// with a zero IV for an AES kek (type KeyBlockAES).
func WrapKey(kek, k Key) (KeyBlock, error) {
	kcv := k.KCV()
	switch kek.typ {
	case DES3:
		if k.typ != DES3 || len(k.b) != 16 {
			return KeyBlock{}, fmt.Errorf("gp: a 3DES KEK wraps 16-byte 3DES keys, not %v", k)
		}
		return KeyBlock{Type: KeyBlockDESCheck, Wrapped: ecbEncrypt(tdesBlock(kek.b), k.b), Check: kcv[:]}, nil
	case AES:
		if k.typ != AES {
			return KeyBlock{}, fmt.Errorf("gp: an AES KEK wraps AES keys, not %v", k)
		}
		return KeyBlock{Type: KeyBlockAES, Wrapped: cbcEncrypt(aesBlock(kek.b), nil, k.b), Check: kcv[:]}, nil
	}
	return KeyBlock{}, fmt.Errorf("gp: no KEK")
}

// UnwrapKey reverses WrapKey: it decrypts the block under kek and, when the
// block carries a check value, verifies it (ErrBadKeyData on mismatch).
func UnwrapKey(kek Key, b KeyBlock) (Key, error) {
	var k Key
	switch {
	case kek.typ == DES3 && (b.Type == KeyBlockDES || b.Type == KeyBlockDESCheck):
		if len(b.Wrapped) != 16 {
			return Key{}, fmt.Errorf("gp: wrapped 3DES key of %d bytes: %w", len(b.Wrapped), ErrBadKeyData)
		}
		k = Key{typ: DES3, b: ecbDecrypt(tdesBlock(kek.b), b.Wrapped)}
	case kek.typ == AES && b.Type == KeyBlockAES:
		if n := len(b.Wrapped); n != 16 && n != 24 && n != 32 {
			return Key{}, fmt.Errorf("gp: wrapped AES key of %d bytes: %w", n, ErrBadKeyData)
		}
		k = Key{typ: AES, b: cbcDecrypt(aesBlock(kek.b), nil, b.Wrapped)}
	default:
		return Key{}, fmt.Errorf("gp: key block type %02X under a %v KEK: %w", b.Type, kek.typ, ErrBadKeyData)
	}
	if len(b.Check) > 0 {
		kcv := k.KCV()
		if len(b.Check) > len(kcv) || !equalMAC(b.Check, kcv[:len(b.Check)]) {
			return Key{}, fmt.Errorf("gp: key check value mismatch: %w", ErrBadKeyData)
		}
	}
	return k, nil
}

// EnrollmentChallengeLen is the length of the START ENROLLMENT challenge.
const EnrollmentChallengeLen = 16

// WrapChallenge encrypts the 16-byte START ENROLLMENT challenge under the
// card's static KEK as Dogtag's TKS encryptData does: 3DES-ECB for SCP01 and
// SCP02 (static KEK in both), AES-CBC with a zero IV for SCP03. The result
// goes into a KeyBlock{Type: KeyBlockPlain} (00 10 <16 bytes> 00).
func WrapChallenge(kek Key, challenge []byte) ([]byte, error) {
	if len(challenge) != EnrollmentChallengeLen {
		return nil, fmt.Errorf("gp: enrollment challenge must be %d bytes: %w", EnrollmentChallengeLen, ErrLength)
	}
	switch kek.typ {
	case DES3:
		return ecbEncrypt(tdesBlock(kek.b), challenge), nil
	case AES:
		return cbcEncrypt(aesBlock(kek.b), nil, challenge), nil
	}
	return nil, fmt.Errorf("gp: no KEK")
}

// UnwrapChallenge reverses WrapChallenge (card side).
func UnwrapChallenge(kek Key, wrapped []byte) ([]byte, error) {
	if len(wrapped) != EnrollmentChallengeLen {
		return nil, fmt.Errorf("gp: wrapped enrollment challenge of %d bytes: %w", len(wrapped), ErrBadKeyData)
	}
	switch kek.typ {
	case DES3:
		return ecbDecrypt(tdesBlock(kek.b), wrapped), nil
	case AES:
		return cbcDecrypt(aesBlock(kek.b), nil, wrapped), nil
	}
	return nil, fmt.Errorf("gp: no KEK")
}

// PutKey is the PUT KEY command replacing a whole key set (docs/tps.md §2.6):
//
//	84 D8 <current version, 00 = add> <81: key index 1, several keys> Lc
//	<new version> ‖ key block ENC ‖ key block MAC ‖ key block KEK  [00]
type PutKey struct {
	CurrentVersion byte // P1; 00 when the current version is FF (factory keys) or to add a set
	NewVersion     byte
	Keys           [3]KeyBlock // ENC, MAC, KEK
	WithLe         bool        // SCP02/SCP03 (GP 2.1.1 mode) append Le=00
}

// putKeyP2 is key index 1 with the "more than one key" bit.
const putKeyP2 = 0x81

// Command returns the plain PUT KEY command (to be wrapped).
func (p PutKey) Command() (Command, error) {
	data := []byte{p.NewVersion}
	for _, b := range p.Keys {
		e, err := b.Encode()
		if err != nil {
			return Command{}, err
		}
		data = append(data, e...)
	}
	if len(data) > 255 {
		return Command{}, fmt.Errorf("gp: PUT KEY data too long: %w", ErrLength)
	}
	return Command{CLA: 0x84, INS: INSPutKey, P1: p.CurrentVersion, P2: putKeyP2, Data: data, HasLe: p.WithLe}, nil
}

// ParsePutKey decodes an unwrapped PUT KEY command (card side). Only the
// three-key replacement form Dogtag sends (P2 = 81) is accepted.
func ParsePutKey(c Command) (PutKey, error) {
	if c.INS != INSPutKey {
		return PutKey{}, statusError(SWINSNotSupported, fmt.Errorf("INS %02X is not PUT KEY", c.INS))
	}
	if c.P2 != putKeyP2 {
		return PutKey{}, statusError(SWWrongP1P2, fmt.Errorf("PUT KEY P2 %02X: only 81 (three keys from index 1) is supported", c.P2))
	}
	if len(c.Data) < 1 || len(c.Data) > 255 {
		return PutKey{}, statusError(SWWrongLength, fmt.Errorf("PUT KEY data of %d bytes: %w", len(c.Data), ErrLength))
	}
	p := PutKey{CurrentVersion: c.P1, NewVersion: c.Data[0], WithLe: c.HasLe}
	rest := c.Data[1:]
	for i := range p.Keys {
		b, n, err := ParseKeyBlock(rest)
		if err != nil {
			return PutKey{}, statusError(SWWrongData, err)
		}
		p.Keys[i] = b
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return PutKey{}, statusError(SWWrongData, fmt.Errorf("%d bytes after the third key: %w", len(rest), ErrBadKeyData))
	}
	return p, nil
}

// NewPutKey wraps a new key set under dek (SessionKeys.DEK: the old static
// KEK for SCP01/SCP03, S-DEK for SCP02) into a PUT KEY. current is the key
// version being replaced (FF is sent as 00, as Dogtag does).
func NewPutKey(dek Key, current byte, newSet KeySet, withLe bool) (PutKey, error) {
	if err := newSet.Validate(); err != nil {
		return PutKey{}, err
	}
	if current == 0xFF {
		current = 0
	}
	p := PutKey{CurrentVersion: current, NewVersion: newSet.Version, WithLe: withLe}
	for i, k := range []Key{newSet.ENC, newSet.MAC, newSet.KEK} {
		b, err := WrapKey(dek, k)
		if err != nil {
			return PutKey{}, err
		}
		p.Keys[i] = b
	}
	return p, nil
}

// Unwrap recovers the new key set under dek, checking every KCV. Errors are
// *StatusError with SW 6A 80.
func (p PutKey) Unwrap(dek Key) (KeySet, error) {
	var ks KeySet
	ks.Version = p.NewVersion
	for i, dst := range []*Key{&ks.ENC, &ks.MAC, &ks.KEK} {
		if len(p.Keys[i].Check) == 0 {
			return KeySet{}, statusError(SWWrongData, fmt.Errorf("PUT KEY key %d has no check value: %w", i+1, ErrBadKeyData))
		}
		k, err := UnwrapKey(dek, p.Keys[i])
		if err != nil {
			return KeySet{}, statusError(SWWrongData, err)
		}
		*dst = k
	}
	return ks, nil
}

// ImportKeyEncrypted is the data of the CoolKey IMPORT KEY ENCRYPTED command
// (84 0A, cardedge.md §4.5): the object holding the encrypted key blob, the
// DES transport key wrapped for the card, and the CBC IV the blob was
// encrypted with.
//
//	object ID(4) ‖ key block ‖ IV length(1) ‖ IV
type ImportKeyEncrypted struct {
	ObjectID uint32
	Key      KeyBlock
	IV       []byte
}

// Encode returns the command data.
func (d ImportKeyEncrypted) Encode() ([]byte, error) {
	kb, err := d.Key.Encode()
	if err != nil {
		return nil, err
	}
	if len(d.IV) > 255 {
		return nil, fmt.Errorf("gp: IV too long: %w", ErrLength)
	}
	out := binary.BigEndian.AppendUint32(nil, d.ObjectID)
	out = append(out, kb...)
	out = append(out, byte(len(d.IV)))
	out = append(out, d.IV...)
	return out, nil
}

// ParseImportKeyEncrypted decodes IMPORT KEY ENCRYPTED data. Bytes after the
// IV (the EC public point on the SC650 applet) are returned as rest.
func ParseImportKeyEncrypted(data []byte) (d ImportKeyEncrypted, rest []byte, err error) {
	if len(data) < 4 {
		return d, nil, fmt.Errorf("gp: IMPORT KEY ENCRYPTED data of %d bytes: %w", len(data), ErrLength)
	}
	d.ObjectID = binary.BigEndian.Uint32(data)
	b, n, err := ParseKeyBlock(data[4:])
	if err != nil {
		return ImportKeyEncrypted{}, nil, err
	}
	d.Key = b
	off := 4 + n
	if len(data) < off+1 || len(data) < off+1+int(data[off]) {
		return ImportKeyEncrypted{}, nil, fmt.Errorf("gp: IMPORT KEY ENCRYPTED IV truncated: %w", ErrLength)
	}
	ivLen := int(data[off])
	d.IV = bytes.Clone(data[off+1 : off+1+ivLen])
	return d, bytes.Clone(data[off+1+ivLen:]), nil
}

// EncryptCBC encrypts block-aligned data with k in CBC mode (3DES or AES by
// the key's type): how a server-side-generated private key blob is protected
// under the transport key for IMPORT KEY ENCRYPTED.
func (k Key) EncryptCBC(iv, data []byte) ([]byte, error) {
	b, err := k.block()
	if err != nil {
		return nil, err
	}
	if len(iv) != b.BlockSize() || len(data)%b.BlockSize() != 0 {
		return nil, fmt.Errorf("gp: CBC needs a %d-byte IV and block-aligned data: %w", b.BlockSize(), ErrLength)
	}
	return cbcEncrypt(b, iv, data), nil
}

// DecryptCBC reverses EncryptCBC.
func (k Key) DecryptCBC(iv, data []byte) ([]byte, error) {
	b, err := k.block()
	if err != nil {
		return nil, err
	}
	if len(iv) != b.BlockSize() || len(data)%b.BlockSize() != 0 {
		return nil, fmt.Errorf("gp: CBC needs a %d-byte IV and block-aligned data: %w", b.BlockSize(), ErrLength)
	}
	return cbcDecrypt(b, iv, data), nil
}
