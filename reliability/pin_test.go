package reliability

import (
	"testing"
	"time"

	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard/hostile"
)

const (
	claCardEdge  = 0xB0
	insVerifyPIN = 0x42
	insChangePIN = 0x44
)

const pinFlags = p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY | p11.CKF_USER_PIN_LOCKED

// The fixture's PIN blocks after 5 wrong tries. Each wrong C_Login costs
// exactly one VERIFY PIN on the card (counted card-side by the proxy) and
// one try, and the token info says how it stands: COUNT_LOW after a
// failure, FINAL_TRY with one try left, LOCKED once blocked; then even the
// right PIN gets CKR_PIN_LOCKED. A right PIN restores the count and clears
// the flags. PINs the applet cannot hold never reach the card.
func TestPINCountdownAndLock(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	b := startBackend(t, c)
	b.slots()
	s := b.open(1)
	flags := func() uint {
		t.Helper()
		info, err := b.b.TokenInfo(1)
		if err != nil {
			t.Fatal(err)
		}
		return info.Flags & pinFlags
	}
	verifies := func() int { return c.proxy.Count(claCardEdge, insVerifyPIN) }
	login := func(pin string) error {
		t.Helper()
		before := verifies()
		err := timed(t, "Login", func() error { return s.Login(p11.CKU_USER, []byte(pin)) })
		if n := verifies() - before; n != 1 {
			t.Errorf("C_Login sent %d VERIFY PIN, want exactly 1", n)
		}
		return err
	}

	// Impossible PINs: refused without asking the card.
	before := verifies()
	for _, pin := range []string{"", "abc", "seventeen-chars!!"} {
		if err := s.Login(p11.CKU_USER, []byte(pin)); rvOf(err) != p11.CKR_PIN_INCORRECT {
			t.Errorf("Login(%d-byte PIN): %v, want CKR_PIN_INCORRECT", len(pin), err)
		}
	}
	if n := verifies() - before; n != 0 {
		t.Errorf("impossible PINs sent %d VERIFY PIN", n)
	}
	if f := flags(); f != 0 {
		t.Errorf("flags after impossible PINs: %#x", f)
	}

	// A wrong PIN, then the right one: the count comes back.
	if err := login(wrongPIN); rvOf(err) != p11.CKR_PIN_INCORRECT {
		t.Fatalf("wrong PIN: %v", err)
	}
	if f := flags(); f != p11.CKF_USER_PIN_COUNT_LOW {
		t.Errorf("flags after one wrong PIN: %#x, want COUNT_LOW", f)
	}
	if err := login(testPIN); err != nil {
		t.Fatal(err)
	}
	if f := flags(); f != 0 {
		t.Errorf("flags after the right PIN: %#x", f)
	}
	s.Logout()

	// Count down to the lock.
	want := []uint{
		p11.CKF_USER_PIN_COUNT_LOW,                              // 4 left
		p11.CKF_USER_PIN_COUNT_LOW,                              // 3
		p11.CKF_USER_PIN_COUNT_LOW,                              // 2
		p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY, // 1
	}
	for i, w := range want {
		if err := login(wrongPIN); rvOf(err) != p11.CKR_PIN_INCORRECT {
			t.Fatalf("wrong PIN %d: %v, want CKR_PIN_INCORRECT", i+1, err)
		}
		if f := flags(); f != w {
			t.Errorf("flags after wrong PIN %d: %#x, want %#x", i+1, f, w)
		}
	}
	err := login(wrongPIN)
	if rv := rvOf(err); rv != p11.CKR_PIN_LOCKED && rv != p11.CKR_PIN_INCORRECT {
		t.Fatalf("the blocking try: %v", err)
	}
	if f := flags(); f != p11.CKF_USER_PIN_LOCKED {
		t.Errorf("flags once blocked: %#x, want LOCKED", f)
	}
	if err := login(testPIN); rvOf(err) != p11.CKR_PIN_LOCKED {
		t.Errorf("right PIN on a blocked card: %v, want CKR_PIN_LOCKED", err)
	}
	// A new process (backend) reads the same state from the card.
	b.finalize()
	b2 := startBackend(t, c)
	b2.slots()
	s2 := b2.open(1)
	if err := s2.Login(p11.CKU_USER, []byte(testPIN)); rvOf(err) != p11.CKR_PIN_LOCKED {
		t.Errorf("new backend, blocked card: %v, want CKR_PIN_LOCKED", err)
	}
	if info, _ := b2.b.TokenInfo(1); info.Flags&pinFlags != p11.CKF_USER_PIN_LOCKED {
		t.Errorf("new backend: flags %#x, want LOCKED", info.Flags&pinFlags)
	}
}

