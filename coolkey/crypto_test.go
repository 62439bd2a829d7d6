package coolkey

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

const cryptoSHA256 = crypto.SHA256

func sum256(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
func sum384(b []byte) []byte { h := sha512.Sum384(b); return h[:] }

func objectImage(id cardedge.ObjectID, data []byte) vcard.ObjectImage {
	return vcard.ObjectImage{ID: vcard.ObjectID(id), ACL: vcard.ACLImage{Read: 0xFFFF, Write: 0x4000, Delete: 0x4000}, Data: data}
}

// signWith signs data in one part, failing the test on error.
func signWith(t *testing.T, s *session, key p11.ObjectHandle, m p11.Mechanism, data []byte) []byte {
	t.Helper()
	op, err := s.SignInit(m, key)
	if err != nil {
		t.Fatalf("SignInit(%v): %v", m.Type, err)
	}
	sig, err := op.Sign(data)
	if err != nil {
		t.Fatalf("Sign(%v): %v", m.Type, err)
	}
	if n := op.SignatureLength(); n != len(sig) {
		t.Errorf("%v: SignatureLength %d, signature %d bytes", m.Type, n, len(sig))
	}
	return sig
}

// signParts signs data in three parts.
func signParts(t *testing.T, s *session, key p11.ObjectHandle, m p11.Mechanism, data []byte) []byte {
	t.Helper()
	op, err := s.SignInit(m, key)
	if err != nil {
		t.Fatalf("SignInit(%v): %v", m.Type, err)
	}
	a, b := len(data)/3, 2*len(data)/3
	for _, part := range [][]byte{data[:a], data[a:b], data[b:]} {
		if err := op.Update(part); err != nil {
			t.Fatalf("Update(%v): %v", m.Type, err)
		}
	}
	sig, err := op.Final()
	if err != nil {
		t.Fatalf("Final(%v): %v", m.Type, err)
	}
	return sig
}

type aliceRig struct {
	*rig
	s              *session
	rsa2048, rsa1k *testtoken.Key
	ec             *testtoken.Key
	priv           map[byte]p11.ObjectHandle
}

func newAlice(t *testing.T) *aliceRig {
	tok := buildToken(t, testtoken.Alice())
	r := newRig(t, "", tok)
	s := r.open(false)
	r.login(s)
	a := &aliceRig{rig: r, s: s, rsa2048: tok.KeyByID(1), rsa1k: tok.KeyByID(2), ec: tok.KeyByID(3), priv: map[byte]p11.ObjectHandle{}}
	for id := byte(1); id <= 3; id++ {
		a.priv[id] = one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(id))
	}
	return a
}

