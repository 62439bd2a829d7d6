package cardedge

import (
	"bytes"
	"errors"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge/cardtest"
)

const (
	selectApplet = "00A4040007627601FF000000"
	selectCM     = "00A4040000"
	getCPLC      = "80CA9F7F2D"
)

func testZ0(t *testing.T, certSize int) ([]byte, CUID) {
	t.Helper()
	cuid, _ := ParseCUID("40907A01004212345678")
	cert := pattern(certSize, 7) // incompressible enough for a multi-chunk z0
	for i := range cert {
		cert[i] ^= byte(i * 131 >> 3)
	}
	z := &Combined{ObjectVersion: 3, CUID: cuid, TokenName: "alice", Records: []Record{
		{ID: NewObjectID('c', 1), Fixed: mustFixed(t, CKO_CERTIFICATE, 1, CKA_TOKEN), Attributes: []Attribute{BytesAttr(CKA_VALUE, cert)}},
	}}
	b, err := z.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b, cuid
}

func TestIdentifyEnrolled(t *testing.T) {
	z0, cuid := testZ0(t, 1200)
	n := len(z0)
	if n <= 2*255 {
		t.Fatalf("test z0 only %d bytes", n)
	}
	steps := []step{
		{Cmd: selectApplet, Resp: "9000"},
		{Cmd: "B0F2000004", Resp: "0F010101 9000"},
		{Cmd: "B056000011 7A300000 00000000 FF" + zeroNonce, Resp: hexOf(z0[:255]) + "9000"},
	}
	ft := cardtest.New(t, steps...)
	ft.ATRBytes = []byte{0x3B, 0x00}
	c := NewCard(ft)
	id, err := c.Identify(IdentifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ft.Done()
	if !id.AppletPresent || id.State != StateEnrolled || id.CUID != cuid || id.CUIDSource != CUIDFromZ0 ||
		id.CombinedHeader == nil || id.CombinedHeader.ObjectVersion != 3 || !bytes.Equal(id.ATR, []byte{0x3B, 0}) || id.CPLC != nil {
		t.Errorf("identity %+v", id)
	}
	if ft.Begins != 1 || ft.Ends != 1 {
		t.Errorf("%d begins, %d ends", ft.Begins, ft.Ends)
	}
	if id.State.String() != "ENROLLED" {
		t.Errorf("state prints %s", id.State)
	}

	// ReadCombined continues from the 255 bytes already read.
	var rest []step
	for off := 255; off < n; off += 255 {
		k := min(255, n-off)
		rest = append(rest, step{
			Cmd:  "B056000011 7A300000 " + hexOf(appendBE32(nil, uint32(off))) + hexOf([]byte{byte(k)}) + zeroNonce,
			Resp: hexOf(z0[off:off+k]) + "9000",
		})
	}
	ft2 := cardtest.New(t, rest...)
	c2 := NewCard(ft2)
	got, err := c2.ReadCombined(id.CombinedPrefix)
	if err != nil {
		t.Fatal(err)
	}
	ft2.Done()
	if !bytes.Equal(got, z0) {
		t.Error("ReadCombined returned other bytes")
	}
	dec, err := DecodeCombined(got)
	if err != nil || dec.TokenName != "alice" {
		t.Errorf("decode: %v", err)
	}
	if len(rest) != (n-1)/255 {
		t.Errorf("%d further READs", len(rest))
	}
}

func TestIdentifyFull(t *testing.T) {
	z0, _ := testZ0(t, 100)
	issuer := append([]byte("http://tps:8080/tps/phoneHome"), make([]byte, 224-29)...)
	cplc := CPLC{ICFabricator: 0x4090, ICSerialNumber: 1, ICPersoEquipmentID: 0xCAFE}
	ft := cardtest.New(t,
		step{Cmd: selectApplet, Resp: "9000"},
		step{Cmd: "B0F2000004", Resp: "0F010101 9000"},
		step{Cmd: "B03C000010", Resp: "01010105 00001388 00000400 01 04 0000 9000"},
		step{Cmd: "B070000004", Resp: "65CBF5A6 9000"},
		step{Cmd: "B0F60000E0", Resp: hexOf(issuer) + "9000"},
		step{Cmd: "B056000011 7A300000 00000000 FF" + zeroNonce, Resp: hexOf(z0[:255]) + "9000"},
		step{Cmd: selectCM, Resp: "9000"},
		step{Cmd: getCPLC, Resp: hexOf(cplc.Encode()) + "9000"},
		step{Cmd: selectApplet, Resp: "9000"},
	)
	id, err := NewCard(ft).Identify(IdentifyOptions{Status: true, BuildID: true, IssuerInfo: true, CPLC: true})
	if err != nil {
		t.Fatal(err)
	}
	ft.Done()
	if id.Status == nil || id.Status.AppletMinor != 5 || id.BuildID == nil || *id.BuildID != 0x65CBF5A6 ||
		TrimIssuerInfo(id.IssuerInfo) != "http://tps:8080/tps/phoneHome" || id.CPLC == nil || id.CPLC.MSN() != 0xCAFE ||
		id.CUIDSource != CUIDFromZ0 {
		t.Errorf("identity %+v", id)
	}
}

func TestIdentifyUninitialized(t *testing.T) {
	cplc := CPLC{ICFabricator: 0x4090, ICType: 0x7A01, ICBatchID: 0x0042, ICSerialNumber: 0x12345678}
	ft := cardtest.New(t,
		step{Cmd: selectApplet, Resp: "9000"},
		step{Cmd: "B0F2000004", Resp: "07000101 9000"},
		step{Cmd: selectCM, Resp: "9000"},
		step{Cmd: getCPLC, Resp: hexOf(cplc.Encode()) + "9000"},
		step{Cmd: selectApplet, Resp: "9000"},
	)
	id, err := NewCard(ft).Identify(IdentifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ft.Done()
	if id.State != StateUninitialized || id.CUID.String() != "40907A01004212345678" || id.CUIDSource != CUIDFromCPLC || id.LifeCycle.NeedsLogin() {
		t.Errorf("identity %+v", id)
	}
}

func TestIdentifyEnrolledWithoutZ0(t *testing.T) {
	// A v0 token: life cycle 0F but no z0 (9C07); CUID from CPLC.
	ft := cardtest.New(t,
		step{Cmd: selectApplet, Resp: "9000"},
		step{Cmd: "B0F2000004", Resp: "0F010101 9000"},
		step{Cmd: "B056000011 7A300000 00000000 FF" + zeroNonce, Resp: "9C07"},
		step{Cmd: selectCM, Resp: "6A82"}, // no card manager answers
		step{Cmd: selectApplet, Resp: "9000"},
	)
	id, err := NewCard(ft).Identify(IdentifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ft.Done()
	if id.State != StateEnrolled || id.CUIDSource != CUIDUnknown || id.CombinedHeader != nil {
		t.Errorf("identity %+v", id)
	}
}

func TestIdentifyNoApplet(t *testing.T) {
	cplc := CPLC{ICFabricator: 0x534E, ICSerialNumber: 9}
	ft := cardtest.New(t,
		step{Cmd: selectApplet, Resp: "6A82"},
		step{Cmd: selectCM, Resp: "9000"},
		step{Cmd: getCPLC, Resp: hexOf(cplc.Encode()) + "9000"},
	)
	id, err := NewCard(ft).Identify(IdentifyOptions{Status: true})
	if err != nil {
		t.Fatal(err)
	}
	ft.Done()
	if id.AppletPresent || id.State != StateNoApplet || id.CUID.FabricatorName() != "SafeNet" {
		t.Errorf("identity %+v", id)
	}
}

func TestIdentifyTransportError(t *testing.T) {
	ft := cardtest.New(t, step{Cmd: selectApplet, Err: ErrNoCard})
	if _, err := NewCard(ft).Identify(IdentifyOptions{}); !errors.Is(err, ErrNoCard) {
		t.Errorf("err = %v", err)
	}
	if ft.Ends != 1 {
		t.Error("transaction not ended")
	}
}

func TestReadCombinedRejectsHugeHeader(t *testing.T) {
	h := CombinedHeader{FormatVersion: 0x0100, Compression: 1, DataSize: 0xFFFF, DataOffset: 20}
	prefix := append(h.Encode(), make([]byte, 235)...)
	if _, err := NewCard(cardtest.New(t)).ReadCombined(prefix); !errors.Is(err, ErrMalformedObject) {
		t.Errorf("err = %v", err)
	}
}

func TestIdentifySelectAnswersAnyAID(t *testing.T) {
	// The card OS says 9000 to the SELECT, but nothing answers GET LIFE
	// CYCLE in either form: not a CoolKey applet.
	ft := cardtest.New(t,
		step{Cmd: selectApplet, Resp: "9000"},
		step{Cmd: "B0F2000004", Resp: "6E00"},
		step{Cmd: "B0F2000001", Resp: "6E00"},
		step{Cmd: selectCM, Resp: "9000"},
		step{Cmd: getCPLC, Resp: "6A88"},
	)
	id, err := NewCard(ft).Identify(IdentifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ft.Done()
	if id.AppletPresent || id.State != StateNoApplet || id.CUIDSource != CUIDUnknown {
		t.Errorf("identity %+v", id)
	}
}
