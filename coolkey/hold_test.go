package coolkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

// forever is an idle time no test outlives: the transaction stays held
// until something other than the timer releases it.
const forever = time.Hour

func TestParseHoldIdle(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", defaultHoldIdle, false},
		{"25ms", 25 * time.Millisecond, false},
		{" 40 ", 40 * time.Millisecond, false},
		{"1s", time.Second, false},
		{"0", 0, false},
		{"off", 0, false},
		{"OFF", 0, false},
		{"0s", 0, false},
		{"2s", 0, true},
		{"-5ms", 0, true},
		{"soon", 0, true},
		{"99999999999", 0, true},
	} {
		got, err := parseHoldIdle(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseHoldIdle(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestHoldPolicy(t *testing.T) {
	if p := newHoldPolicy(0); p != (holdPolicy{}) {
		t.Errorf("no idle time: %+v, want no holding", p)
	}
	p := newHoldPolicy(defaultHoldIdle)
	if p.idle != defaultHoldIdle || p.max != minHoldMax || p.cooldown != 2*minHoldMax {
		t.Errorf("default: %+v", p)
	}
	// The card is left alone for longer than pcsc-lite's waiters sleep
	// between two tries (100 ms), whatever the idle time.
	for _, idle := range []time.Duration{time.Millisecond, defaultHoldIdle, 200 * time.Millisecond, maxHoldIdle} {
		p := newHoldPolicy(idle)
		if p.max < idle || p.cooldown <= 100*time.Millisecond || p.cooldown < p.max {
			t.Errorf("idle %v: %+v", idle, p)
		}
	}
}

// With the transaction held, each operation sends only its own APDUs: the
// warm start's SELECT serves the login, the signatures and the logout.
func TestHoldAPDUsPerOperation(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newHoldRig(t, forever, "", tok)
	if n := apdus(func() { r.slotIDs() }); n != coldAPDUs(t, tok) {
		t.Errorf("cold start: %d APDUs, want %d", n, coldAPDUs(t, tok))
	}
	s := r.openOn(1, false)
	if !r.b.slots[0].holding() {
		t.Fatal("no transaction held after reading the card")
	}
	if n := apdus(func() { r.login(s) }); n != 1 {
		t.Errorf("login: %d APDUs, want 1 (VERIFY)", n)
	}
	msg := []byte("held")
	digest := sum256(msg)
	for _, tc := range []struct {
		key  *testtoken.Key
		mech p11.MechanismType
		want uint64
	}{
		{tok.KeyByID(1), p11.CKM_SHA256_RSA_PKCS, 5}, // RSA-2048: I/O object writes, COMPUTE CRYPT, reads
		{tok.KeyByID(2), p11.CKM_SHA256_RSA_PKCS, 1}, // RSA-1024: one-step COMPUTE CRYPT
		{tok.KeyByID(3), p11.CKM_ECDSA_SHA256, 1},
	} {
		h := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(tc.key.ID))
		var sig []byte
		if n := apdus(func() { sig = signWith(t, s, h, p11.Mechanism{Type: tc.mech}, msg) }); n != tc.want {
			t.Errorf("key %d: %d APDUs, want %d", tc.key.ID, n, tc.want)
		}
		switch pub := tc.key.Signer.Public().(type) {
		case *rsa.PublicKey:
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
				t.Errorf("key %d: %v", tc.key.ID, err)
			}
		case *ecdsa.PublicKey:
			if !ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				t.Errorf("key %d: signature does not verify", tc.key.ID)
			}
		}
	}
	if n := apdus(func() {
		if _, err := s.GenerateRandom(16); err != nil {
			t.Error(err)
		}
	}); n != 1 {
		t.Errorf("GenerateRandom: %d APDUs, want 1", n)
	}
	// A wrong PIN is the applet's own answer: the hold survives it.
	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "wrong PIN", s.Login(p11.CKU_USER, []byte("9999")), p11.CKR_PIN_INCORRECT)
	if !r.b.slots[0].holding() {
		t.Error("a wrong PIN released the transaction")
	}
	if n := apdus(func() { r.login(s) }); n != 1 {
		t.Errorf("login after a wrong PIN: %d APDUs, want 1", n)
	}
	// C_Finalize: LOGOUT alone, and the card is free.
	if n := apdus(func() { r.b.Finalize() }); n != 1 {
		t.Errorf("finalize: %d APDUs, want 1 (LOGOUT)", n)
	}
	r.b = nil
	takeCard(t, r.slots[0])
}

// takeCard begins and ends a transaction as another process would, failing
// the test if the card is not handed over within a few seconds.
func takeCard(t *testing.T, slot *vcard.Slot) {
	t.Helper()
	other, err := vcard.NewTransport(slot)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	done := make(chan error, 1)
	go func() {
		err := other.BeginTransaction()
		if err == nil {
			// Leave another applet selected, as another process might.
			_, err = other.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0, 0, 0, 3, 0, 0})
			other.EndTransaction()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("another process using the card: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the card was never handed to another process")
	}
}

