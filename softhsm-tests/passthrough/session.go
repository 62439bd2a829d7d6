package main

import (
	"github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/miekg/pkcs11"
)

// session forwards one pkcs11mod session to a session of the target.
type session struct {
	ctx *pkcs11.Ctx
	sh  pkcs11.SessionHandle
}

func (s *session) LoginState() (pkcs11mod.LoginState, error) {
	si, err := s.ctx.GetSessionInfo(s.sh)
	if err != nil {
		return 0, ckr(err)
	}
	switch si.State {
	case pkcs11.CKS_RO_USER_FUNCTIONS, pkcs11.CKS_RW_USER_FUNCTIONS:
		return pkcs11mod.UserLoggedIn, nil
	case pkcs11.CKS_RW_SO_FUNCTIONS:
		return pkcs11mod.SOLoggedIn, nil
	}
	return pkcs11mod.LoggedOut, nil
}

func (s *session) Login(user pkcs11mod.UserType, pin []byte) error {
	return ckr(s.ctx.Login(s.sh, uint(user), string(pin)))
}

func (s *session) Logout() error { return ckr(s.ctx.Logout(s.sh)) }

func (s *session) Close() error { return ckr(s.ctx.CloseSession(s.sh)) }

func attributes(tmpl []pkcs11mod.Attribute) []*pkcs11.Attribute {
	out := make([]*pkcs11.Attribute, len(tmpl))
	for i, a := range tmpl {
		out[i] = &pkcs11.Attribute{Type: uint(a.Type), Value: a.Value}
	}
	return out
}

// mechanism converts pkcs11mod's decoded parameters back into miekg's
// forms, which re-encode the C structures.
func mechanism(m pkcs11mod.Mechanism) []*pkcs11.Mechanism {
	var param any
	switch p := m.Parameter.(type) {
	case nil:
	case pkcs11mod.RawParameter:
		param = []byte(p)
	case *pkcs11mod.PSSParams:
		param = pkcs11.NewPSSParams(uint(p.HashAlg), p.MGF, p.SaltLength)
	case *pkcs11mod.OAEPParams:
		param = pkcs11.NewOAEPParams(uint(p.HashAlg), p.MGF, p.Source, p.SourceData)
	case *pkcs11mod.ECDH1DeriveParams:
		param = pkcs11.NewECDH1DeriveParams(p.KDF, p.SharedData, p.PublicData)
	case *pkcs11mod.GCMParams:
		param = pkcs11.NewGCMParams(p.IV, p.AAD, int(p.TagBits))
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(uint(m.Type), param)}
}

func (s *session) FindObjects(tmpl []pkcs11mod.Attribute) ([]pkcs11mod.ObjectHandle, error) {
	if err := s.ctx.FindObjectsInit(s.sh, attributes(tmpl)); err != nil {
		return nil, ckr(err)
	}
	var all []pkcs11mod.ObjectHandle
	for {
		hs, _, err := s.ctx.FindObjects(s.sh, 64)
		if err != nil {
			s.ctx.FindObjectsFinal(s.sh)
			return nil, ckr(err)
		}
		if len(hs) == 0 {
			break
		}
		for _, h := range hs {
			all = append(all, pkcs11mod.ObjectHandle(h))
		}
	}
	return all, ckr(s.ctx.FindObjectsFinal(s.sh))
}

// GetAttributes asks the target one attribute at a time: miekg's
// GetAttributeValue drops everything when one attribute fails, and asking
// singly gives each attribute the target's own verdict.
func (s *session) GetAttributes(obj pkcs11mod.ObjectHandle, types []pkcs11mod.AttributeType) ([]pkcs11mod.AttributeResult, error) {
	res := make([]pkcs11mod.AttributeResult, len(types))
	for i, t := range types {
		got, err := s.ctx.GetAttributeValue(s.sh, pkcs11.ObjectHandle(obj), []*pkcs11.Attribute{{Type: uint(t)}})
		switch e := ckr(err); e {
		case nil:
			res[i].Value = got[0].Value
			if res[i].Value == nil {
				res[i].Value = []byte{}
			}
		case pkcs11mod.CKR_ATTRIBUTE_SENSITIVE, pkcs11mod.CKR_ATTRIBUTE_TYPE_INVALID:
			res[i].Err = e
		default:
			return nil, e
		}
	}
	return res, nil
}

func (s *session) SignInit(m pkcs11mod.Mechanism, key pkcs11mod.ObjectHandle) (pkcs11mod.SignOperation, error) {
	if err := s.ctx.SignInit(s.sh, mechanism(m), pkcs11.ObjectHandle(key)); err != nil {
		return nil, ckr(err)
	}
	return signOp{s}, nil
}

// signOp does not know signature lengths in advance (that would take a
// target call), so pkcs11mod runs it for length queries and keeps the
// result: a test of that path of the protocol.
type signOp struct{ s *session }

