package cardedge

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestV0RoundTripAndEndianness(t *testing.T) {
	id := NewObjectID('k', 2)
	o := Object{ID: id, Attributes: []Attribute{
		UlongAttr(CKA_CLASS, CKO_PRIVATE_KEY),
		UlongAttr(CKA_KEY_TYPE, CKK_EC),
		StringAttr(CKA_LABEL, "signing key"),
		BytesAttr(CKA_ID, []byte{1}),
		BytesAttr(CKA_SIGN, []byte{1}),
	}}
	b, err := EncodeV0(o)
	if err != nil {
		t.Fatal(err)
	}
	// CKA_CLASS = 3 is stored little-endian, as the TPS and the reference
	// host have it: 03 00 00 00.
	want := Hex(t, "00 6B320000 0033  00000000 0004 03000000  00000100 0004 03000000"+
		"  00000003 000B 7369676E696E67206B6579  00000102 0001 01  00000108 0001 01")
	if !bytes.Equal(b, want) {
		t.Errorf("EncodeV0 =\n%X\nwant\n%X", b, want)
	}
	got, err := DecodeV0(id, b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(o, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Booleans encode to one byte and come back raw, as the host keeps them.
	b, _ = EncodeV0(Object{ID: id, Attributes: []Attribute{BoolAttr(CKA_TOKEN, true)}})
	got, _ = DecodeV0(id, b)
	if a, _ := got.Attr(CKA_TOKEN); !bytes.Equal(a.Bytes, []byte{1}) || a.Kind != KindBytes {
		t.Errorf("bool came back as %v", a)
	}
}

func TestDecodeV0Rejects(t *testing.T) {
	id := NewObjectID('c', 1)
	tests := []struct {
		name string
		b    string
	}{
		{"short", "00 63310000 00"},
		{"record type 1", "01 63310000 0000"},
		{"wrong id", "00 63320000 0000"},
		{"length too long", "00 63310000 0001"},
		{"length too short", "00 63310000 0000 00"},
		{"truncated attribute", "00 63310000 0005 00000003 00"},
		{"value overruns", "00 63310000 0007 00000003 0002 61"},
		{"class not 4 bytes", "00 63310000 0008 00000000 0002 0100"},
		{"duplicate", "00 63310000 000E 00000003 0001 61 00000003 0001 62"},
	}
	for _, tt := range tests {
		if _, err := DecodeV0(id, Hex(t, tt.b)); !errors.Is(err, ErrMalformedObject) {
			t.Errorf("%s: err = %v, want ErrMalformedObject", tt.name, err)
		}
	}
	if o, err := DecodeV0(id, Hex(t, "00 63310000 0000")); err != nil || len(o.Attributes) != 0 {
		t.Errorf("empty v0 object: %v %v", o, err)
	}
}

func TestCPLC(t *testing.T) {
	// A CPLC whose every field differs, to catch offset mistakes.
	resp := make([]byte, 45)
	copy(resp, []byte{0x9F, 0x7F, 0x2A})
	for i := 3; i < 45; i++ {
		resp[i] = byte(i)
	}
	c, err := ParseCPLC(resp)
	if err != nil {
		t.Fatal(err)
	}
	// Offsets into the response, from the fact sheet's table.
	if c.ICFabricator != 0x0304 || c.ICType != 0x0506 || c.ICSerialNumber != 0x0F101112 || c.ICBatchID != 0x1314 ||
		c.ICPersoEquipmentID != 0x292A2B2C || c.ICPersonalizer != 0x2526 {
		t.Errorf("parsed %+v", c)
	}
	if got := c.CUID(); !bytes.Equal(got[:], Hex(t, "0304 0506 1314 0F101112")) {
		t.Errorf("CUID = %X, want fab‖type‖batch‖serial", got[:])
	}
	if c.MSN() != 0x292A2B2C {
		t.Errorf("MSN %08X", c.MSN())
	}
	if !bytes.Equal(c.Encode(), resp) {
		t.Errorf("Encode =\n%X\nwant\n%X", c.Encode(), resp)
	}
	for _, bad := range [][]byte{resp[:44], append(resp, 0), append([]byte{0x9F, 0x7E}, resp[2:]...), append([]byte{0x9F, 0x7F, 0x29}, resp[3:]...)} {
		if _, err := ParseCPLC(bad); !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("ParseCPLC(%X) err = %v", bad[:3], err)
		}
	}
	cuid, _ := ParseCUID("40907A01004212345678")
	if got := CPLCForCUID(cuid).CUID(); got != cuid {
		t.Errorf("CPLCForCUID round trip %v", got)
	}
	if cuid.FabricatorName() != "Axalto" || cuid.Serial() != 0x12345678 || cuid.Batch() != 0x0042 {
		t.Errorf("CUID fields %s %08X %04X", cuid.FabricatorName(), cuid.Serial(), cuid.Batch())
	}
	if _, err := ParseCUID("4090"); err == nil {
		t.Error("short CUID accepted")
	}
}

func TestCommandEncodeParse(t *testing.T) {
	tests := []struct {
		cmd  Command
		wire string
	}{
		{Command{CLA: 0xB0, INS: 0x71}, "B0710000"},
		{Command{CLA: 0xB0, INS: 0xF2, Le: 4}, "B0F2000004"},
		{Command{CLA: 0x00, INS: 0xA4, P1: 4, Le: 256}, "00A4040000"},
		{Command{CLA: 0x00, INS: 0xA4, P1: 4, Data: AppletAID}, "00A4040007627601FF000000"},
		{Command{CLA: 0x00, INS: 0xA4, P1: 4, Data: AppletAID, Le: 256}, "00A4040007627601FF00000000"},
	}
	for _, tt := range tests {
		b, err := tt.cmd.Encode()
		if err != nil || !bytes.Equal(b, Hex(t, tt.wire)) {
			t.Errorf("%v Encode = %X %v, want %s", tt.cmd, b, err, tt.wire)
		}
		got, err := ParseCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.cmd, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
			t.Errorf("ParseCommand(%s) (-want +got):\n%s", tt.wire, diff)
		}
	}
	for _, bad := range []string{"B071", "B071000002AA", "B0710000 00 AA", "B0710000 02 AABBCCDD"} {
		if _, err := ParseCommand(Hex(t, bad)); !errors.Is(err, ErrMalformedCommand) {
			t.Errorf("ParseCommand(%s) err = %v", bad, err)
		}
	}
	if _, err := (Command{Data: make([]byte, 256)}).Encode(); !errors.Is(err, ErrMalformedCommand) {
		t.Error("256 data bytes encoded")
	}
	if _, err := (Command{Le: 257}).Encode(); !errors.Is(err, ErrMalformedCommand) {
		t.Error("Le 257 encoded")
	}
	r, err := ParseResponse(Hex(t, "0102 9C07"))
	if err != nil || r.SW != 0x9C07 || !bytes.Equal(r.Data, []byte{1, 2}) || !bytes.Equal(r.Encode(), Hex(t, "01029C07")) {
		t.Errorf("ParseResponse = %+v %v", r, err)
	}
	if _, err := ParseResponse([]byte{0x90}); !errors.Is(err, ErrMalformedResponse) {
		t.Error("1-byte response accepted")
	}
}

