package coolkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

func TestTokenInfoLikeReferenceModule(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	ids := r.slotIDs()
	if len(ids) != 1 || ids[0] != 1 {
		t.Fatalf("slots %v, want [1]", ids)
	}
	si, err := r.b.SlotInfo(1)
	if err != nil {
		t.Fatal(err)
	}
	if si.Description != "Test Reader 0" || si.Flags != p11.CKF_TOKEN_PRESENT|p11.CKF_REMOVABLE_DEVICE|p11.CKF_HW_SLOT {
		t.Errorf("slot info %+v", si)
	}
	ti, err := r.b.TokenInfo(1)
	if err != nil {
		t.Fatal(err)
	}
	// The values judges.md measured on the C++ module for this CUID.
	want := p11.TokenInfo{
		Label:              "alice",
		Manufacturer:       "4090 Axalto",
		Model:              "7a01004212345678",
		SerialNumber:       "12345678",
		Flags:              p11.CKF_WRITE_PROTECTED | p11.CKF_TOKEN_INITIALIZED | p11.CKF_LOGIN_REQUIRED | p11.CKF_USER_PIN_INITIALIZED | p11.CKF_RNG,
		MaxPinLen:          16,
		MinPinLen:          4,
		TotalPublicMemory:  p11.CK_UNAVAILABLE_INFORMATION,
		FreePublicMemory:   p11.CK_UNAVAILABLE_INFORMATION,
		TotalPrivateMemory: p11.CK_UNAVAILABLE_INFORMATION,
		FreePrivateMemory:  p11.CK_UNAVAILABLE_INFORMATION,
		HardwareVersion:    p11.Version{Major: 0, Minor: 0x42},
		FirmwareVersion:    p11.Version{Major: 1, Minor: 1},
	}
	if ti != want {
		t.Errorf("token info\n got %+v\nwant %+v", ti, want)
	}
	if _, err := r.b.TokenInfo(2); rvOf(err) != p11.CKR_SLOT_ID_INVALID {
		t.Errorf("TokenInfo(2): %v", err)
	}
	info := r.b.Info()
	if info.Manufacturer != "coolkey-go" || info.Description == "" {
		t.Errorf("library info %+v", info)
	}
}

func TestTokenLabelFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name, label, want string
		noCert            bool
	}{
		{name: "bob", label: "x", want: "bob"},
		{name: "", label: "signing key for carol", want: "CoolKey for signing key for carol"},
		{name: "", label: "", noCert: true, want: "CoolKey 12345678"},
	} {
		spec := testtoken.Alice()
		spec.Name = tc.name
		spec.Keys = []testtoken.KeySpec{{Kind: testtoken.P256, Usage: testtoken.Sign, Label: tc.label, NoCert: tc.noCert}}
		r := newRig(t, "", buildToken(t, spec))
		r.slotIDs()
		ti, err := r.b.TokenInfo(1)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Label != tc.want {
			t.Errorf("label %q, want %q", ti.Label, tc.want)
		}
	}
}

// Cold: SELECT, GET LIFE CYCLE, then z0 in 255-byte READs (2 + ⌈size/255⌉).
// Warm: SELECT, GET LIFE CYCLE, first READ. Slot, token and session info and
// searches send nothing.
func TestEnumerationAPDUs(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newRig(t, "", tok)
	size := (&cardedge.CombinedHeader{}).Size()
	h, err := cardedge.ParseCombinedHeader(tok.Z0)
	if err != nil {
		t.Fatal(err)
	}
	size = h.Size()
	wantCold := uint64(2 + (size+254)/255)
	if n := apdus(func() { r.slotIDs() }); n != wantCold {
		t.Errorf("cold enumeration: %d APDUs, want %d (z0 %d bytes)", n, wantCold, size)
	}
	if n := apdus(func() {
		r.slotIDs()
		for i := 0; i < 3; i++ {
			r.b.SlotInfo(1)
			r.b.TokenInfo(1)
			r.b.Mechanisms(1)
		}
		s := r.openOn(1, false)
		s.LoginState()
		find(t, s)
		find(t, s, classAttr(p11.CKO_CERTIFICATE))
		for _, h := range find(t, s) {
			s.GetAttributes(h, []p11.AttributeType{p11.CKA_LABEL, p11.CKA_VALUE})
		}
	}); n != 0 {
		t.Errorf("queries after enumeration sent %d APDUs, want 0", n)
	}

	r.restart()
	if n := apdus(func() { r.slotIDs() }); n != 3 {
		t.Errorf("warm enumeration: %d APDUs, want 3", n)
	}
	s := r.openOn(1, false)
	if len(find(t, s, classAttr(p11.CKO_CERTIFICATE))) != 3 {
		t.Errorf("warm token lost its certificates")
	}
}