func TestRSASignatures(t *testing.T) {
	a := newAlice(t)
	msg := []byte("the quick brown fox jumps over the lazy dog, again and again and again")
	hashes := map[p11.MechanismType]crypto.Hash{
		p11.CKM_SHA_1: crypto.SHA1, p11.CKM_SHA224: crypto.SHA224, p11.CKM_SHA256: crypto.SHA256,
		p11.CKM_SHA384: crypto.SHA384, p11.CKM_SHA512: crypto.SHA512,
	}
	mgfs := map[crypto.Hash]uint{crypto.SHA1: p11.CKG_MGF1_SHA1, crypto.SHA224: p11.CKG_MGF1_SHA224,
		crypto.SHA256: p11.CKG_MGF1_SHA256, crypto.SHA384: p11.CKG_MGF1_SHA384, crypto.SHA512: p11.CKG_MGF1_SHA512}
	combined := map[p11.MechanismType]crypto.Hash{
		p11.CKM_SHA1_RSA_PKCS: crypto.SHA1, p11.CKM_SHA224_RSA_PKCS: crypto.SHA224, p11.CKM_SHA256_RSA_PKCS: crypto.SHA256,
		p11.CKM_SHA384_RSA_PKCS: crypto.SHA384, p11.CKM_SHA512_RSA_PKCS: crypto.SHA512,
	}
	combinedPSS := map[p11.MechanismType]p11.MechanismType{
		p11.CKM_SHA1_RSA_PKCS_PSS: p11.CKM_SHA_1, p11.CKM_SHA224_RSA_PKCS_PSS: p11.CKM_SHA224,
		p11.CKM_SHA256_RSA_PKCS_PSS: p11.CKM_SHA256, p11.CKM_SHA384_RSA_PKCS_PSS: p11.CKM_SHA384,
		p11.CKM_SHA512_RSA_PKCS_PSS: p11.CKM_SHA512,
	}
	for _, k := range []*testtoken.Key{a.rsa2048, a.rsa1k} {
		pub := k.Signer.Public().(*rsa.PublicKey)
		h := a.priv[k.ID]
		t.Run(pub.N.String()[:6], func(t *testing.T) {
			// CKM_RSA_PKCS over a DigestInfo, as NSS signs.
			digest := sum256(msg)
			sig := signWith(t, a.s, h, p11.Mechanism{Type: p11.CKM_RSA_PKCS}, digestInfo(crypto.SHA256, digest))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
				t.Errorf("CKM_RSA_PKCS: %v", err)
			}
			// CKM_RSA_X_509: raw.
			em, _ := padPKCS1Sign(digestInfo(crypto.SHA256, digest), len(pub.N.Bytes()))
			sig = signWith(t, a.s, h, p11.Mechanism{Type: p11.CKM_RSA_X_509}, em)
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
				t.Errorf("CKM_RSA_X_509: %v", err)
			}
			for m, hh := range combined {
				sum := hh.New()
				sum.Write(msg)
				d := sum.Sum(nil)
				for i, sig := range [][]byte{signWith(t, a.s, h, p11.Mechanism{Type: m}, msg), signParts(t, a.s, h, p11.Mechanism{Type: m}, msg)} {
					if err := rsa.VerifyPKCS1v15(pub, hh, d, sig); err != nil {
						t.Errorf("%v (part %d): %v", m, i, err)
					}
				}
			}
			for hm, hh := range hashes {
				salt := min(hh.Size(), (pub.N.BitLen()-1+7)/8-hh.Size()-2)
				params := &p11.PSSParams{HashAlg: hm, MGF: mgfs[hh], SaltLength: uint(salt)}
				sum := hh.New()
				sum.Write(msg)
				d := sum.Sum(nil)
				sig := signWith(t, a.s, h, p11.Mechanism{Type: p11.CKM_RSA_PKCS_PSS, Parameter: params}, d)
				if err := rsa.VerifyPSS(pub, hh, d, sig, &rsa.PSSOptions{SaltLength: salt}); err != nil {
					t.Errorf("CKM_RSA_PKCS_PSS %v: %v", hh, err)
				}
			}
			for m, hm := range combinedPSS {
				hh := hashes[hm]
				params := &p11.PSSParams{HashAlg: hm, MGF: mgfs[hh], SaltLength: 0}
				sum := hh.New()
				sum.Write(msg)
				d := sum.Sum(nil)
				sig := signParts(t, a.s, h, p11.Mechanism{Type: m, Parameter: params}, msg)
				if err := rsa.VerifyPSS(pub, hh, d, sig, &rsa.PSSOptions{SaltLength: 0}); err != nil {
					t.Errorf("%v: %v", m, err)
				}
			}
			// The largest salt the key allows.
			emLen := (pub.N.BitLen() - 1 + 7) / 8
			max := emLen - 32 - 2
			params := &p11.PSSParams{HashAlg: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, SaltLength: uint(max)}
			sig = signWith(t, a.s, h, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS_PSS, Parameter: params}, msg)
			if err := rsa.VerifyPSS(pub, crypto.SHA256, sum256(msg), sig, &rsa.PSSOptions{SaltLength: max}); err != nil {
				t.Errorf("maximum salt: %v", err)
			}
		})
	}
}

// Raw mechanisms accept the multi-part calls too (pkcs11-tool --test uses
// them), and give the same signature.
func TestRawMultiPart(t *testing.T) {
	a := newAlice(t)
	di := digestInfo(crypto.SHA1, make([]byte, 20))
	one := signWith(t, a.s, a.priv[1], p11.Mechanism{Type: p11.CKM_RSA_PKCS}, di)
	parts := signParts(t, a.s, a.priv[1], p11.Mechanism{Type: p11.CKM_RSA_PKCS}, di)
	if !bytes.Equal(one, parts) {
		t.Error("multi-part CKM_RSA_PKCS differs from single-part")
	}
}

