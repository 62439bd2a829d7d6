package vcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
)

// NewPINImage hashes a PIN value for an image (the value is not kept).
func NewPINImage(number int, value []byte, maxTries int) (PINImage, error) {
	if !validPINLength(len(value)) {
		return PINImage{}, fmt.Errorf("vcard: a PIN has %d to %d bytes", minPINLength, maxPINLength)
	}
	if maxTries < 1 || maxTries > 127 {
		return PINImage{}, fmt.Errorf("vcard: PIN tries %d not in 1..127", maxTries)
	}
	h, err := hashPIN(value, rand.Reader)
	if err != nil {
		return PINImage{}, err
	}
	return PINImage{
		Number: number, MaxTries: maxTries, TriesLeft: maxTries,
		KDF: h.kdf, Iterations: h.iterations, Salt: h.salt, Hash: h.sum,
	}, nil
}

// NewKeyPairImages returns the two key slots a TPS fills for one key pair
// (START ENROLLMENT or IMPORT KEY ENCRYPTED): the private key in prvSlot
// (read by nobody, written by the RA, used by useACL) and the public key in
// pubSlot (read and used by anyone, written by the RA), mated.
func NewKeyPairImages(prvSlot, pubSlot int, priv crypto.Signer, useACL uint16) ([2]KeyImage, error) {
	var typPrv, typPub KeyType
	var bits int
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		typPrv, typPub, bits = KeyRSACRTPrivate, KeyRSAPublic, k.N.BitLen()
	case *ecdsa.PrivateKey:
		typPrv, typPub, bits = KeyECFpPrivate, KeyECFpPublic, k.Curve.Params().BitSize
	default:
		return [2]KeyImage{}, fmt.Errorf("vcard: key type %T not supported", priv)
	}
	if !supportedKeySize(typPrv, bits) {
		return [2]KeyImage{}, fmt.Errorf("vcard: %d-bit key not supported", bits)
	}
	if prvSlot == pubSlot || prvSlot < 0 || pubSlot < 0 || prvSlot >= maxKeys || pubSlot >= maxKeys {
		return [2]KeyImage{}, errors.New("vcard: bad key slot numbers")
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return [2]KeyImage{}, err
	}
	spki, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return [2]KeyImage{}, err
	}
	prvMate, pubMate := pubSlot, prvSlot
	return [2]KeyImage{
		{
			Number: prvSlot, Type: keyTypeNames[typPrv], Bits: bits, Mate: &prvMate,
			ACL:   KeyACLImage{Read: HexShort(nobodyACL), Write: HexShort(raACL), Use: HexShort(useACL)},
			PKCS8: pkcs8,
		},
		{
			Number: pubSlot, Type: keyTypeNames[typPub], Bits: bits, Mate: &pubMate,
			ACL:  KeyACLImage{Read: HexShort(anyoneACL), Write: HexShort(raACL), Use: HexShort(anyoneACL)},
			SPKI: spki,
		},
	}, nil
}

// ACL masks for images and provisioning.
const (
	ACLAnyone  = anyoneACL
	ACLNobody  = nobodyACL
	ACLRA      = raACL
	ACLUserPIN = uint16(1) // PIN 0, the user PIN
)

// TPSObjectACL is the ACL the TPS gives the objects it writes: anyone reads,
// only the RA writes and deletes.
var TPSObjectACL = ACLImage{Read: HexShort(anyoneACL), Write: HexShort(raACL), Delete: HexShort(raACL)}
