package gp

import (
	"bytes"
	"errors"
	"testing"
)

// Fuzz targets for every parser of bytes that come from the other end.
// Seed corpora live in testdata/fuzz/<target>; run one with e.g.
//
//	go test ./gp -run '^$' -fuzz '^FuzzCardUnwrap$' -fuzztime 20s

// FuzzParseInitializeUpdateResponse: the host parses the card's answer. The
// first byte selects the expected protocol (0 = infer).
func FuzzParseInitializeUpdateResponse(f *testing.F) {
	for _, tc := range transcripts {
		f.Add(append([]byte{byte(tc.protocol)}, unhex(f, tc.initUpdateResp)...))
		f.Add(append([]byte{0}, unhex(f, tc.initUpdateResp)...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		r, err := ParseInitializeUpdateResponse(in[1:], Protocol(in[0]%4))
		if err != nil {
			return
		}
		back, err := r.Encode()
		if err != nil {
			t.Fatalf("parsed %+v does not encode: %v", r, err)
		}
		if !bytes.Equal(back, in[1:]) {
			t.Fatalf("round trip:\n in %X\nout %X", in[1:], back)
		}
	})
}

// fuzzCard returns a card session with an open channel, driven by a host
// with fixed challenges so that seeds made from the host's wrapped commands
// stay valid. sel picks protocol and level.
func fuzzCard(t testing.TB, sel byte) (*CardSession, *HostSession) {
	tc := transcripts[int(sel)%len(transcripts)]
	level := LevelMACEnc
	if sel&0x10 != 0 {
		level = LevelMAC
	}
	host, err := NewHostSession(HostConfig{Protocol: tc.protocol, Keys: tc.keys, Level: level, Rand: fixedRand(t, tc.hc)})
	if err != nil {
		t.Fatal(err)
	}
	card, err := NewCardSession(CardConfig{Protocol: tc.protocol, Keys: tc.keys, KDD: [KDDLen]byte(unhex(t, tc.kdd)),
		SequenceCounter: tc.seq, Rand: fixedRand(t, tc.cc)})
	if err != nil {
		t.Fatal(err)
	}
	iu, _ := host.InitializeUpdate()
	resp, err := card.InitializeUpdate(iu)
	if err != nil {
		t.Fatal(err)
	}
	ea, err := host.ExternalAuthenticate(append(resp, 0x90, 0x00))
	if err != nil {
		t.Fatal(err)
	}
	if err := card.ExternalAuthenticate(ea); err != nil {
		t.Fatal(err)
	}
	return card, host
}

// fuzzSelectors are the protocol/level combinations fuzzCard knows.
var fuzzSelectors = []byte{0x00, 0x01, 0x02, 0x10, 0x11, 0x12}

// FuzzCardUnwrap: the card unwraps arbitrary APDUs (the first byte selects
// protocol and level). Every failure must carry a status word and close the
// channel; a success must give back a well-formed APDU.
func FuzzCardUnwrap(f *testing.F) {
	for _, sel := range fuzzSelectors {
		_, host := fuzzCard(f, sel)
		for _, plain := range [][]byte{
			{0x84, 0xF0, 0x0F, 0x00},
			append([]byte{0x84, 0x04, 0x00, 0x00, 0x08}, "password"...),
			append([]byte{0x84, 0x56, 0x00, 0x00, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0xD0}, 0x00),
		} {
			w, err := host.Wrap(plain)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(append([]byte{sel}, w...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		card, _ := fuzzCard(t, in[0])
		plain, err := card.Unwrap(in[1:])
		if err != nil {
			if _, ok := StatusWord(err); !ok {
				t.Fatalf("error without a status word: %v", err)
			}
			if card.IsOpen() {
				t.Fatal("channel still open after a failure")
			}
			return
		}
		if _, err := ParseCommand(plain); err != nil {
			t.Fatalf("unwrapped APDU %X does not parse: %v", plain, err)
		}
		if !card.IsOpen() {
			t.Fatal("channel closed after a success")
		}
	})
}

// FuzzCardHandshake: arbitrary INITIALIZE UPDATE and EXTERNAL AUTHENTICATE
// commands (split at the first byte's value) never panic and every failure
// carries a status word.
func FuzzCardHandshake(f *testing.F) {
	for _, tc := range transcripts {
		iu, ea := unhex(f, tc.initUpdate), unhex(f, tc.extAuth)
		f.Add(append(append([]byte{byte(len(iu))}, iu...), ea...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || int(in[0]) > len(in)-1 {
			return
		}
		iu, ea := in[1:1+int(in[0])], in[1+int(in[0]):]
		for _, tc := range transcripts {
			card, err := NewCardSession(CardConfig{Protocol: tc.protocol, Keys: tc.keys, Rand: fixedRand(t, tc.cc)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := card.InitializeUpdate(iu); err != nil {
				if _, ok := StatusWord(err); !ok {
					t.Fatalf("INITIALIZE UPDATE error without a status word: %v", err)
				}
				continue
			}
			if err := card.ExternalAuthenticate(ea); err != nil {
				if _, ok := StatusWord(err); !ok {
					t.Fatalf("EXTERNAL AUTHENTICATE error without a status word: %v", err)
				}
				if card.IsOpen() {
					t.Fatal("open after a failed EXTERNAL AUTHENTICATE")
				}
			}
		}
	})
}

// FuzzParseCommand: any bytes; what parses must encode back identically.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"84F00F00", "80CA9F7F2D", "8050000008775762E45E23667D", "00A4040007627601FF00000000", "800000000000020102"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCommand(in)
		if err != nil {
			if !errors.Is(err, ErrLength) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		out, err := c.Encode()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip %X → %X, %v", in, out, err)
		}
	})
}

// FuzzKeyData: the card-side parsers of wrapped key data (PUT KEY, key
// blocks, IMPORT KEY ENCRYPTED). Whatever parses must encode back and
// unwrapping must fail cleanly.
func FuzzKeyData(f *testing.F) {
	p, _ := NewPutKey(DeveloperKeySet().KEK, 1, DeveloperKeySet(), false)
	c, _ := p.Command()
	f.Add(c.Data)
	p3, _ := NewPutKey(DeveloperKeySetAES().KEK, 1, DeveloperKeySetAES(), true)
	c3, _ := p3.Command()
	f.Add(c3.Data)
	f.Add(unhex(f, "FFFFFFFF 81 10 B4BAA89A8CD0292B45210E1BC84B1C31 03 8BAF47 08 0102030405060708"))
	f.Add(unhex(f, "00 10 6260E7C6A3E3376E21B427EF79471763 00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if b, n, err := ParseKeyBlock(in); err == nil {
			enc, err := b.Encode()
			if err != nil || !bytes.Equal(enc, in[:n]) {
				t.Fatalf("key block round trip %X → %X, %v", in[:n], enc, err)
			}
			for _, kek := range []Key{DeveloperKeySet().KEK, DeveloperKeySetAES().KEK} {
				if _, err := UnwrapKey(kek, b); err != nil && !errors.Is(err, ErrBadKeyData) {
					t.Fatalf("UnwrapKey: %v", err)
				}
			}
		}
		if pk, err := ParsePutKey(Command{CLA: 0x84, INS: INSPutKey, P1: 1, P2: 0x81, Data: in}); err == nil {
			c, err := pk.Command()
			if err != nil || !bytes.Equal(c.Data, in) {
				t.Fatalf("PUT KEY round trip %X → %X, %v", in, c.Data, err)
			}
			for _, kek := range []Key{DeveloperKeySet().KEK, DeveloperKeySetAES().KEK} {
				if _, err := pk.Unwrap(kek); err != nil {
					if _, ok := StatusWord(err); !ok {
						t.Fatalf("PUT KEY unwrap error without a status word: %v", err)
					}
				}
			}
		} else if _, ok := StatusWord(err); !ok {
			t.Fatalf("PUT KEY parse error without a status word: %v", err)
		}
		if d, rest, err := ParseImportKeyEncrypted(in); err == nil {
			enc, err := d.Encode()
			if err != nil || !bytes.Equal(append(enc, rest...), in) {
				t.Fatalf("IMPORT KEY ENCRYPTED round trip %X → %X, %v", in, enc, err)
			}
		}
	})
}

// FuzzParseCardRecognitionData: the host parses GET DATA 66 from the card.
// What parses must survive an Encode/Parse round trip.
func FuzzParseCardRecognitionData(f *testing.F) {
	for _, d := range []CardRecognitionData{{GPVersion: []byte{2, 1, 1}, Protocol: SCP02, Param: 0x15}, {Protocol: SCP03, Param: 0x70}} {
		b, _ := d.Encode()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := ParseCardRecognitionData(in)
		if err != nil {
			return
		}
		b, err := d.Encode()
		if err != nil {
			return // arcs of 80 and above are parsed but not re-encoded
		}
		back, err := ParseCardRecognitionData(b)
		if err != nil || back.Protocol != d.Protocol || back.Param != d.Param || !bytes.Equal(back.GPVersion, d.GPVersion) {
			t.Fatalf("round trip %+v → %X → %+v, %v", d, b, back, err)
		}
	})
}
