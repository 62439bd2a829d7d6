package cardedge

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// CryptDirection is COMPUTE CRYPT's direction byte. The applet only does raw
// RSA: signing is a private-key "encrypt", decryption a private-key
// "decrypt"; the host pads and unpads.
type CryptDirection byte

const (
	DirectionEncrypt CryptDirection = 0x03 // also used to sign
	DirectionDecrypt CryptDirection = 0x04
)

// COMPUTE CRYPT operations (P2), cipher mode and data locations.
const (
	cryptInit    = 0x01
	cryptFinal   = 0x03
	cryptOneStep = 0x04

	cipherRSANoPad = 0x00

	locationAPDU     = 0x01
	locationIOBuffer = 0x02
)

// MaxCryptInAPDU is the largest input that fits a one-step COMPUTE CRYPT
// APDU: 255 less mode, direction, location, length(2) and nonce. The
// reference host switches to the I/O buffer above 200 bytes; anything up to
// this size saves it four APDUs.
const MaxCryptInAPDU = 255 - 5 - NonceSize

// MaxIOResult bounds the length a card may claim for a COMPUTE CRYPT result
// in its I/O buffer (RSA-4096 gives 512; real buffers hold 900–1200 bytes).
const MaxIOResult = 4096

// ComputeCrypt runs raw RSA with key number key on in, which must be as long
// as the modulus.
//
// Up to MaxCryptInAPDU bytes go in one ONE-STEP APDU in location 01
// (B0 36 kk 04 Lc 00 dd 01 len(2) in nonce), which is byte-identical to the
// reference host for RSA-1024. Applets without ONE-STEP (9C 11) get INIT +
// FINAL instead. Longer inputs go through the I/O buffer in the fewest APDUs
// short APDUs allow; for RSA-2048 that is 5 against the reference host's 7:
//
//	WRITE OBJECT FFFFFFFF @0   len(2) ‖ first 236 input bytes
//	WRITE OBJECT FFFFFFFF @238 last 20 input bytes
//	COMPUTE CRYPT kk 04        00 dd 02 00 00 ‖ nonce
//	READ OBJECT  FFFFFFFF @0   255 bytes: len(2) ‖ 253 result bytes
//	READ OBJECT  FFFFFFFF @255 the last 3
//
// The I/O buffer is cleared on deselect, so the caller runs this inside a
// transaction after SelectApplet.
func (c *Card) ComputeCrypt(key byte, dir CryptDirection, in []byte) ([]byte, error) {
	if len(in) == 0 || len(in) > MaxIOResult {
		return nil, fmt.Errorf("cardedge: COMPUTE CRYPT input of %d bytes", len(in))
	}
	if len(in) <= MaxCryptInAPDU {
		data := c.withNonce([]byte{cipherRSANoPad, byte(dir), locationAPDU}, appendBE16(nil, uint16(len(in))), in)
		b, err := c.do(cardEdge(insComputeCrypt, key, cryptOneStep, data, 0))
		if errors.Is(err, ErrIncorrectP2) {
			return c.computeCryptInitFinal(key, dir, in)
		}
		if err != nil {
			return nil, err
		}
		return ParseCryptResult(b)
	}

	buf := appendBE16(make([]byte, 0, 2+len(in)), uint16(len(in)))
	buf = append(buf, in...)
	if err := c.WriteObject(IOBufferID, 0, buf); err != nil {
		return nil, err
	}
	data := c.withNonce([]byte{cipherRSANoPad, byte(dir), locationIOBuffer, 0, 0})
	if _, err := c.do(cardEdge(insComputeCrypt, key, cryptOneStep, data, 0)); err != nil {
		return nil, err
	}
	// Raw RSA output is as long as the input, so ask for all of it at once
	// and fall back to reading the length first if the guess was wrong.
	return c.readIOResult(len(in))
}