func TestTLV(t *testing.T) {
	tests := []struct {
		tlv  TLV
		wire string
	}{
		{TLV{Tag: 0x4F, Value: AppletAID}, "4F07627601FF000000"},
		{TLV{Tag: 0x9F7F, Value: make([]byte, 0x2A)}, "9F7F2A" + string(bytes.Repeat([]byte("00"), 0x2A))},
		{TLV{Tag: 0x5FC105, Value: make([]byte, 0x80)}, "5FC1058180" + string(bytes.Repeat([]byte("00"), 0x80))},
		{TLV{Tag: 0x53, Value: make([]byte, 0x100)}, "53820100" + string(bytes.Repeat([]byte("00"), 0x100))},
	}
	for _, tt := range tests {
		b, err := tt.tlv.Encode()
		if err != nil || !bytes.Equal(b, Hex(t, tt.wire)) {
			t.Errorf("Encode(%X) = %X %v", tt.tlv.Tag, b, err)
			continue
		}
		got, rest, err := ParseTLV(append(b, 0xEE))
		if err != nil || got.Tag != tt.tlv.Tag || !bytes.Equal(got.Value, tt.tlv.Value) || !bytes.Equal(rest, []byte{0xEE}) {
			t.Errorf("ParseTLV(%X…) = %X %d %X %v", b[:3], got.Tag, len(got.Value), rest, err)
		}
	}
	for _, bad := range []string{"4F", "4F02AA", "9F", "9FFFFF7F00", "4F83000001AA", "4F8101"} {
		if _, _, err := ParseTLV(Hex(t, bad)); !errors.Is(err, ErrMalformedTLV) {
			t.Errorf("ParseTLV(%s) err = %v", bad, err)
		}
	}
	for _, bad := range []uint32{0x1F, 0x9F80, 0x7F7F7F, 0x01000000} {
		if _, err := (TLV{Tag: bad}).Encode(); !errors.Is(err, ErrMalformedTLV) {
			t.Errorf("Encode tag %X accepted", bad)
		}
	}
}

