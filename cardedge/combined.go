package cardedge

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sort"
)

// The combined object "z0" (format 1.0) holds every PKCS#11 object of an
// enrolled token: a 20-byte header, then a (normally zlib-compressed) block
// of token name and object records.

// CombinedHeaderSize is the size of the z0 header.
const CombinedHeaderSize = 20

// CombinedFormatVersion is the only z0 format there is (1.0).
const CombinedFormatVersion = 0x0100

// Compression types in the z0 header.
const (
	CompressionNone uint16 = 0
	CompressionZlib uint16 = 1
)

// MinCombinedSize is the smallest z0 the reference host recognises: it
// decides a token is "combined" by reading 255 bytes of z0, and a shorter
// object makes that read fail. The encoder pads to it.
const MinCombinedSize = 255

// MaxObjectSize is the largest object the applet can create.
const MaxObjectSize = 32767

// DefaultMaxInflated bounds the decompressed size of z0 unless the caller
// says otherwise. The largest real tokens hold a few certificates (a few KiB
// each); the reference host's cache holds 15000 bytes.
const DefaultMaxInflated = 64 << 10

// ErrMalformedObject is matched by every error about card object bytes (z0,
// v0 objects) that do not decode.
var ErrMalformedObject = errors.New("cardedge: malformed card object")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedObject}, args...)...)
}

// CombinedHeader is the uncompressed 20-byte start of z0.
type CombinedHeader struct {
	FormatVersion uint16
	// ObjectVersion changes on every rewrite; hosts key their caches on it
	// together with the CUID.
	ObjectVersion uint16
	CUID          CUID
	Compression   uint16
	DataSize      uint16 // stored (compressed) size of the data
	DataOffset    uint16 // where the data starts; 20 as the TPS writes it
}

// ParseCombinedHeader decodes the first 20 bytes of b.
func ParseCombinedHeader(b []byte) (CombinedHeader, error) {
	if len(b) < CombinedHeaderSize {
		return CombinedHeader{}, malformed("z0 header needs %d bytes, have %d", CombinedHeaderSize, len(b))
	}
	h := CombinedHeader{
		FormatVersion: be16(b[0:]),
		ObjectVersion: be16(b[2:]),
		Compression:   be16(b[14:]),
		DataSize:      be16(b[16:]),
		DataOffset:    be16(b[18:]),
	}
	copy(h.CUID[:], b[4:14])
	if h.FormatVersion>>8 != CombinedFormatVersion>>8 {
		return CombinedHeader{}, malformed("z0 format version %04X", h.FormatVersion)
	}
	if h.DataOffset < CombinedHeaderSize {
		return CombinedHeader{}, malformed("z0 data offset %d inside the header", h.DataOffset)
	}
	if h.Compression != CompressionNone && h.Compression != CompressionZlib {
		return CombinedHeader{}, malformed("z0 compression type %d", h.Compression)
	}
	return h, nil
}

// Encode returns the 20-byte header.
func (h CombinedHeader) Encode() []byte {
	b := make([]byte, 0, CombinedHeaderSize)
	b = appendBE16(b, h.FormatVersion)
	b = appendBE16(b, h.ObjectVersion)
	b = append(b, h.CUID[:]...)
	b = appendBE16(b, h.Compression)
	b = appendBE16(b, h.DataSize)
	return appendBE16(b, h.DataOffset)
}

// Size is how many bytes of z0 hold header and data: what a host must read.
func (h CombinedHeader) Size() int { return int(h.DataOffset) + int(h.DataSize) }

// Combined is the decoded z0 object.
type Combined struct {
	ObjectVersion uint16
	CUID          CUID
	// Uncompressed stores the data block as is instead of zlib.
	Uncompressed bool
	TokenName    string
	Records      []Record
}

// Record is one object record in z0, as stored.
type Record struct {
	ID    ObjectID
	Fixed FixedAttributes
	// Attributes are the explicit attribute records, which override Fixed.
	// Only KindBytes (STRING), KindUlong (INTEGER) and KindBool exist.
	Attributes []Attribute
}

// DecodeCombined decodes a z0 object, inflating at most DefaultMaxInflated
// bytes. Bytes after the header's data size are ignored (the object may be
// padded); anything malformed inside it is an error matching
// ErrMalformedObject.
func DecodeCombined(b []byte) (*Combined, error) { return DecodeCombinedLimit(b, DefaultMaxInflated) }

