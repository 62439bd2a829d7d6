package vcard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ImageFormat is the version of the card image format this package writes.
const ImageFormat = 1

// Image is a card image: everything a card keeps in persistent memory, in a
// JSON form people can read and write. IMAGE.md documents every field.
type Image struct {
	Format      int              `json:"format"`
	Comment     string           `json:"comment,omitempty"`
	ATR         Hex              `json:"atr"`
	CPLC        Hex              `json:"cplc"`
	CardManager CardManagerImage `json:"card_manager"`
	// Package is the CoolKey applet's load file; nil on a blank card.
	Package *PackageImage `json:"package"`
	// Applet is the applet instance; nil when none is installed.
	Applet *AppletImage `json:"applet"`
}

// CardManagerImage is the issuer security domain.
type CardManagerImage struct {
	AID       Hex     `json:"aid"`
	LifeCycle HexByte `json:"life_cycle"`
	SCP       HexByte `json:"scp"`
	SCPParam  HexByte `json:"scp_i"`
	// KDD is the key diversification data; empty means the CUID.
	KDD             Hex           `json:"kdd,omitempty"`
	SequenceCounter uint16        `json:"sequence_counter"`
	KeySets         []KeySetImage `json:"key_sets"`
}

// KeySetImage is one GlobalPlatform key set.
type KeySetImage struct {
	Version uint8 `json:"version"`
	ENC     Hex   `json:"enc"`
	MAC     Hex   `json:"mac"`
	DEK     Hex   `json:"dek"`
}

// PackageImage is the applet code on the card.
type PackageImage struct {
	AID Hex `json:"aid"`
	// ModuleAID is the applet class AID in the package; absent means
	// the CoolKey applet's, 627601FF000000.
	ModuleAID Hex    `json:"module_aid,omitempty"`
	Version   string `json:"version"`  // "major.minor", e.g. "1.4"
	BuildID   Hex    `json:"build_id"` // 4 bytes
}

// AppletImage is a CoolKey applet instance.
type AppletImage struct {
	AID       Hex     `json:"aid"`
	LifeCycle HexByte `json:"life_cycle"`
	HeapSize  int     `json:"heap_size"`
	// IssuerInfo is the 224-byte issuer info as text (NUL padding
	// dropped); IssuerInfoHex is used instead when it is not text.
	IssuerInfo       string         `json:"issuer_info,omitempty"`
	IssuerInfoHex    Hex            `json:"issuer_info_hex,omitempty"`
	CreateACL        CreateACLImage `json:"create_acl"`
	ACLChangeEnabled HexByte        `json:"acl_change"`
	PINs             []PINImage     `json:"pins"`
	Keys             []KeyImage     `json:"keys"`
	// Objects are listed oldest first; LIST OBJECTS returns them newest
	// first.
	Objects []ObjectImage `json:"objects"`
}

// CreateACLImage holds the global create ACLs (GET BUILTIN ACL).
type CreateACLImage struct {
	Object HexShort `json:"object"`
	Key    HexShort `json:"key"`
	PIN    HexShort `json:"pin"`
}

// PINImage is a PIN, stored as a salted PBKDF2 hash, never in clear.
type PINImage struct {
	Number     int    `json:"number"`
	MaxTries   int    `json:"max_tries"`
	TriesLeft  int    `json:"tries_left"`
	KDF        string `json:"kdf"`
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
	Hash       []byte `json:"hash"`
}

// KeyImage is one key slot.
type KeyImage struct {
	Number int    `json:"number"`
	Type   string `json:"type"`
	Bits   int    `json:"bits,omitempty"`
	// Mate is the paired slot, nil when the slot has none.
	Mate *int        `json:"mate,omitempty"`
	ACL  KeyACLImage `json:"acl"`
	// PKCS8 holds a private key, SPKI a public key; neither is set for a
	// slot CLEAR KEY SLOTS emptied.
	PKCS8 []byte `json:"pkcs8,omitempty"`
	SPKI  []byte `json:"spki,omitempty"`
}

// KeyACLImage is a key's ACL.
type KeyACLImage struct {
	Read  HexShort `json:"read"`
	Write HexShort `json:"write"`
	Use   HexShort `json:"use"`
}

// ObjectImage is an applet object with its raw contents.
type ObjectImage struct {
	ID   ObjectID `json:"id"`
	ACL  ACLImage `json:"acl"`
	Data []byte   `json:"data"`
}