func TestECDSA(t *testing.T) {
	a := newAlice(t)
	pub := a.ec.Signer.Public().(*ecdsa.PublicKey)
	h := a.priv[3]
	verify := func(what string, digest, sig []byte) {
		t.Helper()
		if len(sig) != 64 {
			t.Fatalf("%s: signature of %d bytes, want r‖s of 64", what, len(sig))
		}
		if !ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Errorf("%s: signature does not verify", what)
		}
	}
	msg := []byte("sign me with the curve")
	for _, tc := range []struct {
		m p11.MechanismType
		h crypto.Hash
	}{
		{p11.CKM_ECDSA_SHA1, crypto.SHA1}, {p11.CKM_ECDSA_SHA224, crypto.SHA224}, {p11.CKM_ECDSA_SHA256, crypto.SHA256},
		{p11.CKM_ECDSA_SHA384, crypto.SHA384}, {p11.CKM_ECDSA_SHA512, crypto.SHA512},
	} {
		d := tc.h.New()
		d.Write(msg)
		digest := d.Sum(nil)
		verify(tc.m.String(), digest, signWith(t, a.s, h, p11.Mechanism{Type: tc.m}, msg))
		verify(tc.m.String()+" multi-part", digest, signParts(t, a.s, h, p11.Mechanism{Type: tc.m}, msg))
		// CKM_ECDSA over the digest gives a signature on the same value.
		verify("CKM_ECDSA "+tc.h.String(), digest, signWith(t, a.s, h, p11.Mechanism{Type: p11.CKM_ECDSA}, digest))
	}
	// A short "hash" is a number like any other.
	short := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	verify("short", short, signWith(t, a.s, h, p11.Mechanism{Type: p11.CKM_ECDSA}, short))
	// An RSA mechanism with an EC key is refused.
	if _, err := a.s.SignInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h); rvOf(err) != p11.CKR_KEY_TYPE_INCONSISTENT {
		t.Errorf("RSA mechanism with EC key: %v", err)
	}
}

