package coolkey

import (
	"crypto"
	"crypto/rand"
	"errors"
	"hash"
	"math/big"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// maxRawInput bounds what a raw (unhashed) multi-part signature may
// accumulate: nothing longer can be signed by any of its mechanisms.
const maxRawInput = 1024

// keyFor checks that h names a private key this session may use for a
// mechanism of kind spec with the given usage, and learns its size from the
// card if nothing on the token says it.
func (s *session) keyFor(h p11.ObjectHandle, spec mechSpec, usage p11.AttributeType) (*keyInfo, error) {
	o := s.tok.lookup(h)
	if o == nil || o.class != p11.CKO_PRIVATE_KEY && o.class != p11.CKO_PUBLIC_KEY {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	if o.class != p11.CKO_PRIVATE_KEY {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	kt, _ := ulongOf(o.attrs[p11.CKA_KEY_TYPE])
	if p11.KeyType(kt) != spec.keyType {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	if !o.boolAttr(usage) || o.key == nil {
		return nil, p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	if s.tok.ident.lifeCycle.NeedsLogin() && !s.tok.loggedIn.Load() {
		return nil, p11.CKR_USER_NOT_LOGGED_IN
	}
	k := o.key
	if k.sizeBits() == 0 {
		if err := s.tok.learnKeySize(k); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// learnKeySize asks the card (LIST KEYS) for the size of a key that has no
// certificate or public attributes on the token.
func (t *token) learnKeySize(k *keyInfo) error {
	err := t.slot.transact(t, false, func(c *cardedge.Card) error {
		keys, err := c.ListKeys()
		if err != nil {
			return err
		}
		for _, ki := range keys {
			if ki.Number == k.number {
				k.setBits(int(ki.Bits))
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return cardError("list keys", err)
	}
	if k.sizeBits() == 0 {
		return p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	return nil
}

// pssParams are checked CK_RSA_PKCS_PSS_PARAMS.
type pssParams struct {
	hash    crypto.Hash
	saltLen int
}

// checkPSS validates PSS parameters for a key of modBits: a known hash, the
// MGF1 of that same hash, the combined mechanism's own hash, and a salt that
// fits (sLen ≤ emLen − hLen − 2).
func checkPSS(m p11.Mechanism, spec mechSpec, modBits int) (pssParams, error) {
	p, ok := m.Parameter.(*p11.PSSParams)
	if !ok || p == nil {
		return pssParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	hm, ok := hashMechanisms[p.HashAlg]
	if !ok || p.MGF != hm.mgf || spec.hash != 0 && spec.hash != hm.hash {
		return pssParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	emLen := (modBits - 1 + 7) / 8
	if p.SaltLength > uint(emLen-hm.hash.Size()-2) || emLen < hm.hash.Size()+2 {
		return pssParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	return pssParams{hash: hm.hash, saltLen: int(p.SaltLength)}, nil
}

// oaepParams are checked CK_RSA_PKCS_OAEP_PARAMS.
type oaepParams struct {
	hash, mgfHash crypto.Hash
	label         []byte
}

func checkOAEP(m p11.Mechanism, modBits int) (oaepParams, error) {
	p, ok := m.Parameter.(*p11.OAEPParams)
	if !ok || p == nil {
		return oaepParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	hm, ok := hashMechanisms[p.HashAlg]
	if !ok {
		return oaepParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	mh, ok := mgfHash(p.MGF)
	if !ok {
		return oaepParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	switch {
	case p.Source == p11.CKZ_DATA_SPECIFIED:
	case p.Source == 0 && len(p.SourceData) == 0:
	default:
		return oaepParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	if (modBits+7)/8 < 2*hm.hash.Size()+2 {
		return oaepParams{}, p11.CKR_MECHANISM_PARAM_INVALID
	}
	return oaepParams{hash: hm.hash, mgfHash: mh, label: append([]byte(nil), p.SourceData...)}, nil
}

// SignInit starts a signature with a private key on the card.
func (s *session) SignInit(m p11.Mechanism, h p11.ObjectHandle) (p11.SignOperation, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	spec, ok := mechanisms[m.Type]
	if !ok || spec.flags&p11.CKF_SIGN == 0 || !s.tok.offers(m.Type) {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	if spec.kind != mechRSAPSS && !noParameter(m) {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	k, err := s.keyFor(h, spec, p11.CKA_SIGN)
	if err != nil {
		return nil, err
	}
	op := &signOp{s: s, key: k, spec: spec}
	if spec.kind == mechRSAPSS {
		if op.pss, err = checkPSS(m, spec, k.sizeBits()); err != nil {
			return nil, err
		}
	}
	if spec.hash != 0 {
		op.h = spec.hash.New()
	}
	s.opActive = true
	return op, nil
}

// signOp is one signature: a combined mechanism hashes here as the data
// comes, then the card signs the digest; the others sign the data as given.
type signOp struct {
	s    *session
	key  *keyInfo
	spec mechSpec
	pss  pssParams
	h    hash.Hash // combined mechanisms
	raw  []byte    // multi-part input of the other mechanisms
}

func (o *signOp) SignatureLength() int {
	if o.spec.kind == mechECDSA {
		return 2 * o.key.fieldLen()
	}
	return o.key.modulusLen()
}

func (o *signOp) Sign(data []byte) ([]byte, error) {
	defer o.end()
	if o.h != nil {
		o.h.Write(data)
		return o.signDigest(o.h.Sum(nil))
	}
	return o.signDigest(data)
}

// Update feeds the hash, or collects the input of a mechanism that signs
// the data itself (PKCS#11 has those single-part, but clients such as
// pkcs11-tool try the multi-part calls with them anyway).
func (o *signOp) Update(part []byte) error {
	if o.h != nil {
		o.h.Write(part)
		return nil
	}
	if len(o.raw)+len(part) > maxRawInput {
		o.end()
		return p11.CKR_DATA_LEN_RANGE
	}
	o.raw = append(o.raw, part...)
	return nil
}

func (o *signOp) Final() ([]byte, error) {
	defer o.end()
	if o.h != nil {
		return o.signDigest(o.h.Sum(nil))
	}
	return o.signDigest(o.raw)
}

func (o *signOp) end() { o.s.opActive = false }

// Cancel is called when pkcs11mod ends the operation on its own.
func (o *signOp) Cancel() { o.end() }

// signDigest signs: the input is the digest for combined mechanisms, and
// the caller's data otherwise.
func (o *signOp) signDigest(in []byte) ([]byte, error) {
	tok := o.s.tok
	if err := o.s.alive(); err != nil {
		return nil, p11.CKR_DEVICE_REMOVED
	}
	switch o.spec.kind {
	case mechECDSA:
		return o.signECDSA(in)
	}
	k := o.key.modulusLen()
	var em []byte
	switch o.spec.kind {
	case mechRSAPKCS:
		t := in
		if o.spec.hash != 0 {
			t = digestInfo(o.spec.hash, in)
		}
		var ok bool
		if em, ok = padPKCS1Sign(t, k); !ok {
			return nil, p11.CKR_DATA_LEN_RANGE
		}
	case mechRSAX509:
		if len(in) > k {
			return nil, p11.CKR_DATA_LEN_RANGE
		}
		em = make([]byte, k)
		copy(em[k-len(in):], in)
		if o.key.rsa != nil && new(big.Int).SetBytes(em).Cmp(o.key.rsa.N) >= 0 {
			return nil, p11.CKR_DATA_INVALID
		}
	case mechRSAPSS:
		if len(in) != o.pss.hash.Size() {
			return nil, p11.CKR_DATA_LEN_RANGE
		}
		var err error
		if em, err = encodePSS(in, o.pss.hash, o.pss.saltLen, o.key.sizeBits(), rand.Reader); err != nil {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
	}
	out, err := tok.rsaRaw(o.key, cardedge.DirectionEncrypt, em)
	clear(em)
	if err != nil {
		return nil, cardError("sign", err)
	}
	return out, nil
}

// rsaRaw runs the applet's raw RSA with the private key and returns exactly
// k bytes.
func (t *token) rsaRaw(k *keyInfo, dir cardedge.CryptDirection, in []byte) ([]byte, error) {
	var out []byte
	err := t.slot.transact(t, false, func(c *cardedge.Card) error {
		var err error
		out, err = c.ComputeCrypt(k.number, dir, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	n := k.modulusLen()
	switch {
	case len(out) == n:
	case len(out) < n:
		out = append(make([]byte, n-len(out)), out...)
	default:
		return nil, errors.New("card returned a result longer than the modulus")
	}
	return out, nil
}

// signECDSA signs a digest (or the caller's raw hash with CKM_ECDSA) and
// returns r‖s. The applet takes hashes of 20 bytes up to its curve's limit
// and right-aligns them; a shorter hash is left-padded with zeros (the same
// number), a longer one cut to the curve's size as ECDSA itself does.
func (o *signOp) signECDSA(hash []byte) ([]byte, error) {
	if len(hash) == 0 {
		return nil, p11.CKR_DATA_LEN_RANGE
	}
	fl := o.key.fieldLen()
	limit := fl
	if fl > 64 {
		limit = 64 // P-521: the applet takes at most 64 bytes
	}
	if len(hash) > limit {
		if fl > 64 {
			// Cutting to 521 bits is not a byte cut; no SHA-2 hash is
			// this long anyway.
			return nil, p11.CKR_DATA_LEN_RANGE
		}
		hash = hash[:fl]
	}
	if len(hash) < 20 {
		hash = append(make([]byte, 20-len(hash)), hash...)
	}
	tok := o.s.tok
	var der []byte
	err := tok.slot.transact(tok, false, func(c *cardedge.Card) error {
		var err error
		der, err = c.ComputeECCSignature(o.key.number, hash)
		return err
	})
	if err != nil {
		return nil, cardError("sign", err)
	}
	sig, err := cardedge.ECDSASignatureRaw(der, fl)
	if err != nil {
		return nil, cardError("sign", err)
	}
	return sig, nil
}

// DecryptInit starts a decryption with a private RSA key on the card.
func (s *session) DecryptInit(m p11.Mechanism, h p11.ObjectHandle) (p11.DecryptOperation, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	spec, ok := mechanisms[m.Type]
	if !ok || spec.flags&p11.CKF_DECRYPT == 0 || !s.tok.offers(m.Type) {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	if spec.kind != mechRSAOAEP && !noParameter(m) {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	k, err := s.keyFor(h, spec, p11.CKA_DECRYPT)
	if err != nil {
		return nil, err
	}
	op := &decryptOp{s: s, key: k, spec: spec}
	if spec.kind == mechRSAOAEP {
		if op.oaep, err = checkOAEP(m, k.sizeBits()); err != nil {
			return nil, err
		}
	}
	s.opActive = true
	return op, nil
}

// decryptOp is one RSA decryption (single-part; the multi-part calls gather
// the ciphertext, which is one block).
type decryptOp struct {
	s    *session
	key  *keyInfo
	spec mechSpec
	oaep oaepParams
	buf  []byte
}

func (o *decryptOp) MaxPlaintextLength(int) int {
	k := o.key.modulusLen()
	switch o.spec.kind {
	case mechRSAPKCS:
		return k - 11
	case mechRSAOAEP:
		return k - 2*o.oaep.hash.Size() - 2
	}
	return k
}

func (o *decryptOp) Decrypt(ct []byte) ([]byte, error) {
	defer o.end()
	return o.decrypt(ct)
}

func (o *decryptOp) Update(part []byte) ([]byte, error) {
	if len(o.buf)+len(part) > o.key.modulusLen() {
		o.end()
		return nil, p11.CKR_ENCRYPTED_DATA_LEN_RANGE
	}
	o.buf = append(o.buf, part...)
	return []byte{}, nil
}

func (o *decryptOp) Final() ([]byte, error) {
	defer o.end()
	return o.decrypt(o.buf)
}

func (o *decryptOp) end() { o.s.opActive = false }

// Cancel is called when pkcs11mod ends the operation on its own.
func (o *decryptOp) Cancel() { o.end() }

var (
	_ p11.OperationCanceler = (*signOp)(nil)
	_ p11.OperationCanceler = (*decryptOp)(nil)
)

func (o *decryptOp) decrypt(ct []byte) ([]byte, error) {
	if err := o.s.alive(); err != nil {
		return nil, p11.CKR_DEVICE_REMOVED
	}
	k := o.key.modulusLen()
	if len(ct) != k {
		return nil, p11.CKR_ENCRYPTED_DATA_LEN_RANGE
	}
	if o.key.rsa != nil && new(big.Int).SetBytes(ct).Cmp(o.key.rsa.N) >= 0 {
		return nil, p11.CKR_ENCRYPTED_DATA_INVALID
	}
	em, err := o.s.tok.rsaRaw(o.key, cardedge.DirectionDecrypt, ct)
	if err != nil {
		return nil, cardError("decrypt", err)
	}
	var pt []byte
	switch o.spec.kind {
	case mechRSAX509:
		return em, nil
	case mechRSAPKCS:
		pt, err = unpadPKCS1Decrypt(em)
	case mechRSAOAEP:
		pt, err = unpadOAEP(em, o.oaep.hash, o.oaep.mgfHash, o.oaep.label)
	}
	if err != nil {
		clear(em)
		return nil, p11.CKR_ENCRYPTED_DATA_INVALID
	}
	out := append([]byte(nil), pt...)
	clear(em)
	return out, nil
}