func (c *Card) computeCryptInitFinal(key byte, dir CryptDirection, in []byte) ([]byte, error) {
	init := c.withNonce([]byte{cipherRSANoPad, byte(dir), locationAPDU, 0, 0})
	if _, err := c.do(cardEdge(insComputeCrypt, key, cryptInit, init, 0)); err != nil {
		return nil, err
	}
	final := c.withNonce([]byte{locationAPDU}, appendBE16(nil, uint16(len(in))), in)
	b, err := c.do(cardEdge(insComputeCrypt, key, cryptFinal, final, 0))
	if err != nil {
		return nil, err
	}
	return ParseCryptResult(b)
}

// readIOResult reads len(2) ‖ result from the I/O buffer, guessing that the
// result has expect bytes.
func (c *Card) readIOResult(expect int) ([]byte, error) {
	first, err := c.ReadObjectChunk(IOBufferID, 0, min(MaxReadChunk, 2+expect))
	if errors.Is(err, ErrInvalidParameter) {
		// The buffer is shorter than the guess: read the length alone.
		first, err = c.ReadObjectChunk(IOBufferID, 0, 2)
	}
	if err != nil {
		return nil, err
	}
	n := int(be16(first))
	if n > MaxIOResult {
		return nil, fmt.Errorf("%w: I/O buffer claims a %d-byte result", ErrMalformedResponse, n)
	}
	if 2+n <= len(first) {
		return first[2 : 2+n], nil
	}
	rest, err := c.ReadObject(IOBufferID, uint32(len(first)), 2+n-len(first))
	if err != nil {
		return nil, err
	}
	return append(first[2:], rest...), nil
}

// ParseCryptResult decodes the length-prefixed result COMPUTE CRYPT and the
// ECC instructions return in the APDU: len(2) ‖ len bytes, nothing after.
func ParseCryptResult(b []byte) ([]byte, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d-byte crypt result", ErrMalformedResponse, len(b))
	}
	if n := int(be16(b)); n != len(b)-2 {
		return nil, fmt.Errorf("%w: crypt result claims %d bytes, has %d", ErrMalformedResponse, n, len(b)-2)
	}
	return b[2:], nil
}

// ComputeECCSignature signs a hash with EC key number key (INS 37, the SC650
// applet only): B0 37 kk 04 Lc 01 len(2) hash nonce. It returns the DER
// ECDSA signature the card produced; see ECDSASignatureRaw. The applet
// accepts hashes from 20 bytes up to the curve's size.
//
// OpenSC sends 38 for signing; the applet source defines 37, which we follow.
func (c *Card) ComputeECCSignature(key byte, hash []byte) ([]byte, error) {
	return c.eccOp(insComputeECCSign, key, hash)
}

// ComputeECCKeyAgreement runs ECDH with EC key number key against the peer's
// uncompressed point 04‖X‖Y (INS 38, SC650 only) and returns the shared
// secret (the X coordinate).
func (c *Card) ComputeECCKeyAgreement(key byte, peerPoint []byte) ([]byte, error) {
	return c.eccOp(insComputeECCAgree, key, peerPoint)
}

func (c *Card) eccOp(ins, key byte, in []byte) ([]byte, error) {
	if len(in) == 0 || len(in) > 255-3-NonceSize {
		return nil, fmt.Errorf("cardedge: ECC input of %d bytes", len(in))
	}
	data := c.withNonce([]byte{locationAPDU}, appendBE16(nil, uint16(len(in))), in)
	b, err := c.do(cardEdge(ins, key, cryptOneStep, data, 0))
	if err != nil {
		return nil, err
	}
	return ParseCryptResult(b)
}

// ECDSASignatureRaw converts a DER SEQUENCE { r, s } into r ‖ s, each
// left-padded to size bytes (the curve's byte length), as PKCS#11 CKM_ECDSA
// returns it.
func ECDSASignatureRaw(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: ECDSA signature is not a DER SEQUENCE of two INTEGERs", ErrMalformedResponse)
	}
	if size <= 0 || size > 66 || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 ||
		sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, fmt.Errorf("%w: ECDSA signature does not fit %d-byte fields", ErrMalformedResponse, size)
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
