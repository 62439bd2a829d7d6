package gp

import (
	"bytes"
	"fmt"
)

// Card Recognition Data (GP 2.1.1 annex F): what a security domain answers
// to GET DATA 80 CA 00 66, and how a TPS learns which SCP (and "i") a card
// speaks (docs/tps.md §2.1 step 8). Layout:
//
//	66 L
//	  73 L
//	    06 07 2A864886FC6B01                 {1 2 840 114283 1}  card recognition data
//	    60 L 06 L 2A864886FC6B02 <version…>  {… 2 v…}            card management type and version
//	    63 09 06 07 2A864886FC6B03           {… 3}               card identification scheme
//	    64 0B 06 09 2A864886FC6B04 <scp> <i> {… 4 scp i}         secure channel protocol
//
// Dogtag's parser walks these elements by position, so Encode emits exactly
// this order with one-byte lengths.

// GetDataCardRecognition returns the GET DATA command a TPS sends for it
// (with Le 2D, as Dogtag does).
func GetDataCardRecognition() []byte { return []byte{0x80, 0xCA, 0x00, 0x66, 0x2D} }

var (
	oidGP                = []byte{0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B} // 1.2.840.114283
	oidCardRecognition   = append(bytes.Clone(oidGP), 0x01)
	oidCardMgmtPrefix    = append(bytes.Clone(oidGP), 0x02)
	oidCardIdentScheme   = append(bytes.Clone(oidGP), 0x03)
	oidSecureChannelPref = append(bytes.Clone(oidGP), 0x04)
)

// CardRecognitionData is the part of the card recognition data this
// project uses.
type CardRecognitionData struct {
	// GPVersion holds the arcs after 1.2.840.114283.2, e.g. {2, 1, 1} for
	// GP 2.1.1. Each must be below 128.
	GPVersion []byte
	Protocol  Protocol
	// Param is the "i" implementation option (15 for SCP02, e.g. 00 or 70
	// for SCP03, 05 for SCP01). Must be below 128.
	Param byte
}

// Encode returns the full 66 template.
func (d CardRecognitionData) Encode() ([]byte, error) {
	for _, v := range append(bytes.Clone(d.GPVersion), byte(d.Protocol), d.Param) {
		if v >= 0x80 {
			return nil, fmt.Errorf("gp: card recognition OID arc %02X needs multi-byte encoding", v)
		}
	}
	oid := func(b []byte) []byte { return tlv(0x06, b) }
	var body []byte
	body = append(body, oid(oidCardRecognition)...)
	body = append(body, tlv(0x60, oid(append(bytes.Clone(oidCardMgmtPrefix), d.GPVersion...)))...)
	body = append(body, tlv(0x63, oid(oidCardIdentScheme))...)
	body = append(body, tlv(0x64, oid(append(bytes.Clone(oidSecureChannelPref), byte(d.Protocol), d.Param)))...)
	inner := tlv(0x73, body)
	if len(inner) > 0x7F {
		return nil, fmt.Errorf("gp: card recognition data too long: %w", ErrLength)
	}
	return tlv(0x66, inner), nil
}

// tlv encodes a single-byte tag with a one-byte length (callers keep values
// under 128 bytes).
func tlv(tag byte, value []byte) []byte {
	return append([]byte{tag, byte(len(value))}, value...)
}

// ParseCardRecognitionData decodes the 66 template (the GET DATA response
// data, without the status word). It needs the GP OID and the secure
// channel protocol element; the version is optional.
func ParseCardRecognitionData(b []byte) (CardRecognitionData, error) {
	bad := func(what string) (CardRecognitionData, error) {
		return CardRecognitionData{}, fmt.Errorf("gp: card recognition data: %s: %w", what, ErrLength)
	}
	outer, rest, ok := readTLV(b)
	if !ok || outer.tag != 0x66 || len(rest) != 0 {
		return bad("no 66 template")
	}
	t73, rest, ok := readTLV(outer.value)
	if !ok || t73.tag != 0x73 || len(rest) != 0 {
		return bad("no 73 template")
	}
	var d CardRecognitionData
	var sawGP, sawSCP bool
	for in := t73.value; len(in) > 0; {
		e, next, ok := readTLV(in)
		if !ok {
			return bad("malformed element")
		}
		in = next
		switch e.tag {
		case 0x06:
			sawGP = sawGP || bytes.Equal(e.value, oidCardRecognition)
		case 0x60, 0x64:
			o, _, ok := readTLV(e.value)
			if !ok || o.tag != 0x06 {
				return bad(fmt.Sprintf("element %02X holds no OID", e.tag))
			}
			if e.tag == 0x60 && bytes.HasPrefix(o.value, oidCardMgmtPrefix) {
				d.GPVersion = bytes.Clone(o.value[len(oidCardMgmtPrefix):])
			}
			if e.tag == 0x64 && len(o.value) == len(oidSecureChannelPref)+2 && bytes.HasPrefix(o.value, oidSecureChannelPref) {
				d.Protocol, d.Param = Protocol(o.value[len(o.value)-2]), o.value[len(o.value)-1]
				sawSCP = true
			}
		}
	}
	if !sawGP {
		return bad("no GlobalPlatform OID")
	}
	if !sawSCP {
		return bad("no secure channel protocol OID")
	}
	return d, nil
}

type tlvElem struct {
	tag   byte
	value []byte
}

// readTLV reads one BER element with a single-byte tag and a short or 81/82
// length, bounds-checked.
func readTLV(b []byte) (tlvElem, []byte, bool) {
	if len(b) < 2 || b[0]&0x1F == 0x1F { // multi-byte tags are not used here
		return tlvElem{}, nil, false
	}
	tag, n, off := b[0], int(b[1]), 2
	switch {
	case n < 0x80:
	case n == 0x81 && len(b) >= 3:
		n, off = int(b[2]), 3
	case n == 0x82 && len(b) >= 4:
		n, off = int(b[2])<<8|int(b[3]), 4
	default:
		return tlvElem{}, nil, false
	}
	if len(b)-off < n {
		return tlvElem{}, nil, false
	}
	return tlvElem{tag: tag, value: b[off : off+n]}, b[off+n:], true
}
