package tpsscript

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// EnrollOptions describe an enrollment with on-card key generation.
type EnrollOptions struct {
	User string
	// PIN becomes PIN 0 (CREATE PIN with the TPS's initial "password",
	// then SET PIN); PINTries is CREATE PIN's try limit (0 means 127).
	PIN      []byte
	PINTries byte
	// KeyPairs RSA key pairs of KeyBits bits (defaults 2 and 2048): the
	// n-th in slots 2n (private) and 2n+1 (public), certified by CA for
	// the userKey profile's signing and encryption usages.
	KeyPairs, KeyBits int
	CA                *testca.CA
	// ObjectVersion is z0's object version; hosts re-read z0 when it
	// changes.
	ObjectVersion uint16
	// IssuerInfo, when set, is written again after the objects, as the
	// enrollment does.
	IssuerInfo string
}

// Enrollment is what Enroll did.
type Enrollment struct {
	CUID cardedge.CUID
	// CreatePINSW answered CREATE PIN (6A86/9C.. when the PIN existed).
	CreatePINSW uint16
	// Keys and Certs are the generated public keys and their
	// certificates, in slot order.
	Keys  []*rsa.PublicKey
	Certs []*x509.Certificate
	// Z0 is the combined object written to the card.
	Z0 []byte
}

// initialPIN is the value CREATE PIN gets before SET PIN (Dogtag's
// create_pin.string default).
var initialPIN = []byte("password")

// Enroll personalises a formatted card as TPSEnrollProcessor does with
// on-card key generation: read the CUID from the card manager's CPLC,
// select the applet and open a channel; CREATE PIN and SET PIN; for each
// key pair START ENROLLMENT with a proof check and a certificate from the
// CA; write z0 in the Dogtag layout; issuer info; SET LIFECYCLE 0F; CLEAR
// KEY SLOTS keeping the new pairs.
func (s *Script) Enroll(o EnrollOptions) (*Enrollment, error) {
	if o.User == "" || o.CA == nil {
		return nil, errors.New("tpsscript: enrollment needs a user and a CA")
	}
	if o.KeyPairs == 0 {
		o.KeyPairs = 2
	}
	if o.KeyBits == 0 {
		o.KeyBits = 2048
	}
	if o.PINTries == 0 {
		o.PINTries = 127
	}
	var e Enrollment
	if err := s.SelectCardManager(); err != nil {
		return nil, err
	}
	r, err := s.Transmit([]byte{0x80, 0xCA, 0x9F, 0x7F, 0x2D})
	if err != nil {
		return nil, err
	}
	if r.SW != 0x9000 {
		return nil, &SWError{Op: "GET DATA CPLC", SW: r.SW}
	}
	cplc, err := cardedge.ParseCPLC(r.Data)
	if err != nil {
		return nil, err
	}
	e.CUID = cplc.CUID()
	if err := s.SelectApplet(); err != nil {
		return nil, err
	}
	if err := s.OpenChannel(0); err != nil {
		return nil, err
	}
	if e.CreatePINSW, err = s.CreatePIN(0, o.PINTries, initialPIN); err != nil {
		return nil, err
	}
	if err := s.SetPIN(0, o.PIN); err != nil {
		return nil, err
	}
	var records []cardedge.Record
	var keep [][2]byte
	for n := 1; n <= o.KeyPairs; n++ {
		prv, pub := byte(2*n), byte(2*n+1)
		key, err := s.GenerateKeyPair(prv, pub, o.KeyBits)
		if err != nil {
			return nil, fmt.Errorf("key pair %d: %w", n, err)
		}
		cert, err := o.CA.IssueUser(testca.User{UID: o.User}, provision.Usage(n), key)
		if err != nil {
			return nil, err
		}
		recs, err := provision.Records(n, o.User, key, cert.Raw)
		if err != nil {
			return nil, err
		}
		records = append(records, recs...)
		e.Keys = append(e.Keys, key)
		e.Certs = append(e.Certs, cert)
		keep = append(keep, [2]byte{prv, pub})
	}
	if e.Z0, err = (&cardedge.Combined{
		ObjectVersion: o.ObjectVersion,
		CUID:          e.CUID,
		TokenName:     o.User,
		Records:       records,
	}).Encode(); err != nil {
		return nil, err
	}
	if err := s.WriteObject(uint32(cardedge.CombinedObjectID), e.Z0); err != nil {
		return nil, err
	}
	if o.IssuerInfo != "" {
		if err := s.SetIssuerInfo(o.IssuerInfo); err != nil {
			return nil, err
		}
	}
	if err := s.SetLifeCycle(0x0F); err != nil {
		return nil, err
	}
	if err := s.ClearKeySlots(keep...); err != nil {
		return nil, err
	}
	return &e, nil
}
