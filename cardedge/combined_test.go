package cardedge

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// standInCert makes an RSA-1024 certificate like the ones on the §3.5 token.
// The sheet does not contain the real 775-byte DER, so the golden test
// checks every attribute against certificates generated here instead.
func standInCert(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Token Key User"}},
		NotBefore:    time.Unix(1500000000, 0),
		NotAfter:     time.Unix(1600000000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustFixed(t testing.TB, class uint32, id byte, attrs ...AttributeType) FixedAttributes {
	t.Helper()
	f, err := NewFixedAttributes(class, id, attrs...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCombinedGoldenSC650 rebuilds the SafeNet SC650 token of cardedge.md
// §3.5 with the encoder from the facts given (header fields, token name,
// records, fixed-attribute values, explicit attributes), decodes it, and
// compares every attribute.
func TestCombinedGoldenSC650(t *testing.T) {
	cuid, err := ParseCUID("534E0650004200500229")
	if err != nil {
		t.Fatal(err)
	}
	cert1, cert2 := standInCert(t, "Jakub Jelen"), standInCert(t, "Jakub Jelen")

	// The fixed values are the ones read off the real token; building them
	// from class, ID and booleans must give the same numbers.
	fixed := []struct {
		id    ObjectID
		want  uint32
		class uint32
		ckaID byte
		bools []AttributeType
	}{
		{NewObjectID('c', 1), 0x00000091, CKO_CERTIFICATE, 1, []AttributeType{CKA_TOKEN}},
		{NewObjectID('k', 3), 0x000C00A1, CKO_PUBLIC_KEY, 1, []AttributeType{CKA_TOKEN, CKA_VERIFY, CKA_VERIFY_RECOVER}},
		{NewObjectID('k', 2), 0x001301B1, CKO_PRIVATE_KEY, 1, []AttributeType{CKA_TOKEN, CKA_PRIVATE, CKA_SIGN, CKA_SIGN_RECOVER, CKA_SENSITIVE}},
		{NewObjectID('c', 2), 0x00000092, CKO_CERTIFICATE, 2, []AttributeType{CKA_TOKEN}},
		{NewObjectID('k', 5), 0x000050A2, CKO_PUBLIC_KEY, 2, []AttributeType{CKA_TOKEN, CKA_ENCRYPT, CKA_WRAP}},
		{NewObjectID('k', 4), 0x0010A1B2, CKO_PRIVATE_KEY, 2, []AttributeType{CKA_TOKEN, CKA_PRIVATE, CKA_DECRYPT, CKA_UNWRAP, CKA_SENSITIVE}},
	}
	explicit := map[ObjectID][]Attribute{
		NewObjectID('c', 1): {StringAttr(CKA_LABEL, "signing key for jjelen"), BytesAttr(CKA_VALUE, cert1)},
		NewObjectID('k', 2): {UlongAttr(CKA_KEY_TYPE, CKK_RSA)},
		NewObjectID('c', 2): {StringAttr(CKA_LABEL, "encryption key for jjelen"), BytesAttr(CKA_VALUE, cert2)},
		NewObjectID('k', 4): {UlongAttr(CKA_KEY_TYPE, CKK_RSA)},
	}
	var records []Record
	for _, f := range fixed {
		fa := mustFixed(t, f.class, f.ckaID, f.bools...)
		if uint32(fa) != f.want {
			t.Errorf("%v: fixed attributes %#08x, the real token has %#08x", f.id, uint32(fa), f.want)
		}
		records = append(records, Record{ID: f.id, Fixed: fa, Attributes: explicit[f.id]})
	}
	// Shuffle, then let OrderRecords restore the token's order.
	shuffled := []Record{records[5], records[2], records[4], records[0], records[1], records[3]}
	ordered := OrderRecords(shuffled)
	if diff := cmp.Diff(records, ordered); diff != "" {
		t.Errorf("OrderRecords differs from the real token's order (-want +got):\n%s", diff)
	}

	z0 := &Combined{ObjectVersion: 71, CUID: cuid, TokenName: "jjelen", Records: ordered}
	b, err := z0.Encode()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := Hex(t, "0100 0047 534E0650004200500229 0001")
	if !bytes.Equal(b[:16], wantHeader) || !bytes.Equal(b[18:20], []byte{0, 0x14}) || !bytes.Equal(b[20:22], []byte{0x78, 0x9C}) {
		t.Errorf("header %X, want %X ‖ size ‖ 0014 then 789C", b[:22], wantHeader)
	}

	got, err := DecodeCombined(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ObjectVersion != 71 || got.CUID != cuid || got.TokenName != "jjelen" || got.Uncompressed {
		t.Errorf("decoded version %d CUID %v name %q uncompressed %v", got.ObjectVersion, got.CUID, got.TokenName, got.Uncompressed)
	}
	// The decompressed block: object offset 11 (= 5 + len("jjelen")), 6 objects.
	h, _ := ParseCombinedHeader(b)
	block, err := inflate(b[20:h.Size()], DefaultMaxInflated)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(block[:5], []byte{0, 11, 0, 6, 6}) {
		t.Errorf("block starts %X, want 000B 0006 06", block[:5])
	}

	b1, b0 := true, false
	type want struct {
		class uint32
		ckaID byte
		bools map[AttributeType]bool // every boolean that must exist
		extra []Attribute
	}
	certBools := map[AttributeType]bool{CKA_TOKEN: b1, CKA_PRIVATE: b0, CKA_MODIFIABLE: b0}
	wants := map[ObjectID]want{
		NewObjectID('c', 1): {CKO_CERTIFICATE, 1, certBools, explicit[NewObjectID('c', 1)]},
		NewObjectID('c', 2): {CKO_CERTIFICATE, 2, certBools, explicit[NewObjectID('c', 2)]},
		NewObjectID('k', 3): {CKO_PUBLIC_KEY, 1, map[AttributeType]bool{
			CKA_TOKEN: b1, CKA_PRIVATE: b0, CKA_MODIFIABLE: b0, CKA_DERIVE: b0, CKA_LOCAL: b0,
			CKA_ENCRYPT: b0, CKA_WRAP: b0, CKA_VERIFY: b1, CKA_VERIFY_RECOVER: b1}, nil},
		NewObjectID('k', 5): {CKO_PUBLIC_KEY, 2, map[AttributeType]bool{
			CKA_TOKEN: b1, CKA_PRIVATE: b0, CKA_MODIFIABLE: b0, CKA_DERIVE: b0, CKA_LOCAL: b0,
			CKA_ENCRYPT: b1, CKA_WRAP: b1, CKA_VERIFY: b0, CKA_VERIFY_RECOVER: b0}, nil},
		NewObjectID('k', 2): {CKO_PRIVATE_KEY, 1, map[AttributeType]bool{
			CKA_TOKEN: b1, CKA_PRIVATE: b1, CKA_MODIFIABLE: b0, CKA_DERIVE: b0, CKA_LOCAL: b0,
			CKA_DECRYPT: b0, CKA_UNWRAP: b0, CKA_SIGN: b1, CKA_SIGN_RECOVER: b1, CKA_SENSITIVE: b1,
			CKA_ALWAYS_SENSITIVE: b0, CKA_EXTRACTABLE: b0, CKA_NEVER_EXTRACTABLE: b0}, explicit[NewObjectID('k', 2)]},
		NewObjectID('k', 4): {CKO_PRIVATE_KEY, 2, map[AttributeType]bool{
			CKA_TOKEN: b1, CKA_PRIVATE: b1, CKA_MODIFIABLE: b0, CKA_DERIVE: b0, CKA_LOCAL: b0,
			CKA_DECRYPT: b1, CKA_UNWRAP: b1, CKA_SIGN: b0, CKA_SIGN_RECOVER: b0, CKA_SENSITIVE: b1,
			CKA_ALWAYS_SENSITIVE: b0, CKA_EXTRACTABLE: b0, CKA_NEVER_EXTRACTABLE: b0}, explicit[NewObjectID('k', 4)]},
	}
	objs := got.Objects()
	if len(objs) != 6 {
		t.Fatalf("%d objects, want 6", len(objs))
	}
	order := []string{"c1", "k3", "k2", "c2", "k5", "k4"}
	for i, o := range objs {
		if o.ID.String() != order[i] {
			t.Errorf("object %d is %v, want %s", i, o.ID, order[i])
		}
		w := wants[o.ID]
		var exp []Attribute
		exp = append(exp, UlongAttr(CKA_CLASS, w.class), BytesAttr(CKA_ID, []byte{w.ckaID}))
		for _, fb := range fixedBools { // the decoder's order
			if v, ok := w.bools[fb.attr]; ok {
				exp = append(exp, BoolAttr(fb.attr, v))
			}
		}
		exp = append(exp, w.extra...)
		if diff := cmp.Diff(exp, o.Attributes); diff != "" {
			t.Errorf("%v attributes (-want +got):\n%s", o.ID, diff)
		}
		// Booleans outside the class mask are absent.
		if _, ok := o.Attr(CKA_SIGN); ok && w.class != CKO_PRIVATE_KEY {
			t.Errorf("%v has CKA_SIGN outside its class mask", o.ID)
		}
	}
}

// Hex is cardtest.Hex for this package's tests (cardtest cannot be imported
// here without a cycle in external test packages that import both).
func Hex(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	var hi byte
	n := 0
	for _, c := range s {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = byte(c - '0')
		case c >= 'a' && c <= 'f':
			v = byte(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v = byte(c-'A') + 10
		case c == ' ':
			continue
		default:
			t.Fatalf("bad hex %q", s)
		}
		if n%2 == 0 {
			hi = v
		} else {
			out = append(out, hi<<4|v)
		}
		n++
	}
	if n%2 != 0 {
		t.Fatalf("odd hex %q", s)
	}
	return out
}

func TestCombinedOverride(t *testing.T) {
	// An explicit CKA_ID or CKA_CLASS wins over the fixed field, and
	// explicit booleans win too.
	rec := Record{
		ID:    NewObjectID('k', 2),
		Fixed: mustFixed(t, CKO_PRIVATE_KEY, 1, CKA_SIGN),
		Attributes: []Attribute{
			BytesAttr(CKA_ID, []byte{0x12, 0x34}),
			BoolAttr(CKA_SIGN, false),
			UlongAttr(CKA_CLASS, CKO_SECRET_KEY),
			StringAttr(CKA_LABEL, "x"),
		},
	}
	o := rec.Object()
	if a, _ := o.Attr(CKA_ID); !bytes.Equal(a.Bytes, []byte{0x12, 0x34}) {
		t.Errorf("CKA_ID %X", a.Bytes)
	}
	if a, _ := o.Attr(CKA_SIGN); a.Kind != KindBool || a.Bool {
		t.Errorf("CKA_SIGN %v", a)
	}
	if c, _ := o.Class(); c != CKO_SECRET_KEY {
		t.Errorf("class %d", c)
	}
	seen := map[AttributeType]bool{}
	for _, a := range o.Attributes {
		if seen[a.Type] {
			t.Errorf("attribute %#x twice", a.Type)
		}
		seen[a.Type] = true
	}
}

func TestCombinedRoundTrip(t *testing.T) {
	for _, uncompressed := range []bool{false, true} {
		c := &Combined{
			ObjectVersion: 0xFFFE,
			CUID:          CUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
			Uncompressed:  uncompressed,
			TokenName:     "ü",
			Records: []Record{
				{ID: NewObjectID('d', 0), Fixed: mustFixed(t, CKO_DATA, 0, CKA_MODIFIABLE), Attributes: []Attribute{
					BytesAttr(CKA_VALUE, nil), UlongAttr(CKA_APPLICATION, 0xDEADBEEF), BoolAttr(CKA_TOKEN, false), BoolAttr(CKA_PRIVATE, true),
				}},
				{ID: NewObjectID('k', 61), Fixed: mustFixed(t, CKO_SECRET_KEY, 15, CKA_ENCRYPT, CKA_NEVER_EXTRACTABLE)},
			},
		}
		b, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != MinCombinedSize {
			t.Errorf("small z0 is %d bytes, want padded to %d", len(b), MinCombinedSize)
		}
		got, err := DecodeCombined(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
			t.Errorf("uncompressed=%v round trip (-want +got):\n%s", uncompressed, diff)
		}
	}
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func combinedWith(compression uint16, data []byte) []byte {
	h := CombinedHeader{FormatVersion: 0x0100, Compression: compression, DataSize: uint16(len(data)), DataOffset: 20}
	return append(h.Encode(), data...)
}

func TestDecodeCombinedRejects(t *testing.T) {
	goodBlock := []byte{0, 5, 0, 0, 0}
	bomb := zlibBytes(make([]byte, DefaultMaxInflated+1))
	tests := []struct {
		name string
		b    []byte
	}{
		{"short header", make([]byte, 19)},
		{"format 2.0", append([]byte{2, 0}, combinedWith(0, goodBlock)[2:]...)},
		{"compression 2", combinedWith(2, goodBlock)},
		{"data offset in header", func() []byte { b := combinedWith(0, goodBlock); b[19] = 10; return b }()},
		{"data size past end", combinedWith(0, goodBlock)[:24]},
		{"zlib bomb", combinedWith(1, bomb)},
		{"garbage after zlib", combinedWith(1, append(zlibBytes(goodBlock), 0))},
		{"bad zlib checksum", func() []byte { z := zlibBytes(goodBlock); z[len(z)-1] ^= 1; return combinedWith(1, z) }()},
		{"block too short", combinedWith(0, []byte{0, 5, 0, 0})},
		{"name overruns", combinedWith(0, []byte{0, 5, 0, 0, 9, 'a'})},
		{"offset before name end", combinedWith(0, []byte{0, 5, 0, 0, 1, 'a'})},
		{"offset past end", combinedWith(0, []byte{0, 9, 0, 0, 0})},
		{"count too large", combinedWith(0, []byte{0, 5, 0xFF, 0xFF, 0})},
		{"trailing bytes after records", combinedWith(0, []byte{0, 5, 0, 0, 0, 1})},
		{"truncated record", combinedWith(0, append([]byte{0, 5, 0, 1, 0}, make([]byte, 10)[:9]...))},
		{"attribute data type 4", combinedWith(0, append([]byte{0, 5, 0, 1, 0}, Hex(t, "63310000 00000091 0001 00000003 04 0000000000")...))},
		{"truncated string", combinedWith(0, append([]byte{0, 5, 0, 1, 0}, Hex(t, "63310000 00000091 0001 00000003 00 0009 61")...))},
		{"truncated integer", combinedWith(0, append([]byte{0, 5, 0, 1, 0}, Hex(t, "63310000 00000091 0001 00000003 01 0000 00")...))},
		{"too many attributes", combinedWith(0, append([]byte{0, 5, 0, 1, 0}, Hex(t, "63310000 00000091 FFFF 00000003 02")...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCombined(tt.b)
			if !errors.Is(err, ErrMalformedObject) {
				t.Errorf("err = %v, want ErrMalformedObject", err)
			}
		})
	}
	// The bomb is fine when the caller raises the limit.
	if _, err := DecodeCombinedLimit(combinedWith(1, zlibBytes(append([]byte{0, 5, 0, 0, 0}, make([]byte, 0)...))), 5); err != nil {
		t.Errorf("limit = block size: %v", err)
	}
	if _, err := DecodeCombinedLimit(combinedWith(1, zlibBytes(goodBlock)), 4); !errors.Is(err, ErrMalformedObject) {
		t.Errorf("limit below block size: %v", err)
	}
	// Padding after the declared data is allowed.
	if _, err := DecodeCombined(append(combinedWith(1, zlibBytes(goodBlock)), 0, 0, 0)); err != nil {
		t.Errorf("padded z0: %v", err)
	}
}

func TestNewFixedAttributesRejects(t *testing.T) {
	if _, err := NewFixedAttributes(CKO_CERTIFICATE, 1, CKA_SIGN); err == nil {
		t.Error("certificate with CKA_SIGN accepted")
	}
	if _, err := NewFixedAttributes(CKO_PRIVATE_KEY, 16); err == nil {
		t.Error("CKA_ID 16 accepted")
	}
	if _, err := NewFixedAttributes(5, 0); err == nil {
		t.Error("class 5 accepted")
	}
	f := mustFixed(t, CKO_PUBLIC_KEY, 3, CKA_VERIFY)
	if v, ok := f.Bool(CKA_VERIFY); !v || !ok {
		t.Error("CKA_VERIFY not set")
	}
	if _, ok := f.Bool(CKA_SIGN); ok {
		t.Error("public key defines CKA_SIGN")
	}
}

func TestOrderRecordsKeepsOthers(t *testing.T) {
	d := Record{ID: NewObjectID('d', 0), Fixed: mustFixed(t, CKO_DATA, 0)}
	orphan := Record{ID: NewObjectID('k', 8), Fixed: mustFixed(t, CKO_PRIVATE_KEY, 9)}
	c3 := Record{ID: NewObjectID('c', 3), Fixed: mustFixed(t, CKO_CERTIFICATE, 3)}
	k6 := Record{ID: NewObjectID('k', 6), Fixed: mustFixed(t, CKO_PRIVATE_KEY, 3)}
	k7 := Record{ID: NewObjectID('k', 7), Fixed: mustFixed(t, CKO_PUBLIC_KEY, 3)}
	got := OrderRecords([]Record{d, k6, orphan, k7, c3})
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID.String())
	}
	if diff := cmp.Diff([]string{"c3", "k7", "k6", "d0", "k8"}, ids); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestCombinedEncodeLimits(t *testing.T) {
	long := make([]byte, 256)
	if _, err := (&Combined{TokenName: string(long)}).Encode(); err == nil {
		t.Error("256-byte token name accepted")
	}
	noise := make([]byte, 40000)
	rand.Read(noise) // incompressible
	c := &Combined{Records: []Record{{ID: NewObjectID('c', 1), Attributes: []Attribute{BytesAttr(CKA_VALUE, noise)}}}}
	if _, err := c.Encode(); err == nil {
		t.Error("z0 larger than an applet object accepted")
	}
}
