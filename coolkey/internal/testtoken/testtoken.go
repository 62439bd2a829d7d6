// Package testtoken builds enrolled virtual CoolKey cards for tests: key
// pairs in the applet's key slots, certificates from a throw-away CA, and a
// z0 object laid out the way the Dogtag TPS writes it (certificate n in c<n>,
// its private key in k<2n> and public key in k<2n+1>, CKA_ID n).
//
// Key generation is slow, so keys are made once per test binary and reused
// by every token that asks for the same kind in the same position.
package testtoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// KeyKind is the algorithm and size of a test key.
type KeyKind string

const (
	RSA1024 KeyKind = "rsa1024"
	RSA2048 KeyKind = "rsa2048"
	P256    KeyKind = "p256"
	P384    KeyKind = "p384"
	P521    KeyKind = "p521"
)

// Usage says what a key pair may do; it decides the fixed boolean
// attributes of the z0 records.
type Usage uint8

const (
	Sign Usage = 1 << iota
	Decrypt
	Derive
)

// KeySpec is one key pair on the token.
type KeySpec struct {
	Kind  KeyKind
	Usage Usage
	// Label is the certificate's CKA_LABEL ("" for none).
	Label string
	// NoCert leaves the certificate out of z0 (the key stays).
	NoCert bool
	// NoKeyType omits the explicit CKA_KEY_TYPE record on the private
	// key, as the reference host tolerates for RSA.
	NoKeyType bool
	// ECExplicit writes CKA_EC_PARAMS and CKA_EC_POINT (raw, as the TPS
	// does) into the EC key records.
	ECExplicit bool
}

// Spec describes a token.
type Spec struct {
	// Name is the token name in z0 ("" for none).
	Name string
	CUID cardedge.CUID
	// PIN is the user PIN (PIN 0); Tries its try limit (default 3).
	PIN   string
	Tries int
	// ObjectVersion is z0's object version.
	ObjectVersion uint16
	Keys          []KeySpec
	// Data adds CKO_DATA records (d0, d1, ...) with these values.
	Data [][]byte
	// Uncompressed stores z0's data block without zlib.
	Uncompressed bool
	// NoZ0 leaves the combined object out (an applet with keys but no
	// PKCS#11 objects).
	NoZ0 bool
	// LifeCycle is the applet's life-cycle state (default 0F).
	LifeCycle byte
}

// Key is a key pair placed on the token.
type Key struct {
	Spec    KeySpec
	ID      byte // CKA_ID and certificate number
	PrivNum int  // applet key numbers
	PubNum  int
	Signer  crypto.Signer
	Cert    *x509.Certificate // nil with NoCert
}

// Token is a built token.
type Token struct {
	Spec  Spec
	Image *vcard.Image
	Keys  []*Key
	CA    *x509.Certificate
	// Z0 is the combined object as stored.
	Z0 []byte
}

// AliceCUID is the CUID the judges' measurements use.
var AliceCUID = cardedge.CUID{0x40, 0x90, 0x7A, 0x01, 0x00, 0x42, 0x12, 0x34, 0x56, 0x78}

// Alice is a token with an RSA-2048 key that signs and decrypts, an RSA-1024
// key, and a P-256 key that signs and derives: every mechanism the module
// offers can be exercised with it.
func Alice() Spec {
	return Spec{
		Name: "alice", CUID: AliceCUID, PIN: "1234", Tries: 3, ObjectVersion: 17,
		Keys: []KeySpec{
			{Kind: RSA2048, Usage: Sign | Decrypt, Label: "signing key for alice"},
			{Kind: RSA1024, Usage: Decrypt | Sign, Label: "encryption key for alice"},
			{Kind: P256, Usage: Sign | Derive, Label: "ecc key for alice"},
		},
	}
}