// DecodeCombinedLimit is DecodeCombined with a caller-chosen bound on the
// decompressed size.
func DecodeCombinedLimit(b []byte, maxInflated int) (*Combined, error) {
	h, err := ParseCombinedHeader(b)
	if err != nil {
		return nil, err
	}
	if h.Size() > len(b) {
		return nil, malformed("z0 header says %d bytes, object has %d", h.Size(), len(b))
	}
	stored := b[h.DataOffset:h.Size()]
	c := &Combined{ObjectVersion: h.ObjectVersion, CUID: h.CUID}
	var block []byte
	switch h.Compression {
	case CompressionNone:
		c.Uncompressed = true
		block = stored
	case CompressionZlib:
		if block, err = inflate(stored, maxInflated); err != nil {
			return nil, err
		}
	}
	if err := c.decodeBlock(block); err != nil {
		return nil, err
	}
	return c, nil
}

// inflate decompresses one zlib stream (checksum verified) of at most max
// bytes and rejects bytes after its end.
func inflate(b []byte, max int) ([]byte, error) {
	br := bytes.NewReader(b)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, malformed("z0 zlib header: %v", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, malformed("z0 zlib data: %v", err)
	}
	if len(out) > max {
		return nil, malformed("z0 inflates to more than %d bytes", max)
	}
	// flate reads a bytes.Reader byte by byte, so what is left is what
	// follows the stream's checksum.
	if br.Len() != 0 {
		return nil, malformed("%d bytes after the z0 zlib stream", br.Len())
	}
	return out, nil
}

// decodeBlock parses the decompressed data: objectOffset(2) ‖ count(2) ‖
// nameLen(1) ‖ name ‖ records.
func (c *Combined) decodeBlock(b []byte) error {
	if len(b) < 5 {
		return malformed("z0 data of %d bytes", len(b))
	}
	off, count, nameLen := int(be16(b)), int(be16(b[2:])), int(b[4])
	if 5+nameLen > len(b) {
		return malformed("z0 token name of %d bytes overruns the data", nameLen)
	}
	if off < 5+nameLen || off > len(b) {
		return malformed("z0 object offset %d (name ends at %d, data %d)", off, 5+nameLen, len(b))
	}
	c.TokenName = string(b[5 : 5+nameLen])
	r := reader{b: b[off:]}
	// Each record takes at least 10 bytes, so count cannot make us
	// allocate more than the data justifies.
	if count > r.len()/10 {
		return malformed("z0 claims %d objects in %d bytes", count, r.len())
	}
	c.Records = make([]Record, 0, count)
	for i := 0; i < count; i++ {
		rec, err := decodeRecord(&r)
		if err != nil {
			return fmt.Errorf("z0 object %d: %w", i, err)
		}
		c.Records = append(c.Records, rec)
	}
	if r.len() != 0 {
		return malformed("%d bytes after the last z0 object", r.len())
	}
	return nil
}

// z0 attribute data types.
const (
	dataString    = 0x00
	dataInteger   = 0x01
	dataBoolFalse = 0x02
	dataBoolTrue  = 0x03
)

func decodeRecord(r *reader) (Record, error) {
	id, ok1 := r.u32()
	fixed, ok2 := r.u32()
	n, ok3 := r.u16()
	if !ok1 || !ok2 || !ok3 {
		return Record{}, malformed("truncated object record header")
	}
	rec := Record{ID: ObjectID(id), Fixed: FixedAttributes(fixed)}
	if int(n) > r.len()/5 { // an attribute takes at least 5 bytes
		return Record{}, malformed("object %v claims %d attributes in %d bytes", rec.ID, n, r.len())
	}
	if n > 0 {
		rec.Attributes = make([]Attribute, 0, n)
	}
	for i := 0; i < int(n); i++ {
		t, ok1 := r.u32()
		dt, ok2 := r.u8()
		if !ok1 || !ok2 {
			return Record{}, malformed("object %v: truncated attribute", rec.ID)
		}
		a := Attribute{Type: AttributeType(t)}
		switch dt {
		case dataString:
			l, ok := r.u16()
			v, ok2 := r.take(int(l))
			if !ok || !ok2 {
				return Record{}, malformed("object %v attribute %#x: truncated string", rec.ID, t)
			}
			a.Kind, a.Bytes = KindBytes, append([]byte(nil), v...)
		case dataInteger:
			v, ok := r.u32()
			if !ok {
				return Record{}, malformed("object %v attribute %#x: truncated integer", rec.ID, t)
			}
			a.Kind, a.Ulong = KindUlong, v
		case dataBoolFalse, dataBoolTrue:
			a.Kind, a.Bool = KindBool, dt == dataBoolTrue
		default:
			return Record{}, malformed("object %v attribute %#x: data type %d", rec.ID, t, dt)
		}
		rec.Attributes = append(rec.Attributes, a)
	}
	return rec, nil
}

// Objects returns the records resolved into neutral objects, in z0 order.
func (c *Combined) Objects() []Object {
	out := make([]Object, len(c.Records))
	for i, r := range c.Records {
		out[i] = r.Object()
	}
	return out
}

