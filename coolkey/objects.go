package coolkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// Netscape/Mozilla vendor values the reference module uses for its reader
// object (CKO_NSS + 5 and CKA_NSS + 0x13, + 0x14).
const (
	ckoMozReader     p11.ObjectClass   = 0xCE534355
	ckaMozIsCoolKey  p11.AttributeType = 0xCE534368
	ckaMozATR        p11.AttributeType = 0xCE534369
	maxAppletKeyNums                   = 24 // key slots of the applet (0–23)
)

// object is one PKCS#11 object. Token objects are built once per card
// insertion and never change; session objects (ECDH results) belong to the
// session that derived them.
type object struct {
	handle  p11.ObjectHandle
	class   p11.ObjectClass
	private bool
	// hidden objects (the reader object) are found only by a template
	// that names their class, as the reference module does.
	hidden bool
	attrs  map[p11.AttributeType][]byte
	// sensitive lists attribute types the object has but will not reveal
	// (private key components): CKR_ATTRIBUTE_SENSITIVE rather than
	// CKR_ATTRIBUTE_TYPE_INVALID.
	sensitive map[p11.AttributeType]bool
	// key is set on private keys: what the card needs to use them.
	key *keyInfo
	// owner is the session that created a session object, nil for token
	// objects.
	owner *session
	// seq is the position of the card object it came from, which orders
	// the table (and its handles) as the card orders its objects.
	seq int
}

// keyInfo is a private key as the card knows it.
type keyInfo struct {
	number  byte // applet key number (the k<n> object's index)
	keyType p11.KeyType
	sign    bool
	decrypt bool
	derive  bool
	rsa     *rsa.PublicKey   // RSA keys whose public half is known
	ec      *ecdsa.PublicKey // EC keys whose public half is known

	// Without a certificate or explicit public attributes the key size is
	// learnt from the card (LIST KEYS) at first use.
	mu   sync.Mutex
	bits int
}

// sizeBits returns the key size, 0 if unknown.
func (k *keyInfo) sizeBits() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.bits
}

func (k *keyInfo) setBits(n int) {
	k.mu.Lock()
	k.bits = n
	k.mu.Unlock()
}

// modulusLen is k, the RSA modulus length in bytes.
func (k *keyInfo) modulusLen() int { return (k.sizeBits() + 7) / 8 }

// fieldLen is the byte length of an EC key's field (and of r and s).
func (k *keyInfo) fieldLen() int { return (k.sizeBits() + 7) / 8 }

func (o *object) attr(t p11.AttributeType) ([]byte, bool) {
	v, ok := o.attrs[t]
	return v, ok
}

func (o *object) boolAttr(t p11.AttributeType) bool {
	v, ok := o.attrs[t]
	return ok && len(v) == 1 && v[0] != 0
}

// tableInfo summarises a token's keys for the mechanism list.
type tableInfo struct {
	rsaMin, rsaMax int // bits, 0 when the token has no RSA key
	ecMin, ecMax   int
	certLabel      string // the first certificate's label (token label fallback)
}

// objectBuilder turns the neutral objects read from the card into the
// token's object table.
type objectBuilder struct {
	newHandle func() p11.ObjectHandle
	log       *slog.Logger
	out       []*object
	info      tableInfo
}

// cardCert is a certificate object with its parsed form.
type cardCert struct {
	seq   int
	attrs map[p11.AttributeType][]byte
	cert  *x509.Certificate // nil when CKA_VALUE does not parse
	obj   *object
}