// nssCertAttrs and nssKeyAttrs are what NSS reads (pkcs11-go.md §3.2).
var (
	nssCertAttrs = []p11.AttributeType{p11.CKA_CLASS, p11.CKA_TOKEN, p11.CKA_PRIVATE, p11.CKA_LABEL, p11.CKA_ID,
		p11.CKA_VALUE, p11.CKA_ISSUER, p11.CKA_SERIAL_NUMBER, p11.CKA_SUBJECT, p11.CKA_CERTIFICATE_TYPE,
		p11.CKA_TRUSTED, p11.CKA_CERTIFICATE_CATEGORY, p11.CKA_MODIFIABLE}
	nssPrivAttrs = []p11.AttributeType{p11.CKA_CLASS, p11.CKA_TOKEN, p11.CKA_PRIVATE, p11.CKA_KEY_TYPE,
		p11.CKA_ALWAYS_AUTHENTICATE, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_SIGN, p11.CKA_DECRYPT, p11.CKA_SENSITIVE,
		p11.CKA_EXTRACTABLE, p11.CKA_DERIVE, p11.CKA_SUBJECT, p11.CKA_UNWRAP, p11.CKA_SIGN_RECOVER}
	rsaAttrs = []p11.AttributeType{p11.CKA_MODULUS, p11.CKA_PUBLIC_EXPONENT, p11.CKA_MODULUS_BITS}
	ecAttrs  = []p11.AttributeType{p11.CKA_EC_PARAMS, p11.CKA_EC_POINT}
)

