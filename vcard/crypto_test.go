package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
)

// loggedIn returns a card with the applet selected and PIN 0 verified, and
// the nonce.
func loggedIn(t *testing.T) (*Card, []byte) {
	t.Helper()
	c := newTestCard(t, testImage(t), Options{})
	mustOK(t, c, selectCoolKey)
	return c, mustOK(t, c, "B0 42 00 00 04 31323334")
}

// pkcs1Sign pads a SHA-256 DigestInfo the way the host does (type 1).
func pkcs1Block(t *testing.T, msg []byte, size int) []byte {
	t.Helper()
	h := sha256.Sum256(msg)
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	di := append(prefix, h[:]...)
	b := bytes.Repeat([]byte{0xFF}, size)
	b[0], b[1] = 0, 1
	b[size-len(di)-1] = 0
	copy(b[size-len(di):], di)
	return b
}

func cmd(cla, ins, p1, p2 byte, data ...[]byte) []byte {
	var d []byte
	for _, x := range data {
		d = append(d, x...)
	}
	return Command{CLA: cla, INS: ins, P1: p1, P2: p2, Data: d}.Bytes()
}

func TestComputeCryptInAPDU(t *testing.T) {
	c, nonce := loggedIn(t)
	msg := []byte("hello")
	block := pkcs1Block(t, msg, 128)
	// one step, location APDU: mode 00, direction 03 (encrypt = sign)
	data, sw := tx(t, c, cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 1, 0, 128}, block, nonce))
	if sw != 0x9000 || len(data) != 130 || binary.BigEndian.Uint16(data) != 128 {
		t.Fatalf("SW %04X, % X", sw, data)
	}
	h := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(&testRSA1024.PublicKey, crypto.SHA256, h[:], data[2:]); err != nil {
		t.Fatal(err)
	}
	// decrypt: raw RSA with direction 04
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, &testRSA1024.PublicKey, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	data, sw = tx(t, c, cmd(0xB0, 0x36, 2, 4, []byte{0, 4, 1, 0, 128}, ct, nonce))
	if sw != 0x9000 || !bytes.HasSuffix(data, []byte("\x00secret")) || data[3] != 2 {
		t.Fatalf("decrypt: SW %04X, % X", sw, data)
	}
	// init then final
	if _, sw := tx(t, c, cmd(0xB0, 0x36, 2, 1, []byte{0, 3, 1, 0, 0}, nonce)); sw != 0x9000 {
		t.Fatalf("INIT: %04X", sw)
	}
	data, sw = tx(t, c, cmd(0xB0, 0x36, 2, 3, []byte{1, 0, 128}, block, nonce))
	if sw != 0x9000 || rsa.VerifyPKCS1v15(&testRSA1024.PublicKey, crypto.SHA256, h[:], data[2:]) != nil {
		t.Fatalf("FINAL: %04X % X", sw, data)
	}

	for _, tc := range []struct {
		name string
		cmd  []byte
		sw   uint16
	}{
		{"process step", cmd(0xB0, 0x36, 2, 2, []byte{1, 0, 128}, block, nonce), 0x9C17},
		{"short input", cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 1, 0, 127}, block[1:], nonce), 0x9C19},
		{"size beyond data", cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 1, 0, 129}, block, nonce), 0x9C19},
		{"PKCS#1 mode", cmd(0xB0, 0x36, 2, 4, []byte{1, 3, 1, 0, 128}, block, nonce), 0x9C1B},
		{"bad mode", cmd(0xB0, 0x36, 2, 4, []byte{7, 3, 1, 0, 128}, block, nonce), 0x9C1C},
		{"sign direction", cmd(0xB0, 0x36, 2, 4, []byte{0, 1, 1, 0, 128}, block, nonce), 0x9C13},
		{"bad direction", cmd(0xB0, 0x36, 2, 4, []byte{0, 9, 1, 0, 128}, block, nonce), 0x9C14},
		{"bad location", cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 5, 0, 128}, block, nonce), 0x9C16},
		{"bad op", cmd(0xB0, 0x36, 2, 5, []byte{0, 3, 1, 0, 128}, block, nonce), 0x9C11},
		{"no key", cmd(0xB0, 0x36, 9, 4, []byte{0, 3, 1, 0, 128}, block, nonce), 0x9C10},
		{"EC key", cmd(0xB0, 0x36, 6, 4, []byte{0, 3, 1, 0, 32}, block[:32], nonce), 0x9C18},
		{"no login", cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 1, 0, 128}, block, make([]byte, 8)), 0x9C06},
		{"2048 in the APDU", cmd(0xB0, 0x36, 4, 4, []byte{0, 3, 1, 0, 0}, nonce), 0x9C19},
		{"too short", cmd(0xB0, 0x36, 2, 4, []byte{0, 3}, nonce), 0x6700},
		{"init with data", cmd(0xB0, 0x36, 2, 1, []byte{0, 3, 1, 0, 1, 0}, nonce), 0x9C19},
	} {
		if _, sw := tx(t, c, tc.cmd); sw != tc.sw {
			t.Errorf("%s: SW %04X, want %04X", tc.name, sw, tc.sw)
		}
	}
	// the public key slot works for anyone (use ACL FFFF), e.g. to verify
	data, sw = tx(t, c, cmd(0xB0, 0x36, 3, 4, []byte{0, 4, 1, 0, 128}, func() []byte {
		d, _ := tx(t, c, cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 1, 0, 128}, block, nonce))
		return d[2:]
	}(), make([]byte, 8)))
	if sw != 0x9000 || !bytes.Equal(data[2:], block) {
		t.Fatalf("public key op: %04X", sw)
	}
}

