package netcard

import (
	"context"
	"testing"
)

// BenchmarkTransmit is one APDU round trip over loopback TCP to an
// in-process card server.
func BenchmarkTransmit(b *testing.B) {
	srv := newFakeServer(b)
	tr, err := Dial(context.Background(), srv.addr())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	cmd := []byte{0xB0, 0x71, 0x00, 0x00}
	for b.Loop() {
		if _, err := tr.Transmit(cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransaction is BeginTransaction (with its card-state check) plus
// EndTransaction.
func BenchmarkTransaction(b *testing.B) {
	srv := newFakeServer(b)
	tr, err := Dial(context.Background(), srv.addr())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	for b.Loop() {
		if err := tr.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		if err := tr.EndTransaction(); err != nil {
			b.Fatal(err)
		}
	}
}