// build makes the objects: certificates first, then keys completed from the
// certificate with the same CKA_ID (in any order, unlike the reference
// host, which needs the certificate first and drops the whole token when a
// key has none), then data objects, then the profile and reader objects.
func (b *objectBuilder) build(objs []cardedge.Object, reader string, atr []byte) ([]*object, tableInfo) {
	certs := map[string]*cardCert{}
	var certOrder []*cardCert
	var keys, data []cardedge.Object
	seq := map[cardedge.ObjectID]int{}
	for i, o := range objs {
		if _, ok := seq[o.ID]; !ok {
			seq[o.ID] = i
		}
		switch o.ID.Letter() {
		case cardedge.LetterCertAttrs:
			c := b.cert(o)
			if c == nil {
				continue
			}
			c.seq = i
			certOrder = append(certOrder, c)
			if id := string(c.attrs[p11.CKA_ID]); certs[id] == nil {
				certs[id] = c
			}
		case cardedge.LetterKey:
			keys = append(keys, o)
		case cardedge.LetterData:
			data = append(data, o)
		}
	}
	privIDs := map[string]bool{}
	for _, o := range keys {
		attrs := nativeAttrs(o)
		class, _ := ulongOf(attrs[p11.CKA_CLASS])
		if p11.ObjectClass(class) == p11.CKO_PRIVATE_KEY {
			privIDs[string(attrs[p11.CKA_ID])] = true
		}
	}
	for _, c := range certOrder {
		b.finishCert(c, privIDs[string(c.attrs[p11.CKA_ID])])
		if b.info.certLabel == "" {
			b.info.certLabel = string(c.attrs[p11.CKA_LABEL])
		}
	}
	for _, o := range keys {
		b.key(o, certs, seq[o.ID])
	}
	for _, o := range data {
		b.data(o, seq[o.ID])
	}
	allPublic := true
	for _, c := range certOrder {
		if c.obj.private {
			allPublic = false
		}
	}
	if allPublic {
		// Firefox counts a token with this profile as "friendly": it
		// lists its certificates without asking for the PIN.
		b.add(&object{class: p11.CKO_PROFILE, seq: len(objs), attrs: map[p11.AttributeType][]byte{
			p11.CKA_CLASS:      p11.ULongValue(uint(p11.CKO_PROFILE)),
			p11.CKA_TOKEN:      p11.BoolValue(true),
			p11.CKA_PRIVATE:    p11.BoolValue(false),
			p11.CKA_MODIFIABLE: p11.BoolValue(false),
			p11.CKA_PROFILE_ID: p11.ULongValue(p11.CKP_PUBLIC_CERTIFICATES_TOKEN),
		}})
	}
	b.add(&object{class: ckoMozReader, hidden: true, seq: len(objs) + 1, attrs: map[p11.AttributeType][]byte{
		p11.CKA_CLASS:      p11.ULongValue(uint(ckoMozReader)),
		p11.CKA_TOKEN:      p11.BoolValue(true),
		p11.CKA_PRIVATE:    p11.BoolValue(false),
		p11.CKA_MODIFIABLE: p11.BoolValue(false),
		p11.CKA_LABEL:      []byte(reader),
		ckaMozIsCoolKey:    p11.BoolValue(true),
		ckaMozATR:          bytes.Clone(atr),
	}})
	// Card order, as the reference module lists objects; then handles.
	slices.SortStableFunc(b.out, func(x, y *object) int { return x.seq - y.seq })
	for _, o := range b.out {
		o.handle = b.newHandle()
	}
	return b.out, b.info
}

func (b *objectBuilder) add(o *object) {
	if v, ok := o.attrs[p11.CKA_PRIVATE]; ok {
		o.private = len(v) == 1 && v[0] != 0
	}
	b.out = append(b.out, o)
}

// Boolean and CK_ULONG attribute types: v0 objects keep values raw, so these
// are normalised to the native encodings.
var boolTypes = map[p11.AttributeType]bool{
	p11.CKA_TOKEN: true, p11.CKA_PRIVATE: true, p11.CKA_MODIFIABLE: true, p11.CKA_TRUSTED: true,
	p11.CKA_SENSITIVE: true, p11.CKA_ENCRYPT: true, p11.CKA_DECRYPT: true, p11.CKA_WRAP: true,
	p11.CKA_UNWRAP: true, p11.CKA_SIGN: true, p11.CKA_SIGN_RECOVER: true, p11.CKA_VERIFY: true,
	p11.CKA_VERIFY_RECOVER: true, p11.CKA_DERIVE: true, p11.CKA_EXTRACTABLE: true, p11.CKA_LOCAL: true,
	p11.CKA_NEVER_EXTRACTABLE: true, p11.CKA_ALWAYS_SENSITIVE: true, p11.CKA_ALWAYS_AUTHENTICATE: true,
	p11.CKA_WRAP_WITH_TRUSTED: true, p11.CKA_COPYABLE: true, p11.CKA_DESTROYABLE: true,
}

// nativeAttrs converts a card object's attributes to native PKCS#11
// encodings.
func nativeAttrs(o cardedge.Object) map[p11.AttributeType][]byte {
	m := make(map[p11.AttributeType][]byte, len(o.Attributes)+8)
	for _, a := range o.Attributes {
		t := p11.AttributeType(a.Type)
		switch a.Kind {
		case cardedge.KindUlong:
			m[t] = p11.ULongValue(uint(a.Ulong))
		case cardedge.KindBool:
			m[t] = p11.BoolValue(a.Bool)
		default:
			v := bytes.Clone(a.Bytes)
			if boolTypes[t] {
				v = p11.BoolValue(slices.ContainsFunc(v, func(x byte) bool { return x != 0 }))
			}
			m[t] = v
		}
	}
	return m
}

