package cardedge

import (
	"testing"
)

// BenchmarkDecodeCombined decodes a two-certificate token like §3.5's.
func BenchmarkDecodeCombined(b *testing.B) {
	cert := pattern(775, 3)
	var recs []Record
	for i := byte(1); i <= 2; i++ {
		recs = append(recs,
			Record{ID: NewObjectID('c', int(i)), Fixed: mustFixed(b, CKO_CERTIFICATE, i, CKA_TOKEN),
				Attributes: []Attribute{StringAttr(CKA_LABEL, "signing key for jjelen"), BytesAttr(CKA_VALUE, cert)}},
			Record{ID: NewObjectID('k', int(2*i+1)), Fixed: mustFixed(b, CKO_PUBLIC_KEY, i, CKA_TOKEN, CKA_VERIFY)},
			Record{ID: NewObjectID('k', int(2*i)), Fixed: mustFixed(b, CKO_PRIVATE_KEY, i, CKA_TOKEN, CKA_SIGN),
				Attributes: []Attribute{UlongAttr(CKA_KEY_TYPE, CKK_RSA)}},
		)
	}
	z0, err := (&Combined{ObjectVersion: 71, TokenName: "jjelen", Records: recs}).Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(z0)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := DecodeCombined(z0)
		if err != nil {
			b.Fatal(err)
		}
		c.Objects()
	}
}

// BenchmarkExchangeT0 measures the T=0 layer's overhead on a GET RESPONSE.
func BenchmarkExchangeT0(b *testing.B) {
	tr := &benchTransport{}
	cmd := Command{CLA: 0xB0, INS: 0x3C, Le: 16}
	for b.Loop() {
		if _, err := Exchange(tr, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

type benchTransport struct{ loopTransport }

func (t *benchTransport) Transmit(cmd []byte) ([]byte, error) {
	if cmd[1] == 0xC0 {
		return append(make([]byte, 16), 0x90, 0x00), nil
	}
	return []byte{0x61, 0x10}, nil
}
