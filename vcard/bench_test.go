package vcard

import (
	"encoding/binary"
	"testing"
)

// BenchmarkSignRSA2048 runs the reference host's eight-APDU RSA-2048
// signature (SELECT, three I/O-buffer writes, COMPUTE CRYPT, three reads)
// through the in-process transport.
func BenchmarkSignRSA2048(b *testing.B) {
	c := newTestCard(b, testImage(b), Options{})
	tr, err := NewTransport(NewSlot(c))
	if err != nil {
		b.Fatal(err)
	}
	send := func(cmd []byte) []byte {
		resp, err := tr.Transmit(cmd)
		if err != nil || resp[len(resp)-2] != 0x90 {
			b.Fatalf("% X: % X %v", cmd, resp, err)
		}
		return resp
	}
	send(unhex(b, selectCoolKey))
	nonce := send(unhex(b, "B0 42 00 00 04 31323334"))[:8]
	block := make([]byte, 256)
	block[1] = 1
	io := []byte{0xFF, 0xFF, 0xFF, 0xFF}
	write := func(off int, chunk []byte) []byte {
		return cmd(0xB0, 0x54, 0, 0, io, binary.BigEndian.AppendUint32(nil, uint32(off)), []byte{byte(len(chunk))}, chunk, nonce)
	}
	read := func(off, n int) []byte {
		return cmd(0xB0, 0x56, 0, 0, io, binary.BigEndian.AppendUint32(nil, uint32(off)), []byte{byte(n)}, nonce)
	}
	apdus := [][]byte{
		unhex(b, selectCoolKey),
		write(0, []byte{1, 0}), write(2, block[:220]), write(222, block[220:]),
		cmd(0xB0, 0x36, 4, 4, []byte{0, 3, 2, 0, 0}, nonce),
		read(0, 2), read(2, 255), read(257, 1),
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, a := range apdus {
			send(a)
		}
	}
}
