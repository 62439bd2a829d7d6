package coolkey

import (
	"crypto"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"io"
)

// The applet only computes raw RSA (m^d mod n), so every padding scheme is
// done here, following RFC 8017.

var errPadding = errors.New("coolkey: bad padding")

// digestInfoPrefix is the DER DigestInfo header, up to the digest, for
// EMSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// digestInfo returns the DER DigestInfo of a digest.
func digestInfo(h crypto.Hash, digest []byte) []byte {
	p := digestInfoPrefix[h]
	return append(append(make([]byte, 0, len(p)+len(digest)), p...), digest...)
}

// padPKCS1Sign builds the k-byte block 00 01 FF…FF 00 ‖ t (at least eight
// FF bytes). It fails when t is longer than k − 11, which the reference
// host does not check.
func padPKCS1Sign(t []byte, k int) ([]byte, bool) {
	if len(t) > k-11 {
		return nil, false
	}
	em := make([]byte, k)
	em[1] = 0x01
	ps := em[2 : k-len(t)-1]
	for i := range ps {
		ps[i] = 0xFF
	}
	copy(em[k-len(t):], t)
	return em, true
}

// unpadPKCS1Decrypt removes EME-PKCS1-v1_5 padding (00 02 PS 00 M, PS at
// least eight non-zero bytes). It looks at every byte whatever their
// values, so that how long it takes says nothing about where the padding
// went wrong; only the final verdict branches.
func unpadPKCS1Decrypt(em []byte) ([]byte, error) {
	if len(em) < 11 {
		return nil, errPadding
	}
	good := subtle.ConstantTimeByteEq(em[0], 0) & subtle.ConstantTimeByteEq(em[1], 2)
	// sep is the index of the first zero byte after the type; searching
	// stays 1 until it is found.
	searching, sep := 1, 0
	for i := 2; i < len(em); i++ {
		zero := subtle.ConstantTimeByteEq(em[i], 0)
		sep = subtle.ConstantTimeSelect(searching&zero, i, sep)
		searching &^= zero
	}
	good &= searching ^ 1
	good &= subtle.ConstantTimeLessOrEq(10, sep) // PS has at least 8 bytes
	if good != 1 {
		return nil, errPadding
	}
	return em[sep+1:], nil
}

// mgf1XOR XORs out with MGF1(seed) using h.
func mgf1XOR(out []byte, h hash.Hash, seed []byte) {
	var counter [4]byte
	var digest []byte
	for done := 0; done < len(out); {
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		digest = h.Sum(digest[:0])
		done += subtle.XORBytes(out[done:], out[done:], digest)
		binary.BigEndian.PutUint32(counter[:], binary.BigEndian.Uint32(counter[:])+1)
	}
}

// encodePSS is EMSA-PSS-ENCODE for emBits = modBits − 1, returned left-padded
// to k bytes (the raw RSA input). The MGF uses the same hash as the message,
// which is all the module accepts.
func encodePSS(mHash []byte, h crypto.Hash, saltLen, modBits int, rand io.Reader) ([]byte, error) {
	hLen := h.Size()
	emBits := modBits - 1
	emLen := (emBits + 7) / 8
	k := (modBits + 7) / 8
	if len(mHash) != hLen || saltLen < 0 || emLen < hLen+saltLen+2 {
		return nil, errPadding
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, err
	}
	hh := h.New()
	hh.Write(make([]byte, 8))
	hh.Write(mHash)
	hh.Write(salt)
	H := hh.Sum(nil)

	out := make([]byte, k)
	em := out[k-emLen:]
	db := em[:emLen-hLen-1]
	db[len(db)-saltLen-1] = 0x01
	copy(db[len(db)-saltLen:], salt)
	mgf1XOR(db, h.New(), H)
	db[0] &= 0xFF >> (8*emLen - emBits)
	copy(em[emLen-hLen-1:], H)
	em[emLen-1] = 0xBC
	return out, nil
}

// unpadOAEP is EME-OAEP decoding (RFC 8017 §7.1.2 step 3) of the k-byte
// block em, with hash h for the label and mgfHash for MGF1. Like
// unpadPKCS1Decrypt it inspects every byte before deciding.
func unpadOAEP(em []byte, h, mgfHash crypto.Hash, label []byte) ([]byte, error) {
	hLen := h.Size()
	if len(em) < 2*hLen+2 {
		return nil, errPadding
	}
	lh := h.New()
	lh.Write(label)
	lHash := lh.Sum(nil)

	seed := append([]byte(nil), em[1:1+hLen]...)
	db := append([]byte(nil), em[1+hLen:]...)
	mgf := mgfHash.New()
	mgf1XOR(seed, mgf, db)
	mgf1XOR(db, mgf, seed)

	good := subtle.ConstantTimeByteEq(em[0], 0) & subtle.ConstantTimeCompare(db[:hLen], lHash)
	rest := db[hLen:]
	// After lHash: zero or more 00 bytes, then 01, then the message.
	searching, sep, bad := 1, 0, 0
	for i, b := range rest {
		zero := subtle.ConstantTimeByteEq(b, 0)
		one := subtle.ConstantTimeByteEq(b, 1)
		sep = subtle.ConstantTimeSelect(searching&one, i, sep)
		bad |= searching &^ zero &^ one
		searching &^= one
	}
	good &^= bad | searching
	if good != 1 {
		return nil, errPadding
	}
	return rest[sep+1:], nil
}