// ACLImage is an object's ACL.
type ACLImage struct {
	Read   HexShort `json:"read"`
	Write  HexShort `json:"write"`
	Delete HexShort `json:"delete"`
}

// Key type names in images.
var keyTypeNames = map[KeyType]string{
	KeyRSAPublic:     "rsa-public",
	KeyRSACRTPrivate: "rsa-crt-private",
	KeyECFpPublic:    "ec-fp-public",
	KeyECFpPrivate:   "ec-fp-private",
}

// keyTypeNone names a slot that has an ACL or a mate but no key object.
const keyTypeNone = "none"

// Limits that keep a hand-written image from making the card do silly
// amounts of work.
const (
	maxPINIterations = 10_000_000
	maxImageSize     = 16 << 20
)

// ParseImage decodes and validates a card image. Unknown fields are errors,
// so that a misspelt field in a hand-written image is not silently ignored.
func ParseImage(b []byte) (*Image, error) {
	if len(b) > maxImageSize {
		return nil, fmt.Errorf("vcard: image of %d bytes is too large", len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var img Image
	if err := dec.Decode(&img); err != nil {
		return nil, fmt.Errorf("vcard: decoding image: %w", err)
	}
	if dec.More() {
		return nil, errors.New("vcard: trailing data after the image")
	}
	if err := img.Validate(); err != nil {
		return nil, err
	}
	return &img, nil
}

// Marshal encodes the image as indented JSON.
func (img *Image) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Validate checks that a card can be built from the image.
func (img *Image) Validate() error {
	var c Card
	return c.load(img)
}

// load replaces the card's persistent state with the image's.
func (c *Card) load(img *Image) error {
	if img == nil {
		return errors.New("vcard: no image")
	}
	if img.Format != ImageFormat {
		return fmt.Errorf("vcard: image format %d, want %d", img.Format, ImageFormat)
	}
	if n := len(img.ATR); n < 2 || n > 33 || img.ATR[0] != 0x3B && img.ATR[0] != 0x3F {
		return fmt.Errorf("vcard: ATR %X is not an ATR", []byte(img.ATR))
	}
	if len(img.CPLC) != 42 {
		return fmt.Errorf("vcard: CPLC has %d bytes, want 42", len(img.CPLC))
	}
	sd, err := img.CardManager.securityDomain(img.CPLC)
	if err != nil {
		return err
	}
	var pkg *Package
	if img.Package != nil {
		p, err := img.Package.pkg()
		if err != nil {
			return err
		}
		pkg = &p
	}
	c.atr = bytes.Clone(img.ATR)
	c.cplc = bytes.Clone(img.CPLC)
	c.cardLifeCycle = byte(img.CardManager.LifeCycle)
	c.sd = sd
	c.pkg = pkg
	c.comment = img.Comment
	c.applet = nil
	if img.Applet != nil {
		if pkg == nil {
			return errors.New("vcard: applet instance without a package")
		}
		a, err := img.Applet.applet(c, *pkg)
		if err != nil {
			return err
		}
		c.applet = a
	}
	return nil
}

// cuidFromCPLC builds the CUID the way hosts do: fabricator ‖ IC type ‖
// batch ‖ serial.
func cuidFromCPLC(cplc []byte) []byte {
	cuid := append([]byte(nil), cplc[0:4]...)
	cuid = append(cuid, cplc[16:18]...)
	return append(cuid, cplc[12:16]...)
}

func (m *CardManagerImage) securityDomain(cplc []byte) (SecurityDomain, error) {
	if n := len(m.AID); n < 5 || n > 16 {
		return SecurityDomain{}, fmt.Errorf("vcard: card manager AID of %d bytes", n)
	}
	sd := SecurityDomain{
		AID:             bytes.Clone(m.AID),
		KDD:             bytes.Clone(m.KDD),
		SCP:             byte(m.SCP),
		SCPParam:        byte(m.SCPParam),
		SequenceCounter: m.SequenceCounter,
	}
	if len(sd.KDD) == 0 {
		sd.KDD = cuidFromCPLC(cplc)
	}
	if len(sd.KDD) != 10 {
		return SecurityDomain{}, fmt.Errorf("vcard: KDD of %d bytes, want 10", len(sd.KDD))
	}
	if sd.SCP < 1 || sd.SCP > 3 {
		return SecurityDomain{}, fmt.Errorf("vcard: secure channel protocol %02X", sd.SCP)
	}
	if sd.SCP == 3 && sd.SCPParam&0x10 != 0 {
		return SecurityDomain{}, fmt.Errorf("vcard: SCP03 with i=%02X: pseudo-random card challenges are not implemented", sd.SCPParam)
	}
	seen := map[byte]bool{}
	for _, ks := range m.KeySets {
		if ks.Version == 0 || ks.Version > 0x7F && ks.Version != 0xFF || seen[ks.Version] {
			return SecurityDomain{}, fmt.Errorf("vcard: key set version %02X invalid or repeated", ks.Version)
		}
		seen[ks.Version] = true
		for _, k := range [][]byte{ks.ENC, ks.MAC, ks.DEK} {
			if n := len(k); n != 16 && n != 24 && n != 32 {
				return SecurityDomain{}, fmt.Errorf("vcard: key set %02X has a %d-byte key", ks.Version, n)
			}
		}
		sd.Keys = append(sd.Keys, GPKeySet{Version: ks.Version, ENC: bytes.Clone(ks.ENC), MAC: bytes.Clone(ks.MAC), DEK: bytes.Clone(ks.DEK)})
	}
	return sd, nil
}

func (p *PackageImage) pkg() (Package, error) {
	if n := len(p.AID); n < 5 || n > 16 {
		return Package{}, fmt.Errorf("vcard: package AID of %d bytes", n)
	}
	major, minor, ok := strings.Cut(p.Version, ".")
	ma, err1 := strconv.ParseUint(major, 10, 8)
	mi, err2 := strconv.ParseUint(minor, 10, 8)
	if !ok || err1 != nil || err2 != nil {
		return Package{}, fmt.Errorf("vcard: package version %q is not major.minor", p.Version)
	}
	if len(p.BuildID) != 4 {
		return Package{}, fmt.Errorf("vcard: build ID of %d bytes, want 4", len(p.BuildID))
	}
	if n := len(p.ModuleAID); n != 0 && (n < 5 || n > 16) {
		return Package{}, fmt.Errorf("vcard: module AID of %d bytes", n)
	}
	return Package{
		AID:       bytes.Clone(p.AID),
		ModuleAID: bytes.Clone(p.ModuleAID),
		Major:     byte(ma),
		Minor:     byte(mi),
		BuildID:   uint32(p.BuildID[0])<<24 | uint32(p.BuildID[1])<<16 | uint32(p.BuildID[2])<<8 | uint32(p.BuildID[3]),
	}, nil
}

func (ai *AppletImage) applet(c *Card, pkg Package) (*applet, error) {
	if n := len(ai.AID); n < 5 || n > 16 {
		return nil, fmt.Errorf("vcard: applet AID of %d bytes", n)
	}
	heapSize := ai.HeapSize
	if heapSize < heapMinBlock || heapSize > maxObjectSize {
		return nil, fmt.Errorf("vcard: heap size %d not in %d..%d", heapSize, heapMinBlock, maxObjectSize)
	}
	a := newApplet(c, pkg, ai.AID, heapSize)
	a.lifeCycle = byte(ai.LifeCycle)
	switch {
	case ai.IssuerInfo != "" && len(ai.IssuerInfoHex) > 0:
		return nil, errors.New("vcard: both issuer_info and issuer_info_hex are set")
	case len(ai.IssuerInfo) > issuerInfoSize || len(ai.IssuerInfoHex) > issuerInfoSize:
		return nil, fmt.Errorf("vcard: issuer info longer than %d bytes", issuerInfoSize)
	}
	copy(a.issuerInfo[:], ai.IssuerInfo)
	copy(a.issuerInfo[:], ai.IssuerInfoHex)
	a.createObjectACL = uint16(ai.CreateACL.Object)
	a.createKeyACL = uint16(ai.CreateACL.Key)
	a.createPINACL = uint16(ai.CreateACL.PIN)
	a.enableACLChange = byte(ai.ACLChangeEnabled)

	for _, p := range ai.PINs {
		if p.Number < 0 || p.Number >= maxPINs || a.pins[p.Number] != nil {
			return nil, fmt.Errorf("vcard: PIN number %d invalid or repeated", p.Number)
		}
		if p.MaxTries < 1 || p.MaxTries > 127 || p.TriesLeft < 0 || p.TriesLeft > p.MaxTries {
			return nil, fmt.Errorf("vcard: PIN %d: tries %d of %d", p.Number, p.TriesLeft, p.MaxTries)
		}
		if (p.KDF != kdfLengthPrefixed && p.KDF != kdfLegacy) || p.Iterations < 1 || p.Iterations > maxPINIterations || len(p.Salt) == 0 || len(p.Hash) < 16 || len(p.Hash) > 64 {
			return nil, fmt.Errorf("vcard: PIN %d: unsupported hash (want %s with a salt)", p.Number, kdfLengthPrefixed)
		}
		a.pins[p.Number] = &pin{
			maxTries:  byte(p.MaxTries),
			triesLeft: byte(p.TriesLeft),
			hash:      pinHash{kdf: p.KDF, salt: bytes.Clone(p.Salt), sum: bytes.Clone(p.Hash), iterations: p.Iterations},
		}
	}

	seen := map[int]bool{}
	for _, ki := range ai.Keys {
		if ki.Number < 0 || ki.Number >= maxKeys || seen[ki.Number] {
			return nil, fmt.Errorf("vcard: key number %d invalid or repeated", ki.Number)
		}
		seen[ki.Number] = true
		k, err := ki.key()
		if err != nil {
			return nil, fmt.Errorf("vcard: key %d: %w", ki.Number, err)
		}
		a.keys[ki.Number] = k
		if ki.Mate != nil {
			if *ki.Mate < 0 || *ki.Mate >= maxKeys {
				return nil, fmt.Errorf("vcard: key %d: mate %d out of range", ki.Number, *ki.Mate)
			}
			a.keyMate[ki.Number] = int8(*ki.Mate)
		}
		a.keyACL[ki.Number] = KeyACL{Read: uint16(ki.ACL.Read), Write: uint16(ki.ACL.Write), Use: uint16(ki.ACL.Use)}
	}

	for _, oi := range ai.Objects {
		id := uint32(oi.ID)
		if isIOBuffer(id) {
			return nil, fmt.Errorf("vcard: object %s is the I/O buffer", oi.ID)
		}
		if len(oi.Data) < 1 || len(oi.Data)+objectHeaderSize > maxObjectSize {
			return nil, fmt.Errorf("vcard: object %s: size %d not allowed", oi.ID, len(oi.Data))
		}
		o, err := a.objects.create(id, len(oi.Data), ACL{Read: uint16(oi.ACL.Read), Write: uint16(oi.ACL.Write), Delete: uint16(oi.ACL.Delete)})
		if err != nil {
			if err == swObjectExists {
				return nil, fmt.Errorf("vcard: object %s appears twice", oi.ID)
			}
			return nil, fmt.Errorf("vcard: objects do not fit in the %d-byte heap (at %s)", heapSize, oi.ID)
		}
		copy(o.data, oi.Data)
	}
	return a, nil
}

func (ki *KeyImage) key() (*key, error) {
	if ki.Type == keyTypeNone {
		if len(ki.PKCS8) > 0 || len(ki.SPKI) > 0 {
			return nil, errors.New(`type "none" with key material`)
		}
		return nil, nil
	}
	var typ KeyType
	for t, name := range keyTypeNames {
		if name == ki.Type {
			typ = t
		}
	}
	if typ == 0 {
		return nil, fmt.Errorf("unknown type %q", ki.Type)
	}
	if !supportedKeySize(typ, ki.Bits) {
		return nil, fmt.Errorf("%s of %d bits is not supported", ki.Type, ki.Bits)
	}
	k := &key{typ: typ, bits: ki.Bits}
	switch typ {
	case KeyRSACRTPrivate, KeyECFpPrivate:
		if len(ki.SPKI) > 0 {
			return nil, errors.New("a private key slot holds pkcs8, not spki")
		}
		if len(ki.PKCS8) == 0 {
			return k, nil // cleared slot
		}
		parsed, err := x509.ParsePKCS8PrivateKey(ki.PKCS8)
		if err != nil {
			return nil, err
		}
		switch priv := parsed.(type) {
		case *rsa.PrivateKey:
			if typ != KeyRSACRTPrivate || !bitsMatch(priv.N.BitLen(), ki.Bits) || len(priv.Primes) != 2 {
				return nil, errors.New("PKCS#8 key does not match type and size")
			}
			priv.Precompute()
			k.rsaPriv = priv
		case *ecdsa.PrivateKey:
			if typ != KeyECFpPrivate || priv.Curve != curveForBits(ki.Bits) {
				return nil, errors.New("PKCS#8 key does not match type and size")
			}
			k.ecPriv = priv
		default:
			return nil, fmt.Errorf("PKCS#8 key of type %T", parsed)
		}
	default:
		if len(ki.PKCS8) > 0 {
			return nil, errors.New("a public key slot holds spki, not pkcs8")
		}
		if len(ki.SPKI) == 0 {
			return k, nil
		}
		parsed, err := x509.ParsePKIXPublicKey(ki.SPKI)
		if err != nil {
			return nil, err
		}
		switch pub := parsed.(type) {
		case *rsa.PublicKey:
			if typ != KeyRSAPublic || !bitsMatch(pub.N.BitLen(), ki.Bits) {
				return nil, errors.New("public key does not match type and size")
			}
			k.rsaPub = pub
		case *ecdsa.PublicKey:
			if typ != KeyECFpPublic || pub.Curve != curveForBits(ki.Bits) {
				return nil, errors.New("public key does not match type and size")
			}
			k.ecPub = pub
		default:
			return nil, fmt.Errorf("public key of type %T", parsed)
		}
	}
	k.initialized = true
	return k, nil
}

// bitsMatch accepts a modulus whose top byte is not full, as cards do.
func bitsMatch(have, want int) bool { return have <= want && have > want-8 }

// image snapshots the card's persistent state.
func (c *Card) image() *Image {
	img := &Image{
		Format:  ImageFormat,
		Comment: c.comment,
		ATR:     bytes.Clone(c.atr),
		CPLC:    bytes.Clone(c.cplc),
		CardManager: CardManagerImage{
			AID:             bytes.Clone(c.sd.AID),
			LifeCycle:       HexByte(c.cardLifeCycle),
			SCP:             HexByte(c.sd.SCP),
			SCPParam:        HexByte(c.sd.SCPParam),
			SequenceCounter: c.sd.SequenceCounter,
		},
	}
	if !bytes.Equal(c.sd.KDD, cuidFromCPLC(c.cplc)) {
		img.CardManager.KDD = bytes.Clone(c.sd.KDD)
	}
	for _, ks := range c.sd.Keys {
		img.CardManager.KeySets = append(img.CardManager.KeySets, KeySetImage{
			Version: ks.Version, ENC: bytes.Clone(ks.ENC), MAC: bytes.Clone(ks.MAC), DEK: bytes.Clone(ks.DEK),
		})
	}
	if c.pkg != nil {
		b := c.pkg.BuildID
		img.Package = &PackageImage{
			AID:     bytes.Clone(c.pkg.AID),
			Version: fmt.Sprintf("%d.%d", c.pkg.Major, c.pkg.Minor),
			BuildID: Hex{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)},
		}
		if m := c.pkg.moduleAID(); !bytes.Equal(m, DefaultAppletAID) {
			img.Package.ModuleAID = bytes.Clone(m)
		}
	}
	if c.applet != nil {
		img.Applet = c.applet.image()
	}
	return img
}

func (a *applet) image() *AppletImage {
	ai := &AppletImage{
		AID:              bytes.Clone(a.aid),
		LifeCycle:        HexByte(a.lifeCycle),
		HeapSize:         a.heap.size(),
		CreateACL:        CreateACLImage{Object: HexShort(a.createObjectACL), Key: HexShort(a.createKeyACL), PIN: HexShort(a.createPINACL)},
		ACLChangeEnabled: HexByte(a.enableACLChange),
		PINs:             []PINImage{},
		Keys:             []KeyImage{},
		Objects:          []ObjectImage{},
	}
	if text, ok := issuerInfoText(a.issuerInfo[:]); ok {
		ai.IssuerInfo = text
	} else {
		ai.IssuerInfoHex = bytes.Clone(a.issuerInfo[:])
	}
	for i, p := range a.pins {
		if p == nil {
			continue
		}
		ai.PINs = append(ai.PINs, PINImage{
			Number: i, MaxTries: int(p.maxTries), TriesLeft: int(p.triesLeft),
			KDF: p.hash.kdf, Iterations: p.hash.iterations,
			Salt: bytes.Clone(p.hash.salt), Hash: bytes.Clone(p.hash.sum),
		})
	}
	for i, k := range a.keys {
		acl := a.keyACL[i]
		if k == nil && a.keyMate[i] == noKeyMate && acl == (KeyACL{}) {
			continue
		}
		ki := KeyImage{Number: i, Type: keyTypeNone, ACL: KeyACLImage{Read: HexShort(acl.Read), Write: HexShort(acl.Write), Use: HexShort(acl.Use)}}
		if m := int(a.keyMate[i]); m != noKeyMate {
			ki.Mate = &m
		}
		if k != nil {
			ki.Type, ki.Bits = keyTypeNames[k.typ], k.bits
			ki.PKCS8, ki.SPKI = k.material()
		}
		ai.Keys = append(ai.Keys, ki)
	}
	objs := a.objects.list()
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		ai.Objects = append(ai.Objects, ObjectImage{
			ID:   ObjectID(o.id),
			ACL:  ACLImage{Read: HexShort(o.acl.Read), Write: HexShort(o.acl.Write), Delete: HexShort(o.acl.Delete)},
			Data: bytes.Clone(o.data),
		})
	}
	return ai
}