func TestObjectsAndAttributes(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newRig(t, "", tok)
	s := r.open(false)

	// Before login: certificates, public keys and the profile; no
	// private keys.
	if n := len(find(t, s, classAttr(p11.CKO_PRIVATE_KEY))); n != 0 {
		t.Errorf("%d private keys visible before login", n)
	}
	prof := one(t, s, classAttr(p11.CKO_PROFILE))
	if v := attr(t, s, prof, p11.CKA_PROFILE_ID); !bytes.Equal(v, p11.ULongValue(p11.CKP_PUBLIC_CERTIFICATES_TOKEN)) {
		t.Errorf("profile id %x", v)
	}
	if n := len(find(t, s)); n != 3+3+1 {
		t.Errorf("%d objects before login, want 7", n)
	}
	r.login(s)
	if n := len(find(t, s)); n != 3+3+3+1 {
		t.Errorf("%d objects after login, want 10", n)
	}

	for _, k := range tok.Keys {
		cert := one(t, s, classAttr(p11.CKO_CERTIFICATE), idAttr(k.ID))
		priv := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(k.ID))
		pub := one(t, s, classAttr(p11.CKO_PUBLIC_KEY), idAttr(k.ID))

		res, err := s.GetAttributes(cert, nssCertAttrs)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range res {
			if a.Err != nil {
				t.Errorf("cert %d: %v: %v", k.ID, nssCertAttrs[i], a.Err)
			}
		}
		if !bytes.Equal(attr(t, s, cert, p11.CKA_VALUE), k.Cert.Raw) {
			t.Errorf("cert %d: CKA_VALUE differs", k.ID)
		}
		if !bytes.Equal(attr(t, s, cert, p11.CKA_SUBJECT), k.Cert.RawSubject) ||
			!bytes.Equal(attr(t, s, cert, p11.CKA_ISSUER), k.Cert.RawIssuer) {
			t.Errorf("cert %d: subject or issuer differs", k.ID)
		}
		var sn *big.Int
		if _, err := asn1.Unmarshal(attr(t, s, cert, p11.CKA_SERIAL_NUMBER), &sn); err != nil || sn.Cmp(k.Cert.SerialNumber) != 0 {
			t.Errorf("cert %d: serial %v (%v)", k.ID, sn, err)
		}
		if v := attr(t, s, cert, p11.CKA_CERTIFICATE_CATEGORY); !bytes.Equal(v, p11.ULongValue(p11.CK_CERTIFICATE_CATEGORY_TOKEN_USER)) {
			t.Errorf("cert %d: category %x", k.ID, v)
		}
		// Certificate and keys share label and CKA_ID (NSS pairs them).
		label := attr(t, s, cert, p11.CKA_LABEL)
		if string(label) != k.Spec.Label {
			t.Errorf("cert %d: label %q", k.ID, label)
		}
		for _, h := range []p11.ObjectHandle{priv, pub} {
			if got := attr(t, s, h, p11.CKA_LABEL); !bytes.Equal(got, label) {
				t.Errorf("key %d: label %q, want the certificate's", k.ID, got)
			}
		}

		res, err = s.GetAttributes(priv, nssPrivAttrs)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range res {
			if a.Err != nil {
				t.Errorf("private key %d: %v: %v", k.ID, nssPrivAttrs[i], a.Err)
			}
		}
		if v := attr(t, s, priv, p11.CKA_ALWAYS_AUTHENTICATE); !bytes.Equal(v, []byte{0}) {
			t.Errorf("CKA_ALWAYS_AUTHENTICATE %x", v)
		}
		if v := attr(t, s, priv, p11.CKA_PRIVATE); !bytes.Equal(v, []byte{1}) {
			t.Errorf("private key CKA_PRIVATE %x", v)
		}
		spki := attr(t, s, pub, p11.CKA_PUBLIC_KEY_INFO)
		if !bytes.Equal(spki, k.Cert.RawSubjectPublicKeyInfo) {
			t.Errorf("key %d: CKA_PUBLIC_KEY_INFO differs from the certificate's", k.ID)
		}

		switch pk := k.Signer.Public().(type) {
		case *rsa.PublicKey:
			for _, h := range []p11.ObjectHandle{priv, pub} {
				if !bytes.Equal(attr(t, s, h, p11.CKA_MODULUS), pk.N.Bytes()) {
					t.Errorf("key %d: modulus differs", k.ID)
				}
				if !bytes.Equal(attr(t, s, h, p11.CKA_PUBLIC_EXPONENT), big.NewInt(int64(pk.E)).Bytes()) {
					t.Errorf("key %d: exponent differs", k.ID)
				}
				if !bytes.Equal(attr(t, s, h, p11.CKA_MODULUS_BITS), p11.ULongValue(uint(pk.N.BitLen()))) {
					t.Errorf("key %d: modulus bits", k.ID)
				}
				if !bytes.Equal(attr(t, s, h, p11.CKA_KEY_TYPE), p11.ULongValue(uint(p11.CKK_RSA))) {
					t.Errorf("key %d: key type", k.ID)
				}
			}
			res, _ := s.GetAttributes(priv, []p11.AttributeType{p11.CKA_PRIVATE_EXPONENT, p11.CKA_PRIME_1, p11.CKA_EC_POINT})
			if res[0].Err != p11.CKR_ATTRIBUTE_SENSITIVE || res[1].Err != p11.CKR_ATTRIBUTE_SENSITIVE || res[2].Err != p11.CKR_ATTRIBUTE_TYPE_INVALID {
				t.Errorf("private parts: %+v", res)
			}
		case *ecdsa.PublicKey:
			point, _ := pk.Bytes()
			wantPoint, _ := asn1.Marshal(point)
			params, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
			for _, h := range []p11.ObjectHandle{priv, pub} {
				if got := attr(t, s, h, p11.CKA_EC_POINT); !bytes.Equal(got, wantPoint) {
					t.Errorf("key %d: EC point %x, want the OCTET STRING %x", k.ID, got, wantPoint)
				}
				if got := attr(t, s, h, p11.CKA_EC_PARAMS); !bytes.Equal(got, params) {
					t.Errorf("key %d: EC params %x", k.ID, got)
				}
				if !bytes.Equal(attr(t, s, h, p11.CKA_KEY_TYPE), p11.ULongValue(uint(p11.CKK_EC))) {
					t.Errorf("key %d: key type", k.ID)
				}
			}
			if res, _ := s.GetAttributes(priv, []p11.AttributeType{p11.CKA_VALUE}); res[0].Err != p11.CKR_ATTRIBUTE_SENSITIVE {
				t.Errorf("EC CKA_VALUE: %v", res[0].Err)
			}
		}
	}

	// NSS's searches: by full DER value, by label with and without the
	// trailing NUL, and for classes the token does not have.
	k := tok.Keys[0]
	one(t, s, classAttr(p11.CKO_CERTIFICATE), p11.Attribute{Type: p11.CKA_VALUE, Value: k.Cert.Raw})
	one(t, s, classAttr(p11.CKO_CERTIFICATE), p11.Attribute{Type: p11.CKA_LABEL, Value: []byte(k.Spec.Label)})
	if n := len(find(t, s, p11.Attribute{Type: p11.CKA_LABEL, Value: append([]byte(k.Spec.Label), 0)})); n != 0 {
		t.Errorf("label with NUL matched %d objects", n)
	}
	if n := len(find(t, s, classAttr(0xCE534354))); n != 0 { // CKO_NSS_TRUST
		t.Errorf("trust search found %d", n)
	}
	if n := len(find(t, s, p11.Attribute{Type: 0xCE5343FF, Value: []byte{1}})); n != 0 {
		t.Errorf("unknown attribute matched %d", n)
	}
	// The reference module's hidden reader object.
	rd := one(t, s, classAttr(ckoMozReader))
	if got := attr(t, s, rd, p11.CKA_LABEL); string(got) != "Test Reader 0" {
		t.Errorf("reader object label %q", got)
	}
	if _, err := s.GetAttributes(999999, []p11.AttributeType{p11.CKA_CLASS}); rvOf(err) != p11.CKR_OBJECT_HANDLE_INVALID {
		t.Errorf("bad handle: %v", err)
	}
	res, err := s.GetAttributes(rd, []p11.AttributeType{p11.CKA_CLASS, 0x7777})
	if err != nil || res[0].Err != nil || res[1].Err != p11.CKR_ATTRIBUTE_TYPE_INVALID {
		t.Errorf("mixed template: %v %+v", err, res)
	}
}