func (o signOp) SignatureLength() int { return 0 }
func (o signOp) Sign(data []byte) ([]byte, error) {
	sig, err := o.s.ctx.Sign(o.s.sh, data)
	return sig, ckr(err)
}
func (o signOp) Update(part []byte) error { return ckr(o.s.ctx.SignUpdate(o.s.sh, part)) }
func (o signOp) Final() ([]byte, error) {
	sig, err := o.s.ctx.SignFinal(o.s.sh)
	return sig, ckr(err)
}

func (s *session) DecryptInit(m pkcs11mod.Mechanism, key pkcs11mod.ObjectHandle) (pkcs11mod.DecryptOperation, error) {
	if err := s.ctx.DecryptInit(s.sh, mechanism(m), pkcs11.ObjectHandle(key)); err != nil {
		return nil, ckr(err)
	}
	return decryptOp{s}, nil
}

type decryptOp struct{ s *session }

func (o decryptOp) MaxPlaintextLength(int) int { return 0 }
func (o decryptOp) Decrypt(ct []byte) ([]byte, error) {
	pt, err := o.s.ctx.Decrypt(o.s.sh, ct)
	return pt, ckr(err)
}
func (o decryptOp) Update(part []byte) ([]byte, error) {
	pt, err := o.s.ctx.DecryptUpdate(o.s.sh, part)
	return pt, ckr(err)
}
func (o decryptOp) Final() ([]byte, error) {
	pt, err := o.s.ctx.DecryptFinal(o.s.sh)
	return pt, ckr(err)
}

func (s *session) EncryptInit(m pkcs11mod.Mechanism, key pkcs11mod.ObjectHandle) (pkcs11mod.EncryptOperation, error) {
	if err := s.ctx.EncryptInit(s.sh, mechanism(m), pkcs11.ObjectHandle(key)); err != nil {
		return nil, ckr(err)
	}
	return encryptOp{s}, nil
}

type encryptOp struct{ s *session }

func (o encryptOp) MaxCiphertextLength(int) int { return 0 }
func (o encryptOp) Encrypt(pt []byte) ([]byte, error) {
	ct, err := o.s.ctx.Encrypt(o.s.sh, pt)
	return ct, ckr(err)
}
func (o encryptOp) Update(part []byte) ([]byte, error) {
	ct, err := o.s.ctx.EncryptUpdate(o.s.sh, part)
	return ct, ckr(err)
}
func (o encryptOp) Final() ([]byte, error) {
	ct, err := o.s.ctx.EncryptFinal(o.s.sh)
	return ct, ckr(err)
}

func (s *session) VerifyInit(m pkcs11mod.Mechanism, key pkcs11mod.ObjectHandle) (pkcs11mod.VerifyOperation, error) {
	if err := s.ctx.VerifyInit(s.sh, mechanism(m), pkcs11.ObjectHandle(key)); err != nil {
		return nil, ckr(err)
	}
	return verifyOp{s}, nil
}

type verifyOp struct{ s *session }

func (o verifyOp) Verify(data, sig []byte) error { return ckr(o.s.ctx.Verify(o.s.sh, data, sig)) }
func (o verifyOp) Update(part []byte) error      { return ckr(o.s.ctx.VerifyUpdate(o.s.sh, part)) }
func (o verifyOp) Final(sig []byte) error        { return ckr(o.s.ctx.VerifyFinal(o.s.sh, sig)) }

func (s *session) DigestInit(m pkcs11mod.Mechanism) (pkcs11mod.DigestOperation, error) {
	if err := s.ctx.DigestInit(s.sh, mechanism(m)); err != nil {
		return nil, ckr(err)
	}
	return digestOp{s}, nil
}

type digestOp struct{ s *session }

func (o digestOp) DigestLength() int { return 0 }
func (o digestOp) Digest(data []byte) ([]byte, error) {
	d, err := o.s.ctx.Digest(o.s.sh, data)
	return d, ckr(err)
}
func (o digestOp) Update(part []byte) error { return ckr(o.s.ctx.DigestUpdate(o.s.sh, part)) }
func (o digestOp) UpdateKey(key pkcs11mod.ObjectHandle) error {
	return ckr(o.s.ctx.DigestKey(o.s.sh, pkcs11.ObjectHandle(key)))
}
func (o digestOp) Final() ([]byte, error) {
	d, err := o.s.ctx.DigestFinal(o.s.sh)
	return d, ckr(err)
}

func (s *session) CreateObject(tmpl []pkcs11mod.Attribute) (pkcs11mod.ObjectHandle, error) {
	h, err := s.ctx.CreateObject(s.sh, attributes(tmpl))
	return pkcs11mod.ObjectHandle(h), ckr(err)
}

func (s *session) CopyObject(obj pkcs11mod.ObjectHandle, tmpl []pkcs11mod.Attribute) (pkcs11mod.ObjectHandle, error) {
	h, err := s.ctx.CopyObject(s.sh, pkcs11.ObjectHandle(obj), attributes(tmpl))
	return pkcs11mod.ObjectHandle(h), ckr(err)
}

func (s *session) DestroyObject(obj pkcs11mod.ObjectHandle) error {
	return ckr(s.ctx.DestroyObject(s.sh, pkcs11.ObjectHandle(obj)))
}