// Build makes the card image for spec.
func Build(spec Spec) (*Token, error) {
	if spec.Tries == 0 {
		spec.Tries = 3
	}
	if spec.LifeCycle == 0 {
		spec.LifeCycle = cardedge.LifeCyclePersonalized
	}
	ca, caKey, err := testCA()
	if err != nil {
		return nil, err
	}
	tok := &Token{Spec: spec, CA: ca}
	img := vcard.BlankImage(cplcFor(spec.CUID))
	vcard.InstallApplet(img, 30000)
	img.Applet.LifeCycle = vcard.HexByte(spec.LifeCycle)
	if spec.PIN != "" {
		p, err := pinImage(spec.PIN, spec.Tries)
		if err != nil {
			return nil, err
		}
		img.Applet.PINs = append(img.Applet.PINs, p)
	}

	var records []cardedge.Record
	for i, ks := range spec.Keys {
		id := byte(i + 1)
		k := &Key{Spec: ks, ID: id, PrivNum: 2 * int(id), PubNum: 2*int(id) + 1}
		if k.Signer, err = testKey(ks.Kind, i); err != nil {
			return nil, err
		}
		ki, err := keyImages(k)
		if err != nil {
			return nil, err
		}
		img.Applet.Keys = append(img.Applet.Keys, ki...)
		if !ks.NoCert {
			if k.Cert, err = issue(ca, caKey, k, spec.Name); err != nil {
				return nil, err
			}
		}
		recs, err := keyRecords(k)
		if err != nil {
			return nil, err
		}
		records = append(records, recs...)
		tok.Keys = append(tok.Keys, k)
	}
	for i, d := range spec.Data {
		f, _ := cardedge.NewFixedAttributes(cardedge.CKO_DATA, 0, cardedge.CKA_TOKEN)
		records = append(records, cardedge.Record{
			ID:    cardedge.NewObjectID(cardedge.LetterData, i),
			Fixed: f,
			Attributes: []cardedge.Attribute{
				cardedge.StringAttr(cardedge.CKA_LABEL, fmt.Sprintf("data %d", i)),
				cardedge.StringAttr(cardedge.CKA_APPLICATION, "testtoken"),
				cardedge.BytesAttr(cardedge.CKA_VALUE, d),
			},
		})
	}
	if !spec.NoZ0 {
		z := &cardedge.Combined{
			ObjectVersion: spec.ObjectVersion,
			CUID:          spec.CUID,
			Uncompressed:  spec.Uncompressed,
			TokenName:     spec.Name,
			Records:       cardedge.OrderRecords(records),
		}
		if tok.Z0, err = z.Encode(); err != nil {
			return nil, err
		}
		img.Applet.Objects = append(img.Applet.Objects, vcard.ObjectImage{
			ID:   vcard.ObjectID(cardedge.CombinedObjectID),
			ACL:  vcard.ACLImage{Read: 0xFFFF, Write: 0x4000, Delete: 0x4000},
			Data: tok.Z0,
		})
	}
	if err := img.Validate(); err != nil {
		return nil, err
	}
	tok.Image = img
	return tok, nil
}

// NewCard builds a card from the token's image.
func (t *Token) NewCard() (*vcard.Card, error) { return vcard.New(t.Image, vcard.Options{}) }

// KeyByID returns the key with CKA_ID id.
func (t *Token) KeyByID(id byte) *Key {
	for _, k := range t.Keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// cplcFor returns CPLC data whose CUID is cuid.
func cplcFor(cuid cardedge.CUID) []byte {
	c := make([]byte, 42)
	copy(c[0:4], cuid[0:4])    // fabricator, IC type
	copy(c[12:16], cuid[6:10]) // IC serial
	copy(c[16:18], cuid[4:6])  // IC batch
	return c
}

func pinImage(pin string, tries int) (vcard.PINImage, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return vcard.PINImage{}, err
	}
	const iterations = 1000
	sum, err := pbkdf2.Key(sha256.New, pin, salt, iterations, sha256.Size)
	if err != nil {
		return vcard.PINImage{}, err
	}
	return vcard.PINImage{
		Number: 0, MaxTries: tries, TriesLeft: tries,
		KDF: "pbkdf2-sha256", Iterations: iterations, Salt: salt, Hash: sum,
	}, nil
}

// keyImages returns the private and public key slots, with the ACLs the TPS
// sets: the private key is used by PIN 0 only and never read, the public
// key is public.
func keyImages(k *Key) ([]vcard.KeyImage, error) {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		return nil, err
	}
	privType, pubType, bits := "rsa-crt-private", "rsa-public", 0
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		bits = pub.N.BitLen()
	case *ecdsa.PublicKey:
		privType, pubType, bits = "ec-fp-private", "ec-fp-public", pub.Curve.Params().BitSize
	}
	priv, pub := k.PrivNum, k.PubNum
	return []vcard.KeyImage{
		{Number: priv, Type: privType, Bits: bits, Mate: &pub, PKCS8: pkcs8,
			ACL: vcard.KeyACLImage{Read: 0x0000, Write: 0x4000, Use: 0x0001}},
		{Number: pub, Type: pubType, Bits: bits, Mate: &priv, SPKI: spki,
			ACL: vcard.KeyACLImage{Read: 0xFFFF, Write: 0x4000, Use: 0xFFFF}},
	}, nil
}

