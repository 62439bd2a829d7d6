package gp

import (
	"crypto/rand"
	"testing"
)

// Wrapping and unwrapping one 200-byte WRITE OBJECT, per protocol at level 03.
func BenchmarkWrapUnwrap(b *testing.B) {
	for _, v := range variants() {
		if v.level != LevelMACEnc || v.div != DiversifyNone {
			continue
		}
		b.Run(v.proto.String(), func(b *testing.B) {
			p := v.pair(b)
			p.open(b)
			cmd := make([]byte, 5+200)
			copy(cmd, []byte{0x84, 0x54, 0x00, 0x00, 200})
			rand.Read(cmd[5:])
			b.SetBytes(200)
			for b.Loop() {
				w, err := p.host.Wrap(cmd)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.card.Unwrap(w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