func ulongOf(v []byte) (uint, bool) {
	if len(v) != 8 {
		return 0, false
	}
	return uint(binary.NativeEndian.Uint64(v)), true
}

// commonAttrs sets what every card object has: it lives on the token and
// cannot be changed through this module.
func commonAttrs(m map[p11.AttributeType][]byte, class p11.ObjectClass) {
	m[p11.CKA_CLASS] = p11.ULongValue(uint(class))
	m[p11.CKA_TOKEN] = p11.BoolValue(true)
	if _, ok := m[p11.CKA_PRIVATE]; !ok {
		m[p11.CKA_PRIVATE] = p11.BoolValue(class == p11.CKO_PRIVATE_KEY)
	}
	m[p11.CKA_MODIFIABLE] = p11.BoolValue(false)
	m[p11.CKA_COPYABLE] = p11.BoolValue(false)
	m[p11.CKA_DESTROYABLE] = p11.BoolValue(false)
}

func setDefault(m map[p11.AttributeType][]byte, t p11.AttributeType, v []byte) {
	if _, ok := m[t]; !ok {
		m[t] = v
	}
}

// cert decodes a certificate record.
func (b *objectBuilder) cert(o cardedge.Object) *cardCert {
	attrs := nativeAttrs(o)
	if class, ok := ulongOf(attrs[p11.CKA_CLASS]); !ok || p11.ObjectClass(class) != p11.CKO_CERTIFICATE {
		b.log.Warn("card object is not a certificate; skipped", "object", o.ID)
		return nil
	}
	c := &cardCert{attrs: attrs}
	if der := attrs[p11.CKA_VALUE]; len(der) > 0 {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			b.log.Warn("certificate does not parse; shown without derived attributes", "object", o.ID, "err", err)
		}
		c.cert = cert
	}
	return c
}

// finishCert completes and adds a certificate object.
func (b *objectBuilder) finishCert(c *cardCert, hasKey bool) {
	m := c.attrs
	commonAttrs(m, p11.CKO_CERTIFICATE)
	m[p11.CKA_CERTIFICATE_TYPE] = p11.ULongValue(p11.CKC_X_509)
	setDefault(m, p11.CKA_TRUSTED, p11.BoolValue(false))
	setDefault(m, p11.CKA_VALUE, nil)
	category := uint(p11.CK_CERTIFICATE_CATEGORY_UNSPECIFIED)
	if cert := c.cert; cert != nil {
		switch {
		case hasKey:
			category = p11.CK_CERTIFICATE_CATEGORY_TOKEN_USER
		case cert.IsCA:
			category = p11.CK_CERTIFICATE_CATEGORY_AUTHORITY
		}
		setDefault(m, p11.CKA_SUBJECT, bytes.Clone(cert.RawSubject))
		setDefault(m, p11.CKA_ISSUER, bytes.Clone(cert.RawIssuer))
		if sn, err := asn1.Marshal(cert.SerialNumber); err == nil {
			setDefault(m, p11.CKA_SERIAL_NUMBER, sn)
		}
		setDefault(m, p11.CKA_START_DATE, ckDate(cert.NotBefore.UTC().Format("20060102")))
		setDefault(m, p11.CKA_END_DATE, ckDate(cert.NotAfter.UTC().Format("20060102")))
		if h, ok := spkiKeyHash(cert.RawSubjectPublicKeyInfo); ok {
			setDefault(m, p11.CKA_HASH_OF_SUBJECT_PUBLIC_KEY, h)
		}
		if len(cert.AuthorityKeyId) > 0 {
			setDefault(m, p11.CKA_HASH_OF_ISSUER_PUBLIC_KEY, bytes.Clone(cert.AuthorityKeyId))
		}
		setDefault(m, p11.CKA_PUBLIC_KEY_INFO, bytes.Clone(cert.RawSubjectPublicKeyInfo))
		if _, ok := m[p11.CKA_LABEL]; !ok && cert.Subject.CommonName != "" {
			m[p11.CKA_LABEL] = []byte(cert.Subject.CommonName)
		}
	}
	m[p11.CKA_CERTIFICATE_CATEGORY] = p11.ULongValue(category)
	m[p11.CKA_JAVA_MIDP_SECURITY_DOMAIN] = p11.ULongValue(0)
	sum := sha1.Sum(m[p11.CKA_VALUE])
	m[p11.CKA_CHECK_VALUE] = sum[:3]
	setDefault(m, p11.CKA_URL, nil)
	setDefault(m, p11.CKA_START_DATE, nil)
	setDefault(m, p11.CKA_END_DATE, nil)
	setDefault(m, p11.CKA_SUBJECT, nil)
	setDefault(m, p11.CKA_ID, []byte{0})
	if _, ok := m[p11.CKA_LABEL]; !ok {
		m[p11.CKA_LABEL] = []byte(fmt.Sprintf("Certificate %X", m[p11.CKA_ID]))
	}
	c.obj = &object{class: p11.CKO_CERTIFICATE, attrs: m, seq: c.seq}
	b.add(c.obj)
}

