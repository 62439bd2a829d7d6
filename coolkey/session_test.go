package coolkey

import (
	"context"
	"crypto"
	"crypto/rsa"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

func pinFlags(t *testing.T, r *rig) uint {
	t.Helper()
	ti, err := r.b.TokenInfo(1)
	if err != nil {
		t.Fatal(err)
	}
	return ti.Flags & (p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY | p11.CKF_USER_PIN_LOCKED)
}

func TestLoginAndPINFlags(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice())) // 3 tries
	s := r.open(false)
	other := r.openOn(1, true)

	wantRV(t, "SO login", s.Login(p11.CKU_SO, []byte("1234")), p11.CKR_USER_TYPE_INVALID)
	wantRV(t, "context login without operation", s.Login(p11.CKU_CONTEXT_SPECIFIC, []byte("1234")), p11.CKR_OPERATION_NOT_INITIALIZED)
	wantRV(t, "logout while logged out", s.Logout(), p11.CKR_USER_NOT_LOGGED_IN)
	wantRV(t, "NULL PIN", s.Login(p11.CKU_USER, nil), p11.CKR_ARGUMENTS_BAD)

	// A PIN the applet's rules exclude costs nothing: no APDU, no try.
	if n := apdus(func() {
		wantRV(t, "3-digit PIN", s.Login(p11.CKU_USER, []byte("123")), p11.CKR_PIN_INCORRECT)
		wantRV(t, "17-digit PIN", s.Login(p11.CKU_USER, []byte("12345678901234567")), p11.CKR_PIN_INCORRECT)
	}); n != 0 {
		t.Errorf("impossible PINs sent %d APDUs", n)
	}
	if f := pinFlags(t, r); f != 0 {
		t.Errorf("flags %#x after impossible PINs", f)
	}

	// The PIN is exactly ulPinLen bytes: what follows it in the caller's
	// buffer is not part of it (the reference module uses strlen), and
	// a longer PIN is a different PIN.
	if n := apdus(func() {
		wantRV(t, "longer PIN", s.Login(p11.CKU_USER, []byte("12345")), p11.CKR_PIN_INCORRECT)
	}); n != 3 { // SELECT, VERIFY, GET PIN REMAINING TRIES
		t.Errorf("wrong PIN: %d APDUs, want 3", n)
	}
	if f := pinFlags(t, r); f != p11.CKF_USER_PIN_COUNT_LOW {
		t.Errorf("flags %#x after one wrong PIN, want COUNT_LOW", f)
	}
	wantRV(t, "wrong PIN", s.Login(p11.CKU_USER, []byte("9999")), p11.CKR_PIN_INCORRECT)
	if f := pinFlags(t, r); f != p11.CKF_USER_PIN_COUNT_LOW|p11.CKF_USER_PIN_FINAL_TRY {
		t.Errorf("flags %#x with one try left, want COUNT_LOW|FINAL_TRY", f)
	}

	// Login: SELECT + VERIFY, for every session of the application. The
	// PIN is the first ulPinLen bytes of a buffer that goes on.
	buf := []byte("1234garbage")
	if n := apdus(func() { wantRV(t, "login", s.Login(p11.CKU_USER, buf[:4]), p11.CKR_OK) }); n != 2 {
		t.Errorf("login: %d APDUs, want 2", n)
	}
	if f := pinFlags(t, r); f != 0 {
		t.Errorf("flags %#x after login", f)
	}
	for _, ss := range []*session{s, other, r.openOn(1, false)} {
		if st, err := ss.LoginState(); err != nil || st != p11.UserLoggedIn {
			t.Errorf("session state %v, %v", st, err)
		}
	}
	wantRV(t, "second login", other.Login(p11.CKU_USER, []byte("1234")), p11.CKR_USER_ALREADY_LOGGED_IN)

	// Logout: LOGOUT alone while the applet is selected.
	if n := apdus(func() { wantRV(t, "logout", other.Logout(), p11.CKR_OK) }); n != 1 {
		t.Errorf("logout: %d APDUs, want 1", n)
	}
	if st, _ := s.LoginState(); st != p11.LoggedOut {
		t.Errorf("state after logout %v", st)
	}
	if n := len(find(t, s, classAttr(p11.CKO_PRIVATE_KEY))); n != 0 {
		t.Errorf("%d private keys visible after logout", n)
	}

	// Three wrong PINs lock it.
	for i := 0; i < 2; i++ {
		s.Login(p11.CKU_USER, []byte("0000"))
	}
	wantRV(t, "third wrong PIN", s.Login(p11.CKU_USER, []byte("0000")), p11.CKR_PIN_INCORRECT)
	if f := pinFlags(t, r); f != p11.CKF_USER_PIN_LOCKED {
		t.Errorf("flags %#x after three wrong PINs, want LOCKED", f)
	}
	wantRV(t, "login when locked", s.Login(p11.CKU_USER, []byte("1234")), p11.CKR_PIN_LOCKED)
}