func TestObjectID(t *testing.T) {
	tests := []struct {
		letter byte
		index  int
		hex    uint32
		str    string
	}{
		{'z', 0, 0x7A300000, "z0"},
		{'c', 1, 0x63310000, "c1"},
		{'k', 10, 0x6B410000, "kA"},
		{'k', 36, 0x6B610000, "ka"},
		{'C', 9, 0x43390000, "C9"},
	}
	for _, tt := range tests {
		id := NewObjectID(tt.letter, tt.index)
		if uint32(id) != tt.hex || id.String() != tt.str || id.Letter() != tt.letter {
			t.Errorf("NewObjectID(%c,%d) = %08X %s", tt.letter, tt.index, uint32(id), id)
		}
		if i, ok := id.Index(); !ok || i != tt.index {
			t.Errorf("%s.Index() = %d %v", id, i, ok)
		}
	}
	if IOBufferID.String() != "FFFFFFFF" {
		t.Errorf("I/O buffer prints as %s", IOBufferID)
	}
	if _, ok := ObjectID(0x63310001).Index(); ok {
		t.Error("index with non-zero low bytes")
	}
	oi := ObjectInfo{ID: CombinedObjectID, Size: 0x526, ACL: TPSObjectACL}
	if b := oi.Encode(); !bytes.Equal(b, Hex(t, "7A300000 00000526 FFFF 4000 4000")) {
		t.Errorf("ObjectInfo.Encode = %X", b)
	}
	ki := KeyInfo{Number: 2, Type: KeyRSAPrivateCRT, Partner: 3, Bits: 1024, Read: 0, Write: 0x4000, Use: 1}
	got, err := ParseKeyInfo(ki.Encode())
	if err != nil || got != ki {
		t.Errorf("KeyInfo round trip %+v %v", got, err)
	}
}

func TestSmallResponseCodecs(t *testing.T) {
	a := BuiltinACL{CreateObject: 0x4000, CreateKey: 0x4001, CreatePIN: 0x4002, ChangeEnabled: true}
	if got, err := ParseBuiltinACL(a.Encode()); err != nil || got != a {
		t.Errorf("BuiltinACL round trip %+v %v", got, err)
	}
	s := Status{ProtocolMajor: 1, ProtocolMinor: 1, AppletMajor: 1, AppletMinor: 4, TotalMemory: 5000, FreeMemory: 17, PINCount: 1, KeyCount: 2, LoggedIn: 0x8001}
	if got, err := ParseStatus(s.Encode()); err != nil || got != s {
		t.Errorf("Status round trip %+v %v", got, err)
	}
	if l := (LifeCycle{State: 0x0F, PINs: 1, ProtocolMajor: 1, ProtocolMinor: 1}); !bytes.Equal(l.Encode(), []byte{0x0F, 1, 1, 1}) || !l.Personalized() || !l.NeedsLogin() {
		t.Errorf("LifeCycle %X", l.Encode())
	}
}
