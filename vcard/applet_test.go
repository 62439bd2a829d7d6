package vcard

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// step is one command of a scenario and what the card must answer.
type step struct {
	cmd  string // hex; $name is replaced by a saved value
	sw   uint16
	data string // expected data as hex; "*" accepts anything, "" means none
	save string // name to save the response data under
}

var varRef = regexp.MustCompile(`\$[a-z0-9]+`)

// runSteps runs a scenario against one card, from power-on, through the
// in-process transport as host code would.
func runSteps(t *testing.T, c *Card, steps []step) {
	t.Helper()
	tr, err := NewTransport(NewSlot(c))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	vars := map[string][]byte{"zero": make([]byte, 8)}
	for i, s := range steps {
		expand := func(x string) string {
			return varRef.ReplaceAllStringFunc(x, func(ref string) string {
				v, ok := vars[ref[1:]]
				if !ok {
					t.Fatalf("step %d: no saved value %s", i, ref)
				}
				return hex.EncodeToString(v)
			})
		}
		resp, err := tr.Transmit(unhex(t, expand(s.cmd)))
		if err != nil || len(resp) < 2 {
			t.Fatalf("step %d %q: % X %v", i, s.cmd, resp, err)
		}
		data, sw := resp[:len(resp)-2], uint16(resp[len(resp)-2])<<8|uint16(resp[len(resp)-1])
		if sw != s.sw {
			t.Fatalf("step %d %q: SW %04X, want %04X (data % X)", i, s.cmd, sw, s.sw, data)
		}
		if s.data != "*" && !bytes.Equal(data, unhex(t, expand(s.data))) {
			t.Fatalf("step %d %q: data\n% X\nwant\n% X", i, s.cmd, data, unhex(t, expand(s.data)))
		}
		if s.save != "" {
			vars[s.save] = data
		}
	}
}

