package vcard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"io"
	"math/big"
)

// KeyType is the applet's key type code, as LIST KEYS reports it.
type KeyType byte

// Key types the virtual applet can hold. The applet defines DSA and DES
// types too, but refuses to import or use them.
const (
	KeyRSAPublic     KeyType = 1
	KeyRSAPrivate    KeyType = 2
	KeyRSACRTPrivate KeyType = 3
	KeyECFpPublic    KeyType = 12
	KeyECFpPrivate   KeyType = 13
)

// Key blob types of IMPORT KEY and IMPORT KEY ENCRYPTED.
const (
	blobRSAPKCS8Pair = 9
	blobECPKCS8Pair  = 14
)

const (
	maxKeys       = 24
	maxRSABits    = 2048 // MAX_RSA_MOD_BITS on the SC650 branch
	keyACLSize    = 6
	noKeyMate     = -1
	ioBufCapacity = 1200 // IOBUF_ALLOC on the SC650 branch
)

// KeyACL is a key's access control list (read, write, use), evaluated like
// an object ACL.
type KeyACL struct {
	Read, Write, Use uint16
}

// key is what a key slot holds. A slot that CLEAR KEY SLOTS has cleared
// keeps its type and size (the applet reuses the Java key object) but has no
// key material: initialized is false.
type key struct {
	typ         KeyType
	bits        int
	initialized bool
	rsaPub      *rsa.PublicKey
	rsaPriv     *rsa.PrivateKey
	ecPub       *ecdsa.PublicKey
	ecPriv      *ecdsa.PrivateKey
}

func (k *key) isRSA() bool {
	return k.typ == KeyRSAPublic || k.typ == KeyRSAPrivate || k.typ == KeyRSACRTPrivate
}

func (k *key) clearKey() {
	k.initialized = false
	k.rsaPub, k.rsaPriv, k.ecPub, k.ecPriv = nil, nil, nil, nil
}

func rsaKeyBits(n *big.Int) int { return n.BitLen() }

// curveForBits returns the prime curve of that size (P-256, P-384, P-521).
func curveForBits(bits int) elliptic.Curve {
	switch bits {
	case 256:
		return elliptic.P256()
	case 384:
		return elliptic.P384()
	case 521:
		return elliptic.P521()
	}
	return nil
}

// errCryptoIllegalValue stands for a Java Card CryptoException the applet
// does not catch; the runtime answers such exceptions with 6F00.
var errCryptoIllegalValue = errors.New("vcard: crypto operation on an illegal value")

// rawRSA is Cipher.ALG_RSA_NOPAD: the input, read as a big-endian integer,
// raised to the key's exponent, left-padded to the modulus length. Encrypt
// and decrypt are the same operation for a raw cipher; only the key matters.
func rawRSA(k *key, in []byte) ([]byte, error) {
	var n *big.Int
	switch {
	case k.rsaPriv != nil:
		n = k.rsaPriv.N
	case k.rsaPub != nil:
		n = k.rsaPub.N
	default:
		return nil, errCryptoIllegalValue
	}
	size := (n.BitLen() + 7) / 8
	x := new(big.Int).SetBytes(in)
	if len(in) != size || x.Cmp(n) >= 0 {
		return nil, errCryptoIllegalValue
	}
	var y *big.Int
	if k.rsaPriv != nil {
		y = rsaPrivate(k.rsaPriv, x)
	} else {
		y = new(big.Int).Exp(x, big.NewInt(int64(k.rsaPub.E)), n)
	}
	return y.FillBytes(make([]byte, size)), nil
}

// rsaPrivate computes x^d mod n, with the CRT when the key has it.
func rsaPrivate(priv *rsa.PrivateKey, x *big.Int) *big.Int {
	pc := priv.Precomputed
	if len(priv.Primes) != 2 || pc.Dp == nil || pc.Dq == nil || pc.Qinv == nil {
		return new(big.Int).Exp(x, priv.D, priv.N)
	}
	p, q := priv.Primes[0], priv.Primes[1]
	m1 := new(big.Int).Exp(x, pc.Dp, p)
	m2 := new(big.Int).Exp(x, pc.Dq, q)
	h := new(big.Int).Sub(m1, m2)
	h.Mul(h, pc.Qinv).Mod(h, p)
	return h.Mul(h, q).Add(h, m2)
}

// ecdsaSignPadded signs a hash the way the SC650 applet's eccSignHash does:
// the hash (20 bytes up to the curve's maximum) is right-aligned in a
// zero-filled buffer of the maximum length, and that buffer is signed. The
// result is a DER ECDSA-Sig-Value.
func ecdsaSignPadded(k *key, hash []byte, rand io.Reader) ([]byte, error) {
	max := maxECCHash(k.bits)
	if max == 0 || k.ecPriv == nil {
		return nil, swIncorrectAlg
	}
	if len(hash) > max || len(hash) < minECCHash {
		return nil, swIncorrectAlg
	}
	buf := make([]byte, max)
	copy(buf[max-len(hash):], hash)
	return ecdsa.SignASN1(rand, k.ecPriv, buf)
}

const minECCHash = 20

func maxECCHash(bits int) int {
	switch bits {
	case 256:
		return 32
	case 384:
		return 48
	case 521:
		return 64
	}
	return 0
}

// ecdhSecret is ALG_EC_SVDP_DH: the X coordinate of the shared point, for an
// uncompressed peer point 04‖X‖Y.
func ecdhSecret(k *key, peer []byte) ([]byte, error) {
	if k.ecPriv == nil {
		return nil, errCryptoIllegalValue
	}
	priv, err := k.ecPriv.ECDH()
	if err != nil {
		return nil, errCryptoIllegalValue
	}
	pub, err := priv.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, swCryptoIllegalValueCoded
	}
	secret, err := priv.ECDH(pub)
	if err != nil {
		return nil, swCryptoIllegalValueCoded
	}
	return secret, nil
}

// pointBytes is the uncompressed encoding 04‖X‖Y of an EC public key.
func pointBytes(pub *ecdsa.PublicKey) []byte {
	k, err := pub.ECDH()
	if err != nil {
		return nil
	}
	return k.Bytes()
}