func TestContextSpecificLogin(t *testing.T) {
	a := newAlice(t)
	op, err := a.s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, a.priv[2])
	if err != nil {
		t.Fatal(err)
	}
	wantRV(t, "context login", a.s.Login(p11.CKU_CONTEXT_SPECIFIC, []byte("1234")), p11.CKR_OK)
	sig, err := op.Sign([]byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(a.rsa1k.Signer.Public().(*rsa.PublicKey), crypto.SHA256, sum256([]byte("m")), sig); err != nil {
		t.Error(err)
	}
	// The card's login count stayed balanced: one LOGOUT logs it out.
	wantRV(t, "logout", a.s.Logout(), p11.CKR_OK)
	s2 := a.openOn(1, false)
	a.login(s2)
	op, _ = s2.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, a.priv[2])
	wantRV(t, "logout", s2.Logout(), p11.CKR_OK)
	if _, err := op.Sign([]byte("m")); rvOf(err) != p11.CKR_USER_NOT_LOGGED_IN {
		t.Errorf("sign after logout: %v", err)
	}
}

func TestSignNeedsLogin(t *testing.T) {
	a := newAlice(t)
	op, err := a.s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, a.priv[1])
	if err != nil {
		t.Fatal(err)
	}
	a.s.Logout()
	if _, err := op.Sign([]byte("x")); rvOf(err) != p11.CKR_USER_NOT_LOGGED_IN {
		t.Errorf("sign after logout: %v", err)
	}
	if _, err := a.s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, a.priv[1]); rvOf(err) != p11.CKR_KEY_HANDLE_INVALID {
		t.Errorf("SignInit with a hidden key: %v", err)
	}
}

func TestSetPIN(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	ro := r.open(false)
	s := r.openOn(1, true)
	wantRV(t, "read-only session", ro.SetPIN([]byte("1234"), []byte("5678")), p11.CKR_SESSION_READ_ONLY)
	wantRV(t, "short new PIN", s.SetPIN([]byte("1234"), []byte("12")), p11.CKR_PIN_LEN_RANGE)
	wantRV(t, "wrong old PIN", s.SetPIN([]byte("4321"), []byte("5678")), p11.CKR_PIN_INCORRECT)
	if f := pinFlags(t, r); f != p11.CKF_USER_PIN_COUNT_LOW {
		t.Errorf("flags %#x", f)
	}
	r.login(s)
	wantRV(t, "change", s.SetPIN([]byte("1234"), []byte("5678")), p11.CKR_OK)
	if st, _ := s.LoginState(); st != p11.UserLoggedIn {
		t.Errorf("C_SetPIN changed the login state to %v", st)
	}
	if f := pinFlags(t, r); f != 0 {
		t.Errorf("flags %#x after the change", f)
	}
	// The session is still usable for private-key operations.
	h := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(2))
	signWith(t, s, h, p11.Mechanism{Type: p11.CKM_SHA1_RSA_PKCS}, []byte("x"))
	s.Logout()
	wantRV(t, "old PIN", s.Login(p11.CKU_USER, []byte("1234")), p11.CKR_PIN_INCORRECT)
	wantRV(t, "new PIN", s.Login(p11.CKU_USER, []byte("5678")), p11.CKR_OK)
	wantRV(t, "InitPIN", s.InitPIN([]byte("1111")), p11.CKR_FUNCTION_NOT_SUPPORTED)
}

func TestRandom(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	s := r.open(false)
	var b []byte
	n := apdus(func() {
		var err error
		if b, err = s.GenerateRandom(300); err != nil {
			t.Fatal(err)
		}
	})
	if len(b) != 300 {
		t.Fatalf("%d bytes", len(b))
	}
	if n != 2 { // the applet is still selected: two GET RANDOMs, no SELECT
		t.Errorf("%d APDUs for 300 random bytes, want 2", n)
	}
	if err := s.SeedRandom([]byte("seed")); err != nil {
		t.Errorf("SeedRandom: %v", err)
	}
	// Another application selected: GET RANDOM notices and selects.
	r.slots[0].Card().Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0, 0, 0, 3, 0, 0})
	if b, err := s.GenerateRandom(32); err != nil || len(b) != 32 {
		t.Errorf("GenerateRandom after another applet was selected: %d bytes, %v", len(b), err)
	}
}

