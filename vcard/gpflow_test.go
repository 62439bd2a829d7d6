package vcard_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/gp"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/internal/tpsscript"
)

// flowCPLC gives the CUID 4090 7A01 0042 12345678.
func flowCPLC() []byte {
	cuid, _ := cardedge.ParseCUID("40907A01004212345678")
	return cardedge.CPLCForCUID(cuid).Encode()[3:]
}

// blankCard writes a blank card image speaking scp (01 or 02) to a file
// and returns the card built from it, saving back to the file.
func blankCard(t *testing.T, scp byte) (*vcard.Card, vcard.FileStore) {
	t.Helper()
	img := vcard.BlankImage(flowCPLC())
	img.CardManager.SCP = vcard.HexByte(scp)
	switch scp {
	case 1:
		img.CardManager.SCPParam = 0x05
	case 3:
		img.CardManager.SCPParam = 0x60
	}
	store := vcard.FileStore{Path: filepath.Join(t.TempDir(), "card.json")}
	if err := store.Save(img); err != nil {
		t.Fatal(err)
	}
	return reload(t, store), store
}

// reload builds a new card from the stored image, as a restarted server
// would.
func reload(t *testing.T, store vcard.FileStore) *vcard.Card {
	t.Helper()
	img, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := vcard.New(img, vcard.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustImage(t *testing.T, store vcard.FileStore) *vcard.Image {
	t.Helper()
	img, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func randomKeySet(t *testing.T, typ gp.KeyType, version byte) gp.KeySet {
	t.Helper()
	ks := gp.KeySet{Version: version}
	for _, k := range []*gp.Key{&ks.ENC, &ks.MAC, &ks.KEK} {
		var err error
		if *k, err = gp.GenerateKey(typ, 16, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	return ks
}

// TestTPSFlow is issue 6's scripted TPS session, in-process: format a
// blank card, change its keys to version 2 (the old ones stop working),
// enroll it with two RSA-2048 key pairs generated on the card, and check
// that a host reads it as an enrolled token and signs with the PIN. Every
// step is checked against the image on disk, reloaded. Then a second
// format must wipe the instance. SCP01 cards get Dogtag's GP 2.0.1
// commands, SCP02 and SCP03 (AES keys) cards the GP 2.1.1 ones.
func TestTPSFlow(t *testing.T) {
	ca, err := testca.LoadOrCreate(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	for _, scp := range []byte{1, 2, 3} {
		t.Run(fmt.Sprintf("SCP0%d", scp), func(t *testing.T) {
			card, store := blankCard(t, scp)
			keyType, developer := gp.DES3, gp.DeveloperKeySet()
			if scp == 3 {
				keyType, developer = gp.AES, gp.DeveloperKeySetAES()
			}
			s := &tpsscript.Script{Card: card, Keys: developer, GP211: scp != 1}

			res, err := s.Format(tpsscript.FormatOptions{IssuerInfo: "http://tps.example/phoneHome"})
			if err != nil {
				t.Fatal(err)
			}
			// a blank card has nothing to delete
			if res.DeleteInstanceSW != 0x6A88 || res.DeletePackageSW != 0x6A88 || res.LoadBlocks < 10 {
				t.Fatalf("format of a blank card: %+v", res)
			}
			img := mustImage(t, store)
			if img.Package == nil || img.Package.Version != "1.4" || !bytes.Equal(img.Package.BuildID, []byte{0x58, 0x75, 0x56, 0x6E}) {
				t.Fatalf("package after format: %+v", img.Package)
			}
			a := img.Applet
			if a == nil || a.LifeCycle != 0x07 || a.HeapSize != 5000 || a.IssuerInfo != "http://tps.example/phoneHome" ||
				len(a.PINs) != 0 || len(a.Keys) != 0 || len(a.Objects) != 0 || a.ACLChangeEnabled != 0 {
				t.Fatalf("applet after format: %+v", a)
			}

			// key changeover to version 2
			v2 := randomKeySet(t, keyType, 2)
			card = reload(t, store)
			s.Card = card
			if err := s.ChangeKeys(v2); err != nil {
				t.Fatal(err)
			}
			if ks := mustImage(t, store).CardManager.KeySets; len(ks) != 1 || ks[0].Version != 2 || !bytes.Equal(ks[0].DEK, v2.KEK.Bytes()) {
				t.Fatalf("key sets after PUT KEY: %+v", ks)
			}
			card = reload(t, store)
			s.Card = card
			old := &tpsscript.Script{Card: card, Keys: developer, GP211: s.GP211}
			if err := old.SelectCardManager(); err != nil {
				t.Fatal(err)
			}
			if err := old.OpenChannel(1); !errors.Is(err, gp.ErrKeyVersion) {
				t.Fatalf("channel with key version 1 after the changeover: %v", err)
			}
			if err := old.OpenChannel(0); !errors.Is(err, gp.ErrCardCryptogram) {
				t.Fatalf("channel with the old keys: %v", err)
			}
			if err := s.SelectCardManager(); err != nil {
				t.Fatal(err)
			}
			if err := s.OpenChannel(2); err != nil {
				t.Fatalf("channel with the new keys: %v", err)
			}
			if kv := s.Channel().CardResponse().KeyVersion; kv != 2 {
				t.Fatalf("card answered with key version %02X", kv)
			}

			e, err := s.Enroll(tpsscript.EnrollOptions{User: "alice", PIN: []byte("24681357"), CA: ca, ObjectVersion: 7})
			if err != nil {
				t.Fatal(err)
			}
			if e.CreatePINSW != 0x9000 || len(e.Keys) != 2 {
				t.Fatalf("enrollment: CREATE PIN %04X, %d keys", e.CreatePINSW, len(e.Keys))
			}
			img = mustImage(t, store)
			if a := img.Applet; a.LifeCycle != 0x0F || len(a.PINs) != 1 || len(a.Keys) != 4 || len(a.Objects) != 1 ||
				a.Objects[0].ID != vcard.ObjectID(cardedge.CombinedObjectID) || !bytes.Equal(a.Objects[0].Data, e.Z0) {
				t.Fatalf("applet after enrollment: life cycle %02X, %d PINs, %d keys, %d objects", a.LifeCycle, len(a.PINs), len(a.Keys), len(a.Objects))
			}

			// a host sees an enrolled token and signs with the PIN
			tr, err := vcard.NewTransport(vcard.NewSlot(reload(t, store)))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			host := cardedge.NewCard(tr)
			id, err := host.Identify(cardedge.IdentifyOptions{IssuerInfo: true})
			if err != nil {
				t.Fatal(err)
			}
			if id.State != cardedge.StateEnrolled || id.CUID.String() != "40907A01004212345678" ||
				cardedge.TrimIssuerInfo(id.IssuerInfo) != "http://tps.example/phoneHome" {
				t.Fatalf("host identifies %v, CUID %v, issuer info %q", id.State, id.CUID, cardedge.TrimIssuerInfo(id.IssuerInfo))
			}
			z0, err := host.ReadObject(cardedge.CombinedObjectID, 0, len(e.Z0))
			if err != nil || !bytes.Equal(z0, e.Z0) {
				t.Fatalf("z0 read back: %v", err)
			}
			if err := host.VerifyPIN(0, []byte("24681357")); err != nil {
				t.Fatal(err)
			}
			for i, cert := range e.Certs {
				pub := cert.PublicKey.(*rsa.PublicKey)
				if pub.N.Cmp(e.Keys[i].N) != 0 {
					t.Fatalf("certificate %d is not for the generated key", i+1)
				}
				sig, err := host.ComputeCrypt(byte(2*(i+1)), cardedge.DirectionEncrypt, pkcs1SHA256(t, pub, []byte("signed on the card")))
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.Sum256([]byte("signed on the card"))
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
					t.Fatalf("signature with key %d: %v", 2*(i+1), err)
				}
			}
			tr.Close()

			// a second format wipes the instance: no PIN, keys, objects
			s.Card = reload(t, store)
			res, err = s.Format(tpsscript.FormatOptions{IssuerInfo: "http://tps.example/again", AppletMemory: 6000})
			if err != nil {
				t.Fatal(err)
			}
			// (an instance's "related objects" do not include its
			// package: both DELETEs find their target)
			if res.DeleteInstanceSW != 0x9000 || res.DeletePackageSW != 0x9000 {
				t.Fatalf("DELETEs of an installed applet: %04X %04X", res.DeleteInstanceSW, res.DeletePackageSW)
			}
			a = mustImage(t, store).Applet
			if a.LifeCycle != 0x07 || a.HeapSize != 6000 || a.IssuerInfo != "http://tps.example/again" ||
				len(a.PINs) != 0 || len(a.Keys) != 0 || len(a.Objects) != 0 {
				t.Fatalf("applet after the second format: %+v", a)
			}
		})
	}
}

// pkcs1SHA256 is the PKCS#1 v1.5 block a host hands COMPUTE CRYPT to sign.
func pkcs1SHA256(t *testing.T, pub *rsa.PublicKey, msg []byte) []byte {
	t.Helper()
	h := sha256.Sum256(msg)
	di := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, h[:]...)
	k := (pub.N.BitLen() + 7) / 8
	block := make([]byte, k)
	block[1] = 0x01
	for i := 2; i < k-len(di)-1; i++ {
		block[i] = 0xFF
	}
	copy(block[k-len(di):], di)
	if new(big.Int).SetBytes(block).Cmp(pub.N) >= 0 {
		t.Fatal("padded block exceeds the modulus")
	}
	return block
}
