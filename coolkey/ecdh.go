package coolkey

import (
	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// DeriveKey runs ECDH (CKM_ECDH1_DERIVE with CKD_NULL) on the card and keeps
// the shared secret as a session object: the token is write-protected, so
// the secret cannot become a token object (the reference module pretends it
// is one).
func (s *session) DeriveKey(m p11.Mechanism, base p11.ObjectHandle, template []p11.Attribute) (p11.ObjectHandle, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	spec, ok := mechanisms[m.Type]
	if !ok || spec.kind != mechECDH || !s.tok.offers(m.Type) {
		return 0, p11.CKR_MECHANISM_INVALID
	}
	p, ok := m.Parameter.(*p11.ECDH1DeriveParams)
	if !ok || p == nil || p.KDF != p11.CKD_NULL || len(p.SharedData) != 0 {
		return 0, p11.CKR_MECHANISM_PARAM_INVALID
	}
	k, err := s.keyFor(base, spec, p11.CKA_DERIVE)
	if err != nil {
		return 0, err
	}
	fl := k.fieldLen()
	peer, ok := rawPoint(p.PublicData, fl)
	if !ok {
		return 0, p11.CKR_MECHANISM_PARAM_INVALID
	}
	if k.ec != nil {
		if _, ok := ecPublicKey(k.ec.Curve, peer); !ok {
			return 0, p11.CKR_MECHANISM_PARAM_INVALID
		}
	}

	attrs, err := secretTemplate(template)
	if err != nil {
		return 0, err
	}
	var secret []byte
	err = s.tok.slot.transact(s.tok, false, func(c *cardedge.Card) error {
		var err error
		secret, err = c.ComputeECCKeyAgreement(k.number, peer)
		return err
	})
	if err != nil {
		return 0, cardError("derive", err)
	}
	// CKA_VALUE_LEN keeps the low-order bytes, as NSS's softoken and the
	// reference module do.
	if v, ok := attrs[p11.CKA_VALUE_LEN]; ok {
		n, _ := ulongOf(v)
		if n == 0 || int(n) > len(secret) {
			clear(secret)
			return 0, p11.CKR_TEMPLATE_INCONSISTENT
		}
		cut := secret[len(secret)-int(n):]
		secret = append([]byte(nil), cut...)
	}
	attrs[p11.CKA_VALUE] = secret
	attrs[p11.CKA_VALUE_LEN] = p11.ULongValue(uint(len(secret)))
	o := &object{class: p11.CKO_SECRET_KEY, attrs: attrs, owner: s}
	o.handle = s.tok.slot.b.newHandle()
	o.private = o.boolAttr(p11.CKA_PRIVATE)
	s.tok.addSessionObject(o)
	return o.handle, nil
}

// secretTemplate checks a derived key's template and fills in the defaults:
// a generic secret that may be extracted (NSS moves it to its own token to
// use it), not sensitive, not on the token.
func secretTemplate(template []p11.Attribute) (map[p11.AttributeType][]byte, error) {
	m := map[p11.AttributeType][]byte{
		p11.CKA_CLASS:             p11.ULongValue(uint(p11.CKO_SECRET_KEY)),
		p11.CKA_KEY_TYPE:          p11.ULongValue(uint(p11.CKK_GENERIC_SECRET)),
		p11.CKA_TOKEN:             p11.BoolValue(false),
		p11.CKA_PRIVATE:           p11.BoolValue(false),
		p11.CKA_MODIFIABLE:        p11.BoolValue(false),
		p11.CKA_LABEL:             nil,
		p11.CKA_ID:                nil,
		p11.CKA_START_DATE:        nil,
		p11.CKA_END_DATE:          nil,
		p11.CKA_DERIVE:            p11.BoolValue(false),
		p11.CKA_LOCAL:             p11.BoolValue(false),
		p11.CKA_KEY_GEN_MECHANISM: p11.ULongValue(uint(p11.CKM_ECDH1_DERIVE)),
		p11.CKA_ENCRYPT:           p11.BoolValue(false),
		p11.CKA_DECRYPT:           p11.BoolValue(false),
		p11.CKA_SIGN:              p11.BoolValue(false),
		p11.CKA_VERIFY:            p11.BoolValue(false),
		p11.CKA_WRAP:              p11.BoolValue(false),
		p11.CKA_UNWRAP:            p11.BoolValue(false),
		p11.CKA_SENSITIVE:         p11.BoolValue(false),
		p11.CKA_EXTRACTABLE:       p11.BoolValue(true),
		p11.CKA_ALWAYS_SENSITIVE:  p11.BoolValue(false),
		p11.CKA_NEVER_EXTRACTABLE: p11.BoolValue(false),
	}
	for _, a := range template {
		switch a.Type {
		case p11.CKA_CLASS:
			if v, err := a.ULong(); err != nil || p11.ObjectClass(v) != p11.CKO_SECRET_KEY {
				return nil, p11.CKR_TEMPLATE_INCONSISTENT
			}
		case p11.CKA_KEY_TYPE, p11.CKA_VALUE_LEN:
			if _, err := a.ULong(); err != nil {
				return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
			}
			m[a.Type] = append([]byte(nil), a.Value...)
		case p11.CKA_TOKEN:
			v, err := a.Bool()
			if err != nil {
				return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
			}
			if v {
				return nil, p11.CKR_TOKEN_WRITE_PROTECTED
			}
		case p11.CKA_PRIVATE, p11.CKA_MODIFIABLE, p11.CKA_DERIVE, p11.CKA_ENCRYPT, p11.CKA_DECRYPT,
			p11.CKA_SIGN, p11.CKA_VERIFY, p11.CKA_WRAP, p11.CKA_UNWRAP, p11.CKA_SENSITIVE, p11.CKA_EXTRACTABLE,
			p11.CKA_SIGN_RECOVER, p11.CKA_VERIFY_RECOVER, p11.CKA_COPYABLE, p11.CKA_DESTROYABLE:
			v, err := a.Bool()
			if err != nil {
				return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
			}
			m[a.Type] = p11.BoolValue(v)
		case p11.CKA_LABEL, p11.CKA_ID, p11.CKA_START_DATE, p11.CKA_END_DATE:
			m[a.Type] = append([]byte(nil), a.Value...)
		case p11.CKA_VALUE, p11.CKA_LOCAL, p11.CKA_ALWAYS_SENSITIVE, p11.CKA_NEVER_EXTRACTABLE, p11.CKA_KEY_GEN_MECHANISM:
			return nil, p11.CKR_ATTRIBUTE_READ_ONLY
		default:
			return nil, p11.CKR_ATTRIBUTE_TYPE_INVALID
		}
	}
	sensitive := m[p11.CKA_SENSITIVE][0] != 0
	extractable := m[p11.CKA_EXTRACTABLE][0] != 0
	m[p11.CKA_ALWAYS_SENSITIVE] = p11.BoolValue(sensitive)
	m[p11.CKA_NEVER_EXTRACTABLE] = p11.BoolValue(!extractable)
	return m, nil
}
