package vcard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
)

// swBadDERData is what the applet's ASN1 helper throws on malformed DER.
const swBadDERData SW = 0x9CD0

var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// getKey returns the key object of slot n for a key of the given type and
// size, creating it when the slot is empty (which needs the create-key ACL).
// An initialised key of another type or size may not be overwritten (9C03);
// an uninitialised one of another type or size is reused by the applet and
// then fails inside the Java Card crypto API (6F00).
func (a *applet) getKey(n int, typ KeyType, bits int) (*key, error) {
	k := a.keys[n]
	if k == nil {
		if !a.authorized(a.createKeyACL) {
			return nil, swUnauthorized
		}
		if !supportedKeySize(typ, bits) {
			return nil, SWUnknown
		}
		k = &key{typ: typ, bits: bits}
		a.keys[n] = k
		a.card.markDirty()
		return k, nil
	}
	if k.bits != bits || k.typ != typ {
		if k.initialized {
			return nil, swOperationNotAllowed
		}
		return nil, SWUnknown
	}
	return k, nil
}

func supportedKeySize(typ KeyType, bits int) bool {
	switch typ {
	case KeyRSAPublic, KeyRSACRTPrivate:
		return bits >= 512 && bits <= maxRSABits && bits%8 == 0
	case KeyECFpPublic, KeyECFpPrivate:
		return curveForBits(bits) != nil
	}
	return false
}

// keysMated enforces the applet's rule that once two slots are paired they
// stay paired (9C1E).
func (a *applet) keysMated(prv, pub int) bool {
	return (a.keyMate[pub] == noKeyMate || int(a.keyMate[pub]) == prv) &&
		(a.keyMate[prv] == noKeyMate || int(a.keyMate[prv]) == pub)
}

func (a *applet) keyWritable(n int) bool {
	k := a.keys[n]
	return k == nil || !k.initialized || a.authorized(a.keyACL[n].Write)
}

// keyBuffer returns the bytes of the object a key import reads: the I/O
// buffer or an applet object (checking its read ACL).
func (a *applet) keyBuffer(id uint32) ([]byte, *object, error) {
	if isIOBuffer(id) {
		n := max(0, min(int(a.iobufSize), ioBufCapacity))
		return a.iobuf[:n], nil, nil
	}
	o := a.objects.find(id)
	if o == nil {
		return nil, nil, swObjectNotFound
	}
	if !a.authorized(o.acl.Read) {
		return nil, nil, swUnauthorized
	}
	return o.data, o, nil
}

// importKey is the plaintext IMPORT KEY: a key blob in an object or the I/O
// buffer goes into slot P1 (and its mate P2 for a PKCS#8 pair), with the
// ACLs from the command. The blob is wiped afterwards.
func (a *applet) importKey(x *apdu) error {
	n := int(int8(x.p1))
	mate := int(int8(x.p2))
	id := x.u32(0)
	if n < 0 || n >= maxKeys {
		return swIncorrectP1
	}
	if !a.keyWritable(n) {
		return swUnauthorized
	}
	buf, obj, err := a.keyBuffer(id)
	if err != nil {
		return err
	}
	if len(buf) < 4 {
		return swInvalidParameter
	}
	if buf[0] != 0 {
		return swUnsupportedFeature
	}
	typ := buf[1]
	if typ == blobRSAPKCS8Pair {
		if mate < 0 || mate >= maxKeys {
			return SWUnknown
		}
		if !a.keyWritable(mate) {
			return swUnauthorized
		}
		if !a.keysMated(n, mate) {
			return swInconstantKeyPairing
		}
		a.setMates(n, mate)
	}
	if err := a.importKeyBlob(n, mate, buf, 0, nil); err != nil {
		return err
	}
	a.keyACL[n] = keyACLFrom(x.window(4, keyACLSize))
	if typ == blobRSAPKCS8Pair {
		a.keyACL[mate] = keyACLFrom(x.window(4+keyACLSize, keyACLSize))
	}
	clear(buf)
	if obj != nil {
		a.card.markDirty()
	}
	return nil
}

func keyACLFrom(b []byte) KeyACL {
	return KeyACL{
		Read:  binary.BigEndian.Uint16(b[0:]),
		Write: binary.BigEndian.Uint16(b[2:]),
		Use:   binary.BigEndian.Uint16(b[4:]),
	}
}