// C_SetPIN with a wrong old PIN costs one CHANGE PIN and one try, like a
// wrong C_Login; a PIN change is never retried either.
func TestSetPINWrongOldPIN(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	b := startBackend(t, c)
	b.slots()
	ps, err := b.b.OpenSession(1, true)
	if err != nil {
		t.Fatal(err)
	}
	pm := ps.(p11.PINManager)
	before := c.proxy.Count(claCardEdge, insChangePIN)
	if err := pm.SetPIN([]byte(wrongPIN), []byte("New-PIN-5555")); rvOf(err) != p11.CKR_PIN_INCORRECT {
		t.Fatalf("SetPIN with a wrong old PIN: %v", err)
	}
	if n := c.proxy.Count(claCardEdge, insChangePIN) - before; n != 1 {
		t.Errorf("%d CHANGE PIN for one C_SetPIN", n)
	}
	if info, _ := b.b.TokenInfo(1); info.Flags&pinFlags != p11.CKF_USER_PIN_COUNT_LOW {
		t.Errorf("flags %#x, want COUNT_LOW", info.Flags&pinFlags)
	}
	if n := c.proxy.Count(claCardEdge, insVerifyPIN); n != 0 {
		t.Errorf("C_SetPIN sent %d VERIFY PIN", n)
	}
}

// A VERIFY PIN whose answer never comes back (the card is removed after
// executing it, or the connection drops) is not sent again, neither by the
// failing C_Login nor by anything after the card is back: a host that
// retried could burn tries with a wrong PIN.
func TestPINNeverRetried(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	b := startBackend(t, c)
	b.slots()
	faults := map[string]hostile.Fault{
		"removed after VERIFY": hostile.Remove(c.slot, false),
		"connection cut":       hostile.FaultFunc(func(_ int, cmd []byte, card hostile.Card) ([]byte, error) { card(cmd); return nil, hostile.ErrDrop }),
		"garbage answer":       hostile.Replace(0x01, 0x02, 0x03),
		"6Cxx":                 hostile.Wrong6C(0x08),
		"61xx":                 hostile.Replace(0x61, 0x08),
	}
	for name, f := range faults {
		s := b.open(1)
		c.proxy.SetFault(hostile.When(hostile.Ins(claCardEdge, insVerifyPIN), f))
		before := c.proxy.Count(claCardEdge, insVerifyPIN)
		err := timed(t, name, func() error { return s.Login(p11.CKU_USER, []byte(wrongPIN)) })
		if err == nil {
			t.Errorf("%s: login succeeded", name)
		}
		c.proxy.SetFault(nil)
		if present, _ := c.slot.State(); !present {
			c.reinsert()
		}
		b.waitToken(1, true, 3*time.Second)
		b.slots()
		time.Sleep(300 * time.Millisecond) // a monitor round
		if n := c.proxy.Count(claCardEdge, insVerifyPIN) - before; n != 1 {
			t.Errorf("%s: %d VERIFY PIN for one C_Login", name, n)
		}
		s.Close()
	}
	// The wrong PINs cost tries; the right PIN still works.
	s := b.loggedIn(1)
	b.signAndVerify(s, fx)
}