func TestRSADecrypt(t *testing.T) {
	a := newAlice(t)
	for _, k := range []*testtoken.Key{a.rsa2048, a.rsa1k} {
		pub := k.Signer.Public().(*rsa.PublicKey)
		h := a.priv[k.ID]
		secret := []byte("a 32-byte content-encryption key")

		ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, secret)
		op, err := a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
		if err != nil {
			t.Fatal(err)
		}
		if n := op.MaxPlaintextLength(len(ct)); n != len(pub.N.Bytes())-11 {
			t.Errorf("max plaintext %d", n)
		}
		pt, err := op.Decrypt(ct)
		if err != nil || !bytes.Equal(pt, secret) {
			t.Errorf("CKM_RSA_PKCS: %q, %v", pt, err)
		}

		for _, tc := range []struct {
			hm    p11.MechanismType
			mgf   uint
			h     crypto.Hash
			label []byte
		}{
			{p11.CKM_SHA_1, p11.CKG_MGF1_SHA1, crypto.SHA1, nil},
			{p11.CKM_SHA256, p11.CKG_MGF1_SHA256, crypto.SHA256, []byte("label")},
			{p11.CKM_SHA384, p11.CKG_MGF1_SHA384, crypto.SHA384, nil},
		} {
			if tc.h == crypto.SHA384 && len(pub.N.Bytes()) < 2*48+2+len(secret) {
				continue
			}
			ct, err := rsa.EncryptOAEP(tc.h.New(), rand.Reader, pub, secret, tc.label)
			if err != nil {
				t.Fatal(err)
			}
			params := &p11.OAEPParams{HashAlg: tc.hm, MGF: tc.mgf, SourceData: tc.label}
			if tc.label != nil {
				params.Source = p11.CKZ_DATA_SPECIFIED
			}
			op, err := a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS_OAEP, Parameter: params}, h)
			if err != nil {
				t.Fatalf("OAEP %v: %v", tc.h, err)
			}
			pt, err := op.Decrypt(ct)
			if err != nil || !bytes.Equal(pt, secret) {
				t.Errorf("OAEP %v: %q, %v", tc.h, pt, err)
			}
			// A wrong label must fail.
			op, _ = a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS_OAEP, Parameter: &p11.OAEPParams{HashAlg: tc.hm, MGF: tc.mgf, Source: p11.CKZ_DATA_SPECIFIED, SourceData: []byte("other")}}, h)
			if _, err := op.Decrypt(ct); rvOf(err) != p11.CKR_ENCRYPTED_DATA_INVALID {
				t.Errorf("OAEP with the wrong label: %v", err)
			}
		}

		// CKM_RSA_X_509 returns the raw block.
		m := new(big.Int).SetBytes([]byte("raw"))
		c := new(big.Int).Exp(m, big.NewInt(int64(pub.E)), pub.N)
		ct = c.FillBytes(make([]byte, len(pub.N.Bytes())))
		op, _ = a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_X_509}, h)
		pt, err = op.Decrypt(ct)
		if err != nil || new(big.Int).SetBytes(pt).Cmp(m) != 0 || len(pt) != len(ct) {
			t.Errorf("CKM_RSA_X_509 decrypt: %x, %v", pt, err)
		}

		// Tampered ciphertexts and wrong lengths.
		op, _ = a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
		if _, err := op.Decrypt(ct[1:]); rvOf(err) != p11.CKR_ENCRYPTED_DATA_LEN_RANGE {
			t.Errorf("short ciphertext: %v", err)
		}
		op, _ = a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
		if _, err := op.Decrypt(ct); rvOf(err) != p11.CKR_ENCRYPTED_DATA_INVALID {
			t.Errorf("block without padding: %v", err)
		}
		op, _ = a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
		if _, err := op.Decrypt(bytes.Repeat([]byte{0xFF}, len(ct))); rvOf(err) != p11.CKR_ENCRYPTED_DATA_INVALID {
			t.Errorf("ciphertext above the modulus: %v", err)
		}
	}
	// The EC key cannot decrypt.
	if _, err := a.s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, a.priv[3]); rvOf(err) != p11.CKR_KEY_TYPE_INCONSISTENT {
		t.Errorf("decrypt with EC key: %v", err)
	}
}

