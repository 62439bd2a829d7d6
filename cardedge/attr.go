package cardedge

import (
	"bytes"
	"fmt"
)

// AttributeType is a PKCS#11 attribute type (CKA_*). The constants below are
// the ones the card formats use; they are defined here so that this package
// stays free of cgo.
type AttributeType uint32

// PKCS#11 attribute types stored on CoolKey tokens.
const (
	CKA_CLASS             AttributeType = 0x000
	CKA_TOKEN             AttributeType = 0x001
	CKA_PRIVATE           AttributeType = 0x002
	CKA_LABEL             AttributeType = 0x003
	CKA_APPLICATION       AttributeType = 0x010
	CKA_VALUE             AttributeType = 0x011
	CKA_OBJECT_ID         AttributeType = 0x012
	CKA_CERTIFICATE_TYPE  AttributeType = 0x080
	CKA_ISSUER            AttributeType = 0x081
	CKA_SERIAL_NUMBER     AttributeType = 0x082
	CKA_KEY_TYPE          AttributeType = 0x100
	CKA_SUBJECT           AttributeType = 0x101
	CKA_ID                AttributeType = 0x102
	CKA_SENSITIVE         AttributeType = 0x103
	CKA_ENCRYPT           AttributeType = 0x104
	CKA_DECRYPT           AttributeType = 0x105
	CKA_WRAP              AttributeType = 0x106
	CKA_UNWRAP            AttributeType = 0x107
	CKA_SIGN              AttributeType = 0x108
	CKA_SIGN_RECOVER      AttributeType = 0x109
	CKA_VERIFY            AttributeType = 0x10A
	CKA_VERIFY_RECOVER    AttributeType = 0x10B
	CKA_DERIVE            AttributeType = 0x10C
	CKA_START_DATE        AttributeType = 0x110
	CKA_END_DATE          AttributeType = 0x111
	CKA_MODULUS           AttributeType = 0x120
	CKA_MODULUS_BITS      AttributeType = 0x121
	CKA_PUBLIC_EXPONENT   AttributeType = 0x122
	CKA_EXTRACTABLE       AttributeType = 0x162
	CKA_LOCAL             AttributeType = 0x163
	CKA_NEVER_EXTRACTABLE AttributeType = 0x164
	CKA_ALWAYS_SENSITIVE  AttributeType = 0x165
	CKA_MODIFIABLE        AttributeType = 0x170
	CKA_EC_PARAMS         AttributeType = 0x180
	CKA_EC_POINT          AttributeType = 0x181
)

// PKCS#11 object classes (CKO_*) and key and certificate types used here.
const (
	CKO_DATA        uint32 = 0
	CKO_CERTIFICATE uint32 = 1
	CKO_PUBLIC_KEY  uint32 = 2
	CKO_PRIVATE_KEY uint32 = 3
	CKO_SECRET_KEY  uint32 = 4

	CKK_RSA uint32 = 0
	CKK_EC  uint32 = 3

	CKC_X_509 uint32 = 0
)

// ValueKind says how an attribute's value is typed.
type ValueKind uint8

const (
	// KindBytes: a byte string (labels, DER, IDs, and v0 values the
	// reference host keeps raw).
	KindBytes ValueKind = iota
	// KindUlong: a CK_ULONG (class, key type, certificate type). Cards
	// store 4 bytes; the module writes native CK_ULONGs.
	KindUlong
	// KindBool: a CK_BBOOL.
	KindBool
)

// Attribute is one PKCS#11 attribute in neutral form: the coolkey package
// turns it into the native encoding.
type Attribute struct {
	Type  AttributeType
	Kind  ValueKind
	Bytes []byte // KindBytes
	Ulong uint32 // KindUlong
	Bool  bool   // KindBool
}

// BytesAttr, UlongAttr and BoolAttr build attributes.
func BytesAttr(t AttributeType, v []byte) Attribute {
	return Attribute{Type: t, Kind: KindBytes, Bytes: v}
}
func StringAttr(t AttributeType, v string) Attribute {
	return Attribute{Type: t, Kind: KindBytes, Bytes: []byte(v)}
}
func UlongAttr(t AttributeType, v uint32) Attribute {
	return Attribute{Type: t, Kind: KindUlong, Ulong: v}
}
func BoolAttr(t AttributeType, v bool) Attribute { return Attribute{Type: t, Kind: KindBool, Bool: v} }

// Equal reports whether a and b have the same type, kind and value.
func (a Attribute) Equal(b Attribute) bool {
	if a.Type != b.Type || a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case KindUlong:
		return a.Ulong == b.Ulong
	case KindBool:
		return a.Bool == b.Bool
	default:
		return bytes.Equal(a.Bytes, b.Bytes)
	}
}

func (a Attribute) String() string {
	switch a.Kind {
	case KindUlong:
		return fmt.Sprintf("%#x=%d", uint32(a.Type), a.Ulong)
	case KindBool:
		return fmt.Sprintf("%#x=%t", uint32(a.Type), a.Bool)
	default:
		return fmt.Sprintf("%#x=[%d bytes]", uint32(a.Type), len(a.Bytes))
	}
}

// Object is one PKCS#11 object read from the card, in neutral form.
type Object struct {
	// ID is the card object it came from ("c1", "k2", …).
	ID ObjectID
	// Attributes in a stable order, each type at most once.
	Attributes []Attribute
}

// Attr returns the attribute of type t.
func (o Object) Attr(t AttributeType) (Attribute, bool) {
	for _, a := range o.Attributes {
		if a.Type == t {
			return a, true
		}
	}
	return Attribute{}, false
}

// Class returns CKA_CLASS, if the object has one of kind KindUlong.
func (o Object) Class() (uint32, bool) {
	a, ok := o.Attr(CKA_CLASS)
	if !ok || a.Kind != KindUlong {
		return 0, false
	}
	return a.Ulong, true
}

// set replaces the attribute of a's type or appends a.
func setAttr(attrs []Attribute, a Attribute) []Attribute {
	for i := range attrs {
		if attrs[i].Type == a.Type {
			attrs[i] = a
			return attrs
		}
	}
	return append(attrs, a)
}