// Removal kills the token's sessions and objects; the slot stays; a new
// insertion gives a new token.
func TestRemovalAndReinsertion(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	s := r.open(false)
	r.login(s)
	h := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(2))
	op, err := s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, h)
	if err != nil {
		t.Fatal(err)
	}

	r.slots[0].Remove()
	// The monitor sees it; C_WaitForSlotEvent reports the slot.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := r.b.WaitForSlotEvent(ctx)
	if err != nil || id != 1 {
		t.Fatalf("WaitForSlotEvent: %d, %v", id, err)
	}
	si, _ := r.b.SlotInfo(1)
	if si.Flags&p11.CKF_TOKEN_PRESENT != 0 {
		t.Error("token still present")
	}
	if _, err := r.b.TokenInfo(1); rvOf(err) != p11.CKR_TOKEN_NOT_PRESENT {
		t.Errorf("TokenInfo: %v", err)
	}
	if _, err := r.b.OpenSession(1, false); rvOf(err) != p11.CKR_TOKEN_NOT_PRESENT {
		t.Errorf("OpenSession: %v", err)
	}
	if _, err := s.LoginState(); rvOf(err) != p11.CKR_SESSION_HANDLE_INVALID {
		t.Errorf("LoginState on a dead session: %v", err)
	}
	if _, err := s.FindObjects(nil); rvOf(err) != p11.CKR_SESSION_HANDLE_INVALID {
		t.Errorf("FindObjects on a dead session: %v", err)
	}
	if _, err := op.Sign([]byte("x")); rvOf(err) != p11.CKR_DEVICE_REMOVED {
		t.Errorf("operation across removal: %v", err)
	}
	if ids := r.slotIDs(); len(ids) != 1 {
		t.Errorf("slots %v after removal", ids)
	}

	r.slots[0].Insert()
	id, err = r.b.WaitForSlotEvent(ctx)
	if err != nil || id != 1 {
		t.Fatalf("WaitForSlotEvent: %d, %v", id, err)
	}
	si, _ = r.b.SlotInfo(1)
	if si.Flags&p11.CKF_TOKEN_PRESENT == 0 {
		t.Fatal("token not back")
	}
	s2 := r.openOn(1, false)
	if st, _ := s2.LoginState(); st != p11.LoggedOut {
		t.Errorf("new token starts %v", st)
	}
	r.login(s2)
	h2 := one(t, s2, classAttr(p11.CKO_PRIVATE_KEY), idAttr(2))
	if h2 == h {
		t.Error("handles were reused across insertions")
	}
	signWith(t, s2, h2, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("x"))
	if _, ok, _ := r.b.PollSlotEvent(); ok {
		t.Error("event left over")
	}
}

// Removal noticed by an operation before the monitor.
func TestRemovalDuringOperation(t *testing.T) {
	a := newAlice(t)
	op, _ := a.s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, a.priv[1])
	// Pull the card without telling the monitor, as if the operation won
	// the race.
	a.b.monitors[0].Close()
	a.slots[0].Remove()
	if _, err := op.Sign([]byte("x")); rvOf(err) != p11.CKR_DEVICE_REMOVED {
		t.Errorf("sign: %v", err)
	}
	if _, err := a.s.LoginState(); rvOf(err) != p11.CKR_SESSION_HANDLE_INVALID {
		t.Errorf("state: %v", err)
	}
	if _, ok, _ := a.b.PollSlotEvent(); !ok {
		t.Error("no slot event for a removal an operation found")
	}
}

// A reset by another process keeps the token and its sessions but loses the
// login, which sessions then report.
func TestResetByOthers(t *testing.T) {
	a := newAlice(t)
	a.slots[0].Reset("someone else")
	a.src.Notify("Test Reader 0")
	eventually(t, "the reset to be seen", func() bool { st, _ := a.s.LoginState(); return st == p11.LoggedOut })
	if _, err := a.s.FindObjects(nil); err != nil {
		t.Errorf("session died on a reset: %v", err)
	}
	if n := len(find(t, a.s, classAttr(p11.CKO_PRIVATE_KEY))); n != 0 {
		t.Errorf("%d private keys visible after the login was lost", n)
	}
	a.login(a.s)
	signWith(t, a.s, a.priv[1], p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("x"))
	if !strings.Contains(a.logBuf.String(), "login is gone") {
		t.Error("the lost login was not logged")
	}
}

// A reset that only the next operation notices (ErrCardReset from the
// transport): the operation finds the login gone.
func TestResetNoticedByOperation(t *testing.T) {
	a := newAlice(t)
	a.b.monitors[0].Close()
	op, _ := a.s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, a.priv[1])
	a.slots[0].Reset("someone else")
	if _, err := op.Sign([]byte("x")); rvOf(err) != p11.CKR_USER_NOT_LOGGED_IN {
		t.Errorf("sign after reset: %v", err)
	}
	if st, err := a.s.LoginState(); err != nil || st != p11.LoggedOut {
		t.Errorf("state %v, %v", st, err)
	}
}