// TestComputeCryptIOBuffer follows the reference host's RSA-2048 sequence:
// write size and input to the I/O object, compute in location 02, read back.
func TestComputeCryptIOBuffer(t *testing.T) {
	c, nonce := loggedIn(t)
	block := pkcs1Block(t, []byte("big"), 256)
	io := []byte{0xFF, 0xFF, 0xFF, 0xFF}
	write := func(off int, chunk []byte) {
		t.Helper()
		o := binary.BigEndian.AppendUint32(nil, uint32(off))
		if _, sw := tx(t, c, cmd(0xB0, 0x54, 0, 0, io, o, []byte{byte(len(chunk))}, chunk, nonce)); sw != 0x9000 {
			t.Fatalf("WRITE at %d: %04X", off, sw)
		}
	}
	write(0, []byte{0x01, 0x00})
	write(2, block[:220])
	write(222, block[220:])
	if data, sw := tx(t, c, cmd(0xB0, 0x36, 4, 4, []byte{0, 3, 2, 0, 0}, nonce)); sw != 0x9000 || len(data) != 0 {
		t.Fatalf("COMPUTE: %04X % X", sw, data)
	}
	read := func(off, n int) []byte {
		t.Helper()
		o := binary.BigEndian.AppendUint32(nil, uint32(off))
		data, sw := tx(t, c, cmd(0xB0, 0x56, 0, 0, io, o, []byte{byte(n)}, nonce))
		if sw != 0x9000 {
			t.Fatalf("READ at %d: %04X", off, sw)
		}
		return data
	}
	if n := read(0, 2); !bytes.Equal(n, []byte{1, 0}) {
		t.Fatalf("result size % X", n)
	}
	sig := append(read(2, 255), read(257, 1)...)
	h := sha256.Sum256([]byte("big"))
	if err := rsa.VerifyPKCS1v15(&testRSA2048.PublicKey, crypto.SHA256, h[:], sig); err != nil {
		t.Fatal(err)
	}
	// reading past the result is refused
	o := binary.BigEndian.AppendUint32(nil, 257)
	if _, sw := tx(t, c, cmd(0xB0, 0x56, 0, 0, io, o, []byte{2}, nonce)); sw != 0x9C0F {
		t.Fatalf("read past the I/O buffer: %04X", sw)
	}
	// a write past the capacity fails inside the applet
	if _, sw := tx(t, c, cmd(0xB0, 0x54, 0, 0, io, []byte{0, 0, 0x04, 0xB0}, []byte{1, 0}, nonce)); sw != 0x6F00 {
		t.Fatalf("write past capacity: %04X", sw)
	}
	// a SELECT clears the buffer contents
	mustOK(t, c, selectCoolKey)
	write(0, []byte{0xAB})
	mustOK(t, c, selectCoolKey)
	if got := read(0, 1); got[0] != 0 {
		t.Fatalf("I/O buffer survived a SELECT: % X", got)
	}
}

func TestSignSelfCheckNeedsMate(t *testing.T) {
	img := testImage(t)
	img.Applet.Keys = img.Applet.Keys[:1] // the private key of slot 2 alone
	c := newTestCard(t, img, Options{})
	mustOK(t, c, selectCoolKey)
	nonce := mustOK(t, c, "B0 42 00 00 04 31323334")
	block := pkcs1Block(t, []byte("x"), 128)
	if _, sw := tx(t, c, cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 1, 0, 128}, block, nonce)); sw != 0x6F00 {
		t.Fatalf("sign without a mate: %04X", sw)
	}
	// decrypt does not self-check
	if _, sw := tx(t, c, cmd(0xB0, 0x36, 2, 4, []byte{0, 4, 1, 0, 128}, block, nonce)); sw != 0x9000 {
		t.Fatalf("decrypt without a mate: %04X", sw)
	}
}

