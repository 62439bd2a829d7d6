package reliability

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard/hostile"
)

// bounded runs f and fails the test if it does not return within d (a
// hang); the goroutine is abandoned then.
func bounded(t *testing.T, what string, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		t.Fatalf("%s did not return within %v:\n%s", what, d, buf[:runtime.Stack(buf, true)])
	}
}

// exercise does what a client does with a token — list, read every
// attribute of every object, log in, sign, log out — and returns the
// first error of each step; a hostile card may make any of them fail, but
// none may panic or hang.
func exercise(b *backend, id p11.SlotID) []error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	b.b.Slots()
	if _, err := b.b.TokenInfo(id); err != nil {
		return append(errs, err)
	}
	b.b.Mechanisms(id)
	s, err := b.b.OpenSession(id, false)
	if err != nil {
		return append(errs, err)
	}
	defer s.Close()
	attrs := []p11.AttributeType{p11.CKA_CLASS, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_VALUE, p11.CKA_MODULUS,
		p11.CKA_PUBLIC_EXPONENT, p11.CKA_KEY_TYPE, p11.CKA_SUBJECT, p11.CKA_EC_PARAMS, p11.CKA_EC_POINT}
	readAll := func() {
		hs, err := s.FindObjects(nil)
		note(err)
		for _, h := range hs {
			_, err := s.GetAttributes(h, attrs)
			note(err)
		}
	}
	readAll()
	note(s.Login(p11.CKU_USER, []byte(testPIN)))
	readAll()
	_, err = sign(s, 1, []byte("hostile"))
	note(err)
	note(s.Logout())
	return errs
}

// hostileCase is a fault armed on the hostile card before the backend
// reads it.
type hostileCase struct {
	name  string
	fault func(c *simCard) hostile.Fault
	// works: the fault is one a correct host must see through (a T=0
	// chain, a slow card); the signature must then verify. fails: the
	// fault spoils every answer, so something must be reported.
	works, fails bool
}

func hostileCases() []hostileCase {
	every := func(f hostile.Fault) func(*simCard) hostile.Fault {
		return func(*simCard) hostile.Fault { return hostile.From(1, f) }
	}
	cases := []hostileCase{
		{name: "T=0 chain 1-byte pieces", fault: every(hostile.Chain61(1)), works: true},
		{name: "T=0 chain odd pieces", fault: every(hostile.Chain61(7, 200, 13)), works: true},
		{name: "T=0 chain whole", fault: every(hostile.Chain61(256)), works: true},
		{name: "slow card", fault: every(hostile.Stall(2*time.Millisecond, nil)), works: true},
		{name: "garbage SW everywhere", fails: true, fault: every(hostile.StatusWord(0x12, 0x34))},
		{name: "6F00 everywhere", fails: true, fault: every(hostile.StatusWord(0x6F, 0x00))},
		{name: "empty answers", fails: true, fault: every(hostile.Replace())},
		{name: "one-byte answers", fails: true, fault: every(hostile.Truncate(1))},
		{name: "answers without data", fails: true, fault: every(hostile.Truncate(2))},
		{name: "answers 300 bytes too long", fails: true, fault: every(hostile.Pad(300, 0xA5))},
		{name: "6Cxx loop", fails: true, fault: every(hostile.Wrong6C(0x05))},
		{name: "endless 61xx", fails: true, fault: every(hostile.Replace(0x61, 0x01))},
		{name: "61FF with no data behind it", fails: true, fault: every(hostile.FaultFunc(func(_ int, cmd []byte, card hostile.Card) ([]byte, error) {
			if len(cmd) >= 2 && cmd[0] == 0x00 && cmd[1] == 0xC0 {
				return []byte{0x90, 0x00}, nil
			}
			return []byte{0x61, 0xFF}, nil
		}))},
	}
	// Each APDU of the whole flow (enumeration, login, signature) in turn
	// gets a bad answer of each kind.
	kinds := []struct {
		name string
		f    func(r *rand.Rand) hostile.Fault
	}{
		{"garbage SW", func(*rand.Rand) hostile.Fault { return hostile.StatusWord(0x6A, 0x88) }},
		{"truncated", func(r *rand.Rand) hostile.Fault { return hostile.Truncate(r.IntN(6)) }},
		{"padded", func(*rand.Rand) hostile.Fault { return hostile.Pad(17, 0xFF) }},
		{"random bytes", func(r *rand.Rand) hostile.Fault {
			b := make([]byte, r.IntN(300))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return hostile.Replace(b...)
		}},
		{"random bytes with 9000", func(r *rand.Rand) hostile.Fault {
			b := make([]byte, r.IntN(300))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return hostile.Replace(append(b, 0x90, 0x00)...)
		}},
		{"dropped", func(*rand.Rand) hostile.Fault { return hostile.Drop }},
	}
	for k := 1; k <= 19; k++ {
		for _, kind := range kinds {
			cases = append(cases, hostileCase{
				name: fmt.Sprintf("APDU %d %s", k, kind.name),
				fault: func(c *simCard) hostile.Fault {
					r := rand.New(rand.NewPCG(uint64(k), uint64(len(kind.name))))
					return hostile.At(c.proxy.APDUs()+k, kind.f(r))
				},
			})
		}
	}
	return cases
}