func TestMechanismParameterChecks(t *testing.T) {
	a := newAlice(t)
	h := a.priv[1]
	pss := func(hash p11.MechanismType, mgf uint, salt uint) p11.Mechanism {
		return p11.Mechanism{Type: p11.CKM_RSA_PKCS_PSS, Parameter: &p11.PSSParams{HashAlg: hash, MGF: mgf, SaltLength: salt}}
	}
	for _, tc := range []struct {
		name string
		m    p11.Mechanism
		rv   p11.Error
	}{
		{"PSS without parameters", p11.Mechanism{Type: p11.CKM_RSA_PKCS_PSS}, p11.CKR_MECHANISM_PARAM_INVALID},
		{"PSS MGF of another hash", pss(p11.CKM_SHA256, p11.CKG_MGF1_SHA1, 32), p11.CKR_MECHANISM_PARAM_INVALID},
		{"PSS unknown hash", pss(p11.CKM_MD5, p11.CKG_MGF1_SHA1, 16), p11.CKR_MECHANISM_PARAM_INVALID},
		{"PSS salt too long", pss(p11.CKM_SHA256, p11.CKG_MGF1_SHA256, 256-32-1), p11.CKR_MECHANISM_PARAM_INVALID},
		{"SHA384-PSS with SHA256 parameters", p11.Mechanism{Type: p11.CKM_SHA384_RSA_PKCS_PSS,
			Parameter: &p11.PSSParams{HashAlg: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, SaltLength: 32}}, p11.CKR_MECHANISM_PARAM_INVALID},
		{"PKCS with a parameter", p11.Mechanism{Type: p11.CKM_RSA_PKCS, Parameter: p11.RawParameter{1}}, p11.CKR_MECHANISM_PARAM_INVALID},
		{"unknown mechanism", p11.Mechanism{Type: p11.CKM_AES_ECB}, p11.CKR_MECHANISM_INVALID},
		{"OAEP for signing", p11.Mechanism{Type: p11.CKM_RSA_PKCS_OAEP}, p11.CKR_MECHANISM_INVALID},
	} {
		if _, err := a.s.SignInit(tc.m, h); rvOf(err) != tc.rv {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.rv)
		}
	}
	for _, tc := range []struct {
		name string
		p    *p11.OAEPParams
	}{
		{"no parameters", nil},
		{"unknown MGF", &p11.OAEPParams{HashAlg: p11.CKM_SHA256, MGF: 99}},
		{"bad source", &p11.OAEPParams{HashAlg: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, Source: 7}},
	} {
		m := p11.Mechanism{Type: p11.CKM_RSA_PKCS_OAEP}
		if tc.p != nil {
			m.Parameter = tc.p
		}
		if _, err := a.s.DecryptInit(m, h); rvOf(err) != p11.CKR_MECHANISM_PARAM_INVALID {
			t.Errorf("OAEP %s: %v", tc.name, err)
		}
	}
	// PKCS#1 v1.5 data longer than k − 11, raw data longer than k, a PSS
	// "hash" of the wrong size.
	op, _ := a.s.SignInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
	if _, err := op.Sign(make([]byte, 256-10)); rvOf(err) != p11.CKR_DATA_LEN_RANGE {
		t.Errorf("long PKCS#1 data: %v", err)
	}
	op, _ = a.s.SignInit(p11.Mechanism{Type: p11.CKM_RSA_X_509}, h)
	if _, err := op.Sign(make([]byte, 257)); rvOf(err) != p11.CKR_DATA_LEN_RANGE {
		t.Errorf("long raw data: %v", err)
	}
	op, _ = a.s.SignInit(pss(p11.CKM_SHA256, p11.CKG_MGF1_SHA256, 32), h)
	if _, err := op.Sign(make([]byte, 20)); rvOf(err) != p11.CKR_DATA_LEN_RANGE {
		t.Errorf("PSS with a short hash: %v", err)
	}
	// Key usage: the P-256 key may not decrypt, a public key may not sign,
	// a certificate is not a key.
	pubH := one(t, a.s, classAttr(p11.CKO_PUBLIC_KEY), idAttr(1))
	if _, err := a.s.SignInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, pubH); rvOf(err) != p11.CKR_KEY_TYPE_INCONSISTENT {
		t.Errorf("sign with a public key: %v", err)
	}
	certH := one(t, a.s, classAttr(p11.CKO_CERTIFICATE), idAttr(1))
	if _, err := a.s.SignInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, certH); rvOf(err) != p11.CKR_KEY_HANDLE_INVALID {
		t.Errorf("sign with a certificate: %v", err)
	}
}

// A key whose z0 record lacks CKA_SIGN cannot sign (the reference module
// ignores usage).
func TestKeyUsageEnforced(t *testing.T) {
	spec := testtoken.Alice()
	spec.Keys = []testtoken.KeySpec{{Kind: testtoken.RSA1024, Usage: testtoken.Decrypt, Label: "encryption"}}
	r := newRig(t, "", buildToken(t, spec))
	s := r.open(false)
	r.login(s)
	h := one(t, s, classAttr(p11.CKO_PRIVATE_KEY))
	if _, err := s.SignInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h); rvOf(err) != p11.CKR_KEY_FUNCTION_NOT_PERMITTED {
		t.Errorf("sign with a decryption key: %v", err)
	}
}

