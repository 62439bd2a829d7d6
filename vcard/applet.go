package vcard

import (
	"bytes"
	"encoding/binary"
)

// CoolKey applet constants (CardEdge.java).
const (
	protocolMajor = 1
	protocolMinor = 1

	issuerInfoSize = 0xE0
	nonceSize      = 8

	defaultHeapSize = 5000

	raIdentity      = 14
	defaultIdentity = 15
	raACL           = uint16(1) << raIdentity
	defaultACL      = uint16(1) << defaultIdentity
	anyoneACL       = uint16(0xFFFF)
	nobodyACL       = uint16(0)
)

// Application life-cycle states (GlobalPlatform / OP 2.0.1).
const (
	LifeCycleInstalled    byte = 0x03
	LifeCycleSelectable   byte = 0x07
	LifeCyclePersonalized byte = 0x0F
)

// Package is the applet code loaded on the card (the executable load file):
// what GET STATUS and GET BUILD ID report.
type Package struct {
	AID []byte
	// ModuleAID is the applet class in the package (GP's executable
	// module) that INSTALL [for install] names; empty means
	// DefaultAppletAID.
	ModuleAID    []byte
	Major, Minor byte   // applet version
	BuildID      uint32 // GET BUILD ID
}

// moduleAID returns the executable module AID, defaulted.
func (p *Package) moduleAID() []byte {
	if len(p.ModuleAID) == 0 {
		return DefaultAppletAID
	}
	return p.ModuleAID
}

// DefaultPackage is the CoolKey applet this card emulates: the SC650 branch
// (version 1.4, build 5875566E), the only one with ECC.
func DefaultPackage() Package {
	return Package{AID: []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00}, ModuleAID: bytes.Clone(DefaultAppletAID), Major: 1, Minor: 4, BuildID: 0x5875566E}
}

// DefaultAppletAID is the CoolKey applet instance AID.
var DefaultAppletAID = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00}

// applet is one instance of the CoolKey applet. Fields mirror CardEdge.java:
// the persistent ones are saved in the card image; "RAM" ones are persistent
// on a card but not worth an image field (they only matter within a
// session); the transient ones are cleared on reset or deselect as the
// applet declares them.
type applet struct {
	card *Card
	pkg  Package
	aid  []byte

	// persistent
	lifeCycle       byte
	issuerInfo      [issuerInfoSize]byte
	createObjectACL uint16
	createKeyACL    uint16
	createPINACL    uint16
	enableACLChange byte
	pins            [maxPINs]*pin
	keys            [maxKeys]*key
	keyMate         [maxKeys]int8
	keyACL          [maxKeys]KeyACL
	heap            *heap
	objects         *objectStore

	// RAM
	iobufSize int16
	keyIt     int
	nonceIDs  uint16
	// cipherKey[n] is the key slot the Cipher object of slot n was last
	// initialised with, or noKeyMate before the first COMPUTE CRYPT. The
	// sign self-check re-initialises it with the mate public key.
	cipherKey [maxKeys]int

	// CLEAR_ON_RESET
	resetProcessed bool
	nonce          [nonceSize]byte
	loginCount     [maxPINs]int16

	// CLEAR_ON_DESELECT
	iobuf    [ioBufCapacity]byte
	ciphDirs [maxKeys]byte

	// per APDU
	authID uint16
}

func newApplet(card *Card, pkg Package, aid []byte, heapSize int) *applet {
	a := &applet{
		card:            card,
		pkg:             pkg,
		aid:             bytes.Clone(aid),
		lifeCycle:       LifeCycleSelectable,
		createObjectACL: raACL,
		createKeyACL:    raACL,
		createPINACL:    raACL,
		heap:            newHeap(heapSize),
	}
	a.objects = newObjectStore(a.heap)
	for i := range a.keyMate {
		a.keyMate[i] = noKeyMate
		a.cipherKey[i] = noKeyMate
	}
	return a
}

// selectable reports whether SELECT may pick the instance: it has reached
// SELECTABLE (low three bits set, as in 07 and the application-specific
// states such as 0F) and is not locked (bit 7).
func (a *applet) selectable() bool { return a.lifeCycle&0x87 == 0x07 }

// pinEnabled is GET LIFE CYCLE's "pinEnabled": set by the first CREATE PIN.
// PINs are never deleted, so it is the same as "some PIN exists".
func (a *applet) pinEnabled() byte {
	for _, p := range a.pins {
		if p != nil {
			return 1
		}
	}
	return 0
}

// isWritable is the other half of GET LIFE CYCLE byte 1: 2 when SET BUILTIN
// ACL let a PIN identity create objects and keys.
func (a *applet) isWritable() byte {
	if a.createObjectACL&0xFF != 0 && a.createKeyACL&0xFF != 0 {
		return 2
	}
	return 0
}