func TestAppletScenarios(t *testing.T) {
	z0first := "000102030405060708090A0B0C0D0E0F"
	tests := []struct {
		name  string
		steps []step
	}{
		{"selection and classes", []step{
			{cmd: "00 A4 04 00 07 62 76 01 FF 00 00 01", sw: 0x6A82},
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "00 A4 04 00 07 62 76 01 FF 00 00 00 00", sw: 0x9000}, // with Le
			{cmd: "00 CA 9F 7F 2D", sw: 0x9000},                         // ISO class: 90 00, no data
			{cmd: "A4 00 00 00", sw: 0x9000},
			{cmd: "90 3C 00 00 10", sw: 0x6E00},
			{cmd: "80 CA 9F 7F 2D", sw: 0x6D00}, // only INITIALIZE UPDATE under 80
			{cmd: "84 56 00 00 09 7A300000 00000000 10", sw: 0x6982},
			{cmd: "B0 2A 00 00", sw: 0x6D00},
			{cmd: "B0 60 00 00 02 00 00", sw: 0x6D00},
			{cmd: "B0 71 00 00", sw: 0x9000},
		}},
		{"status and info", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 3C 01 00", sw: 0x6D00}, // OpenSC's probe
			{cmd: "B0 3C 02 00 10", sw: 0x9C10},
			{cmd: "B0 3C 00 01 10", sw: 0x9C11},
			// heap 5000; z0 300 + d1 20 bytes, each + 14 header + 2 block
			{cmd: "B0 3C 00 00 10", sw: 0x9000, data: "01 01 01 04 00001388 00001226 01 06 0000"},
			{cmd: "B0 F2 00 00 04", sw: 0x9000, data: "07 01 01 01"},
			{cmd: "B0 F2 00 00 01", sw: 0x9000, data: "07"},
			{cmd: "B0 F2 00 00 00", sw: 0x9000, data: "07 01 01 01"},
			{cmd: "B0 70 00 00 04", sw: 0x9000, data: "5875566E"},
			{cmd: "B0 70 00 00 03", sw: 0x6700},
			{cmd: "B0 F6 00 00 E0", sw: 0x9000, data: strings.Repeat("00", 224)},
			{cmd: "B0 F6 00 00 10", sw: 0x6700},
			{cmd: "B0 FA 00 00 07", sw: 0x9000, data: "4000 4000 4000 00"},
			{cmd: "B0 FA 00 00 06", sw: 0x6700},
			{cmd: "B0 48 00 00 02", sw: 0x9000, data: "0001"},
			{cmd: "B0 48 00 00 04", sw: 0x6700},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "03"},
			{cmd: "B0 4A 01 00 01", sw: 0x9C10},
			{cmd: "B0 4A 00 00 02", sw: 0x6700},
			{cmd: "B0 72 00 00 10", sw: 0x9000, data: "*"},
			{cmd: "B0 73 00 00 04 01020304", sw: 0x9000},
		}},
		{"list objects newest first", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 58 00 00 0E", sw: 0x9000, data: "64310000 0000 0014 0001 0001 0001"},
			{cmd: "B0 58 01 00 0E", sw: 0x9000, data: "7A300000 0000 012C FFFF 4000 4000"},
			{cmd: "B0 58 01 00 0E", sw: 0x9C12},
			{cmd: "B0 58 01 00 0E", sw: 0x9C12},
			{cmd: "B0 58 00 00 0D", sw: 0x6700},
			{cmd: "B0 58 02 00 0E", sw: 0x9C10},
			{cmd: "B0 58 00 01 0E", sw: 0x9C11},
		}},
		{"list keys", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 3A 00 00 0B", sw: 0x9000, data: "02 03 03 0400 0000 4000 0001"},
			{cmd: "B0 3A 01 00 0B", sw: 0x9000, data: "03 01 02 0400 FFFF 4000 FFFF"},
			{cmd: "B0 3A 01 00 0B", sw: 0x9000, data: "04 03 05 0800 0000 4000 0001"},
			{cmd: "B0 3A 01 00 0B", sw: 0x9000, data: "05 01 04 0800 FFFF 4000 FFFF"},
			{cmd: "B0 3A 01 00 0B", sw: 0x9000, data: "06 0D 07 0100 0000 4000 0001"},
			{cmd: "B0 3A 01 00 0B", sw: 0x9000, data: "07 0C 06 0100 FFFF 4000 FFFF"},
			{cmd: "B0 3A 01 00 0B", sw: 0x9000, data: ""},
			{cmd: "B0 3A 00 00 0A", sw: 0x6700},
		}},
		{"read object and nonce", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 56 00 00 11 7A300000 00000000 10 $zero", sw: 0x9000, data: z0first},
			// only the low 16 bits of the offset count
			{cmd: "B0 56 00 00 11 7A300000 12340000 10 $zero", sw: 0x9000, data: z0first},
			{cmd: "B0 56 00 00 11 7A300000 00000120 0C $zero", sw: 0x9000, data: "202122232425262728292A2B"},
			{cmd: "B0 56 00 00 11 7A300000 00000120 0D $zero", sw: 0x9C0F},
			{cmd: "B0 56 00 00 11 7A300000 00008000 01 $zero", sw: 0x9C0F},
			{cmd: "B0 56 00 00 11 7A310000 00000000 10 $zero", sw: 0x9C07},
			{cmd: "B0 56 00 00 11 7A300000 00000000 10 0102030405060708", sw: 0x9C06},
			{cmd: "B0 56 00 00 07 01020304050607", sw: 0x9C06},
			{cmd: "B0 56 00 00 12 7A300000 00000000 10 00 $zero", sw: 0x9C0F},
			{cmd: "B0 56 00 00 11", sw: 0x6700},
			{cmd: "B0 56 01 00 11 7A300000 00000000 10 $zero", sw: 0x9C10},
			// d1 is readable by PIN 0 only
			{cmd: "B0 56 00 00 11 64310000 00000000 04 $zero", sw: 0x9C06},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9000, data: "*", save: "nonce"},
			{cmd: "B0 56 00 00 11 64310000 00000000 04 $nonce", sw: 0x9000, data: "00000000"},
			// the nonce holder gets the PIN identities only, which FFFF includes
			{cmd: "B0 56 00 00 11 7A300000 00000000 01 $nonce", sw: 0x9000, data: "00"},
		}},
		{"pin tries and blocking", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9000, data: "*", save: "nonce"},
			{cmd: "B0 3C 00 00 10", sw: 0x9000, data: "01 01 01 04 00001388 00001226 01 06 0001"},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9000, data: "$nonce"},
			// a wrong length costs no try but logs everyone out
			{cmd: "B0 42 00 00 03 313233", sw: 0x9C02},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "03"},
			{cmd: "B0 56 00 00 11 64310000 00000000 04 $nonce", sw: 0x9C06},
			{cmd: "B0 3C 00 00 10", sw: 0x9000, data: "01 01 01 04 00001388 00001226 01 06 0000"},
			{cmd: "B0 42 00 00 04 39393939", sw: 0x9C02},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "02"},
			{cmd: "B0 42 00 00 05 3132333435", sw: 0x9C02},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "01"},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9000, data: "*"},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "03"},
			{cmd: "B0 42 00 00 04 39393939", sw: 0x9C02},
			{cmd: "B0 42 00 00 04 39393939", sw: 0x9C02},
			{cmd: "B0 42 00 00 04 39393939", sw: 0x9C02},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "00"},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9C0C},
			{cmd: "B0 42 00 00 04 39393939", sw: 0x9C0C},
			{cmd: "B0 42 01 00 04 31323334", sw: 0x9C10},
			{cmd: "B0 42 00 01 04 31323334", sw: 0x9C11},
		}},
		{"verify checks", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 42 00 00 05 31323334", sw: 0x6700},
			{cmd: "B0 42 00 00 11 3132333435363738393031323334353637", sw: 0x9C02},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "03"},
		}},
		{"logout counts logins", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9000, data: "*", save: "nonce"},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9000, data: "$nonce"},
			{cmd: "B0 61 00 00 08 $nonce", sw: 0x9000},
			{cmd: "B0 56 00 00 11 64310000 00000000 04 $nonce", sw: 0x9000, data: "00000000"},
			{cmd: "B0 61 00 00", sw: 0x9000},
			{cmd: "B0 56 00 00 11 64310000 00000000 04 $nonce", sw: 0x9C06},
			{cmd: "B0 61 00 00", sw: 0x9000}, // nobody logged in: nothing to do
			{cmd: "B0 61 01 00", sw: 0x6F00}, // no PIN 1
			{cmd: "B0 61 09 00", sw: 0x6F00},
			// a new login draws a new nonce
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9000, data: "*", save: "nonce2"},
		}},
		{"change pin", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 44 00 00 0A 04 31323334 04 35363738", sw: 0x9000},
			{cmd: "B0 42 00 00 04 31323334", sw: 0x9C02},
			{cmd: "B0 42 00 00 04 35363738", sw: 0x9000, data: "*"},
			{cmd: "B0 44 00 00 0A 04 31323334 04 35363738", sw: 0x9C02},
			{cmd: "B0 44 00 00 09 04 35363738 03 313233", sw: 0x9C0F},
			{cmd: "B0 44 00 00 03 01 02 03", sw: 0x9C0F},
			{cmd: "B0 4A 00 00 01", sw: 0x9000, data: "02"},
		}},
		{"create pin needs the RA", []step{
			{cmd: selectCoolKey, sw: 0x9000},
			{cmd: "B0 40 01 05 0C 31323334 $zero", sw: 0x9C06},
			{cmd: "B0 5A 00 00 16 64320000 00000010 FFFFFFFFFFFF $zero", sw: 0x9C06},
			{cmd: "B0 52 00 00 0C 7A300000 $zero", sw: 0x9C06},
			{cmd: "B0 54 00 00 12 7A300000 00000000 01 AA $zero", sw: 0x9C06},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, newTestCard(t, testImage(t), Options{}), tc.steps)
		})
	}
}