// Object resolves the record: CKA_CLASS and CKA_ID from the fixed bitfield,
// then the booleans the class defines, with explicit attributes overriding
// any of them and following in card order. Booleans outside the class mask
// are absent.
func (r Record) Object() Object {
	attrs := make([]Attribute, 0, 2+len(fixedBools)+len(r.Attributes))
	attrs = append(attrs, UlongAttr(CKA_CLASS, r.Fixed.Class()), BytesAttr(CKA_ID, []byte{r.Fixed.ID()}))
	mask := r.Fixed.classMask()
	for _, fb := range fixedBools {
		if mask&(1<<fb.bit) != 0 {
			attrs = append(attrs, BoolAttr(fb.attr, uint32(r.Fixed)&(1<<fb.bit) != 0))
		}
	}
	for _, a := range r.Attributes {
		a.Bytes = append([]byte(nil), a.Bytes...)
		attrs = setAttr(attrs, a)
	}
	return Object{ID: r.ID, Attributes: attrs}
}

// FixedAttributes is the z0 record's 32-bit fixed-attribute field: CKA_ID
// (bits 0–3), the class (bits 4–6) and one bit per boolean attribute.
type FixedAttributes uint32

var fixedBools = []struct {
	bit  uint
	attr AttributeType
}{
	{7, CKA_TOKEN}, {8, CKA_PRIVATE}, {9, CKA_MODIFIABLE}, {10, CKA_DERIVE}, {11, CKA_LOCAL},
	{12, CKA_ENCRYPT}, {13, CKA_DECRYPT}, {14, CKA_WRAP}, {15, CKA_UNWRAP}, {16, CKA_SIGN},
	{17, CKA_SIGN_RECOVER}, {18, CKA_VERIFY}, {19, CKA_VERIFY_RECOVER}, {20, CKA_SENSITIVE},
	{21, CKA_ALWAYS_SENSITIVE}, {22, CKA_EXTRACTABLE}, {23, CKA_NEVER_EXTRACTABLE},
}

// classMasks are the booleans each fixed class defines (classes 5–7: none).
var classMasks = [8]uint32{0x00000380, 0x00000380, 0x000C5F80, 0x00F3AF80, 0x00F5FF80}

// NewFixedAttributes builds the field for class (CKO_DATA … CKO_SECRET_KEY),
// a CKA_ID of 0–15 and the boolean attributes that are true. It returns an
// error for a boolean the class does not define, which the card could not
// express.
func NewFixedAttributes(class uint32, id byte, trueAttrs ...AttributeType) (FixedAttributes, error) {
	if class > CKO_SECRET_KEY || id > 15 {
		return 0, fmt.Errorf("cardedge: fixed attributes cannot hold class %d, id %d", class, id)
	}
	f := uint32(id) | class<<4
	for _, t := range trueAttrs {
		bit, ok := fixedBit(t)
		if !ok || classMasks[class]&(1<<bit) == 0 {
			return 0, fmt.Errorf("cardedge: class %d has no fixed boolean %#x", class, uint32(t))
		}
		f |= 1 << bit
	}
	return FixedAttributes(f), nil
}

func fixedBit(t AttributeType) (uint, bool) {
	for _, fb := range fixedBools {
		if fb.attr == t {
			return fb.bit, true
		}
	}
	return 0, false
}

// ID returns CKA_ID (0–15).
func (f FixedAttributes) ID() byte { return byte(f & 0x0F) }

// Class returns the CKO_* class in bits 4–6.
func (f FixedAttributes) Class() uint32 { return uint32(f>>4) & 7 }

func (f FixedAttributes) classMask() uint32 { return classMasks[f.Class()] }

// Bool returns the boolean attribute t and whether the class defines it.
func (f FixedAttributes) Bool(t AttributeType) (value, defined bool) {
	bit, ok := fixedBit(t)
	if !ok || f.classMask()&(1<<bit) == 0 {
		return false, false
	}
	return uint32(f)&(1<<bit) != 0, true
}

