package cardedge

import (
	"encoding/binary"
	"fmt"
)

// ObjectID names an applet object. By CoolKey convention byte 0 is a type
// letter, byte 1 an index character and bytes 2–3 are zero ("c1" is
// 63 31 00 00); the applet itself gives the ID no meaning.
type ObjectID uint32

// Well-known object IDs.
const (
	// CombinedObjectID is "z0", the zlib-compressed object holding every
	// PKCS#11 object of an enrolled token.
	CombinedObjectID ObjectID = 0x7A300000
	// IOBufferID and IOBufferInID both name the applet's transient I/O
	// buffer (used for COMPUTE CRYPT data larger than an APDU). Neither
	// has an ACL.
	IOBufferID   ObjectID = 0xFFFFFFFF
	IOBufferInID ObjectID = 0xFFFFFFFE
)

// Object type letters used by the TPS and the host.
const (
	LetterCombined  = 'z' // the combined object
	LetterCertAttrs = 'c' // v0 certificate attributes (or a z0 certificate record)
	LetterCertDER   = 'C' // v0 raw DER certificate
	LetterKey       = 'k' // key attributes; the index is the applet key number
	LetterData      = 'd' // data object
)

// NewObjectID returns the ID for type letter and index, with the index
// written as the TPS and OpenSC do: 0–9 as '0'–'9', 10–35 as 'A'–'Z', 36–61
// as 'a'–'z'. It panics on an index outside 0–61.
func NewObjectID(letter byte, index int) ObjectID {
	var c byte
	switch {
	case index >= 0 && index <= 9:
		c = '0' + byte(index)
	case index >= 10 && index <= 35:
		c = 'A' + byte(index-10)
	case index >= 36 && index <= 61:
		c = 'a' + byte(index-36)
	default:
		panic(fmt.Sprintf("cardedge: object index %d out of range", index))
	}
	return ObjectID(uint32(letter)<<24 | uint32(c)<<16)
}

// Letter returns the type letter (byte 0).
func (id ObjectID) Letter() byte { return byte(id >> 24) }

// Index returns the index encoded in byte 1, and false when byte 1 is not
// an index character or bytes 2–3 are not zero. The reference host accepts
// only 0–9 for keys and certificates.
func (id ObjectID) Index() (int, bool) {
	if id&0xFFFF != 0 {
		return 0, false
	}
	switch c := byte(id >> 16); {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10, true
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36, true
	}
	return 0, false
}

// String returns "c1"-style names for conventional IDs and hex otherwise.
func (id ObjectID) String() string {
	l := id.Letter()
	if _, ok := id.Index(); ok && (l >= 'a' && l <= 'z' || l >= 'A' && l <= 'Z') {
		return string([]byte{l, byte(id >> 16)})
	}
	return fmt.Sprintf("%08X", uint32(id))
}

// ACL is an applet object's access control: each field is a mask of login
// identities (bit n = PIN n, 0x4000 = the TPS over the secure channel, 0x8000
// = anyone presenting the zero nonce). 0xFFFF means everyone, 0 nobody.
type ACL struct {
	Read, Write, Delete uint16
}

// Identity bits used in ACLs.
const (
	IdentityPIN0    uint16 = 0x0001
	IdentityRA      uint16 = 0x4000
	IdentityDefault uint16 = 0x8000
	IdentityAnyone  uint16 = 0xFFFF
)

// TPSObjectACL is what the TPS sets on the objects it writes: anyone reads,
// only the TPS (secure channel) writes and deletes.
var TPSObjectACL = ACL{Read: 0xFFFF, Write: IdentityRA, Delete: IdentityRA}

func (a ACL) encode() []byte {
	b := make([]byte, 6)
	binary.BigEndian.PutUint16(b[0:], a.Read)
	binary.BigEndian.PutUint16(b[2:], a.Write)
	binary.BigEndian.PutUint16(b[4:], a.Delete)
	return b
}

