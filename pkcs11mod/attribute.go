package pkcs11mod

import (
	"bytes"
	"encoding/binary"
	"errors"
	"unsafe"
)

// ulongSize is sizeof(CK_ULONG): attribute values of that C type are this
// many bytes in native byte order.
const ulongSize = int(unsafe.Sizeof(uint(0)))

// ULongValue encodes a CK_ULONG attribute value (CKA_CLASS, CKA_KEY_TYPE,
// CKA_MODULUS_BITS, ...).
func ULongValue(v uint) []byte {
	b := make([]byte, ulongSize)
	binary.NativeEndian.PutUint64(b, uint64(v))
	return b
}

// BoolValue encodes a CK_BBOOL attribute value.
func BoolValue(v bool) []byte {
	if v {
		return []byte{CK_TRUE}
	}
	return []byte{CK_FALSE}
}

// ULong decodes a CK_ULONG attribute value.
func (a Attribute) ULong() (uint, error) {
	if len(a.Value) != ulongSize {
		return 0, CKR_ATTRIBUTE_VALUE_INVALID
	}
	return uint(binary.NativeEndian.Uint64(a.Value)), nil
}

// Bool decodes a CK_BBOOL attribute value.
func (a Attribute) Bool() (bool, error) {
	if len(a.Value) != 1 {
		return false, CKR_ATTRIBUTE_VALUE_INVALID
	}
	return a.Value[0] != CK_FALSE, nil
}

// Matches reports whether an object with the given attributes matches a
// C_FindObjectsInit template: every template attribute must be present with
// byte-identical value. An empty template matches every object. attrs is
// looked up by type; missing types never match.
func Matches(template []Attribute, attrs map[AttributeType][]byte) bool {
	for _, t := range template {
		v, ok := attrs[t.Type]
		if !ok || !bytes.Equal(v, t.Value) {
			return false
		}
	}
	return true
}

// attrSlot is one entry of a caller's C_GetAttributeValue template: buf is
// a view of pValue of length *size, or nil (null) when pValue is NULL.
type attrSlot struct {
	buf  []byte
	null bool
	size *uint
}

// fillTemplate writes the backend's answers into the caller's template
// exactly as C_GetAttributeValue requires (v3.0 §5.7): every entry is
// processed; unreadable and unknown attributes and short buffers get
// CK_UNAVAILABLE_INFORMATION; NULL pValue gets the length. The return value
// follows SoftHSM's choice among the permitted codes: CKR_ATTRIBUTE_SENSITIVE
// before CKR_ATTRIBUTE_TYPE_INVALID before CKR_BUFFER_TOO_SMALL.
func fillTemplate(slots []attrSlot, results []AttributeResult) error {
	if len(results) != len(slots) {
		return errors.New("pkcs11mod: backend returned the wrong number of attributes")
	}
	var sensitive, invalid, short bool
	for i, s := range slots {
		r := results[i]
		if r.Err != nil {
			switch rv := returnValue(r.Err); rv {
			case CKR_ATTRIBUTE_SENSITIVE:
				sensitive = true
			case CKR_ATTRIBUTE_TYPE_INVALID:
				invalid = true
			default:
				return r.Err
			}
			*s.size = CK_UNAVAILABLE_INFORMATION
			continue
		}
		need := uint(len(r.Value))
		switch {
		case s.null:
			*s.size = need
		case *s.size >= need:
			copy(s.buf, r.Value)
			*s.size = need
		default:
			*s.size = CK_UNAVAILABLE_INFORMATION
			short = true
		}
	}
	switch {
	case sensitive:
		return CKR_ATTRIBUTE_SENSITIVE
	case invalid:
		return CKR_ATTRIBUTE_TYPE_INVALID
	case short:
		return CKR_BUFFER_TOO_SMALL
	}
	return nil
}