func TestECDH(t *testing.T) {
	a := newAlice(t)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := a.ec.Signer.(*ecdsa.PrivateKey).ECDH()
	want, _ := peer.ECDH(ours.PublicKey())

	for _, encoding := range []string{"raw", "octet string"} {
		pd := peer.PublicKey().Bytes()
		if encoding == "octet string" {
			pd, _ = asn1.Marshal(pd)
		}
		m := p11.Mechanism{Type: p11.CKM_ECDH1_DERIVE, Parameter: &p11.ECDH1DeriveParams{KDF: p11.CKD_NULL, PublicData: pd}}
		h, err := a.s.DeriveKey(m, a.priv[3], []p11.Attribute{
			classAttr(p11.CKO_SECRET_KEY),
			{Type: p11.CKA_KEY_TYPE, Value: p11.ULongValue(uint(p11.CKK_GENERIC_SECRET))},
		})
		if err != nil {
			t.Fatalf("%s: %v", encoding, err)
		}
		if got := attr(t, a.s, h, p11.CKA_VALUE); !bytes.Equal(got, want) {
			t.Errorf("%s: shared secret differs", encoding)
		}
	}
	// CKA_VALUE_LEN keeps the low-order bytes.
	m := p11.Mechanism{Type: p11.CKM_ECDH1_DERIVE, Parameter: &p11.ECDH1DeriveParams{KDF: p11.CKD_NULL, PublicData: peer.PublicKey().Bytes()}}
	h, err := a.s.DeriveKey(m, a.priv[3], []p11.Attribute{{Type: p11.CKA_VALUE_LEN, Value: p11.ULongValue(16)}, {Type: p11.CKA_SENSITIVE, Value: []byte{1}}})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := a.s.GetAttributes(h, []p11.AttributeType{p11.CKA_VALUE, p11.CKA_VALUE_LEN}); res[0].Err != p11.CKR_ATTRIBUTE_SENSITIVE || !bytes.Equal(res[1].Value, p11.ULongValue(16)) {
		t.Errorf("sensitive derived key: %+v", res)
	}
	// Session objects die with their session.
	n := len(find(t, a.s, classAttr(p11.CKO_SECRET_KEY)))
	if n != 3 {
		t.Errorf("%d secret keys", n)
	}
	a.s.Close()
	s2 := a.openOn(1, false)
	if n := len(find(t, s2, classAttr(p11.CKO_SECRET_KEY))); n != 0 {
		t.Errorf("%d secret keys after the session closed", n)
	}

	for _, tc := range []struct {
		name string
		p    *p11.ECDH1DeriveParams
		tmpl []p11.Attribute
		rv   p11.Error
	}{
		{"KDF", &p11.ECDH1DeriveParams{KDF: 2, PublicData: peer.PublicKey().Bytes()}, nil, p11.CKR_MECHANISM_PARAM_INVALID},
		{"point off the curve", &p11.ECDH1DeriveParams{KDF: p11.CKD_NULL, PublicData: append([]byte{4}, make([]byte, 64)...)}, nil, p11.CKR_MECHANISM_PARAM_INVALID},
		{"P-384 point", &p11.ECDH1DeriveParams{KDF: p11.CKD_NULL, PublicData: elliptic.Marshal(elliptic.P384(), elliptic.P384().Params().Gx, elliptic.P384().Params().Gy)}, nil, p11.CKR_MECHANISM_PARAM_INVALID},
		{"token object", &p11.ECDH1DeriveParams{KDF: p11.CKD_NULL, PublicData: peer.PublicKey().Bytes()}, []p11.Attribute{{Type: p11.CKA_TOKEN, Value: []byte{1}}}, p11.CKR_TOKEN_WRITE_PROTECTED},
	} {
		_, err := a.s.DeriveKey(p11.Mechanism{Type: p11.CKM_ECDH1_DERIVE, Parameter: tc.p}, a.priv[3], tc.tmpl)
		if rvOf(err) != tc.rv {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.rv)
		}
	}
}

// RSA-1024 takes SELECT and one COMPUTE CRYPT; RSA-2048 goes through the I/O
// buffer in SELECT + 5 (the reference module needs 8).
func TestSignAPDUs(t *testing.T) {
	a := newAlice(t)
	for _, tc := range []struct {
		id   byte
		want uint64
	}{{1, 6}, {2, 2}, {3, 2}} {
		m := p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}
		if tc.id == 3 {
			m.Type = p11.CKM_ECDSA_SHA256
		}
		op, err := a.s.SignInit(m, a.priv[tc.id])
		if err != nil {
			t.Fatal(err)
		}
		if n := apdus(func() {
			if _, err := op.Sign([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}); n != tc.want {
			t.Errorf("key %d: %d APDUs, want %d", tc.id, n, tc.want)
		}
	}
}