func (a *applet) setMates(prv, pub int) {
	a.keyMate[prv] = int8(pub)
	a.keyMate[pub] = int8(prv)
	a.card.markDirty()
}

// importKeyBlob decodes encoding(1) ‖ type(1) ‖ size(2) ‖ key data into
// slot n (and mate). alg is non-zero when called from IMPORT KEY ENCRYPTED,
// where it selects the EC key types; ecPoint is the public point that
// command carries for EC keys.
func (a *applet) importKeyBlob(n, mate int, buf []byte, alg byte, ecPoint []byte) error {
	typ := buf[1]
	bits := int(binary.BigEndian.Uint16(buf[2:4]))
	data := buf[4:]
	var pubType, prvType KeyType
	if alg != 0 {
		pubType, prvType = KeyECFpPublic, KeyECFpPrivate
	}
	switch typ {
	case byte(KeyRSAPublic):
		k, err := a.getKey(n, KeyRSAPublic, bits)
		if err != nil {
			return err
		}
		mod, rest, err := blobField(data, swInvalidParameter, swInvalidParameter)
		if err != nil {
			return err
		}
		exp, _, err := blobField(rest, swInvalidParameter, swInvalidParameter)
		if err != nil {
			return err
		}
		pub, ok := rsaPublicFrom(mod, exp, bits)
		if !ok {
			return SWUnknown
		}
		*k = key{typ: KeyRSAPublic, bits: bits, initialized: true, rsaPub: pub}
	case byte(KeyRSAPrivate):
		return swKeyTypeUnsupported
	case byte(KeyRSACRTPrivate):
		k, err := a.getKey(n, KeyRSACRTPrivate, bits)
		if err != nil {
			return err
		}
		var parts [5][]byte // P, Q, PQ (qInv), DP1, DQ1
		rest := data
		for i := range parts {
			last := swInvalidParameter
			if i == len(parts)-1 {
				last = swInBufTooSmall
			}
			parts[i], rest, err = blobField(rest, swInvalidParameter, last)
			if err != nil {
				return err
			}
		}
		priv, ok := rsaPrivateFromCRT(parts, bits)
		if !ok {
			return SWUnknown
		}
		*k = key{typ: KeyRSACRTPrivate, bits: bits, initialized: true, rsaPriv: priv}
	case blobRSAPKCS8Pair:
		prvKey, err := a.getKey(n, KeyRSACRTPrivate, bits)
		if err != nil {
			return err
		}
		pubKey, err := a.getKey(mate, KeyRSAPublic, bits)
		if err != nil {
			return err
		}
		parsed, err := parsePKCS8(data, oidRSAEncryption)
		if err != nil {
			return err
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok || priv.N.BitLen() > bits || priv.N.BitLen() <= bits-8 {
			return SWUnknown
		}
		priv.Precompute()
		*pubKey = key{typ: KeyRSAPublic, bits: bits, initialized: true, rsaPub: &priv.PublicKey}
		*prvKey = key{typ: KeyRSACRTPrivate, bits: bits, initialized: true, rsaPriv: priv}
	case blobECPKCS8Pair:
		pubKey, err := a.getKeyTyped(mate, pubType, bits)
		if err != nil {
			return err
		}
		prvKey, err := a.getKeyTyped(n, prvType, bits)
		if err != nil {
			return err
		}
		parsed, err := parsePKCS8(data, oidECPublicKey)
		if err != nil {
			return err
		}
		priv, ok := parsed.(*ecdsa.PrivateKey)
		curve := curveForBits(bits)
		if !ok || curve == nil || priv.Curve != curve {
			return swCryptoIllegalValueCoded
		}
		pub, ok := ecPublicFrom(curve, ecPoint)
		if !ok {
			return swCryptoIllegalValueCoded
		}
		*prvKey = key{typ: KeyECFpPrivate, bits: bits, initialized: true, ecPriv: priv}
		*pubKey = key{typ: KeyECFpPublic, bits: bits, initialized: true, ecPub: pub}
	case 4, 5, 6, 7, 8: // DSA and DES
		return swKeyTypeUnsupported
	default:
		return swKeyTypeInvalid
	}
	a.card.markDirty()
	return nil
}

// getKeyTyped is getKey for a key type that may be 0 (the applet's plain
// IMPORT KEY has no EC types): keyType2JCType rejects 0 with 9C0F.
func (a *applet) getKeyTyped(n int, typ KeyType, bits int) (*key, error) {
	if n < 0 || n >= maxKeys {
		return nil, SWUnknown
	}
	if typ == 0 {
		return nil, swInvalidParameter
	}
	return a.getKey(n, typ, bits)
}

// blobField reads a length(2) ‖ value field. short is the status word when
// the length is missing, long when the value is shorter than announced.
func blobField(b []byte, short, long SW) (value, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, short
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, long
	}
	return b[2 : 2+n], b[2+n:], nil
}