func ckDate(s string) []byte {
	if len(s) != 8 {
		return nil
	}
	return []byte(s)
}

// spkiKeyHash is SHA-1 of the subjectPublicKey BIT STRING's contents, which
// is what CKA_HASH_OF_SUBJECT_PUBLIC_KEY holds (and what most CAs use as the
// subject key identifier).
func spkiKeyHash(spki []byte) ([]byte, bool) {
	var info struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(spki, &info); err != nil || len(rest) != 0 {
		return nil, false
	}
	sum := sha1.Sum(info.PublicKey.Bytes)
	return sum[:], true
}

// Named curves: OID and the DER CKA_EC_PARAMS holding it.
var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

func curveParams(c elliptic.Curve) ([]byte, bool) {
	var oid asn1.ObjectIdentifier
	switch c {
	case elliptic.P256():
		oid = oidP256
	case elliptic.P384():
		oid = oidP384
	case elliptic.P521():
		oid = oidP521
	default:
		return nil, false
	}
	b, err := asn1.Marshal(oid)
	return b, err == nil
}

func curveFromParams(params []byte) elliptic.Curve {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) != 0 {
		return nil
	}
	switch {
	case oid.Equal(oidP256):
		return elliptic.P256()
	case oid.Equal(oidP384):
		return elliptic.P384()
	case oid.Equal(oidP521):
		return elliptic.P521()
	}
	return nil
}

// rawPoint accepts an EC point as PKCS#11 defines CKA_EC_POINT (a DER OCTET
// STRING holding 04‖X‖Y) or as the TPS and the reference host store it
// (the bare 04‖X‖Y), and returns the bare point.
func rawPoint(v []byte, fieldLen int) ([]byte, bool) {
	if len(v) == 2*fieldLen+1 && v[0] == 0x04 {
		return v, true
	}
	var inner []byte
	if rest, err := asn1.Unmarshal(v, &inner); err == nil && len(rest) == 0 && len(inner) == 2*fieldLen+1 && inner[0] == 0x04 {
		return inner, true
	}
	return nil, false
}

func ecPublicKey(curve elliptic.Curve, point []byte) (*ecdsa.PublicKey, bool) {
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, false
	}
	return pub, true
}