// When the idle time passes the transaction is released: another process
// gets the card, and the next operation selects the applet again before
// anything else, a VERIFY above all.
func TestHoldReleasedWhenIdle(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newHoldRig(t, 5*time.Millisecond, "", tok)
	s := r.open(false)
	r.login(s)
	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the idle release", func() bool { return !r.b.slots[0].holding() })
	takeCard(t, r.slots[0])
	if n := apdus(func() { r.login(s) }); n != 2 {
		t.Errorf("login after the release: %d APDUs, want 2 (SELECT, VERIFY)", n)
	}
	if !strings.Contains(r.logBuf.String(), "logged in") {
		t.Error("no login in the log")
	}
}

// C_WaitForSlotEvent releases the transaction before it blocks.
func TestHoldReleasedBeforeWaitingForEvents(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newHoldRig(t, forever, "", tok)
	s := r.open(false)
	r.login(s)
	if !r.b.slots[0].holding() {
		t.Fatal("no transaction held after login")
	}
	r.b.PollSlotEvent() // the insertion seen at start
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.b.WaitForSlotEvent(ctx); err == nil {
		t.Fatal("an event without a card event")
	}
	if r.b.slots[0].holding() {
		t.Fatal("transaction held while waiting for slot events")
	}
	takeCard(t, r.slots[0])
	h := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(1))
	if n := apdus(func() { signWith(t, s, h, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("x")) }); n != 6 {
		t.Errorf("signature after the release: %d APDUs, want 6 (SELECT first)", n)
	}
}

// A card event releases the transaction; the new token starts afresh.
func TestHoldReleasedOnRemoval(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newHoldRig(t, forever, "", tok)
	s := r.open(false)
	r.login(s)
	r.slots[0].Remove()
	eventually(t, "the removal", func() bool { return !r.b.slots[0].holding() })
	wantRV(t, "login on the removed token", s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)), p11.CKR_SESSION_HANDLE_INVALID)
	r.slots[0].Insert()
	eventually(t, "the new token", func() bool { _, err := r.b.TokenInfo(1); return err == nil })
	s = r.openOn(1, false)
	if n := apdus(func() { r.login(s) }); n != 1 {
		// The new card's read left the applet selected and held.
		t.Errorf("login on the reinserted card: %d APDUs, want 1", n)
	}
}

// Under continuous use the hold ends at its maximum and none is taken
// during the cooldown: each operation then has its own transaction, with
// its SELECT, and leaves the card free.
func TestHoldMaximumAndCooldown(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newHoldRig(t, forever, "", tok)
	r.b.hold.max = 0 // every hold has reached it
	r.b.hold.cooldown = forever
	s := r.open(false)
	if r.b.slots[0].holding() {
		t.Fatal("transaction held past its maximum")
	}
	for i := 0; i < 2; i++ {
		if n := apdus(func() { r.login(s) }); n != 2 {
			t.Errorf("login %d in the cooldown: %d APDUs, want 2", i, n)
		}
		if r.b.slots[0].holding() {
			t.Fatal("transaction held during the cooldown")
		}
		takeCard(t, r.slots[0])
		if err := s.Logout(); err != nil {
			t.Fatal(err)
		}
	}
}

// failingSource hands out transports whose next Transmit fails with err
// once armed, as PC/SC reports a pcscd restart or a removal on the first
// use of a held transaction.
type failingSource struct {
	wrapSource
	err  error
	fail bool
	sent int // APDUs that reached the card
}

func newFailingSource(err error) *failingSource {
	f := &failingSource{err: err}
	f.wrapSource = hookSource(func(next cardedge.Transport, cmd []byte) ([]byte, error) {
		if f.fail {
			f.fail = false
			return nil, f.err
		}
		f.sent++
		return next.Transmit(cmd)
	})
	return f
}

// A transport error in a held transaction releases it; the next operation
// selects again. Nothing is repeated after a reset that came while an
// operation ran (it may have sent a PIN).
func TestHoldReleasedOnTransportError(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	src := newFailingSource(cardedge.ErrCardReset)
	src.Attach("Failing Reader", slot)
	b, s := sessionOnSource(t, config{dynamic: src, holdIdle: forever})
	if !b.slots[0].holding() {
		t.Fatal("no transaction held after reading the card")
	}
	// sent is only touched under the slot's mutex, by card I/O.
	b.slots[0].mu.Lock()
	src.fail = true
	before := src.sent
	b.slots[0].mu.Unlock()
	if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); !errors.Is(err, cardedge.ErrCardReset) {
		t.Errorf("login through a reset: %v", err)
	}
	// What reached the card: the revalidation after the reset (SELECT,
	// GET LIFE CYCLE, READ z0), no VERIFY.
	if n := src.sent - before; n != 3 {
		t.Errorf("login through a reset: %d APDUs reached the card, want the 3 of the revalidation", n)
	}
	if b.slots[0].holding() {
		t.Error("transaction still held after a transport error")
	}
	if n := apdus(func() {
		if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
			t.Error(err)
		}
	}); n != 2 {
		t.Errorf("login after the revalidation: %d APDUs, want 2 (SELECT, VERIFY)", n)
	}
}