func (s *session) SetAttributes(obj pkcs11mod.ObjectHandle, tmpl []pkcs11mod.Attribute) error {
	return ckr(s.ctx.SetAttributeValue(s.sh, pkcs11.ObjectHandle(obj), attributes(tmpl)))
}

func (s *session) ObjectSize(obj pkcs11mod.ObjectHandle) (uint, error) {
	n, err := s.ctx.GetObjectSize(s.sh, pkcs11.ObjectHandle(obj))
	return n, ckr(err)
}

func (s *session) GenerateKey(m pkcs11mod.Mechanism, tmpl []pkcs11mod.Attribute) (pkcs11mod.ObjectHandle, error) {
	h, err := s.ctx.GenerateKey(s.sh, mechanism(m), attributes(tmpl))
	return pkcs11mod.ObjectHandle(h), ckr(err)
}

func (s *session) GenerateKeyPair(m pkcs11mod.Mechanism, pub, priv []pkcs11mod.Attribute) (pkcs11mod.ObjectHandle, pkcs11mod.ObjectHandle, error) {
	hPub, hPriv, err := s.ctx.GenerateKeyPair(s.sh, mechanism(m), attributes(pub), attributes(priv))
	return pkcs11mod.ObjectHandle(hPub), pkcs11mod.ObjectHandle(hPriv), ckr(err)
}

func (s *session) WrapKey(m pkcs11mod.Mechanism, wrappingKey, key pkcs11mod.ObjectHandle) ([]byte, error) {
	w, err := s.ctx.WrapKey(s.sh, mechanism(m), pkcs11.ObjectHandle(wrappingKey), pkcs11.ObjectHandle(key))
	return w, ckr(err)
}

func (s *session) UnwrapKey(m pkcs11mod.Mechanism, unwrappingKey pkcs11mod.ObjectHandle, wrapped []byte, tmpl []pkcs11mod.Attribute) (pkcs11mod.ObjectHandle, error) {
	h, err := s.ctx.UnwrapKey(s.sh, mechanism(m), pkcs11.ObjectHandle(unwrappingKey), wrapped, attributes(tmpl))
	return pkcs11mod.ObjectHandle(h), ckr(err)
}

func (s *session) DeriveKey(m pkcs11mod.Mechanism, base pkcs11mod.ObjectHandle, tmpl []pkcs11mod.Attribute) (pkcs11mod.ObjectHandle, error) {
	h, err := s.ctx.DeriveKey(s.sh, mechanism(m), pkcs11.ObjectHandle(base), attributes(tmpl))
	return pkcs11mod.ObjectHandle(h), ckr(err)
}

func (s *session) GenerateRandom(n int) ([]byte, error) {
	r, err := s.ctx.GenerateRandom(s.sh, n)
	return r, ckr(err)
}

func (s *session) SeedRandom(seed []byte) error { return ckr(s.ctx.SeedRandom(s.sh, seed)) }

func (s *session) InitPIN(pin []byte) error { return ckr(s.ctx.InitPIN(s.sh, string(pin))) }

func (s *session) SetPIN(oldPIN, newPIN []byte) error {
	return ckr(s.ctx.SetPIN(s.sh, string(oldPIN), string(newPIN)))
}

// The optional capabilities the pass-through forwards.
var (
	_ pkcs11mod.TokenInitializer = (*backend)(nil)
	_ pkcs11mod.ObjectManager    = (*session)(nil)
	_ pkcs11mod.KeyGenerator     = (*session)(nil)
	_ pkcs11mod.Encrypter        = (*session)(nil)
	_ pkcs11mod.Verifier         = (*session)(nil)
	_ pkcs11mod.Digester         = (*session)(nil)
	_ pkcs11mod.KeyWrapper       = (*session)(nil)
	_ pkcs11mod.KeyDeriver       = (*session)(nil)
	_ pkcs11mod.RandomSource     = (*session)(nil)
	_ pkcs11mod.PINManager       = (*session)(nil)
)

// Cancel ends the target's operation when pkcs11mod ends ours on its own.
// PKCS#11 2.40 has no way to cancel an operation, but SoftHSM (like most
// modules) ends one on any completed or failed one-part call, so a
// throwaway one-part call with one byte of data does it: a multi-part
// operation fails it, a one-part one completes or fails it.
func (o signOp) Cancel()    { o.s.ctx.Sign(o.s.sh, []byte{0}) }
func (o decryptOp) Cancel() { o.s.ctx.Decrypt(o.s.sh, []byte{0}) }
func (o encryptOp) Cancel() { o.s.ctx.Encrypt(o.s.sh, []byte{0}) }
func (o verifyOp) Cancel()  { o.s.ctx.Verify(o.s.sh, []byte{0}, []byte{0}) }
func (o digestOp) Cancel()  { o.s.ctx.Digest(o.s.sh, []byte{0}) }

var (
	_ pkcs11mod.OperationCanceler = signOp{}
	_ pkcs11mod.OperationCanceler = decryptOp{}
	_ pkcs11mod.OperationCanceler = encryptOp{}
	_ pkcs11mod.OperationCanceler = verifyOp{}
	_ pkcs11mod.OperationCanceler = digestOp{}
)
