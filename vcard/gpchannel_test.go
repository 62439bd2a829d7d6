package vcard

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/binary"
	"math/big"
	"testing"

	"github.com/coolkey-go/coolkey-go/gp"
)

// gpHost opens a real secure channel to the card with package gp's host
// side and returns a function that wraps and sends plain commands.
func gpHost(t *testing.T, c *Card, keyVersion byte) (*gp.HostSession, func(plain []byte) ([]byte, uint16)) {
	t.Helper()
	h, err := gp.NewHostSession(gp.HostConfig{Keys: gp.DeveloperKeySet(), KeyVersion: keyVersion})
	if err != nil {
		t.Fatal(err)
	}
	iu, err := h.InitializeUpdate()
	if err != nil {
		t.Fatal(err)
	}
	resp, sw := tx(t, c, iu)
	if sw != 0x9000 {
		t.Fatalf("INITIALIZE UPDATE: %04X", sw)
	}
	if !bytes.Equal(resp[:10], unhex(t, "4090 7A01 0042 12345678")) {
		t.Fatalf("KDD % X is not the CUID", resp[:10])
	}
	ea, err := h.ExternalAuthenticate(append(resp, 0x90, 0x00))
	if err != nil {
		t.Fatal(err)
	}
	if _, sw := tx(t, c, ea); sw != 0x9000 {
		t.Fatalf("EXTERNAL AUTHENTICATE: %04X", sw)
	}
	return h, func(plain []byte) ([]byte, uint16) {
		t.Helper()
		w, err := h.Wrap(plain)
		if err != nil {
			t.Fatal(err)
		}
		return tx(t, c, w)
	}
}

func TestGPSecureChannel(t *testing.T) {
	for _, scp := range []HexByte{1, 2} {
		t.Run("SCP0"+string('0'+byte(scp)), func(t *testing.T) {
			img := testImage(t)
			img.CardManager.SCP = scp
			if scp == 1 {
				img.CardManager.SCPParam = 0x05
			}
			store := &countingStore{}
			c := newTestCard(t, img, Options{Store: store})
			mustOK(t, c, selectCoolKey)
			if _, sw := txHex(t, c, "80 50 02 00 08 0102030405060708"); sw != 0x6A88 {
				t.Fatalf("key version 2: %04X", sw)
			}
			h, send := gpHost(t, c, 0)
			if scp == 2 && (store.saves != 1 || store.last.CardManager.SequenceCounter != 1) {
				t.Fatalf("SCP02 sequence counter not persisted (%d saves)", store.saves)
			}
			if _, sw := send(unhex(t, "84 F0 0F 00")); sw != 0x9000 {
				t.Fatalf("SET LIFECYCLE: %04X", sw)
			}
			if _, sw := send(unhex(t, "84 04 00 00 06 393837363534")); sw != 0x9000 {
				t.Fatalf("SET PIN: %04X", sw)
			}
			challenge := []byte("0123456789abcdef")
			blk, err := h.WrapChallenge(challenge)
			if err != nil {
				t.Fatal(err)
			}
			blkBytes, _ := blk.Encode()
			data := append([]byte{0x80, 0x04, 0x00, 0x00}, blkBytes...)
			resp, sw := send(Command{CLA: 0x84, INS: 0x0C, P1: 0x08, P2: 0x19, Data: data, Le: 256}.Bytes())
			if sw != 0x9000 {
				t.Fatalf("START ENROLLMENT: %04X", sw)
			}
			size := int(binary.BigEndian.Uint16(resp))
			var buf []byte
			for off := 0; off < size; off += 0xD0 {
				n := min(0xD0, size-off)
				chunk, sw := send(cmd(0x84, 0x56, 0, 0, []byte{0xFF, 0xFF, 0xFF, 0xFF}, binary.BigEndian.AppendUint32(nil, uint32(off)), []byte{byte(n)}))
				if sw != 0x9000 {
					t.Fatalf("READ OBJECT: %04X", sw)
				}
				buf = append(buf, chunk...)
			}
			blobLen := int(binary.BigEndian.Uint16(buf))
			blob := buf[2 : 2+blobLen]
			modLen := int(binary.BigEndian.Uint16(blob[4:]))
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(blob[6 : 6+modLen]), E: int(new(big.Int).SetBytes(blob[8+modLen:]).Int64())}
			digest := sha1.Sum(append(bytes.Clone(blob), challenge...))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], buf[2+blobLen+2:]); err != nil {
				t.Fatalf("proof with the real channel: %v", err)
			}
			// a tampered command ends the channel
			w, _ := h.Wrap(unhex(t, "84 F0 0F 00"))
			w[len(w)-1] ^= 1
			if _, sw := tx(t, c, w); sw != 0x6982 {
				t.Fatalf("bad MAC: %04X", sw)
			}
			if _, sw := send(unhex(t, "84 F0 0F 00")); sw != 0x6982 {
				t.Fatalf("after a bad MAC: %04X", sw)
			}
			mustOK(t, c, "B0 42 00 00 06 393837363534")
			if got := mustOK(t, c, "B0 F2 00 00 01"); got[0] != 0x0F {
				t.Fatalf("life cycle %02X", got[0])
			}
			// through the security domain as well
			mustOK(t, c, "00 A4 04 00 00")
			_, send = gpHost(t, c, 1)
			if got, sw := send(unhex(t, "84 CA 9F 7F 00")); sw != 0x9000 || len(got) != 45 {
				t.Fatalf("GET DATA through the channel: %04X", sw)
			}
		})
	}
}

func TestPutKey(t *testing.T) {
	store := &countingStore{}
	c := newTestCard(t, testImage(t), Options{Store: store})
	mustOK(t, c, "00 A4 04 00 00")
	h, send := gpHost(t, c, 0)
	newKey, err := gp.NewKey(gp.DES3, unhex(t, "00112233445566778899AABBCCDDEEFF"))
	if err != nil {
		t.Fatal(err)
	}
	newSet := gp.KeySet{Version: 2, ENC: newKey, MAC: newKey, KEK: newKey}
	put, err := h.PutKey(newSet)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := put.Encode()
	resp, sw := send(plain)
	kcv := newKey.KCV()
	if sw != 0x9000 || !bytes.Equal(resp, append(append(append([]byte{2}, kcv[:]...), kcv[:]...), kcv[:]...)) {
		t.Fatalf("PUT KEY: %04X % X", sw, resp)
	}
	if got := store.last.CardManager.KeySets; len(got) != 1 || got[0].Version != 2 || !bytes.Equal(got[0].ENC, newKey.Bytes()) {
		t.Fatalf("saved key sets %+v", got)
	}
	// the old keys no longer open a channel; the new ones do
	if _, sw := txHex(t, c, "80 50 01 00 08 0102030405060708"); sw != 0x6A88 {
		t.Fatalf("old key version: %04X", sw)
	}
	h2, err := gp.NewHostSession(gp.HostConfig{Keys: newSet, KeyVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	iu, _ := h2.InitializeUpdate()
	r, sw := tx(t, c, iu)
	if sw != 0x9000 || r[10] != 2 {
		t.Fatalf("INITIALIZE UPDATE with version 2: %04X % X", sw, r)
	}
	ea, err := h2.ExternalAuthenticate(append(r, 0x90, 0x00))
	if err != nil {
		t.Fatal(err)
	}
	if _, sw := tx(t, c, ea); sw != 0x9000 {
		t.Fatalf("EXTERNAL AUTHENTICATE with the new keys: %04X", sw)
	}
}