// keyRecords returns the z0 records for k: certificate, public key, private
// key.
func keyRecords(k *Key) ([]cardedge.Record, error) {
	var out []cardedge.Record
	if k.Cert != nil {
		f, err := cardedge.NewFixedAttributes(cardedge.CKO_CERTIFICATE, k.ID, cardedge.CKA_TOKEN)
		if err != nil {
			return nil, err
		}
		attrs := []cardedge.Attribute{}
		if k.Spec.Label != "" {
			attrs = append(attrs, cardedge.StringAttr(cardedge.CKA_LABEL, k.Spec.Label))
		}
		attrs = append(attrs, cardedge.BytesAttr(cardedge.CKA_VALUE, k.Cert.Raw))
		out = append(out, cardedge.Record{ID: cardedge.NewObjectID(cardedge.LetterCertAttrs, int(k.ID)), Fixed: f, Attributes: attrs})
	}

	pubBools := []cardedge.AttributeType{cardedge.CKA_TOKEN}
	privBools := []cardedge.AttributeType{cardedge.CKA_TOKEN, cardedge.CKA_PRIVATE, cardedge.CKA_SENSITIVE}
	if k.Spec.Usage&Sign != 0 {
		pubBools = append(pubBools, cardedge.CKA_VERIFY)
		privBools = append(privBools, cardedge.CKA_SIGN)
	}
	if k.Spec.Usage&Decrypt != 0 {
		pubBools = append(pubBools, cardedge.CKA_ENCRYPT, cardedge.CKA_WRAP)
		privBools = append(privBools, cardedge.CKA_DECRYPT, cardedge.CKA_UNWRAP)
	}
	if k.Spec.Usage&Derive != 0 {
		pubBools = append(pubBools, cardedge.CKA_DERIVE)
		privBools = append(privBools, cardedge.CKA_DERIVE)
	}
	pf, err := cardedge.NewFixedAttributes(cardedge.CKO_PUBLIC_KEY, k.ID, pubBools...)
	if err != nil {
		return nil, err
	}
	sf, err := cardedge.NewFixedAttributes(cardedge.CKO_PRIVATE_KEY, k.ID, privBools...)
	if err != nil {
		return nil, err
	}
	var keyAttrs []cardedge.Attribute
	ecKey, isEC := k.Signer.Public().(*ecdsa.PublicKey)
	switch {
	case isEC:
		keyAttrs = append(keyAttrs, cardedge.UlongAttr(cardedge.CKA_KEY_TYPE, cardedge.CKK_EC))
		if k.Spec.ECExplicit {
			params, point, err := ecParams(ecKey)
			if err != nil {
				return nil, err
			}
			keyAttrs = append(keyAttrs, cardedge.BytesAttr(cardedge.CKA_EC_PARAMS, params), cardedge.BytesAttr(cardedge.CKA_EC_POINT, point))
		}
	case !k.Spec.NoKeyType:
		keyAttrs = append(keyAttrs, cardedge.UlongAttr(cardedge.CKA_KEY_TYPE, cardedge.CKK_RSA))
	}
	out = append(out,
		cardedge.Record{ID: cardedge.NewObjectID(cardedge.LetterKey, k.PubNum), Fixed: pf, Attributes: cloneAttrs(keyAttrs)},
		cardedge.Record{ID: cardedge.NewObjectID(cardedge.LetterKey, k.PrivNum), Fixed: sf, Attributes: cloneAttrs(keyAttrs)},
	)
	return out, nil
}

func cloneAttrs(a []cardedge.Attribute) []cardedge.Attribute {
	return append([]cardedge.Attribute(nil), a...)
}

// ecParams returns the named-curve OID TLV and the raw uncompressed point.
func ecParams(pub *ecdsa.PublicKey) (params, point []byte, err error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	var info struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue
		}
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, nil, err
	}
	return info.Algorithm.Parameters.FullBytes, info.PublicKey.Bytes, nil
}

var (
	keyMu    sync.Mutex
	keyCache = map[string]crypto.Signer{}
)

// testKey returns the key of kind at position i, generating it once.
func testKey(kind KeyKind, i int) (crypto.Signer, error) {
	keyMu.Lock()
	defer keyMu.Unlock()
	name := fmt.Sprintf("%s/%d", kind, i)
	if k, ok := keyCache[name]; ok {
		return k, nil
	}
	var k crypto.Signer
	var err error
	switch kind {
	case RSA1024:
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case RSA2048:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case P256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case P521:
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		return nil, fmt.Errorf("testtoken: unknown key kind %q", kind)
	}
	if err != nil {
		return nil, err
	}
	keyCache[name] = k
	return k, nil
}

var (
	caOnce sync.Once
	caCert *x509.Certificate
	caKey  crypto.Signer
	caErr  error
)

func testCA() (*x509.Certificate, crypto.Signer, error) {
	caOnce.Do(func() {
		var k *ecdsa.PrivateKey
		k, caErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if caErr != nil {
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{Organization: []string{"coolkey-go test"}, CommonName: "Test CA"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		var der []byte
		der, caErr = x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if caErr != nil {
			return
		}
		caCert, caErr = x509.ParseCertificate(der)
		caKey = k
	})
	return caCert, caKey, caErr
}

var serial struct {
	sync.Mutex
	n int64
}

func issue(ca *x509.Certificate, caKey crypto.Signer, k *Key, user string) (*x509.Certificate, error) {
	serial.Lock()
	serial.n++
	sn := big.NewInt(1000 + serial.n)
	serial.Unlock()
	ku := x509.KeyUsage(0)
	if k.Spec.Usage&Sign != 0 {
		ku |= x509.KeyUsageDigitalSignature
	}
	if k.Spec.Usage&Decrypt != 0 {
		ku |= x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
	}
	if k.Spec.Usage&Derive != 0 {
		ku |= x509.KeyUsageKeyAgreement
	}
	cn := user
	if cn == "" {
		cn = "test user"
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{
			Organization: []string{"Token Key User"},
			CommonName:   fmt.Sprintf("%s %d", cn, k.ID),
		},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:    ku,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Signer.Public(), caKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
