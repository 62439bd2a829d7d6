package gp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"fmt"
)

// Block-cipher building blocks shared by the protocols. They take raw byte
// slices so that session keys (which never leave the package) need no
// wrapping; callers guarantee block-aligned input where it is required.

// tdesBlock returns a 3DES cipher for a 2-key (16-byte) or 3-key (24-byte)
// key. A 2-key key K1‖K2 is used as K1‖K2‖K1.
func tdesBlock(key []byte) cipher.Block {
	var k [24]byte
	switch len(key) {
	case 16:
		copy(k[:16], key)
		copy(k[16:], key[:8])
	case 24:
		copy(k[:], key)
	default:
		panic(fmt.Sprintf("gp: internal error: 3DES key of %d bytes", len(key)))
	}
	b, err := des.NewTripleDESCipher(k[:])
	if err != nil {
		panic("gp: internal error: " + err.Error())
	}
	return b
}

// desBlock returns a single-DES cipher over the first 8 bytes of key.
func desBlock(key []byte) cipher.Block {
	b, err := des.NewCipher(key[:8])
	if err != nil {
		panic("gp: internal error: " + err.Error())
	}
	return b
}

func aesBlock(key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("gp: internal error: " + err.Error())
	}
	return b
}

// ecbEncrypt encrypts block-aligned data in ECB mode.
func ecbEncrypt(b cipher.Block, data []byte) []byte {
	bs := b.BlockSize()
	if len(data)%bs != 0 {
		panic("gp: internal error: ECB input not block aligned")
	}
	out := make([]byte, len(data))
	for i := 0; i < len(data); i += bs {
		b.Encrypt(out[i:i+bs], data[i:i+bs])
	}
	return out
}

// ecbDecrypt decrypts block-aligned data in ECB mode.
func ecbDecrypt(b cipher.Block, data []byte) []byte {
	bs := b.BlockSize()
	if len(data)%bs != 0 {
		panic("gp: internal error: ECB input not block aligned")
	}
	out := make([]byte, len(data))
	for i := 0; i < len(data); i += bs {
		b.Decrypt(out[i:i+bs], data[i:i+bs])
	}
	return out
}

// cbcEncrypt encrypts block-aligned data in CBC mode; a nil iv means zeros.
func cbcEncrypt(b cipher.Block, iv, data []byte) []byte {
	if iv == nil {
		iv = make([]byte, b.BlockSize())
	}
	out := make([]byte, len(data))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, data)
	return out
}

// cbcDecrypt decrypts block-aligned data in CBC mode; a nil iv means zeros.
func cbcDecrypt(b cipher.Block, iv, data []byte) []byte {
	if iv == nil {
		iv = make([]byte, b.BlockSize())
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, data)
	return out
}

// pad80 appends ISO/IEC 9797-1 method 2 padding (80 00…) up to a multiple
// of bs. It always adds at least one byte.
func pad80(data []byte, bs int) []byte {
	n := len(data) + 1
	if r := n % bs; r != 0 {
		n += bs - r
	}
	out := make([]byte, n)
	copy(out, data)
	out[len(data)] = 0x80
	return out
}

// unpad80 removes method-2 padding and reports whether it was well formed.
func unpad80(data []byte) ([]byte, bool) {
	for i := len(data) - 1; i >= 0; i-- {
		switch data[i] {
		case 0x00:
			continue
		case 0x80:
			return data[:i], true
		default:
			return nil, false
		}
	}
	return nil, false
}

// mac3DES is the "full triple-DES MAC" of GP (ISO 9797-1 algorithm 1 with
// 3DES): the padded data is 3DES-CBC encrypted from icv and the last block is
// the MAC. SCP01 uses it for everything; SCP02 for the cryptograms.
func mac3DES(key, icv, data []byte) []byte {
	enc := cbcEncrypt(tdesBlock(key), icv, pad80(data, 8))
	return enc[len(enc)-8:]
}

// macRetail is ISO 9797-1 MAC algorithm 3 (the "retail MAC" of SCP02):
// single DES-CBC under K1 over all blocks but the last, then 3DES of the
// last block.
func macRetail(key, icv, data []byte) []byte {
	padded := pad80(data, 8)
	chain := make([]byte, 8)
	if icv != nil {
		copy(chain, icv)
	}
	single := desBlock(key)
	last := len(padded) - 8
	for i := 0; i < last; i += 8 {
		subtle.XORBytes(chain, chain, padded[i:i+8])
		single.Encrypt(chain, chain)
	}
	subtle.XORBytes(chain, chain, padded[last:])
	tdesBlock(key).Encrypt(chain, chain)
	return chain
}

// aesCMAC is AES-CMAC (NIST SP 800-38B, RFC 4493).
func aesCMAC(key, data []byte) []byte {
	b := aesBlock(key)
	k1, k2 := cmacSubkeys(b)
	n := (len(data) + 15) / 16
	complete := n > 0 && len(data)%16 == 0
	if n == 0 {
		n = 1
	}
	last := make([]byte, 16)
	if complete {
		subtle.XORBytes(last, data[(n-1)*16:], k1)
	} else {
		rest := data[(n-1)*16:]
		copy(last, rest)
		last[len(rest)] = 0x80
		subtle.XORBytes(last, last, k2)
	}
	x := make([]byte, 16)
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(x, x, data[i*16:(i+1)*16])
		b.Encrypt(x, x)
	}
	subtle.XORBytes(x, x, last)
	b.Encrypt(x, x)
	return x
}

func cmacSubkeys(b cipher.Block) (k1, k2 []byte) {
	l := make([]byte, 16)
	b.Encrypt(l, l)
	k1 = cmacDouble(l)
	k2 = cmacDouble(k1)
	return k1, k2
}

// cmacDouble multiplies by x in GF(2^128) (a left shift with conditional
// reduction by 0x87).
func cmacDouble(in []byte) []byte {
	out := make([]byte, 16)
	var carry byte
	for i := 15; i >= 0; i-- {
		out[i] = in[i]<<1 | carry
		carry = in[i] >> 7
	}
	out[15] ^= 0x87 & -carry
	return out
}

// equalMAC compares two MACs in constant time.
func equalMAC(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}
