package coolkey

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

var (
	padKeyOnce sync.Once
	padKey     *rsa.PrivateKey
)

// rawDecrypt is the applet's raw RSA, in software, for the padding tests.
func rawDecrypt(t testing.TB, c []byte) []byte {
	padKeyOnce.Do(func() { padKey, _ = rsa.GenerateKey(rand.Reader, 1024) })
	m := new(big.Int).Exp(new(big.Int).SetBytes(c), padKey.D, padKey.N)
	return m.FillBytes(make([]byte, 128))
}

func TestUnpadPKCS1(t *testing.T) {
	rawDecrypt(t, []byte{1})
	for _, n := range []int{0, 1, 16, 117} {
		msg := bytes.Repeat([]byte{0xA5}, n)
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, &padKey.PublicKey, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := unpadPKCS1Decrypt(rawDecrypt(t, ct))
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%d bytes: %x, %v", n, got, err)
		}
	}
	good := append([]byte{0, 2}, bytes.Repeat([]byte{7}, 8)...)
	good = append(good, 0, 'm')
	for _, tc := range []struct {
		name string
		em   []byte
		ok   bool
	}{
		{"minimal", good, true},
		{"first byte", append([]byte{1}, good[1:]...), false},
		{"block type 1", append([]byte{0, 1}, good[2:]...), false},
		{"padding of 7", append(append([]byte{0, 2}, bytes.Repeat([]byte{7}, 7)...), 0, 'm', 'x'), false},
		{"no separator", append([]byte{0, 2}, bytes.Repeat([]byte{7}, 12)...), false},
		{"empty message", append(append([]byte{0, 2}, bytes.Repeat([]byte{7}, 9)...), 0), true},
		{"too short", []byte{0, 2, 0}, false},
	} {
		_, err := unpadPKCS1Decrypt(tc.em)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestUnpadOAEPAndPSSAgainstStdlib(t *testing.T) {
	rawDecrypt(t, []byte{1})
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		for _, label := range [][]byte{nil, []byte("L")} {
			msg := []byte("secret")
			ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, &padKey.PublicKey, msg, label)
			if err != nil {
				t.Fatal(err)
			}
			got, err := unpadOAEP(rawDecrypt(t, ct), h, h, label)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("OAEP %v: %q, %v", h, got, err)
			}
			em := rawDecrypt(t, ct)
			em[len(em)-1] ^= 1
			if _, err := unpadOAEP(em, h, h, label); err == nil {
				t.Errorf("OAEP %v: tampered block accepted", h)
			}
		}
	}
	// OAEP with an MGF hash different from the label hash.
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, &padKey.PublicKey, []byte("x"), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := unpadOAEP(rawDecrypt(t, ct), crypto.SHA256, crypto.SHA1, nil); err != nil || string(got) != "x" {
		t.Errorf("OAEP SHA-256/MGF1-SHA1: %q %v", got, err)
	}

	// PSS for moduli whose bit length is and is not ≡ 1 mod 8.
	for _, bits := range []int{1024, 1025, 1031} {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		d := sum256([]byte("m"))
		em, err := encodePSS(d, crypto.SHA256, 20, k.N.BitLen(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sig := new(big.Int).Exp(new(big.Int).SetBytes(em), k.D, k.N).FillBytes(make([]byte, (k.N.BitLen()+7)/8))
		if err := rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, d, sig, &rsa.PSSOptions{SaltLength: 20}); err != nil {
			t.Errorf("PSS with %d-bit modulus: %v", k.N.BitLen(), err)
		}
	}
}

// The trace never shows a PIN, the nonce, or decrypted data.
func TestTraceMasksSecrets(t *testing.T) {
	var buf syncBuffer
	tok := buildToken(t, testtoken.Alice())
	r := newRig(t, "", tok)
	r.b.Finalize()
	r.b = newBackend(config{dynamic: r.src})
	r.b.Initialize(p11.InitOptions{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: p11.LevelTrace}))})
	s := r.open(false)
	r.login(s)
	h := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(2))
	pub := tok.KeyByID(2).Signer.Public().(*rsa.PublicKey)
	secret := []byte("TOPSECRETPLAINTEXT")
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, secret)
	op, err := s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Decrypt(ct); err != nil {
		t.Fatal(err)
	}
	s.Logout()
	log := buf.String()
	if !strings.Contains(log, "msg=apdu") {
		t.Fatal("no APDU trace")
	}
	for _, bad := range []string{"31323334", "544f50534543524554", string(secret)} {
		if strings.Contains(log, bad) {
			t.Errorf("trace contains %q", bad)
		}
	}
	if !strings.Contains(log, `cmd="B0 42 00 00 Lc/Le=04 <masked>" resp="<8 bytes masked> 9000"`) {
		t.Error("VERIFY not traced as masked")
	}
}

// FuzzBuildFromZ0 decodes arbitrary z0 bytes and builds the object table:
// nothing a card stores may panic the module.
func FuzzBuildFromZ0(f *testing.F) {
	tok, err := testtoken.Build(testtoken.Alice())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok.Z0)
	spec := testtoken.Alice()
	spec.Uncompressed = true
	spec.Keys[2].ECExplicit = true
	spec.Keys[2].NoCert = true
	if tok, err := testtoken.Build(spec); err == nil {
		f.Add(tok.Z0)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := cardedge.DecodeCombined(b)
		if err != nil {
			return
		}
		var n p11.ObjectHandle
		objs, _ := (&objectBuilder{newHandle: func() p11.ObjectHandle { n++; return n }, log: slog.New(slog.DiscardHandler)}).build(z.Objects(), "reader", nil)
		for _, o := range objs {
			if o.handle == 0 || o.attrs[p11.CKA_CLASS] == nil {
				t.Fatalf("object without handle or class: %+v", o)
			}
		}
	})
}

func FuzzUnpad(f *testing.F) {
	f.Add(append(append([]byte{0, 2}, bytes.Repeat([]byte{7}, 8)...), 0, 'm'), uint8(0))
	f.Add(make([]byte, 128), uint8(1))
	f.Fuzz(func(t *testing.T, em []byte, which uint8) {
		if which%2 == 0 {
			if m, err := unpadPKCS1Decrypt(em); err == nil && len(m) > len(em)-11 {
				t.Fatalf("message of %d bytes from a %d-byte block", len(m), len(em))
			}
			return
		}
		if m, err := unpadOAEP(em, crypto.SHA1, crypto.SHA1, nil); err == nil && len(m) > len(em)-42 {
			t.Fatalf("message of %d bytes from a %d-byte block", len(m), len(em))
		}
	})
}
