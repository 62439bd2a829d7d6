package vcard

import (
	"testing"
)

// FuzzParseImage checks that no image crashes the parser and that every
// image it accepts survives a trip through a card unchanged.
func FuzzParseImage(f *testing.F) {
	for _, img := range []*Image{testImage(f), BlankImage(testCPLC)} {
		b, err := img.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := ParseImage(b)
		if err != nil {
			return
		}
		c, err := New(img, Options{})
		if err != nil {
			t.Fatalf("a validated image does not load: %v", err)
		}
		out, err := c.Image().Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseImage(out)
		if err != nil {
			t.Fatalf("the card's own image does not parse: %v\n%s", err, out)
		}
		out2, _ := again.Marshal()
		if string(out) != string(out2) {
			t.Fatalf("image not stable:\n%s\n---\n%s", out, out2)
		}
	})
}

// FuzzTransmit feeds the card sequences of APDUs: each input is split into
// commands by a leading length byte. The card must answer every one with at
// least a status word and never panic. The fake secure channel lets the
// fuzzer reach the 84-class handlers.
func FuzzTransmit(f *testing.F) {
	seq := func(cmds ...string) []byte {
		var b []byte
		for _, c := range cmds {
			x := unhex(f, c)
			b = append(b, byte(len(x)))
			b = append(b, x...)
		}
		return b
	}
	zero := "0000000000000000"
	f.Add(seq(selectCoolKey, "B0 3C 00 00 10", "B0 58 00 00 0E", "B0 58 01 00 0E"))
	f.Add(seq(selectCoolKey, "B0 42 00 00 04 31323334", "B0 56 00 00 11 7A300000 00000000 10 "+zero))
	f.Add(seq(selectCoolKey, "B0 54 00 00 13 FFFFFFFF 00000000 02 0080 "+zero, "B0 36 02 04 0D 00 03 02 00 00 "+zero))
	f.Add(seq(selectCoolKey, "B0 37 06 04 2B 01 0020 "+bytesHex(make([]byte, 32))+zero))
	f.Add(seq(selectCoolKey, "80 50 00 00 08 0102030405060708", "84 82 03 00 10 0000000000000000 4D4D4D4D4D4D4D4D",
		"84 0C 08 19 1F 80 0400 00 00 10 30313233343536373839616263646566 00 4D4D4D4D4D4D4D4D 00"))
	f.Add(seq(selectCoolKey, "80 50 00 00 08 0102030405060708", "84 82 03 00 10 0000000000000000 4D4D4D4D4D4D4D4D",
		"84 55 00 00 0A 0203 4D4D4D4D4D4D4D4D", "84 5A 00 00 16 7A300000 00000010 FFFF40004000 4D4D4D4D4D4D4D4D"))
	f.Add(seq("00 A4 04 00 00", "80 CA 9F 7F 2D", "80 CA 00 66 00", "80 CA 00 E0 00"))
	for _, s := range contentSeeds(f) {
		f.Add(s)
	}
	img := testImage(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := New(img, Options{SecureChannel: plainChannel{}})
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			n := int(b[0])
			b = b[1:]
			if n > len(b) {
				n = len(b)
			}
			resp, err := c.Transmit(b[:n])
			if err != nil {
				t.Fatal(err)
			}
			if len(resp) < 2 || len(resp) > 258 {
				t.Fatalf("response of %d bytes to % X", len(resp), b[:n])
			}
			b = b[n:]
		}
		if _, err := ParseImage(mustMarshal(t, c.Image())); err != nil {
			t.Fatalf("the card's image no longer parses: %v", err)
		}
	})
}

func mustMarshal(t *testing.T, img *Image) []byte {
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contentSeeds are card management sequences through the fake channel: a
// format (delete, load, install) and an install with every CoolKey
// parameter, then the registry.
func contentSeeds(f testing.TB) [][]byte {
	mac := bytesHex(fakeMAC)
	open := []string{"00 A4 04 00 00", "80 50 00 00 08 0102030405060708", "84 82 03 00 10 0000000000000000" + mac}
	small := testLoadFile
	small.FillerSize = 100
	file, err := small.Encode()
	if err != nil {
		f.Fatal(err)
	}
	format := append(append([]string(nil), open...),
		"84 E4 00 80 11 4F07627601FF000000"+mac,
		"84 E4 00 80 10 4F06627601FF0000"+mac,
		bytesHex(cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, DefaultISDAID), fakeMAC)),
		bytesHex(cmd(0x84, 0xE8, 0x00, 0x00, []byte{0xC4, 0x81, byte(len(file))}, file[:100], fakeMAC)),
		bytesHex(cmd(0x84, 0xE8, 0x80, 0x01, file[100:], fakeMAC)),
		bytesHex(cmd(0x84, 0xE6, 0x0C, 0x00, installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, tpsInstallParams), fakeMAC)),
		"84 F2 40 00 0A 4F00"+mac,
		selectCoolKey)
	params := []byte{0xC9, 0x0D, 0x06, 'h', 't', 't', 'p', ':', '/', 0x02, 0x10, 0x00, 0x01, 0x01, 0x00}
	install := append(append([]string(nil), open...),
		"84 E4 00 00 11 4F07627601FF000000"+mac,
		bytesHex(cmd(0x84, 0xE6, 0x04, 0x00, installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, params), fakeMAC)),
		bytesHex(cmd(0x84, 0xE6, 0x08, 0x00, installCmdData(nil, nil, DefaultAppletAID, []byte{0}, nil), fakeMAC)),
		"84 F2 10 02 0A 4F00"+mac,
		selectCoolKey, "B0 3C 00 00 10")
	var out [][]byte
	for _, cmds := range [][]string{format, install} {
		var b []byte
		for _, c := range cmds {
			x := unhex(f, c)
			b = append(b, byte(len(x)))
			b = append(b, x...)
		}
		out = append(out, b)
	}
	return out
}