// The socket transport's server ends a transaction silently when the card
// is pulled; a card put back in the meantime is a fresh card with no applet
// selected. The held transaction is checked before it is reused, so the
// first APDU the new card sees is a SELECT, not a card-edge command.
func TestHoldSocketCardReinsertedWhileHeld(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	vslot := vcard.NewSlot(card)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve.Listen(ctx, vslot, ln, serve.Options{}) }()
	defer func() { cancel(); <-served }()

	name := "CoolKey virtual card " + ln.Addr().String()
	src := netcard.NewSource(netcard.Endpoint{Name: name, Addr: ln.Addr().String()})
	src.PollInterval = forever // the monitor must not notice: the check must
	logs := &syncBuffer{}
	b := newBackend(config{fixed: []string{name}, fixedSrc: src, holdIdle: forever})
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: p11.LevelTrace}))
	if err := b.Initialize(p11.InitOptions{Logger: log}); err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	b.Slots()
	ps, err := b.OpenSession(1, false)
	if err != nil {
		t.Fatal(err)
	}
	s := ps.(*session)
	if n := apdus(func() {
		if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("login in the held transaction: %d APDUs, want 1", n)
	}
	key := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(1))

	vslot.Remove()
	vslot.Insert()
	mark := len(logs.String())
	op, err := s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, key)
	if err != nil {
		t.Fatal(err)
	}
	// The new card forgot the login.
	if _, err := op.Sign([]byte("x")); rvOf(err) != p11.CKR_USER_NOT_LOGGED_IN {
		t.Errorf("signature on the reinserted card: %v, want CKR_USER_NOT_LOGGED_IN", err)
	}
	var first string
	for _, line := range strings.Split(logs.String()[mark:], "\n") {
		if strings.Contains(line, "msg=apdu") {
			first = line
			break
		}
	}
	if !strings.Contains(first, `cmd="00 A4 04 00`) {
		t.Errorf("first APDU to the reinserted card is not a SELECT: %s", first)
	}
	if ls, _ := s.LoginState(); ls != p11.LoggedOut {
		t.Errorf("login state %v after the reinsertion", ls)
	}
	if n := apdus(func() {
		if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("login after the revalidation: %d APDUs, want 1", n)
	}
	signWith(t, s, key, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("x"))
}

// A card that lost power behind the reader's back while the transaction
// was held answers the next operation with 6E00 (no applet selected): the
// operation fails with CKR_USER_NOT_LOGGED_IN, as it would have after a
// SELECT, without being sent again; the hold is released, and the next
// login selects the applet first.
func TestHoldGlitchBetweenOperations(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	src := newGlitchSource(slot)
	src.Attach("Glitch Reader", slot)
	b, s := sessionOnSource(t, config{dynamic: src, holdIdle: forever})
	if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
		t.Fatal(err)
	}
	key := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(1))
	slot.Card().PowerOn()
	op, err := s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, key)
	if err != nil {
		t.Fatal(err)
	}
	var sigErr error
	n := apdus(func() { _, sigErr = op.Sign([]byte("x")) })
	if rvOf(sigErr) != p11.CKR_USER_NOT_LOGGED_IN {
		t.Fatalf("signature after the glitch: %v, want CKR_USER_NOT_LOGGED_IN", sigErr)
	}
	if n != 1 {
		t.Errorf("signature after the glitch: %d APDUs, want 1 (WRITE OBJECT, answered 6E00)", n)
	}
	if b.slots[0].holding() {
		t.Error("transaction still held after the card answered 6E00")
	}
	if ls, err := s.LoginState(); err != nil || ls != p11.LoggedOut {
		t.Fatalf("LoginState after the glitch: %v, %v; want logged out", ls, err)
	}
	if n := apdus(func() {
		if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
			t.Fatalf("login after the glitch: %v", err)
		}
	}); n != 2 {
		t.Errorf("login after the glitch: %d APDUs, want 2 (SELECT, VERIFY)", n)
	}
	signWith(t, s, key, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("x"))
}

// A VERIFY in a held transaction that something other than the applet
// refuses is not sent again after a SELECT: an answer that is not the
// applet's does not prove the PIN went nowhere. The next C_Login selects.
func TestHoldVerifyNeverRepeated(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	r := newHoldRig(t, forever, "", tok)
	s := r.open(false)
	if !r.b.slots[0].holding() {
		t.Fatal("no transaction held after reading the card")
	}
	r.slots[0].Card().PowerOn() // the applet is no longer selected
	var err error
	if n := apdus(func() { err = s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)) }); n != 1 {
		t.Errorf("login refused by the card manager: %d APDUs, want 1 (VERIFY, once)", n)
	}
	if err == nil || !errors.Is(err, cardedge.ErrCLANotSupported) {
		t.Errorf("login refused by the card manager: %v", err)
	}
	if n := apdus(func() { r.login(s) }); n != 2 {
		t.Errorf("next login: %d APDUs, want 2 (SELECT, VERIFY)", n)
	}
}