// powerOn clears what CLEAR_ON_RESET and CLEAR_ON_DESELECT memory holds.
func (a *applet) powerOn() {
	a.resetProcessed = false
	a.nonce = [nonceSize]byte{}
	a.loginCount = [maxPINs]int16{}
	a.deselect()
}

func (a *applet) deselect() {
	a.iobuf = [ioBufCapacity]byte{}
	a.ciphDirs = [maxKeys]byte{}
}

// apdu is a command as the applet's handlers see it: P3 is the Lc byte
// (reduced by 8 once a nonce has been checked), and data is every byte
// received, nonce included, because the applet only rewrites the Lc byte.
// Reads past the received data see zeros, where a card would see stale APDU
// buffer contents.
type apdu struct {
	cla, ins, p1, p2 byte
	p3               int
	data             []byte
}

func newAPDU(c Command) *apdu {
	return &apdu{cla: c.CLA, ins: c.INS, p1: c.P1, p2: c.P2, p3: int(c.P3()), data: c.Data}
}

func (x *apdu) at(i int) byte {
	if i >= 0 && i < len(x.data) {
		return x.data[i]
	}
	return 0
}

// short reads a signed big-endian short at data offset i.
func (x *apdu) short(i int) int16 { return int16(uint16(x.at(i))<<8 | uint16(x.at(i+1))) }

func (x *apdu) u32(i int) uint32 {
	return uint32(x.at(i))<<24 | uint32(x.at(i+1))<<16 | uint32(x.at(i+2))<<8 | uint32(x.at(i+3))
}

// window returns n data bytes from offset i, zero-filled past the end.
func (x *apdu) window(i, n int) []byte {
	out := make([]byte, n)
	for j := range out {
		out[j] = x.at(i + j)
	}
	return out
}

// process is CardEdge.process for a command the card routed to the applet.
func (a *applet) process(c Command) ([]byte, error) {
	if !a.resetProcessed {
		// The first APDU after a reset logs every PIN out.
		a.logoutAll()
		a.resetProcessed = true
	}
	a.authID = 0
	x := newAPDU(c)
	switch c.CLA {
	case 0x00, 0xA4:
		// ISO class (and, by a quirk of the applet's switch, A4): nothing
		// to do, 90 00.
		return nil, nil
	case 0xB0:
		return a.processCardEdge(x)
	case 0x80:
		if c.INS != insInitializeUpdate {
			return nil, SWINSNotSupported
		}
		return a.card.initializeUpdate(c)
	case 0x84:
		return a.processSecure(c)
	}
	return nil, SWCLANotSupported
}

// Instruction bytes.
const (
	insImportKey           = 0x32
	insComputeCrypt        = 0x36
	insComputeECCSignature = 0x37
	insComputeECCKeyAgree  = 0x38
	insListKeys            = 0x3A
	insGetStatus           = 0x3C
	insCreatePIN           = 0x40
	insVerifyPIN           = 0x42
	insChangePIN           = 0x44
	insListPINs            = 0x48
	insGetPINTries         = 0x4A
	insDeleteObject        = 0x52
	insWriteObject         = 0x54
	insReadObject          = 0x56
	insListObjects         = 0x58
	insCreateObject        = 0x5A
	insLogout              = 0x61
	insGetBuildID          = 0x70
	insNOP                 = 0x71
	insGetRandom           = 0x72
	insSeedRandom          = 0x73
	insGetLifeCycle        = 0xF2
	insGetIssuerInfo       = 0xF6
	insGetBuiltinACL       = 0xFA

	insSetPIN             = 0x04
	insReadIOBuf          = 0x08
	insImportKeyEncrypted = 0x0A
	insStartEnrollment    = 0x0C
	insStartECCEnrollment = 0x0D
	insInitializeUpdate   = 0x50
	insClearKeySlots      = 0x55
	insExternalAuth       = 0x82
	insSetLifeCycle       = 0xF0
	insSetIssuerInfo      = 0xF4
	insSetBuiltinACL      = 0xF8
)

// requiresNonce lists the B0 instructions whose data ends with the login
// nonce (requireAuth).
func requiresNonce(ins byte) bool {
	switch ins {
	case insImportKey, insComputeCrypt, insComputeECCSignature, insComputeECCKeyAgree,
		insCreatePIN, insCreateObject, insDeleteObject, insReadObject, insWriteObject:
		return true
	}
	return false
}

