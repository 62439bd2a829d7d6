package gp

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dogtagSCPFromCardData walks card recognition data by position the way
// Dogtag's TPSProcessor.gp211GetSecureChannelProtocolDetails does (as read
// from its source), returning the protocol and "i" it would pick up.
func dogtagSCPFromCardData(t *testing.T, data []byte) (byte, byte) {
	t.Helper()
	at := func(i int) int {
		if i >= len(data) {
			t.Fatalf("Dogtag's walk reads past the end at %d", i)
		}
		return int(data[i])
	}
	off := 0
	if data[0] == 0x66 {
		off = 3
	} else {
		off = 2
	}
	off++
	length := at(off)
	off++
	for i := 0; i < 3; i++ {
		off += length + 3
		length = at(off)
		off++
	}
	if off+length > len(data) {
		t.Fatalf("Dogtag's walk: OID runs past the end")
	}
	oid := data[off : off+length]
	return oid[length-2], oid[length-1]
}

func TestCardRecognitionData(t *testing.T) {
	tests := []struct {
		name string
		d    CardRecognitionData
		want string
	}{
		{"GP 2.1.1 SCP02 i=15", CardRecognitionData{GPVersion: []byte{2, 1, 1}, Protocol: SCP02, Param: 0x15},
			"6631 732F 06072A864886FC6B01 600C060A2A864886FC6B02020101 630906072A864886FC6B03 640B06092A864886FC6B040215"},
		{"GP 2.2.1 SCP03 i=00", CardRecognitionData{GPVersion: []byte{2, 2, 1}, Protocol: SCP03, Param: 0x00},
			"6631 732F 06072A864886FC6B01 600C060A2A864886FC6B02020201 630906072A864886FC6B03 640B06092A864886FC6B040300"},
		{"GP 2.0.1 SCP01 i=05", CardRecognitionData{GPVersion: []byte{2, 0, 1}, Protocol: SCP01, Param: 0x05},
			"6631 732F 06072A864886FC6B01 600C060A2A864886FC6B02020001 630906072A864886FC6B03 640B06092A864886FC6B040105"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.d.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.want); !bytes.Equal(b, want) {
				t.Fatalf("Encode\n got %X\nwant %X", b, want)
			}
			back, err := ParseCardRecognitionData(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.d, back); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if p, i := dogtagSCPFromCardData(t, b); p != byte(tc.d.Protocol) || i != tc.d.Param {
				t.Errorf("Dogtag's positional walk finds SCP %02X i=%02X", p, i)
			}
		})
	}
}

func TestParseCardRecognitionDataRealCard(t *testing.T) {
	// A typical JavaCard answer with optional 65/66 elements after 64
	// (layout per GP 2.1.1 annex F; values illustrative).
	in := unhex(t, "664C734A06072A864886FC6B01600C060A2A864886FC6B02020101630906072A864886FC6B03640B06092A864886FC6B040215"+
		"650B06092B8510864864020103660C060A2B060104012A026E0102")
	d, err := ParseCardRecognitionData(in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Protocol != SCP02 || d.Param != 0x15 || !bytes.Equal(d.GPVersion, []byte{2, 1, 1}) {
		t.Errorf("parsed %+v", d)
	}
	if p, i := dogtagSCPFromCardData(t, in); p != 0x02 || i != 0x15 {
		t.Errorf("Dogtag walk: %02X %02X", p, i)
	}
	for _, bad := range []string{
		"", "66", "6602 7300", "6603 730106", // truncated
		"6609 7307 06052A864886FC",                    // no GP OID, no SCP
		"660B 7309 06072A864886FC6B01",                // no SCP element
		"6611 730F 06072A864886FC6B01 6404 0602 0215", // SCP OID of the wrong prefix
		"6631 732F 06072A864886FC6B01 600C060A2A864886FC6B02020101 630906072A864886FC6B03 640B06092A864886FC6B040215 00", // trailing byte
	} {
		if _, err := ParseCardRecognitionData(unhex(t, bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := (CardRecognitionData{Protocol: SCP03, Param: 0x80}).Encode(); err == nil {
		t.Error("i=80 encoded as a single-byte arc")
	}
}