// key builds a public or private key object, completing it from the
// certificate with the same CKA_ID: modulus and exponent, or curve and
// point, label and subject.
func (b *objectBuilder) key(o cardedge.Object, certs map[string]*cardCert, seq int) {
	m := nativeAttrs(o)
	classVal, _ := ulongOf(m[p11.CKA_CLASS])
	class := p11.ObjectClass(classVal)
	if class != p11.CKO_PUBLIC_KEY && class != p11.CKO_PRIVATE_KEY {
		b.log.Warn("key object of class neither public nor private; skipped", "object", o.ID, "class", class)
		return
	}
	commonAttrs(m, class)
	setDefault(m, p11.CKA_ID, []byte{0})
	c := certs[string(m[p11.CKA_ID])]
	var cert *x509.Certificate
	if c != nil {
		cert = c.cert
		if _, ok := m[p11.CKA_LABEL]; !ok {
			if l, ok := c.attrs[p11.CKA_LABEL]; ok {
				m[p11.CKA_LABEL] = bytes.Clone(l)
			}
		}
	}

	// Key type: the certificate's key decides; then an explicit
	// CKA_KEY_TYPE (3 is EC, as the reference host reads it); then the
	// presence of EC attributes; RSA otherwise.
	keyType := p11.CKK_RSA
	explicit, hasExplicit := ulongOf(m[p11.CKA_KEY_TYPE])
	_, hasParams := m[p11.CKA_EC_PARAMS]
	switch {
	case cert != nil && isEC(cert.PublicKey):
		keyType = p11.CKK_EC
	case cert != nil && isRSA(cert.PublicKey):
	case hasExplicit && p11.KeyType(explicit) == p11.CKK_EC, !hasExplicit && hasParams:
		keyType = p11.CKK_EC
	}
	m[p11.CKA_KEY_TYPE] = p11.ULongValue(uint(keyType))

	ki := &keyInfo{keyType: keyType}
	switch keyType {
	case p11.CKK_RSA:
		ki.rsa = rsaMaterial(m, cert)
		delete(m, p11.CKA_MODULUS_BITS)
		if ki.rsa != nil {
			ki.bits = ki.rsa.N.BitLen()
			m[p11.CKA_MODULUS] = ki.rsa.N.Bytes()
			m[p11.CKA_PUBLIC_EXPONENT] = big.NewInt(int64(ki.rsa.E)).Bytes()
			m[p11.CKA_MODULUS_BITS] = p11.ULongValue(uint(ki.bits))
			b.info.rsaMin, b.info.rsaMax = widen(b.info.rsaMin, b.info.rsaMax, ki.bits)
		}
	case p11.CKK_EC:
		ki.ec = ecMaterial(m, cert)
		delete(m, p11.CKA_EC_POINT)
		if ki.ec != nil {
			ki.bits = ki.ec.Curve.Params().BitSize
			params, _ := curveParams(ki.ec.Curve)
			point, _ := ki.ec.Bytes()
			m[p11.CKA_EC_PARAMS] = params
			// DER OCTET STRING, as PKCS#11 specifies and NSS, OpenSSL and
			// GnuTLS expect; the reference host gives the bare point.
			m[p11.CKA_EC_POINT], _ = asn1.Marshal(point)
			b.info.ecMin, b.info.ecMax = widen(b.info.ecMin, b.info.ecMax, ki.bits)
		}
	}
	if cert != nil {
		setDefault(m, p11.CKA_SUBJECT, bytes.Clone(cert.RawSubject))
	}
	if spki := publicKeyInfo(ki); spki != nil {
		m[p11.CKA_PUBLIC_KEY_INFO] = spki
	}
	setDefault(m, p11.CKA_SUBJECT, nil)
	setDefault(m, p11.CKA_START_DATE, nil)
	setDefault(m, p11.CKA_END_DATE, nil)
	setDefault(m, p11.CKA_LOCAL, p11.BoolValue(false))
	setDefault(m, p11.CKA_DERIVE, p11.BoolValue(false))
	m[p11.CKA_KEY_GEN_MECHANISM] = p11.ULongValue(p11.CK_UNAVAILABLE_INFORMATION)
	if _, ok := m[p11.CKA_LABEL]; !ok {
		m[p11.CKA_LABEL] = []byte(fmt.Sprintf("Key %X", m[p11.CKA_ID]))
	}

	obj := &object{class: class, attrs: m, seq: seq}
	if class == p11.CKO_PUBLIC_KEY {
		for _, t := range []p11.AttributeType{p11.CKA_ENCRYPT, p11.CKA_VERIFY, p11.CKA_VERIFY_RECOVER, p11.CKA_WRAP, p11.CKA_TRUSTED} {
			setDefault(m, t, p11.BoolValue(false))
		}
		b.add(obj)
		return
	}

	for _, t := range []p11.AttributeType{p11.CKA_SIGN, p11.CKA_SIGN_RECOVER, p11.CKA_DECRYPT, p11.CKA_UNWRAP,
		p11.CKA_EXTRACTABLE, p11.CKA_WRAP_WITH_TRUSTED} {
		setDefault(m, t, p11.BoolValue(false))
	}
	for _, t := range []p11.AttributeType{p11.CKA_SENSITIVE, p11.CKA_ALWAYS_SENSITIVE, p11.CKA_NEVER_EXTRACTABLE} {
		setDefault(m, t, p11.BoolValue(true))
	}
	// The card never asks for the PIN per operation.
	m[p11.CKA_ALWAYS_AUTHENTICATE] = p11.BoolValue(false)
	obj.sensitive = map[p11.AttributeType]bool{}
	if keyType == p11.CKK_RSA {
		for _, t := range []p11.AttributeType{p11.CKA_PRIVATE_EXPONENT, p11.CKA_PRIME_1, p11.CKA_PRIME_2,
			p11.CKA_EXPONENT_1, p11.CKA_EXPONENT_2, p11.CKA_COEFFICIENT} {
			obj.sensitive[t] = true
		}
	} else {
		obj.sensitive[p11.CKA_VALUE] = true
	}
	m[p11.CKA_ALLOWED_MECHANISMS] = mechanismArray(keyMechanisms(keyType))

	n, ok := o.ID.Index()
	if !ok || n >= maxAppletKeyNums {
		b.log.Warn("private key object does not name an applet key; it cannot be used", "object", o.ID)
		n = -1
	}
	ki.number = byte(n)
	ki.sign = obj.boolAttr(p11.CKA_SIGN)
	ki.decrypt = obj.boolAttr(p11.CKA_DECRYPT)
	ki.derive = obj.boolAttr(p11.CKA_DERIVE)
	if n >= 0 {
		obj.key = ki
	}
	if ki.bits == 0 {
		b.log.Info("private key without certificate or public attributes; its size will be read from the card", "object", o.ID)
	}
	b.add(obj)
}