func TestECC(t *testing.T) {
	c, nonce := loggedIn(t)
	h := sha256.Sum256([]byte("ecc"))
	data, sw := tx(t, c, cmd(0xB0, 0x37, 6, 4, []byte{1, 0, 32}, h[:], nonce))
	if sw != 0x9000 || int(binary.BigEndian.Uint16(data)) != len(data)-2 {
		t.Fatalf("sign: %04X % X", sw, data)
	}
	if !ecdsa.VerifyASN1(&testP256.PublicKey, h[:], data[2:]) {
		t.Fatal("signature does not verify")
	}
	// a SHA-1 hash is right-aligned in 32 zero bytes
	short := h[:20]
	data, sw = tx(t, c, cmd(0xB0, 0x37, 6, 4, []byte{1, 0, 20}, short, nonce))
	padded := append(make([]byte, 12), short...)
	if sw != 0x9000 || !ecdsa.VerifyASN1(&testP256.PublicKey, padded, data[2:]) {
		t.Fatalf("short hash: %04X", sw)
	}
	for _, tc := range []struct {
		name string
		cmd  []byte
		sw   uint16
	}{
		{"hash too short", cmd(0xB0, 0x37, 6, 4, []byte{1, 0, 19}, h[:19], nonce), 0x9C09},
		{"hash too long", cmd(0xB0, 0x37, 6, 4, []byte{1, 0, 33}, append(h[:], 0), nonce), 0x9C09},
		{"P2", cmd(0xB0, 0x37, 6, 3, []byte{1, 0, 32}, h[:], nonce), 0x9C11},
		{"RSA key", cmd(0xB0, 0x37, 2, 4, []byte{1, 0, 32}, h[:], nonce), 0x6F00},
		{"location", cmd(0xB0, 0x37, 6, 4, []byte{3, 0, 32}, h[:], nonce), 0x9C16},
		{"no login", cmd(0xB0, 0x37, 6, 4, []byte{1, 0, 32}, h[:], make([]byte, 8)), 0x9C06},
	} {
		if _, sw := tx(t, c, tc.cmd); sw != tc.sw {
			t.Errorf("%s: SW %04X, want %04X", tc.name, sw, tc.sw)
		}
	}

	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point := peer.PublicKey().Bytes()
	data, sw = tx(t, c, cmd(0xB0, 0x38, 6, 4, []byte{1, 0, byte(len(point))}, point, nonce))
	mine, _ := testP256.ECDH()
	want, _ := peer.ECDH(mine.PublicKey())
	if sw != 0x9000 || !bytes.Equal(data, append([]byte{0, 32}, want...)) {
		t.Fatalf("ECDH: %04X % X", sw, data)
	}
	bad := bytes.Clone(point)
	bad[10] ^= 1
	if _, sw := tx(t, c, cmd(0xB0, 0x38, 6, 4, []byte{1, 0, byte(len(bad))}, bad, nonce)); sw != 0x0001 {
		t.Fatalf("ECDH with a point off the curve: %04X", sw)
	}
	// ECDH is not available under the secure channel class either way.
	if _, sw := tx(t, c, cmd(0x84, 0x38, 6, 4, []byte{1})); sw != 0x6982 {
		t.Fatalf("84 38: %04X", sw)
	}
}

func TestHeapAccounting(t *testing.T) {
	h := newHeap(5000)
	free := func(want int) {
		t.Helper()
		if got := h.freeBytes(); got != want {
			t.Fatalf("free %d, want %d", got, want)
		}
	}
	free(4998)
	a, _ := h.alloc(100 + objectHeaderSize)
	b, _ := h.alloc(200 + objectHeaderSize)
	c, _ := h.alloc(50 + objectHeaderSize)
	if a != 5000-116+2 || b != a-2-216+2 || c != b-2-66+2 {
		t.Fatalf("allocation from the end: %d %d %d", a, b, c)
	}
	free(4998 - 116 - 216 - 66)
	h.release(b)
	// two free blocks now: each costs its 2-byte header
	free(4998 - 116 - 66 - 2)
	h.release(a)
	h.release(c)
	free(4998)
	if len(h.free) != 1 {
		t.Fatalf("free list not coalesced: %v", h.free)
	}

	// A remainder under 4 bytes goes with the block.
	h = newHeap(300)
	a, _ = h.alloc(100) // 198..300
	b, _ = h.alloc(50)  // 146..198
	c, _ = h.alloc(140) // 4..146, leaving a 4-byte block at 0
	free(2)
	h.release(b)
	free(2 + 50)
	d, ok := h.alloc(49) // needs 51 of b's 52
	if !ok || d != b {
		t.Fatalf("exact fit: %d %v, want %d", d, ok, b)
	}
	free(2)
	if _, ok := h.alloc(4999); ok {
		t.Fatal("allocated more than the heap")
	}
}