// material encodes the key as PKCS#8 (private) or SubjectPublicKeyInfo
// (public); both are nil for a cleared slot.
func (k *key) material() (pkcs8, spki []byte) {
	if !k.initialized {
		return nil, nil
	}
	var err error
	switch {
	case k.rsaPriv != nil:
		pkcs8, err = x509.MarshalPKCS8PrivateKey(k.rsaPriv)
	case k.ecPriv != nil:
		pkcs8, err = x509.MarshalPKCS8PrivateKey(k.ecPriv)
	case k.rsaPub != nil:
		spki, err = x509.MarshalPKIXPublicKey(k.rsaPub)
	case k.ecPub != nil:
		spki, err = x509.MarshalPKIXPublicKey(k.ecPub)
	}
	if err != nil {
		return nil, nil
	}
	return pkcs8, spki
}

// issuerInfoText returns the issuer info as text when it is printable ASCII
// followed only by NULs.
func issuerInfoText(b []byte) (string, bool) {
	end := bytes.IndexByte(b, 0)
	if end < 0 {
		end = len(b)
	}
	for _, x := range b[end:] {
		if x != 0 {
			return "", false
		}
	}
	for _, x := range b[:end] {
		if x < 0x20 || x > 0x7E {
			return "", false
		}
	}
	return string(b[:end]), true
}