// The RSA and EC mechanisms are both offered, with the sizes of the keys the
// token has.
func TestMechanismsFollowKeys(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	r.slotIDs()
	ms, err := r.b.Mechanisms(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(mechanismOrder) {
		t.Errorf("%d mechanisms, want %d", len(ms), len(mechanismOrder))
	}
	info, err := r.b.MechanismInfo(1, p11.CKM_RSA_PKCS)
	if err != nil {
		t.Fatal(err)
	}
	if info.MinKeySize != 1024 || info.MaxKeySize != 2048 || info.Flags != p11.CKF_HW|p11.CKF_SIGN|p11.CKF_DECRYPT {
		t.Errorf("CKM_RSA_PKCS: %+v", info)
	}
	info, _ = r.b.MechanismInfo(1, p11.CKM_ECDSA_SHA256)
	if info.MinKeySize != 256 || info.MaxKeySize != 256 || info.Flags&p11.CKF_SIGN == 0 || info.Flags&p11.CKF_EC_F_P == 0 {
		t.Errorf("CKM_ECDSA_SHA256: %+v", info)
	}
	info, _ = r.b.MechanismInfo(1, p11.CKM_ECDH1_DERIVE)
	if info.Flags&p11.CKF_DERIVE == 0 {
		t.Errorf("CKM_ECDH1_DERIVE: %+v", info)
	}
	if _, err := r.b.MechanismInfo(1, p11.CKM_AES_CBC); rvOf(err) != p11.CKR_MECHANISM_INVALID {
		t.Errorf("AES: %v", err)
	}

	// An RSA-only token lists no EC mechanism.
	spec := testtoken.Alice()
	spec.Keys = spec.Keys[:1]
	r2 := newRig(t, "", buildToken(t, spec))
	r2.slotIDs()
	if _, err := r2.b.MechanismInfo(1, p11.CKM_ECDSA); rvOf(err) != p11.CKR_MECHANISM_INVALID {
		t.Errorf("ECDSA on an RSA token: %v", err)
	}
	info, _ = r2.b.MechanismInfo(1, p11.CKM_RSA_PKCS_PSS)
	if info.MinKeySize != 2048 || info.MaxKeySize != 2048 {
		t.Errorf("PSS sizes %+v", info)
	}
}

// A key without a certificate does not break the token (the reference
// module drops every object then); its size is read from the card when it
// is first used.
func TestKeyWithoutCertificate(t *testing.T) {
	spec := testtoken.Alice()
	spec.Keys = append(spec.Keys, testtoken.KeySpec{Kind: testtoken.RSA1024, Usage: testtoken.Sign, NoCert: true})
	tok := buildToken(t, spec)
	r := newRig(t, "", tok)
	s := r.open(false)
	r.login(s)
	if n := len(find(t, s, classAttr(p11.CKO_CERTIFICATE))); n != 3 {
		t.Errorf("%d certificates", n)
	}
	priv := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(4))
	if res, _ := s.GetAttributes(priv, []p11.AttributeType{p11.CKA_MODULUS}); res[0].Err != p11.CKR_ATTRIBUTE_TYPE_INVALID {
		t.Errorf("modulus of a key without certificate: %+v", res[0])
	}
	k := tok.KeyByID(4)
	sig := signWith(t, s, priv, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("hello"))
	if err := rsa.VerifyPKCS1v15(k.Signer.Public().(*rsa.PublicKey), cryptoSHA256, sum256([]byte("hello")), sig); err != nil {
		t.Errorf("signature with a key without certificate: %v", err)
	}
}

