// Package provision builds virtual card images without a TPS: a blank card,
// a formatted one (applet installed, nothing personal), or an enrolled one
// laid out exactly as a Dogtag TPS leaves a token — user PIN 0, one key
// pair per certificate in slots 2n/2n+1 with the TPS's key ACLs,
// certificates from a test CA, everything in the combined object z0 with
// the TPS's object ACLs, life cycle 0F.
package provision

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// State is how far a card is provisioned.
type State int

const (
	// Blank: no CoolKey applet (the TPS must install one).
	Blank State = iota
	// Formatted: the applet is installed and selectable (life cycle 07);
	// no PIN, keys or objects.
	Formatted
	// Enrolled: user PIN, keys, certificates and z0; life cycle 0F.
	Enrolled
)

// ParseState reads "blank", "formatted" or "enrolled".
func ParseState(s string) (State, error) {
	switch s {
	case "blank":
		return Blank, nil
	case "formatted":
		return Formatted, nil
	case "enrolled":
		return Enrolled, nil
	}
	return 0, fmt.Errorf("provision: state %q is not blank, formatted or enrolled", s)
}

func (s State) String() string {
	return [...]string{"blank", "formatted", "enrolled"}[s]
}

// KeySpec is the algorithm of one enrolled key pair.
type KeySpec string

// Key specs the applet supports. (It also does P-384 and P-521, which the
// CLI does not offer because no host module handles them.)
const (
	RSA1024 KeySpec = "rsa1024"
	RSA2048 KeySpec = "rsa2048"
	EC256   KeySpec = "ec256"
	EC384   KeySpec = "ec384"
	EC521   KeySpec = "ec521"
)