// Hex is a byte string written as hex digits (spaces allowed when read).
type Hex []byte

func (h Hex) MarshalText() ([]byte, error) {
	return []byte(strings.ToUpper(hex.EncodeToString(h))), nil
}

func (h *Hex) UnmarshalText(b []byte) error {
	s := strings.Join(strings.Fields(string(b)), "")
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("vcard: %q is not hex", b)
	}
	*h = v
	return nil
}

// HexByte is one byte written as two hex digits.
type HexByte byte

func (h HexByte) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%02X", byte(h))), nil }

func (h *HexByte) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 8)
	if err != nil || len(b) != 2 {
		return fmt.Errorf("vcard: %q is not a hex byte", b)
	}
	*h = HexByte(v)
	return nil
}

// HexShort is a 16-bit value written as four hex digits (ACLs).
type HexShort uint16

func (h HexShort) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%04X", uint16(h))), nil }

func (h *HexShort) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 16)
	if err != nil || len(b) != 4 {
		return fmt.Errorf("vcard: %q is not four hex digits", b)
	}
	*h = HexShort(v)
	return nil
}

// ObjectID is an applet object ID, written "z0" for the conventional
// letter-and-index IDs (byte 0 a letter, byte 1 a digit or letter, bytes
// 2–3 zero) and as 8 hex digits otherwise.
type ObjectID uint32

func (id ObjectID) String() string {
	b0, b1 := byte(id>>24), byte(id>>16)
	if id&0xFFFF == 0 && isASCIILetter(b0) && (isASCIILetter(b1) || b1 >= '0' && b1 <= '9') {
		return string([]byte{b0, b1})
	}
	return fmt.Sprintf("%08X", uint32(id))
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func (id ObjectID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

func (id *ObjectID) UnmarshalText(b []byte) error {
	switch len(b) {
	case 2:
		if !isASCIILetter(b[0]) || !(isASCIILetter(b[1]) || b[1] >= '0' && b[1] <= '9') {
			return fmt.Errorf("vcard: object ID %q is not a letter and an index", b)
		}
		*id = ObjectID(uint32(b[0])<<24 | uint32(b[1])<<16)
		return nil
	case 8:
		v, err := strconv.ParseUint(string(b), 16, 32)
		if err != nil {
			return fmt.Errorf("vcard: object ID %q is not 8 hex digits", b)
		}
		*id = ObjectID(v)
		return nil
	}
	return fmt.Errorf("vcard: object ID %q: want 2 characters or 8 hex digits", b)
}