func TestObjectLifecycle(t *testing.T) {
	img := testImage(t)
	// let anyone create objects, as SET BUILTIN ACL could
	img.Applet.CreateACL = CreateACLImage{Object: 0xFFFF, Key: 0x4000, PIN: 0x4000}
	c := newTestCard(t, img, Options{})
	mustOK(t, c, selectCoolKey)
	zero := make([]byte, 8)
	status := func() (total, free int) {
		s := mustOK(t, c, "B0 3C 00 00 10")
		return int(binary.BigEndian.Uint32(s[4:])), int(binary.BigEndian.Uint32(s[8:]))
	}
	_, free0 := status()
	create := func(id string, size int, acl string) uint16 {
		_, sw := txHex(t, c, fmt.Sprintf("B0 5A 00 00 16 %s %08X %s %X", id, size, acl, zero))
		return sw
	}
	if sw := create("64320000", 40, "FFFF FFFF FFFF"); sw != 0x9000 {
		t.Fatalf("create: %04X", sw)
	}
	if _, free := status(); free != free0-40-16 {
		t.Fatalf("free after create %d, want %d", free, free0-56)
	}
	if sw := create("64320000", 40, "FFFF FFFF FFFF"); sw != 0x9C08 {
		t.Fatalf("create twice: %04X", sw)
	}
	for _, tc := range []struct {
		size int
		sw   uint16
	}{{0, 0x9C0F}, {0x8000, 0x9C01}, {0x10000, 0x9C01}, {5000, 0x9C01}} {
		if sw := create("64330000", tc.size, "FFFF FFFF FFFF"); sw != tc.sw {
			t.Errorf("size %d: %04X, want %04X", tc.size, sw, tc.sw)
		}
	}
	// the I/O buffer can be sized by CREATE, up to its capacity
	if sw := create("FFFFFFFF", 1200, "0000 0000 0000"); sw != 0x9000 {
		t.Fatalf("create I/O: %04X", sw)
	}
	if sw := create("FFFFFFFE", 1201, "0000 0000 0000"); sw != 0x9C01 {
		t.Fatalf("create I/O past capacity: %04X", sw)
	}
	mustOK(t, c, fmt.Sprintf("B0 54 00 00 14 64320000 00000004 03 AABBCC %X", zero))
	if got := mustOK(t, c, fmt.Sprintf("B0 56 00 00 11 64320000 00000000 08 %X", zero)); !bytes.Equal(got[4:7], []byte{0xAA, 0xBB, 0xCC}) {
		t.Fatalf("read back % X", got)
	}
	if _, sw := txHex(t, c, fmt.Sprintf("B0 54 00 00 14 64320000 00000026 03 AABBCC %X", zero)); sw != 0x9C0F {
		t.Fatalf("write past the end: %04X", sw)
	}
	// newest first
	if got := mustOK(t, c, "B0 58 00 00 0E"); !bytes.HasPrefix(got, unhex(t, "64320000")) {
		t.Fatalf("first listed % X", got)
	}
	if _, sw := txHex(t, c, fmt.Sprintf("B0 52 00 02 0C 64320000 %X", zero)); sw != 0x9C11 {
		t.Fatalf("delete P2 02: %04X", sw)
	}
	mustOK(t, c, fmt.Sprintf("B0 52 00 01 0C 64320000 %X", zero))
	if _, free := status(); free != free0 {
		t.Fatalf("free after delete %d, want %d", free, free0)
	}
	if _, sw := txHex(t, c, fmt.Sprintf("B0 52 00 00 0C 64320000 %X", zero)); sw != 0x9C07 {
		t.Fatalf("delete twice: %04X", sw)
	}
	// z0's delete ACL is the RA's
	if _, sw := txHex(t, c, fmt.Sprintf("B0 52 00 00 0C 7A300000 %X", zero)); sw != 0x9C06 {
		t.Fatalf("delete z0: %04X", sw)
	}
	// a recreated object holds what the memory held
	if sw := create("64340000", 40, "FFFF FFFF FFFF"); sw != 0x9000 {
		t.Fatalf("recreate: %04X", sw)
	}
	if got := mustOK(t, c, fmt.Sprintf("B0 56 00 00 11 64340000 00000004 03 %X", zero)); !bytes.Equal(got, make([]byte, 3)) {
		t.Fatalf("securely deleted memory: % X", got)
	}
}
