package coolkey

import (
	"testing"

	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// Benchmarks on the in-process virtual card: the time is the module's and
// the card emulator's, with no transport; apdus/op is what a real reader
// would carry.

func benchRig(b *testing.B) *rig {
	tok, err := testtoken.Build(testtoken.Alice())
	if err != nil {
		b.Fatal(err)
	}
	r := &rig{src: testtoken.NewSource(), toks: []*testtoken.Token{tok}, logBuf: &syncBuffer{}}
	card, err := tok.NewCard()
	if err != nil {
		b.Fatal(err)
	}
	r.slots = append(r.slots, vcard.NewSlot(card))
	r.src.Attach("Bench Reader", r.slots[0])
	r.cache = b.TempDir()
	r.b = newBackend(config{dynamic: r.src, cacheDir: r.cache})
	if err := r.b.Initialize(p11.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.b.Finalize() })
	return r
}

func reportAPDUs(b *testing.B, start uint64) {
	b.ReportMetric(float64(APDUCount()-start)/float64(b.N), "apdus/op")
}

// BenchmarkEnumerateWarm is one card insertion read with a warm object cache.
func BenchmarkEnumerateWarm(b *testing.B) {
	r := benchRig(b)
	r.b.Slots()
	b.ResetTimer()
	start := APDUCount()
	for i := 0; i < b.N; i++ {
		r.b.slots[0].cardInserted()
	}
	reportAPDUs(b, start)
}

func BenchmarkFindAndGetAttributes(b *testing.B) {
	r := benchRig(b)
	r.b.Slots()
	ps, _ := r.b.OpenSession(1, false)
	s := ps.(*session)
	tmpl := []p11.Attribute{{Type: p11.CKA_CLASS, Value: p11.ULongValue(uint(p11.CKO_CERTIFICATE))}}
	types := []p11.AttributeType{p11.CKA_LABEL, p11.CKA_ID, p11.CKA_VALUE, p11.CKA_SUBJECT}
	b.ResetTimer()
	start := APDUCount()
	for i := 0; i < b.N; i++ {
		hs, _ := s.FindObjects(tmpl)
		for _, h := range hs {
			s.GetAttributes(h, types)
		}
	}
	reportAPDUs(b, start)
}

func benchSign(b *testing.B, id byte, m p11.MechanismType) {
	r := benchRig(b)
	r.b.Slots()
	ps, _ := r.b.OpenSession(1, false)
	s := ps.(*session)
	if err := s.Login(p11.CKU_USER, []byte("1234")); err != nil {
		b.Fatal(err)
	}
	hs, _ := s.FindObjects([]p11.Attribute{{Type: p11.CKA_CLASS, Value: p11.ULongValue(uint(p11.CKO_PRIVATE_KEY))}, {Type: p11.CKA_ID, Value: []byte{id}}})
	msg := []byte("benchmark message")
	b.ResetTimer()
	start := APDUCount()
	for i := 0; i < b.N; i++ {
		op, err := s.SignInit(p11.Mechanism{Type: m}, hs[0])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := op.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
	reportAPDUs(b, start)
}

func BenchmarkSignRSA2048(b *testing.B) { benchSign(b, 1, p11.CKM_SHA256_RSA_PKCS) }
func BenchmarkSignRSA1024(b *testing.B) { benchSign(b, 2, p11.CKM_SHA256_RSA_PKCS) }
func BenchmarkSignP256(b *testing.B)    { benchSign(b, 3, p11.CKM_ECDSA_SHA256) }