func (a *applet) processCardEdge(x *apdu) ([]byte, error) {
	if requiresNonce(x.ins) {
		if err := a.verifyNonce(x); err != nil {
			return nil, err
		}
	}
	switch x.ins {
	case insImportKey:
		return nil, a.importKey(x)
	case insComputeCrypt:
		return a.computeCrypt(x)
	case insComputeECCSignature:
		return a.computeECCSignature(x)
	case insComputeECCKeyAgree:
		return a.computeECCKeyAgreement(x)
	case insVerifyPIN:
		return a.verifyPIN(x)
	case insCreatePIN:
		return nil, a.createPIN(x)
	case insChangePIN:
		return nil, a.changePIN(x)
	case insCreateObject:
		return nil, a.createObject(x)
	case insDeleteObject:
		return nil, a.deleteObject(x)
	case insReadObject:
		return a.readObject(x)
	case insWriteObject:
		return nil, a.writeObject(x)
	case insLogout:
		return nil, a.logoutOne(int8(x.p1))
	case insListPINs:
		return a.listPINs(x)
	case insListObjects:
		return a.listObjects(x)
	case insListKeys:
		return a.listKeys(x)
	case insGetStatus:
		return a.getStatus(x)
	case insGetIssuerInfo:
		if x.p3 != issuerInfoSize {
			return nil, SWWrongLength
		}
		return bytes.Clone(a.issuerInfo[:]), nil
	case insGetRandom:
		out := make([]byte, x.p3)
		if err := a.card.random(out); err != nil {
			return nil, err
		}
		return out, nil
	case insSeedRandom:
		// The card's RNG mixes the seed in; ours (crypto/rand) needs none.
		return nil, nil
	case insGetLifeCycle:
		if x.p3 == 1 {
			return []byte{a.lifeCycle}, nil
		}
		return []byte{a.lifeCycle, a.pinEnabled() + a.isWritable(), protocolMajor, protocolMinor}, nil
	case insGetBuildID:
		if x.p3 < 4 {
			return nil, SWWrongLength
		}
		return binary.BigEndian.AppendUint32(nil, a.pkg.BuildID), nil
	case insGetBuiltinACL:
		if int8(x.p3) < 7 {
			return nil, SWWrongLength
		}
		out := binary.BigEndian.AppendUint16(nil, a.createObjectACL)
		out = binary.BigEndian.AppendUint16(out, a.createKeyACL)
		out = binary.BigEndian.AppendUint16(out, a.createPINACL)
		return append(out, a.enableACLChange), nil
	case insGetPINTries:
		return a.getPINTries(x)
	case insNOP:
		return nil, nil
	}
	return nil, SWINSNotSupported
}

// verifyNonce is verifySecureNonce: the last 8 data bytes grant the default
// identity when zero, every logged-in identity when they equal the nonce.
func (a *applet) verifyNonce(x *apdu) error {
	if x.p3 != len(x.data) {
		return SWWrongLength
	}
	if x.p3 < nonceSize {
		return swUnauthorized
	}
	tail := x.data[x.p3-nonceSize : x.p3]
	switch {
	case bytes.Equal(tail, make([]byte, nonceSize)):
		a.authID |= defaultACL
	case bytes.Equal(tail, a.nonce[:]):
		// "once an app logs in as one identity, it can be any identity"
		a.authID = a.nonceIDs
	default:
		return swUnauthorized
	}
	x.p3 -= nonceSize
	return nil
}

func (a *applet) getStatus(x *apdu) ([]byte, error) {
	if x.p2 != 0 {
		return nil, swIncorrectP2
	}
	if x.p1 == 1 {
		// GetMemory is compiled out; OpenSC relies on this answer to tell
		// CoolKey from MUSCLE.
		return nil, SWINSNotSupported
	}
	if x.p1 != 0 {
		return nil, swIncorrectP1
	}
	out := []byte{protocolMajor, protocolMinor, a.pkg.Major, a.pkg.Minor}
	out = binary.BigEndian.AppendUint32(out, uint32(uint16(a.heap.size())))
	out = binary.BigEndian.AppendUint32(out, uint32(uint16(a.heap.freeBytes())))
	var pins, keys byte
	for _, p := range a.pins {
		if p != nil {
			pins++
		}
	}
	for _, k := range a.keys {
		if k != nil {
			keys++
		}
	}
	out = append(out, pins, keys)
	return binary.BigEndian.AppendUint16(out, a.nonceIDs), nil
}

// authorized reports whether the caller holds one of the identities in acl.
func (a *applet) authorized(acl uint16) bool { return acl&a.authID != 0 }

// setCardContentState is OPSystem.setCardContentState: an application may
// only move itself between application-specific states, whose low three
// bits are set and whose top bit is clear (07, 0F, …, 7F).
func (a *applet) setCardContentState(state byte) bool {
	if state&0x87 != 0x07 {
		return false
	}
	a.lifeCycle = state
	return true
}