func widen(lo, hi, v int) (int, int) {
	if lo == 0 || v < lo {
		lo = v
	}
	return lo, max(hi, v)
}

func isEC(k any) bool  { _, ok := k.(*ecdsa.PublicKey); return ok }
func isRSA(k any) bool { _, ok := k.(*rsa.PublicKey); return ok }

// rsaMaterial returns the RSA public key from the certificate, or from
// explicit CKA_MODULUS and CKA_PUBLIC_EXPONENT (v0 tokens carry them).
func rsaMaterial(m map[p11.AttributeType][]byte, cert *x509.Certificate) *rsa.PublicKey {
	if cert != nil {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return pub
		}
	}
	mod, exp := m[p11.CKA_MODULUS], m[p11.CKA_PUBLIC_EXPONENT]
	if len(mod) == 0 || len(exp) == 0 || len(exp) > 4 {
		delete(m, p11.CKA_MODULUS)
		delete(m, p11.CKA_PUBLIC_EXPONENT)
		return nil
	}
	n := new(big.Int).SetBytes(mod)
	e := new(big.Int).SetBytes(exp)
	if n.BitLen() < 512 || n.BitLen() > 8192 || e.Sign() <= 0 {
		delete(m, p11.CKA_MODULUS)
		delete(m, p11.CKA_PUBLIC_EXPONENT)
		return nil
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}
}

// ecMaterial returns the EC public key from the certificate, or from
// explicit CKA_EC_PARAMS and CKA_EC_POINT.
func ecMaterial(m map[p11.AttributeType][]byte, cert *x509.Certificate) *ecdsa.PublicKey {
	if cert != nil {
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
			if _, ok := curveParams(pub.Curve); ok {
				return pub
			}
		}
	}
	curve := curveFromParams(m[p11.CKA_EC_PARAMS])
	if curve == nil {
		return nil
	}
	point, ok := rawPoint(m[p11.CKA_EC_POINT], (curve.Params().BitSize+7)/8)
	if !ok {
		return nil
	}
	pub, ok := ecPublicKey(curve, point)
	if !ok {
		return nil
	}
	return pub
}

func publicKeyInfo(k *keyInfo) []byte {
	var pub any
	switch {
	case k.rsa != nil:
		pub = k.rsa
	case k.ec != nil:
		pub = k.ec
	default:
		return nil
	}
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	return b
}

// data builds a CKO_DATA object: the card's attributes as they are.
func (b *objectBuilder) data(o cardedge.Object, seq int) {
	m := nativeAttrs(o)
	class, _ := ulongOf(m[p11.CKA_CLASS])
	if p11.ObjectClass(class) != p11.CKO_DATA {
		b.log.Warn("data object of another class; skipped", "object", o.ID, "class", class)
		return
	}
	commonAttrs(m, p11.CKO_DATA)
	setDefault(m, p11.CKA_PRIVATE, p11.BoolValue(false))
	setDefault(m, p11.CKA_APPLICATION, nil)
	setDefault(m, p11.CKA_OBJECT_ID, nil)
	setDefault(m, p11.CKA_VALUE, nil)
	setDefault(m, p11.CKA_LABEL, []byte(o.ID.String()))
	b.add(&object{class: p11.CKO_DATA, attrs: m, seq: seq})
}

// mechanismArray encodes CKA_ALLOWED_MECHANISMS: an array of native
// CK_MECHANISM_TYPEs.
func mechanismArray(ms []p11.MechanismType) []byte {
	var out []byte
	for _, m := range ms {
		out = append(out, p11.ULongValue(uint(m))...)
	}
	return out
}