// Explicit EC attributes on the card (as the TPS writes them: the bare
// point) are used when there is no certificate, and re-encoded.
func TestExplicitECAttributes(t *testing.T) {
	spec := testtoken.Alice()
	spec.Keys = []testtoken.KeySpec{{Kind: testtoken.P384, Usage: testtoken.Sign, ECExplicit: true, NoCert: true}}
	tok := buildToken(t, spec)
	r := newRig(t, "", tok)
	s := r.open(false)
	r.login(s)
	priv := one(t, s, classAttr(p11.CKO_PRIVATE_KEY))
	pk := tok.Keys[0].Signer.Public().(*ecdsa.PublicKey)
	point, _ := pk.Bytes()
	want, _ := asn1.Marshal(point)
	if got := attr(t, s, priv, p11.CKA_EC_POINT); !bytes.Equal(got, want) {
		t.Errorf("EC point %x", got)
	}
	sig := signWith(t, s, priv, p11.Mechanism{Type: p11.CKM_ECDSA_SHA384}, []byte("msg"))
	if !ecdsa.Verify(pk, sum384([]byte("msg")), new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])) {
		t.Error("P-384 signature does not verify")
	}
}

// A z0 stored uncompressed and shorter than the first 255-byte READ (which
// the reference host cannot read at all) is found through LIST OBJECTS.
func TestShortUncompressedZ0(t *testing.T) {
	spec := testtoken.Alice()
	spec.Keys = nil
	spec.Data = [][]byte{[]byte("hi")}
	spec.Uncompressed = true
	tok := buildToken(t, spec)
	// Encode pads to 255 bytes; cut the padding off to make it short.
	h, _ := cardedge.ParseCombinedHeader(tok.Z0)
	short := tok.Z0[:h.Size()]
	for i := range tok.Image.Applet.Objects {
		if uint32(tok.Image.Applet.Objects[i].ID) == uint32(cardedge.CombinedObjectID) {
			tok.Image.Applet.Objects[i].Data = short
		}
	}
	if len(short) >= 255 {
		t.Fatalf("z0 of %d bytes is not short", len(short))
	}
	r := newRig(t, "", tok)
	s := r.open(false)
	d := one(t, s, classAttr(p11.CKO_DATA))
	if got := attr(t, s, d, p11.CKA_VALUE); string(got) != "hi" {
		t.Errorf("data value %q", got)
	}
	ti, _ := r.b.TokenInfo(1)
	if ti.Label != "alice" {
		t.Errorf("label %q", ti.Label)
	}
}