// ObjectInfo is one LIST OBJECTS entry.
type ObjectInfo struct {
	ID   ObjectID
	Size uint32
	ACL  ACL
}

// ObjectInfoSize is the length of a LIST OBJECTS entry.
const ObjectInfoSize = 14

// ParseObjectInfo decodes a 14-byte LIST OBJECTS entry: ID(4) ‖ size(4,
// the high short always 0 on the applet) ‖ read, write, delete ACLs.
func ParseObjectInfo(b []byte) (ObjectInfo, error) {
	if len(b) != ObjectInfoSize {
		return ObjectInfo{}, &ResponseLengthError{INS: insListObjects, Want: ObjectInfoSize, Got: len(b)}
	}
	return ObjectInfo{
		ID:   ObjectID(binary.BigEndian.Uint32(b[0:])),
		Size: binary.BigEndian.Uint32(b[4:]),
		ACL: ACL{
			Read:   binary.BigEndian.Uint16(b[8:]),
			Write:  binary.BigEndian.Uint16(b[10:]),
			Delete: binary.BigEndian.Uint16(b[12:]),
		},
	}, nil
}

// Encode returns the 14-byte LIST OBJECTS entry (the virtual card sends it).
func (o ObjectInfo) Encode() []byte {
	b := make([]byte, 8, ObjectInfoSize)
	binary.BigEndian.PutUint32(b[0:], uint32(o.ID))
	binary.BigEndian.PutUint32(b[4:], o.Size)
	return append(b, o.ACL.encode()...)
}

// KeyInfo is one LIST KEYS entry.
type KeyInfo struct {
	Number  byte
	Type    KeyType
	Partner byte // mate key number, 0xFF for none
	Bits    uint16
	// ACLs for reading, writing and using the key.
	Read, Write, Use uint16
}

// KeyInfoSize is the length of a LIST KEYS entry.
const KeyInfoSize = 11

// ParseKeyInfo decodes an 11-byte LIST KEYS entry.
func ParseKeyInfo(b []byte) (KeyInfo, error) {
	if len(b) != KeyInfoSize {
		return KeyInfo{}, &ResponseLengthError{INS: insListKeys, Want: KeyInfoSize, Got: len(b)}
	}
	return KeyInfo{
		Number:  b[0],
		Type:    KeyType(b[1]),
		Partner: b[2],
		Bits:    binary.BigEndian.Uint16(b[3:]),
		Read:    binary.BigEndian.Uint16(b[5:]),
		Write:   binary.BigEndian.Uint16(b[7:]),
		Use:     binary.BigEndian.Uint16(b[9:]),
	}, nil
}

// Encode returns the 11-byte LIST KEYS entry.
func (k KeyInfo) Encode() []byte {
	b := []byte{k.Number, byte(k.Type), k.Partner, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[3:], k.Bits)
	binary.BigEndian.PutUint16(b[5:], k.Read)
	binary.BigEndian.PutUint16(b[7:], k.Write)
	binary.BigEndian.PutUint16(b[9:], k.Use)
	return b
}

// KeyType is the applet's key type code (LIST KEYS byte 1).
type KeyType byte

// Applet key types.
const (
	KeyRSAPublic     KeyType = 1
	KeyRSAPrivate    KeyType = 2
	KeyRSAPrivateCRT KeyType = 3
	KeyDSAPublic     KeyType = 4
	KeyDSAPrivate    KeyType = 5
	KeyDES           KeyType = 6
	Key3DES          KeyType = 7
	Key3DES3         KeyType = 8
	KeyRSAPKCS8Pair  KeyType = 9 // key blob type only
	KeyECF2mPublic   KeyType = 10
	KeyECF2mPrivate  KeyType = 11
	KeyECFpPublic    KeyType = 12
	KeyECFpPrivate   KeyType = 13
	KeyECPKCS8Pair   KeyType = 14 // key blob type only
)