func rsaPublicFrom(mod, exp []byte, bits int) (*rsa.PublicKey, bool) {
	n := new(big.Int).SetBytes(mod)
	e := new(big.Int).SetBytes(exp)
	if n.BitLen() > bits || n.BitLen() <= bits-8 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, false
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, true
}

// rsaPrivateFromCRT builds a Go key from the applet's CRT parts. The card
// needs no public exponent; we recover e as the smallest one consistent
// with dP and dQ (e ≡ dP⁻¹ mod p−1 and e ≡ dQ⁻¹ mod q−1), which is the
// real one for every exponent in use.
func rsaPrivateFromCRT(parts [5][]byte, bits int) (*rsa.PrivateKey, bool) {
	one := big.NewInt(1)
	p := new(big.Int).SetBytes(parts[0])
	q := new(big.Int).SetBytes(parts[1])
	dp := new(big.Int).SetBytes(parts[3])
	dq := new(big.Int).SetBytes(parts[4])
	if p.Sign() == 0 || q.Sign() == 0 {
		return nil, false
	}
	n := new(big.Int).Mul(p, q)
	if n.BitLen() > bits || n.BitLen() <= bits-8 {
		return nil, false
	}
	p1 := new(big.Int).Sub(p, one)
	q1 := new(big.Int).Sub(q, one)
	ep := new(big.Int).ModInverse(dp, p1)
	eq := new(big.Int).ModInverse(dq, q1)
	if ep == nil || eq == nil {
		return nil, false
	}
	// Combine the two congruences modulo lcm(p−1, q−1): e = ep + (p−1)·t
	// with t = ((eq − ep)/g) · ((p−1)/g)⁻¹ mod (q−1)/g, g = gcd(p−1, q−1).
	g := new(big.Int).GCD(nil, nil, p1, q1)
	diff := new(big.Int).Sub(eq, ep)
	if new(big.Int).Mod(diff, g).Sign() != 0 {
		return nil, false
	}
	qg := new(big.Int).Div(q1, g)
	inv := new(big.Int).ModInverse(new(big.Int).Div(p1, g), qg)
	if inv == nil && qg.Cmp(one) != 0 {
		return nil, false
	}
	t := new(big.Int)
	if inv != nil {
		t.Div(diff, g).Mul(t, inv).Mod(t, qg)
	}
	lcm := new(big.Int).Mul(p1, qg)
	e := new(big.Int).Mul(p1, t)
	e.Add(e, ep).Mod(e, lcm)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, false
	}
	d := new(big.Int).ModInverse(e, lcm)
	if d == nil {
		return nil, false
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	if priv.Validate() != nil {
		return nil, false
	}
	priv.Precompute()
	return priv, true
}

// parsePKCS8 checks the algorithm OID the way the applet does (9C21 on a
// mismatch, 9CD0 on malformed DER) and decodes the key.
func parsePKCS8(der []byte, want asn1.ObjectIdentifier) (any, error) {
	var info struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	rest, err := asn1.Unmarshal(der, &info)
	if err != nil {
		return nil, swBadDERData
	}
	if !info.Algo.Algorithm.Equal(want) {
		return nil, swBadAlgIDForKey
	}
	// The applet walks the DER and ignores what follows it (block padding
	// of an encrypted blob, for one).
	k, err := x509.ParsePKCS8PrivateKey(der[:len(der)-len(rest)])
	if err != nil {
		return nil, swBadDERData
	}
	return k, nil
}

func ecPublicFrom(curve elliptic.Curve, point []byte) (*ecdsa.PublicKey, bool) {
	size := (curve.Params().BitSize + 7) / 8
	if len(point) != 1+2*size || point[0] != 4 {
		return nil, false
	}
	pub := &ecdsa.PublicKey{
		Curve: curve,
		X:     new(big.Int).SetBytes(point[1 : 1+size]),
		Y:     new(big.Int).SetBytes(point[1+size:]),
	}
	if _, err := pub.ECDH(); err != nil {
		return nil, false
	}
	return pub, true
}
