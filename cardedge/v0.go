package cardedge

import (
	"encoding/binary"
	"fmt"
)

// Version-0 ("separate") objects: each c, k and d object is its own applet
// object holding
//
//	00 ‖ objectID(4) ‖ L(2) ‖ L bytes of attribute records
//
// with each record type(4, big-endian) ‖ length(2) ‖ value. C objects hold
// a raw DER certificate and are not in this format.

// v0HeaderSize is the record type, object ID and length.
const v0HeaderSize = 7

// v0UlongAttrs are the attributes whose 4-byte values the reference host
// (and the TPS) read little-endian. OpenSC reads them big-endian, which is
// wrong for tokens the TPS wrote.
var v0UlongAttrs = map[AttributeType]bool{
	CKA_CLASS: true, CKA_KEY_TYPE: true, CKA_CERTIFICATE_TYPE: true,
}

// DecodeV0 decodes a v0 object read from applet object id. The object must
// name itself id and be exactly as long as its header says. CKA_CLASS,
// CKA_KEY_TYPE and CKA_CERTIFICATE_TYPE must be 4 bytes and become
// KindUlong (little-endian, as the reference host reads them); every other
// attribute stays KindBytes, raw, as the host keeps it.
func DecodeV0(id ObjectID, b []byte) (Object, error) {
	if len(b) < v0HeaderSize {
		return Object{}, malformed("v0 object %v of %d bytes", id, len(b))
	}
	if b[0] != 0 {
		return Object{}, malformed("v0 object %v record type %d", id, b[0])
	}
	if got := ObjectID(be32(b[1:])); got != id {
		return Object{}, malformed("v0 object %v names itself %v", id, got)
	}
	if l := int(be16(b[5:])); l+v0HeaderSize != len(b) {
		return Object{}, malformed("v0 object %v: %d attribute bytes in a %d-byte object", id, l, len(b))
	}
	r := reader{b: b[v0HeaderSize:]}
	o := Object{ID: id}
	seen := map[AttributeType]bool{}
	for r.len() > 0 {
		t, ok1 := r.u32()
		l, ok2 := r.u16()
		v, ok3 := r.take(int(l))
		if !ok1 || !ok2 || !ok3 {
			return Object{}, malformed("v0 object %v: truncated attribute", id)
		}
		typ := AttributeType(t)
		if seen[typ] {
			return Object{}, malformed("v0 object %v: attribute %#x twice", id, t)
		}
		seen[typ] = true
		if v0UlongAttrs[typ] {
			if len(v) != 4 {
				return Object{}, malformed("v0 object %v: attribute %#x of %d bytes, want 4", id, t, len(v))
			}
			o.Attributes = append(o.Attributes, UlongAttr(typ, binary.LittleEndian.Uint32(v)))
			continue
		}
		o.Attributes = append(o.Attributes, BytesAttr(typ, append([]byte(nil), v...)))
	}
	return o, nil
}

// EncodeV0 encodes o as a v0 object. KindUlong attributes are written as 4
// little-endian bytes and KindBool as one byte, the way the TPS writes them.
func EncodeV0(o Object) ([]byte, error) {
	b := []byte{0}
	b = appendBE32(b, uint32(o.ID))
	b = append(b, 0, 0) // length, filled in below
	for _, a := range o.Attributes {
		var v []byte
		switch a.Kind {
		case KindUlong:
			v = binary.LittleEndian.AppendUint32(nil, a.Ulong)
		case KindBool:
			v = []byte{0}
			if a.Bool {
				v[0] = 1
			}
		default:
			v = a.Bytes
		}
		if len(v) > 0xFFFF {
			return nil, fmt.Errorf("cardedge: v0 attribute %#x of %d bytes", uint32(a.Type), len(v))
		}
		b = appendBE32(b, uint32(a.Type))
		b = appendBE16(b, uint16(len(v)))
		b = append(b, v...)
	}
	l := len(b) - v0HeaderSize
	if l > 0xFFFF || len(b) > MaxObjectSize {
		return nil, fmt.Errorf("cardedge: v0 object %v of %d bytes", o.ID, len(b))
	}
	binary.BigEndian.PutUint16(b[5:], uint16(l))
	return b, nil
}