// A hostile card in slot 1 — wrong lengths, garbage status words, T=0
// chains split at odd places, 6Cxx loops, endless 61xx, random answers,
// cut connections, at every APDU of enumeration, login and signing — gets
// errors or, for the faults a correct host must see through, working
// signatures; the backend never panics or hangs, and a good card in slot 2
// keeps signing.
func TestHostileCardAnswers(t *testing.T) {
	fx := rsaFixture(t)
	good := serveCard(t, fx, nil)
	base := runtime.NumGoroutine()
	cases := hostileCases()
	for _, tc := range cases {
		bad := serveCard(t, fx, nil)
		b := startBackend(t, bad, good)
		bad.proxy.SetFault(tc.fault(bad))
		var errs []error
		bounded(t, tc.name, 15*time.Second, func() { errs = exercise(b, 1) })
		bad.proxy.SetFault(nil)
		if tc.works && len(errs) > 0 {
			t.Errorf("%s: a correct host sees through this, got %v", tc.name, errs)
		}
		if tc.fails && len(errs) == 0 {
			t.Errorf("%s: every answer was spoilt and nothing failed", tc.name)
		}
		bounded(t, tc.name+": good card", 5*time.Second, func() {
			b.slots()
			s := b.loggedIn(2)
			b.signAndVerify(s, good.fx)
			s.Logout()
			s.Close()
		})
		b.finalize()
	}
	t.Logf("FIGURE hostile answer cases: %d", len(cases))
	// Each hostile card keeps its two serving goroutines until the test ends.
	goroutinesSettle(t, base+2*len(cases), "after every backend was finalized")
}

// Hostile z0 objects — a zlib bomb inflating to 30 MiB, an object cut
// short, a zlib stream cut short, a header claiming 64 KiB, random and
// lying records — leave the token without objects (or refused), never
// allocate more than the decompression bound allows, and do not disturb
// the good card in slot 2.
func TestHostileZ0(t *testing.T) {
	fx := rsaFixture(t)
	good := serveCard(t, fx, nil)
	faults := []struct {
		name string
		f    hostile.Z0Fault
	}{
		{"zlib bomb", hostile.Z0Bomb(30 << 20)},
		{"object cut short", hostile.Z0Truncate(300)},
		{"zlib stream cut short", hostile.Z0CutStream(100)},
		{"oversize header", hostile.Z0Oversize()},
		{"random records", hostile.Z0Garbage(6000, 7)},
		{"lying records", hostile.Z0LyingRecords()},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			img, err := hostile.WithZ0(fx.img, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			bad := serveCard(t, fx, img)
			b := startBackend(t, bad, good)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			bounded(t, "reading the hostile card", 10*time.Second, func() { b.slots() })
			runtime.ReadMemStats(&after)
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
				t.Errorf("reading the card allocated %d MiB", grown>>20)
			}
			if b.hasToken(1) {
				s := b.open(1)
				s.Login(p11.CKU_USER, []byte(testPIN))
				for _, class := range []p11.ObjectClass{p11.CKO_CERTIFICATE, p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY, p11.CKO_DATA} {
					hs, err := s.FindObjects([]p11.Attribute{{Type: p11.CKA_CLASS, Value: p11.ULongValue(uint(class))}})
					if err != nil || len(hs) != 0 {
						t.Errorf("%v objects from a hostile z0: %d, %v", class, len(hs), err)
					}
				}
				s.Logout()
				s.Close()
			}
			s := b.loggedIn(2)
			b.signAndVerify(s, fx)
			s.Logout()
			s.Close()
		})
	}
}