// ParseKeySpecs reads a comma-separated list such as "rsa2048,rsa2048".
func ParseKeySpecs(s string) ([]KeySpec, error) {
	var out []KeySpec
	for _, f := range strings.Split(s, ",") {
		k := KeySpec(strings.TrimSpace(f))
		if _, err := k.generate(nil); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func (k KeySpec) generate(r io.Reader) (crypto.Signer, error) {
	switch k {
	case RSA1024, RSA2048:
		if r == nil {
			return nil, nil
		}
		bits := 1024
		if k == RSA2048 {
			bits = 2048
		}
		return rsa.GenerateKey(r, bits)
	case EC256, EC384, EC521:
		if r == nil {
			return nil, nil
		}
		curve := map[KeySpec]elliptic.Curve{EC256: elliptic.P256(), EC384: elliptic.P384(), EC521: elliptic.P521()}[k]
		return ecdsa.GenerateKey(curve, r)
	}
	return nil, fmt.Errorf("provision: key type %q is not rsa1024, rsa2048, ec256, ec384 or ec521", string(k))
}

// Options describe the card to build.
type Options struct {
	State State
	// CUID is the card's unique ID; zero picks a random one with the
	// Axalto fabricator code 4090.
	CUID cardedge.CUID
	// HeapSize is the applet's object heap; 0 is the TPS default (5000),
	// raised when z0 would not fit.
	HeapSize int
	// IssuerInfo is the phone-home URL the TPS stores; empty leaves it
	// blank.
	IssuerInfo string

	// Enrolled cards only:
	User string // token name and certificate UID
	// PIN is the user PIN (4–16 bytes); NoPIN creates none, making the
	// keys usable without login.
	PIN      []byte
	NoPIN    bool
	PINTries int // 0 means 127, the TPS default
	Keys     []KeySpec
	// CA issues the certificates.
	CA *testca.CA

	// Rand is the source of keys and random choices; nil means
	// crypto/rand.
	Rand io.Reader
}

// NewImage builds a card image.
func NewImage(o Options) (*vcard.Image, error) {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	cuid := o.CUID
	if cuid.IsZero() {
		var err error
		if cuid, err = RandomCUID(o.Rand); err != nil {
			return nil, err
		}
	}
	cplc := cardedge.CPLCForCUID(cuid)
	msn := make([]byte, 4)
	if _, err := io.ReadFull(o.Rand, msn); err != nil {
		return nil, err
	}
	cplc.ICPersoEquipmentID = binary.BigEndian.Uint32(msn)
	img := vcard.BlankImage(cplc.Encode()[3:])
	if o.State == Blank {
		return img, nil
	}
	vcard.InstallApplet(img, o.HeapSize)
	img.Applet.IssuerInfo = o.IssuerInfo
	if len(o.IssuerInfo) > 224 {
		return nil, errors.New("provision: issuer info longer than 224 bytes")
	}
	if o.State == Formatted {
		return img, nil
	}
	if err := enroll(img, cuid, o); err != nil {
		return nil, err
	}
	if err := img.Validate(); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	return img, nil
}

// RandomCUID returns a CUID with fabricator 4090 (Axalto, which the
// reference module names), IC type 7A01, and a random batch and serial.
func RandomCUID(r io.Reader) (cardedge.CUID, error) {
	id := cardedge.CUID{0x40, 0x90, 0x7A, 0x01}
	if _, err := io.ReadFull(r, id[4:]); err != nil {
		return id, err
	}
	return id, nil
}

// role of the n-th key pair, as the TPS's userKey profile assigns them.
type role struct {
	label string
	usage testca.Usage
}

func keyRole(i int, user string) role {
	switch i {
	case 0:
		return role{"signing key for " + user, testca.Signing}
	case 1:
		return role{"encryption key for " + user, testca.Encryption}
	}
	return role{fmt.Sprintf("key %d for %s", i+1, user), testca.Signing}
}

// maxKeyPairs: certificate n uses key slots 2n and 2n+1, and the reference
// module accepts key and certificate indexes 0–9 only.
const maxKeyPairs = 4

func enroll(img *vcard.Image, cuid cardedge.CUID, o Options) error {
	if o.User == "" {
		return errors.New("provision: an enrolled card needs a user")
	}
	if o.CA == nil {
		return errors.New("provision: an enrolled card needs a CA")
	}
	if len(o.Keys) == 0 || len(o.Keys) > maxKeyPairs {
		return fmt.Errorf("provision: %d key pairs (1 to %d)", len(o.Keys), maxKeyPairs)
	}
	useACL := vcard.ACLUserPIN
	if o.NoPIN {
		useACL = vcard.ACLAnyone
	} else {
		tries := o.PINTries
		if tries == 0 {
			tries = 127
		}
		p, err := vcard.NewPINImage(0, o.PIN, tries)
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		img.Applet.PINs = append(img.Applet.PINs, p)
	}
	var records []cardedge.Record
	for i, spec := range o.Keys {
		n := i + 1
		priv, err := spec.generate(o.Rand)
		if err != nil {
			return err
		}
		r := keyRole(i, o.User)
		cert, err := o.CA.IssueUser(testca.User{UID: o.User}, r.usage, priv.Public())
		if err != nil {
			return err
		}
		slots, err := vcard.NewKeyPairImages(2*n, 2*n+1, priv, useACL)
		if err != nil {
			return err
		}
		img.Applet.Keys = append(img.Applet.Keys, slots[:]...)
		recs, err := tpsRecords(n, r, priv.Public(), cert.Raw)
		if err != nil {
			return err
		}
		records = append(records, recs...)
	}
	version, err := rand.Int(o.Rand, big.NewInt(1000))
	if err != nil {
		return err
	}
	z0, err := (&cardedge.Combined{
		ObjectVersion: uint16(version.Int64()),
		CUID:          cuid,
		TokenName:     o.User,
		Records:       records,
	}).Encode()
	if err != nil {
		return err
	}
	// The TPS refuses a z0 larger than the applet memory; we grow the heap
	// instead, as an administrator would configure the applet.
	if need := len(z0) + 16 + 2; need > img.Applet.HeapSize {
		img.Applet.HeapSize = need
	}
	img.Applet.Objects = append(img.Applet.Objects, vcard.ObjectImage{
		ID:   vcard.ObjectID(cardedge.CombinedObjectID),
		ACL:  vcard.TPSObjectACL,
		Data: z0,
	})
	img.Applet.LifeCycle = vcard.HexByte(vcard.LifeCyclePersonalized)
	return nil
}

// Records returns the z0 records a TPS writes for the n-th key pair
// (n from 1) of user's token, whose public key is pub and certificate
// certDER: the userKey profile's label and usage ("signing key for <user>"
// for n=1, "encryption key for <user>" for n=2), with the layout of
// tpsRecords. A host-side enrollment uses it to write z0 after generating
// the keys on the card.
func Records(n int, user string, pub crypto.PublicKey, certDER []byte) ([]cardedge.Record, error) {
	if n < 1 || n > maxKeyPairs {
		return nil, fmt.Errorf("provision: key pair %d (1 to %d)", n, maxKeyPairs)
	}
	return tpsRecords(n, keyRole(n-1, user), pub, certDER)
}

// Usage is the certificate usage the userKey profile gives the n-th key
// pair (n from 1).
func Usage(n int) testca.Usage { return keyRole(n-1, "").usage }

// tpsRecords are the z0 records the TPS writes for certificate n: the
// certificate c<n> (label and DER), the public key k<2n+1> and the private
// key k<2n>, in that order, with the fixed attributes of the real token in
// cardedge.md §3.5.
func tpsRecords(n int, r role, pub crypto.PublicKey, certDER []byte) ([]cardedge.Record, error) {
	id := byte(n)
	certFixed, err := cardedge.NewFixedAttributes(cardedge.CKO_CERTIFICATE, id, cardedge.CKA_TOKEN)
	if err != nil {
		return nil, err
	}
	ecPub, isEC := pub.(*ecdsa.PublicKey)
	keyType := cardedge.CKK_RSA
	if isEC {
		keyType = cardedge.CKK_EC
	}
	var pubBools, prvBools []cardedge.AttributeType
	switch {
	case r.usage == testca.Signing:
		pubBools = []cardedge.AttributeType{cardedge.CKA_VERIFY, cardedge.CKA_VERIFY_RECOVER}
		prvBools = []cardedge.AttributeType{cardedge.CKA_SIGN, cardedge.CKA_SIGN_RECOVER}
	case isEC:
		pubBools = []cardedge.AttributeType{cardedge.CKA_DERIVE}
		prvBools = []cardedge.AttributeType{cardedge.CKA_DERIVE}
	default:
		pubBools = []cardedge.AttributeType{cardedge.CKA_ENCRYPT, cardedge.CKA_WRAP}
		prvBools = []cardedge.AttributeType{cardedge.CKA_DECRYPT, cardedge.CKA_UNWRAP}
	}
	pubFixed, err := cardedge.NewFixedAttributes(cardedge.CKO_PUBLIC_KEY, id, append(pubBools, cardedge.CKA_TOKEN)...)
	if err != nil {
		return nil, err
	}
	prvFixed, err := cardedge.NewFixedAttributes(cardedge.CKO_PRIVATE_KEY, id,
		append(prvBools, cardedge.CKA_TOKEN, cardedge.CKA_PRIVATE, cardedge.CKA_SENSITIVE)...)
	if err != nil {
		return nil, err
	}
	// The real token gives RSA public keys no attributes and RSA private
	// keys only CKA_KEY_TYPE; hosts take the rest from the certificate. EC
	// keys also carry CKA_EC_PARAMS (the curve OID), as the fact sheet has
	// it. That matters for OpenSC 0.23: it counts a record's attributes
	// only when they take more than 11 bytes (coolkey_v1_get_attribute_count
	// compares the remaining length with the object header size), so a
	// lone 9-byte CKA_KEY_TYPE is never seen and an EC key would be taken
	// for RSA.
	var keyAttrs, pubAttrs []cardedge.Attribute
	keyAttrs = []cardedge.Attribute{cardedge.UlongAttr(cardedge.CKA_KEY_TYPE, keyType)}
	if isEC {
		params, err := ecParams(ecPub.Curve)
		if err != nil {
			return nil, err
		}
		keyAttrs = append(keyAttrs, cardedge.BytesAttr(cardedge.CKA_EC_PARAMS, params))
		pubAttrs = keyAttrs
	}
	return []cardedge.Record{
		{
			ID:    cardedge.NewObjectID(cardedge.LetterCertAttrs, n),
			Fixed: certFixed,
			Attributes: []cardedge.Attribute{
				cardedge.StringAttr(cardedge.CKA_LABEL, r.label),
				cardedge.BytesAttr(cardedge.CKA_VALUE, certDER),
			},
		},
		{ID: cardedge.NewObjectID(cardedge.LetterKey, 2*n+1), Fixed: pubFixed, Attributes: pubAttrs},
		{
			ID:         cardedge.NewObjectID(cardedge.LetterKey, 2*n),
			Fixed:      prvFixed,
			Attributes: keyAttrs,
		},
	}, nil
}

// ecParams is the DER named-curve OID of CKA_EC_PARAMS.
func ecParams(c elliptic.Curve) ([]byte, error) {
	oid, ok := map[string]asn1.ObjectIdentifier{
		"P-256": {1, 2, 840, 10045, 3, 1, 7},
		"P-384": {1, 3, 132, 0, 34},
		"P-521": {1, 3, 132, 0, 35},
	}[c.Params().Name]
	if !ok {
		return nil, fmt.Errorf("provision: no OID for curve %s", c.Params().Name)
	}
	return asn1.Marshal(oid)
}