// v0 tokens: one applet object per PKCS#11 object, with the certificate in a
// separate C object and little-endian CK_ULONGs.
func TestV0Token(t *testing.T) {
	spec := testtoken.Alice()
	spec.NoZ0 = true
	spec.Keys = spec.Keys[:1]
	tok := buildToken(t, spec)
	k := tok.Keys[0]
	acl := func(id cardedge.ObjectID, data []byte) {
		tok.Image.Applet.Objects = append(tok.Image.Applet.Objects, objectImage(id, data))
	}
	certAttrs, err := cardedge.EncodeV0(cardedge.Object{ID: cardedge.NewObjectID('c', 1), Attributes: []cardedge.Attribute{
		cardedge.UlongAttr(cardedge.CKA_CLASS, cardedge.CKO_CERTIFICATE),
		cardedge.StringAttr(cardedge.CKA_LABEL, "v0 cert"),
		cardedge.BytesAttr(cardedge.CKA_ID, []byte{1}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	acl(cardedge.NewObjectID('c', 1), certAttrs)
	acl(cardedge.NewObjectID('C', 1), k.Cert.Raw)
	keyAttrs, err := cardedge.EncodeV0(cardedge.Object{ID: cardedge.NewObjectID('k', 2), Attributes: []cardedge.Attribute{
		cardedge.UlongAttr(cardedge.CKA_CLASS, cardedge.CKO_PRIVATE_KEY),
		cardedge.UlongAttr(cardedge.CKA_KEY_TYPE, cardedge.CKK_RSA),
		cardedge.BytesAttr(cardedge.CKA_ID, []byte{1}),
		cardedge.BytesAttr(cardedge.CKA_SIGN, []byte{1}),
		cardedge.BytesAttr(cardedge.CKA_PRIVATE, []byte{1}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	acl(cardedge.NewObjectID('k', 2), keyAttrs)
	r := newRig(t, "", tok)
	s := r.open(false)
	cert := one(t, s, classAttr(p11.CKO_CERTIFICATE))
	if !bytes.Equal(attr(t, s, cert, p11.CKA_VALUE), k.Cert.Raw) {
		t.Error("v0 certificate value not taken from the C object")
	}
	r.login(s)
	priv := one(t, s, classAttr(p11.CKO_PRIVATE_KEY))
	if string(attr(t, s, priv, p11.CKA_LABEL)) != "v0 cert" {
		t.Error("v0 key label not taken from its certificate")
	}
	sig := signWith(t, s, priv, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("v0"))
	if err := rsa.VerifyPKCS1v15(k.Signer.Public().(*rsa.PublicKey), cryptoSHA256, sum256([]byte("v0")), sig); err != nil {
		t.Errorf("v0 signature: %v", err)
	}
	ti, _ := r.b.TokenInfo(1)
	if ti.Label != "CoolKey for v0 cert" || ti.SerialNumber != "12345678" {
		t.Errorf("v0 token info %+v", ti)
	}
}

// A corrupt z0 leaves a token without objects, not a broken module.
func TestCorruptZ0(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	for i := range tok.Image.Applet.Objects {
		o := &tok.Image.Applet.Objects[i]
		if uint32(o.ID) == uint32(cardedge.CombinedObjectID) {
			o.Data[40] ^= 0xFF // inside the zlib stream
		}
	}
	r := newRig(t, "", tok)
	s := r.open(false)
	if n := len(find(t, s, classAttr(p11.CKO_CERTIFICATE))); n != 0 {
		t.Errorf("%d certificates from a corrupt z0", n)
	}
	if ti, err := r.b.TokenInfo(1); err != nil || ti.SerialNumber != "12345678" {
		t.Errorf("token info %+v %v", ti, err)
	}
}

func TestCertificateParsesAsX509(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newRig(t, "", tok)
	s := r.open(false)
	for _, h := range find(t, s, classAttr(p11.CKO_CERTIFICATE)) {
		if _, err := x509.ParseCertificate(attr(t, s, h, p11.CKA_VALUE)); err != nil {
			t.Error(err)
		}
	}
}
