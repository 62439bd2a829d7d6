package cardedge

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// CUID is the 10-byte card unique ID: IC fabricator(2) ‖ IC type(2) ‖ IC
// batch(2) ‖ IC serial(4). Note the batch comes before the serial, unlike
// in CPLC.
type CUID [10]byte

// ParseCUID parses 20 hex digits.
func ParseCUID(s string) (CUID, error) {
	var c CUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil || len(b) != len(c) {
		return c, fmt.Errorf("cardedge: CUID %q is not 20 hex digits", s)
	}
	copy(c[:], b)
	return c, nil
}

// String returns the CUID as 20 upper-case hex digits, as the TPS prints it.
func (c CUID) String() string { return strings.ToUpper(hex.EncodeToString(c[:])) }

func (c CUID) Fabricator() uint16 { return binary.BigEndian.Uint16(c[0:]) }
func (c CUID) ICType() uint16     { return binary.BigEndian.Uint16(c[2:]) }
func (c CUID) Batch() uint16      { return binary.BigEndian.Uint16(c[4:]) }
func (c CUID) Serial() uint32     { return binary.BigEndian.Uint32(c[6:]) }

// IsZero reports whether no CUID is known.
func (c CUID) IsZero() bool { return c == CUID{} }

// FabricatorName returns the manufacturer name the reference host shows for
// the CUID's fabricator code, or "" when it has none.
func (c CUID) FabricatorName() string { return fabricatorNames[c.Fabricator()] }

var fabricatorNames = map[uint16]string{
	0x4090: "Axalto",
	0x2050: "Oberthur",
	0x4780: "RSA",
	0x534E: "SafeNet",
}

// CPLC is the GlobalPlatform Card Production Life Cycle data (GET DATA
// 9F7F), 42 bytes of big-endian fields.
type CPLC struct {
	ICFabricator            uint16
	ICType                  uint16
	OSID                    uint16
	OSReleaseDate           uint16
	OSReleaseLevel          uint16
	ICFabricationDate       uint16
	ICSerialNumber          uint32
	ICBatchID               uint16
	ICModuleFabricator      uint16
	ICModulePackagingDate   uint16
	ICCManufacturer         uint16
	ICEmbeddingDate         uint16
	ICPrePersonalizer       uint16
	ICPrePersoEquipmentDate uint16
	ICPrePersoEquipmentID   uint32
	ICPersonalizer          uint16
	ICPersonalizationDate   uint16
	ICPersoEquipmentID      uint32
}

// CPLCResponseSize is the length of the GET DATA CPLC response data: tag
// 9F7F, length 2A, 42 bytes. The reference host accepts nothing else.
const CPLCResponseSize = 45

const cplcTag = 0x9F7F

// ParseCPLC decodes the 45-byte GET DATA CPLC response.
func ParseCPLC(b []byte) (CPLC, error) {
	if len(b) != CPLCResponseSize {
		return CPLC{}, &ResponseLengthError{INS: insGetData, Want: CPLCResponseSize, Got: len(b)}
	}
	t, _, err := ParseTLV(b)
	if err != nil || t.Tag != cplcTag || len(t.Value) != 42 {
		return CPLC{}, fmt.Errorf("%w: CPLC does not start 9F 7F 2A", ErrMalformedResponse)
	}
	v := t.Value
	u16 := func(off int) uint16 { return binary.BigEndian.Uint16(v[off:]) }
	u32 := func(off int) uint32 { return binary.BigEndian.Uint32(v[off:]) }
	return CPLC{
		ICFabricator:            u16(0),
		ICType:                  u16(2),
		OSID:                    u16(4),
		OSReleaseDate:           u16(6),
		OSReleaseLevel:          u16(8),
		ICFabricationDate:       u16(10),
		ICSerialNumber:          u32(12),
		ICBatchID:               u16(16),
		ICModuleFabricator:      u16(18),
		ICModulePackagingDate:   u16(20),
		ICCManufacturer:         u16(22),
		ICEmbeddingDate:         u16(24),
		ICPrePersonalizer:       u16(26),
		ICPrePersoEquipmentDate: u16(28),
		ICPrePersoEquipmentID:   u32(30),
		ICPersonalizer:          u16(34),
		ICPersonalizationDate:   u16(36),
		ICPersoEquipmentID:      u32(38),
	}, nil
}

// Encode returns the 45-byte GET DATA CPLC response data.
func (c CPLC) Encode() []byte {
	v := make([]byte, 42)
	p16 := func(off int, x uint16) { binary.BigEndian.PutUint16(v[off:], x) }
	p32 := func(off int, x uint32) { binary.BigEndian.PutUint32(v[off:], x) }
	p16(0, c.ICFabricator)
	p16(2, c.ICType)
	p16(4, c.OSID)
	p16(6, c.OSReleaseDate)
	p16(8, c.OSReleaseLevel)
	p16(10, c.ICFabricationDate)
	p32(12, c.ICSerialNumber)
	p16(16, c.ICBatchID)
	p16(18, c.ICModuleFabricator)
	p16(20, c.ICModulePackagingDate)
	p16(22, c.ICCManufacturer)
	p16(24, c.ICEmbeddingDate)
	p16(26, c.ICPrePersonalizer)
	p16(28, c.ICPrePersoEquipmentDate)
	p32(30, c.ICPrePersoEquipmentID)
	p16(34, c.ICPersonalizer)
	p16(36, c.ICPersonalizationDate)
	p32(38, c.ICPersoEquipmentID)
	return append([]byte{0x9F, 0x7F, 0x2A}, v...)
}

// CUID builds the card unique ID the way the reference host does:
// fabricator ‖ IC type ‖ batch ‖ serial.
func (c CPLC) CUID() CUID {
	var id CUID
	binary.BigEndian.PutUint16(id[0:], c.ICFabricator)
	binary.BigEndian.PutUint16(id[2:], c.ICType)
	binary.BigEndian.PutUint16(id[4:], c.ICBatchID)
	binary.BigEndian.PutUint32(id[6:], c.ICSerialNumber)
	return id
}

// MSN is the manufacturer serial number the ESC shows: the IC
// personalization equipment ID (response bytes 41–44).
func (c CPLC) MSN() uint32 { return c.ICPersoEquipmentID }

// CPLCForCUID returns CPLC data whose CUID is id (the other fields zero), for
// virtual cards that are given a CUID.
func CPLCForCUID(id CUID) CPLC {
	return CPLC{
		ICFabricator:   id.Fabricator(),
		ICType:         id.ICType(),
		ICBatchID:      id.Batch(),
		ICSerialNumber: id.Serial(),
	}
}