func TestResetLogsOut(t *testing.T) {
	c := newTestCard(t, testImage(t), Options{})
	mustOK(t, c, selectCoolKey)
	nonce := mustOK(t, c, "B0 42 00 00 04 31323334")
	read := fmt.Sprintf("B0 56 00 00 11 64310000 00000000 04 %X", nonce)
	mustOK(t, c, read)
	c.Reset()
	mustOK(t, c, selectCoolKey)
	if _, sw := txHex(t, c, read); sw != 0x9C06 {
		t.Fatalf("after reset: SW %04X, want 9C06", sw)
	}
}

func TestSelectCardManager(t *testing.T) {
	c := newTestCard(t, testImage(t), Options{})
	fci := mustOK(t, c, "00 A4 04 00 00")
	if !bytes.HasPrefix(fci, unhex(t, "6F")) || !bytes.Contains(fci, unhex(t, "84 08 A000000003000000")) {
		t.Fatalf("FCI % X", fci)
	}
	if got := mustOK(t, c, "00 A4 04 00 07 A0000000030000 00"); !bytes.Equal(got, fci) {
		t.Fatalf("SELECT by the OP 2.0.1 AID: % X", got)
	}
	cplc := mustOK(t, c, "80 CA 9F 7F 2D")
	if len(cplc) != 45 || !bytes.Equal(cplc[:3], []byte{0x9F, 0x7F, 0x2A}) || !bytes.Equal(cplc[3:], testCPLC) {
		t.Fatalf("CPLC % X", cplc)
	}
	if got := mustOK(t, c, "80 CA 9F 7F 00"); !bytes.Equal(got, cplc) {
		t.Fatalf("CPLC with Le 00: % X", got)
	}
	if _, sw := txHex(t, c, "80 CA 00 66 2D"); sw != 0x6C00|0x33 {
		t.Fatalf("CRD with a short Le: SW %04X, want 6C33", sw)
	}
	crd := mustOK(t, c, "80 CA 00 66 33")
	if !bytes.HasSuffix(crd, unhex(t, "64 0B 06 09 2A864886FC6B04 02 15")) {
		t.Fatalf("card recognition data % X", crd)
	}
	if got := mustOK(t, c, "80 CA 00 E0 00"); !bytes.Equal(got, unhex(t, "E0 12 C0 04 01 01 80 10 C0 04 02 01 80 10 C0 04 03 01 80 10")) {
		t.Fatalf("key information % X", got)
	}
	if _, sw := txHex(t, c, "80 CA 00 42 00"); sw != 0x6A88 {
		t.Fatalf("unknown GET DATA: %04X", sw)
	}
	if _, sw := txHex(t, c, "84 82 03 00 10 00000000000000000000000000000000"); sw != 0x6985 {
		t.Fatalf("EXTERNAL AUTHENTICATE without INITIALIZE UPDATE: %04X", sw)
	}
	// A blank card has no applet to select.
	blank := newTestCard(t, BlankImage(testCPLC), Options{})
	if _, sw := txHex(t, blank, selectCoolKey); sw != 0x6A82 {
		t.Fatalf("SELECT on a blank card: %04X", sw)
	}
}