// Another card in the reader between two looks of the monitor is a new
// token: the old sessions end.
func TestSwap(t *testing.T) {
	a := newAlice(t)
	bob := testtoken.Alice()
	bob.Name = "bob"
	bob.CUID[9] = 0x99
	tok := buildToken(t, bob)
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	a.src.Swap("Test Reader 0", vcard.NewSlot(card))
	eventually(t, "bob's token", func() bool {
		ti, err := a.b.TokenInfo(1)
		return err == nil && ti.Label == "bob"
	})
	if _, err := a.s.LoginState(); rvOf(err) != p11.CKR_SESSION_HANDLE_INVALID {
		t.Errorf("alice's session survived the swap: %v", err)
	}
}

func TestCloseAllAndFinalizeLogsOut(t *testing.T) {
	a := newAlice(t)
	n := apdus(func() { a.b.Finalize() })
	a.b = nil
	if n != 1 {
		t.Errorf("finalize: %d APDUs, want 1 (LOGOUT)", n)
	}
	// The card is logged out: a new backend cannot sign without the PIN.
	a.start()
	s := a.open(false)
	if n := len(find(t, s, classAttr(p11.CKO_PRIVATE_KEY))); n != 0 {
		t.Errorf("new process sees %d private keys", n)
	}
}

func TestWaitForSlotEventCancel(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	r.slotIDs()
	if _, ok, err := r.b.PollSlotEvent(); ok || err != nil {
		t.Errorf("event pending at start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.b.WaitForSlotEvent(ctx)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("wait returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait not cancelled")
	}
}

// A reader attached after C_Initialize gets the next slot ID; IDs of
// existing slots never change.
func TestHotPlugReader(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	r.slotIDs()
	spec := testtoken.Alice()
	spec.Name = "bob"
	tok := buildToken(t, spec)
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	r.src.Attach("Late Reader", vcard.NewSlot(card))
	eventually(t, "the new reader", func() bool {
		si, err := r.b.SlotInfo(2)
		return err == nil && si.Flags&p11.CKF_TOKEN_PRESENT != 0
	})
	ids := r.slotIDs()
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 2 {
		t.Errorf("slots %v", ids)
	}
	ti, _ := r.b.TokenInfo(2)
	if ti.Label != "bob" {
		t.Errorf("label %q", ti.Label)
	}
	si, _ := r.b.SlotInfo(1)
	if si.Description != "Test Reader 0" {
		t.Errorf("slot 1 is now %q", si.Description)
	}
}

func TestNoAppletCard(t *testing.T) {
	spec := testtoken.Alice()
	tok := buildToken(t, spec)
	tok.Image.Applet = nil
	tok.Image.Package = nil
	r := newRig(t, "", tok)
	r.slotIDs()
	si, _ := r.b.SlotInfo(1)
	if si.Flags&p11.CKF_TOKEN_PRESENT != 0 {
		t.Error("a card without the applet is a token")
	}
	// With the ESC's noAppletOK it is one, with firmware 0.0.
	r.b.Finalize()
	r.b = newBackend(config{dynamic: r.src})
	if err := r.b.Initialize(p11.InitOptions{LibraryParameters: "noAppletOK=yes"}); err != nil {
		t.Fatal(err)
	}
	r.slotIDs()
	ti, err := r.b.TokenInfo(1)
	if err != nil {
		t.Fatal(err)
	}
	if ti.FirmwareVersion != (p11.Version{}) || ti.Flags&p11.CKF_TOKEN_INITIALIZED != 0 {
		t.Errorf("token info %+v", ti)
	}
	// The CUID comes from the card manager's CPLC data.
	if ti.SerialNumber != "12345678" || ti.Manufacturer != "4090 Axalto" {
		t.Errorf("CUID from CPLC: %+v", ti)
	}
}

// Sessions used from many goroutines at once (NSS does): operations on the
// card are serialised per reader, metadata calls never wait for them.
func TestConcurrentSessions(t *testing.T) {
	a := newAlice(t)
	pub := a.rsa1k.Signer.Public().(*rsa.PublicKey)
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		go func() {
			s, err := a.b.OpenSession(1, false)
			if err != nil {
				errs <- err
				return
			}
			ss := s.(*session)
			defer ss.Close()
			for i := 0; i < 5; i++ {
				hs, _ := ss.FindObjects([]p11.Attribute{classAttr(p11.CKO_PRIVATE_KEY), idAttr(2)})
				if len(hs) != 1 {
					errs <- fmt.Errorf("found %d keys", len(hs))
					return
				}
				op, err := ss.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, hs[0])
				if err != nil {
					errs <- err
					return
				}
				msg := []byte(fmt.Sprintf("message %d", i))
				sig, err := op.Sign(msg)
				if err != nil {
					errs <- err
					return
				}
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum256(msg), sig); err != nil {
					errs <- err
					return
				}
				a.b.TokenInfo(1)
				ss.LoginState()
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
