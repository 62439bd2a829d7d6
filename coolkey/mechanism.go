package coolkey

import (
	"crypto"
	_ "crypto/sha1" // registered for crypto.Hash.New
	_ "crypto/sha256"
	_ "crypto/sha512"

	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// mechKind is what a mechanism does with the applet's raw operation.
type mechKind int

const (
	mechRSAPKCS mechKind = iota // PKCS#1 v1.5 (sign: type 1 padding; decrypt: type 2)
	mechRSAX509                 // raw RSA
	mechRSAPSS                  // EMSA-PSS (sign only)
	mechRSAOAEP                 // EME-OAEP (decrypt only)
	mechECDSA                   // raw r‖s over a hash
	mechECDH                    // ECDH1 derive, CKD_NULL
)

// mechSpec describes one mechanism the module offers.
type mechSpec struct {
	kind    mechKind
	keyType p11.KeyType
	// hash is the digest a combined mechanism computes in software (0 for
	// the mechanisms that take a digest or raw data).
	hash  crypto.Hash
	flags uint
}

const (
	rsaFlags = p11.CKF_HW
	ecFlags  = p11.CKF_HW | p11.CKF_EC_F_P | p11.CKF_EC_NAMEDCURVE | p11.CKF_EC_UNCOMPRESS
)

// mechanisms lists what the module does, in C_GetMechanismList order.
var mechanismOrder = []p11.MechanismType{
	p11.CKM_RSA_PKCS, p11.CKM_RSA_X_509, p11.CKM_RSA_PKCS_PSS, p11.CKM_RSA_PKCS_OAEP,
	p11.CKM_SHA1_RSA_PKCS, p11.CKM_SHA224_RSA_PKCS, p11.CKM_SHA256_RSA_PKCS, p11.CKM_SHA384_RSA_PKCS, p11.CKM_SHA512_RSA_PKCS,
	p11.CKM_SHA1_RSA_PKCS_PSS, p11.CKM_SHA224_RSA_PKCS_PSS, p11.CKM_SHA256_RSA_PKCS_PSS, p11.CKM_SHA384_RSA_PKCS_PSS, p11.CKM_SHA512_RSA_PKCS_PSS,
	p11.CKM_ECDSA, p11.CKM_ECDSA_SHA1, p11.CKM_ECDSA_SHA224, p11.CKM_ECDSA_SHA256, p11.CKM_ECDSA_SHA384, p11.CKM_ECDSA_SHA512,
	p11.CKM_ECDH1_DERIVE,
}

var mechanisms = map[p11.MechanismType]mechSpec{
	p11.CKM_RSA_PKCS:      {kind: mechRSAPKCS, keyType: p11.CKK_RSA, flags: rsaFlags | p11.CKF_SIGN | p11.CKF_DECRYPT},
	p11.CKM_RSA_X_509:     {kind: mechRSAX509, keyType: p11.CKK_RSA, flags: rsaFlags | p11.CKF_SIGN | p11.CKF_DECRYPT},
	p11.CKM_RSA_PKCS_PSS:  {kind: mechRSAPSS, keyType: p11.CKK_RSA, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_RSA_PKCS_OAEP: {kind: mechRSAOAEP, keyType: p11.CKK_RSA, flags: rsaFlags | p11.CKF_DECRYPT},

	p11.CKM_SHA1_RSA_PKCS:   {kind: mechRSAPKCS, keyType: p11.CKK_RSA, hash: crypto.SHA1, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA224_RSA_PKCS: {kind: mechRSAPKCS, keyType: p11.CKK_RSA, hash: crypto.SHA224, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA256_RSA_PKCS: {kind: mechRSAPKCS, keyType: p11.CKK_RSA, hash: crypto.SHA256, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA384_RSA_PKCS: {kind: mechRSAPKCS, keyType: p11.CKK_RSA, hash: crypto.SHA384, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA512_RSA_PKCS: {kind: mechRSAPKCS, keyType: p11.CKK_RSA, hash: crypto.SHA512, flags: rsaFlags | p11.CKF_SIGN},

	p11.CKM_SHA1_RSA_PKCS_PSS:   {kind: mechRSAPSS, keyType: p11.CKK_RSA, hash: crypto.SHA1, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA224_RSA_PKCS_PSS: {kind: mechRSAPSS, keyType: p11.CKK_RSA, hash: crypto.SHA224, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA256_RSA_PKCS_PSS: {kind: mechRSAPSS, keyType: p11.CKK_RSA, hash: crypto.SHA256, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA384_RSA_PKCS_PSS: {kind: mechRSAPSS, keyType: p11.CKK_RSA, hash: crypto.SHA384, flags: rsaFlags | p11.CKF_SIGN},
	p11.CKM_SHA512_RSA_PKCS_PSS: {kind: mechRSAPSS, keyType: p11.CKK_RSA, hash: crypto.SHA512, flags: rsaFlags | p11.CKF_SIGN},

	p11.CKM_ECDSA:        {kind: mechECDSA, keyType: p11.CKK_EC, flags: ecFlags | p11.CKF_SIGN},
	p11.CKM_ECDSA_SHA1:   {kind: mechECDSA, keyType: p11.CKK_EC, hash: crypto.SHA1, flags: ecFlags | p11.CKF_SIGN},
	p11.CKM_ECDSA_SHA224: {kind: mechECDSA, keyType: p11.CKK_EC, hash: crypto.SHA224, flags: ecFlags | p11.CKF_SIGN},
	p11.CKM_ECDSA_SHA256: {kind: mechECDSA, keyType: p11.CKK_EC, hash: crypto.SHA256, flags: ecFlags | p11.CKF_SIGN},
	p11.CKM_ECDSA_SHA384: {kind: mechECDSA, keyType: p11.CKK_EC, hash: crypto.SHA384, flags: ecFlags | p11.CKF_SIGN},
	p11.CKM_ECDSA_SHA512: {kind: mechECDSA, keyType: p11.CKK_EC, hash: crypto.SHA512, flags: ecFlags | p11.CKF_SIGN},

	p11.CKM_ECDH1_DERIVE: {kind: mechECDH, keyType: p11.CKK_EC, flags: ecFlags | p11.CKF_DERIVE},
}

// Key sizes advertised when the token holds no key of the type: what
// CoolKey applets can hold (RSA up to 4096 bits on the JC3.0.4 branch, the
// three NIST curves on the SC650 branch).
const (
	defaultRSAMin, defaultRSAMax = 1024, 4096
	defaultECMin, defaultECMax   = 256, 521
)

// keyMechanisms lists the mechanisms that work with a key type, for
// CKA_ALLOWED_MECHANISMS.
func keyMechanisms(kt p11.KeyType) []p11.MechanismType {
	var out []p11.MechanismType
	for _, m := range mechanismOrder {
		if mechanisms[m].keyType == kt {
			out = append(out, m)
		}
	}
	return out
}

// hashMechanisms maps the digest mechanisms PSS and OAEP parameters name,
// and the MGF1 variant that goes with each.
var hashMechanisms = map[p11.MechanismType]struct {
	hash crypto.Hash
	mgf  uint
}{
	p11.CKM_SHA_1:  {crypto.SHA1, p11.CKG_MGF1_SHA1},
	p11.CKM_SHA224: {crypto.SHA224, p11.CKG_MGF1_SHA224},
	p11.CKM_SHA256: {crypto.SHA256, p11.CKG_MGF1_SHA256},
	p11.CKM_SHA384: {crypto.SHA384, p11.CKG_MGF1_SHA384},
	p11.CKM_SHA512: {crypto.SHA512, p11.CKG_MGF1_SHA512},
}

// mgfHash returns the hash of an MGF1 variant.
func mgfHash(mgf uint) (crypto.Hash, bool) {
	for _, h := range hashMechanisms {
		if h.mgf == mgf {
			return h.hash, true
		}
	}
	return 0, false
}

// noParameter reports whether a mechanism that takes no parameter got none
// (a NULL or empty parameter).
func noParameter(m p11.Mechanism) bool {
	switch p := m.Parameter.(type) {
	case nil:
		return true
	case p11.RawParameter:
		return len(p) == 0
	}
	return false
}