// Encode returns the z0 object: header, then the data block (zlib unless
// Uncompressed), padded with zeros to MinCombinedSize. Records are written
// in the order given; see OrderRecords.
func (c *Combined) Encode() ([]byte, error) {
	if len(c.TokenName) > 255 {
		return nil, fmt.Errorf("cardedge: token name of %d bytes (max 255)", len(c.TokenName))
	}
	if len(c.Records) > 0xFFFF {
		return nil, fmt.Errorf("cardedge: %d z0 records", len(c.Records))
	}
	block := appendBE16(nil, uint16(5+len(c.TokenName)))
	block = appendBE16(block, uint16(len(c.Records)))
	block = append(block, byte(len(c.TokenName)))
	block = append(block, c.TokenName...)
	for _, r := range c.Records {
		var err error
		if block, err = r.appendTo(block); err != nil {
			return nil, err
		}
	}
	h := CombinedHeader{
		FormatVersion: CombinedFormatVersion,
		ObjectVersion: c.ObjectVersion,
		CUID:          c.CUID,
		Compression:   CompressionZlib,
		DataOffset:    CombinedHeaderSize,
	}
	stored := block
	if c.Uncompressed {
		h.Compression = CompressionNone
	} else {
		var buf bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&buf, zlib.DefaultCompression) // 78 9C, as the TPS writes
		zw.Write(block)
		zw.Close()
		stored = buf.Bytes()
	}
	if len(stored) > MaxObjectSize-CombinedHeaderSize {
		return nil, fmt.Errorf("cardedge: z0 data of %d bytes exceeds the applet's object size", len(stored))
	}
	h.DataSize = uint16(len(stored))
	out := append(h.Encode(), stored...)
	if len(out) < MinCombinedSize {
		out = append(out, make([]byte, MinCombinedSize-len(out))...)
	}
	return out, nil
}

func (r Record) appendTo(b []byte) ([]byte, error) {
	if len(r.Attributes) > 0xFFFF {
		return nil, fmt.Errorf("cardedge: object %v has %d attributes", r.ID, len(r.Attributes))
	}
	b = appendBE32(b, uint32(r.ID))
	b = appendBE32(b, uint32(r.Fixed))
	b = appendBE16(b, uint16(len(r.Attributes)))
	for _, a := range r.Attributes {
		b = appendBE32(b, uint32(a.Type))
		switch a.Kind {
		case KindBytes:
			if len(a.Bytes) > 0xFFFF {
				return nil, fmt.Errorf("cardedge: object %v attribute %#x of %d bytes", r.ID, uint32(a.Type), len(a.Bytes))
			}
			b = append(b, dataString)
			b = appendBE16(b, uint16(len(a.Bytes)))
			b = append(b, a.Bytes...)
		case KindUlong:
			b = append(b, dataInteger)
			b = appendBE32(b, a.Ulong)
		case KindBool:
			if a.Bool {
				b = append(b, dataBoolTrue)
			} else {
				b = append(b, dataBoolFalse)
			}
		default:
			return nil, fmt.Errorf("cardedge: object %v attribute %#x has kind %d", r.ID, uint32(a.Type), a.Kind)
		}
	}
	return b, nil
}

// OrderRecords returns records in the order the TPS writes them and the
// reference host needs: for each certificate (by CKA_ID), the certificate,
// then its public keys, then its private keys; then everything else (data
// objects, keys without a certificate) in the order given. The reference
// host fails to load a key whose certificate has not been read yet.
func OrderRecords(records []Record) []Record {
	rank := func(r Record) int {
		switch r.Fixed.Class() {
		case CKO_CERTIFICATE:
			return 0
		case CKO_PUBLIC_KEY:
			return 1
		case CKO_PRIVATE_KEY:
			return 2
		}
		return 3
	}
	certIDs := map[byte]int{} // CKA_ID → position of its first certificate
	for _, r := range records {
		if r.Fixed.Class() == CKO_CERTIFICATE {
			if _, ok := certIDs[r.Fixed.ID()]; !ok {
				certIDs[r.Fixed.ID()] = len(certIDs)
			}
		}
	}
	out := append([]Record(nil), records...)
	group := func(r Record) int {
		if pos, ok := certIDs[r.Fixed.ID()]; ok && rank(r) < 3 {
			return pos
		}
		return len(certIDs) // after every certificate group
	}
	sort.SliceStable(out, func(i, j int) bool {
		gi, gj := group(out[i]), group(out[j])
		if gi != gj {
			return gi < gj
		}
		if gi == len(certIDs) {
			return false // keep the given order
		}
		return rank(out[i]) < rank(out[j])
	})
	return out
}

// reader walks a byte slice without ever reading past its end.
type reader struct{ b []byte }

func (r *reader) len() int { return len(r.b) }

func (r *reader) take(n int) ([]byte, bool) {
	if n < 0 || n > len(r.b) {
		return nil, false
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, true
}

func (r *reader) u8() (byte, bool) {
	v, ok := r.take(1)
	if !ok {
		return 0, false
	}
	return v[0], true
}

func (r *reader) u16() (uint16, bool) {
	v, ok := r.take(2)
	if !ok {
		return 0, false
	}
	return be16(v), true
}

func (r *reader) u32() (uint32, bool) {
	v, ok := r.take(4)
	if !ok {
		return 0, false
	}
	return be32(v), true
}
