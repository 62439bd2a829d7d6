package cardedge

import (
	"bytes"
	"errors"
	"testing"
)

// Fuzz targets for every parser of card bytes. Seed corpora are checked in
// under testdata/fuzz/<target>. Each target also checks that what decodes
// re-encodes to something that decodes the same (where an encoder exists).

func FuzzDecodeCombined(f *testing.F) {
	f.Add(combinedWith(0, []byte{0, 5, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCombinedLimit(b, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrMalformedObject) {
				t.Fatalf("error does not match ErrMalformedObject: %v", err)
			}
			return
		}
		enc, err := c.Encode()
		if err != nil {
			return // e.g. more than the applet can store; decoding is still fine
		}
		c2, err := DecodeCombined(enc)
		if err != nil {
			t.Fatalf("re-encoded z0 does not decode: %v", err)
		}
		if c2.TokenName != c.TokenName || len(c2.Records) != len(c.Records) || c2.CUID != c.CUID {
			t.Fatalf("round trip changed the object")
		}
		for _, r := range c.Records {
			r.Object() // must not panic
		}
	})
}

func FuzzParseCombinedHeader(f *testing.F) {
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseCombinedHeader(b)
		if err != nil {
			return
		}
		if !bytes.Equal(h.Encode(), b[:CombinedHeaderSize]) {
			t.Fatalf("header round trip: %X → %X", b[:CombinedHeaderSize], h.Encode())
		}
	})
}

func FuzzDecodeV0(f *testing.F) {
	f.Add(uint32(0x63310000), []byte{0, 0x63, 0x31, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, id uint32, b []byte) {
		o, err := DecodeV0(ObjectID(id), b)
		if err != nil {
			if !errors.Is(err, ErrMalformedObject) {
				t.Fatalf("error does not match ErrMalformedObject: %v", err)
			}
			return
		}
		enc, err := EncodeV0(o)
		if err != nil {
			t.Fatalf("decoded object does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("v0 round trip:\n%X\n%X", b, enc)
		}
	})
}

func FuzzParseCPLC(f *testing.F) {
	f.Add(CPLC{ICFabricator: 0x4090}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCPLC(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), b) {
			t.Fatalf("CPLC round trip")
		}
		c.CUID()
	})
}

func FuzzParseObjectInfo(f *testing.F) {
	f.Add(ObjectInfo{ID: CombinedObjectID, Size: 1318, ACL: TPSObjectACL}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseObjectInfo(b)
		if err != nil {
			return
		}
		if !bytes.Equal(o.Encode(), b) {
			t.Fatalf("LIST OBJECTS entry round trip")
		}
	})
}

func FuzzParseKeyInfo(f *testing.F) {
	f.Add(KeyInfo{Number: 2, Type: KeyRSAPrivateCRT, Partner: 3, Bits: 2048}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeyInfo(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Encode(), b) {
			t.Fatalf("LIST KEYS entry round trip")
		}
	})
}

func FuzzParseCryptResult(f *testing.F) {
	f.Add([]byte{0, 2, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ParseCryptResult(b)
		if err == nil && len(out) != len(b)-2 {
			t.Fatalf("result of %d bytes from %d", len(out), len(b))
		}
	})
}

func FuzzECDSASignatureRaw(f *testing.F) {
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, 32)
	f.Fuzz(func(t *testing.T, der []byte, size int) {
		raw, err := ECDSASignatureRaw(der, size)
		if err == nil && len(raw) != 2*size {
			t.Fatalf("raw signature of %d bytes for size %d", len(raw), size)
		}
	})
}

// FuzzCardResponses drives the instruction layer with arbitrary card
// answers: whatever the card says, the session must return a value or an
// error, never panic or loop.
func FuzzCardResponses(f *testing.F) {
	f.Add([]byte{0x90, 0x00}, byte(0))
	f.Add([]byte{0x61, 0x10}, byte(1))
	f.Add([]byte{0x6C, 0x04}, byte(2))
	f.Fuzz(func(t *testing.T, resp []byte, op byte) {
		ft := &loopTransport{resp: resp}
		c := NewCard(ft)
		switch op % 8 {
		case 0:
			c.Status()
		case 1:
			c.LifeCycle()
		case 2:
			c.ListObjects()
		case 3:
			c.ComputeCrypt(2, DirectionEncrypt, make([]byte, 256))
		case 4:
			c.Identify(IdentifyOptions{Status: true, BuildID: true, IssuerInfo: true})
		case 5:
			c.ReadCombined(nil)
		case 6:
			c.ListKeys()
		case 7:
			c.VerifyPIN(0, []byte("1234"))
		}
		if ft.n > 20000 {
			t.Fatalf("%d APDUs for one operation", ft.n)
		}
	})
}

// loopTransport answers every command with the same bytes.
type loopTransport struct {
	resp []byte
	n    int
}

func (l *loopTransport) Transmit([]byte) ([]byte, error) {
	l.n++
	if l.n > 20000 {
		return nil, ErrNoCard
	}
	return l.resp, nil
}
func (l *loopTransport) BeginTransaction() error { return nil }
func (l *loopTransport) EndTransaction() error   { return nil }
func (l *loopTransport) ATR() []byte             { return nil }
func (l *loopTransport) Reset() error            { return nil }
func (l *loopTransport) Close() error            { return nil }

func FuzzParseTLV(f *testing.F) {
	f.Add([]byte{0x9F, 0x7F, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		tlv, rest, err := ParseTLV(b)
		if err != nil {
			return
		}
		enc, err := tlv.Encode()
		if err != nil {
			t.Fatalf("parsed TLV does not encode: %v", err)
		}
		if len(enc)+len(rest) > len(b) {
			t.Fatalf("TLV grew: %X → %X", b, enc)
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte{0xB0, 0x56, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		enc, err := c.Encode()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("command round trip %X → %X %v", b, enc, err)
		}
	})
}
