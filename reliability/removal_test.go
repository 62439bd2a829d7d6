package reliability

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/coolkey"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard/hostile"
)

// logPoints reports how many removal points a test covered, for the
// figures in docs/reliability.md (go test -v prints them).
func logPoints(t *testing.T, what string, n int) {
	t.Logf("FIGURE removal points %s: %d", what, n)
}

// The card leaves the reader after the k-th APDU of the first reading of
// the card (C_GetSlotList), for every k up to the last APDU that reading
// sends, with the card executing that APDU or not; the object cache is
// off, so the whole z0 is read each time. Each time the slot shows no
// token, opening a session fails with CKR_TOKEN_NOT_PRESENT at once, and
// after the card is put back the same backend reads it and signs; then it
// is finalized and a new one initialized in the same process (as NSS
// does), and no goroutine outlives its backend.
func TestRemovalDuringEnumeration(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	t.Setenv(coolkey.CacheEnv, "off")
	base := runtime.NumGoroutine()
	points := 0
	for k := 1; ; k++ {
		before := k%2 == 0
		b := startBackend(t, c)
		c.arm(k, hostile.Remove(c.slot, before))
		armedAt := c.proxy.APDUs() + k
		start := time.Now()
		b.slots()
		if c.proxy.APDUs() < armedAt {
			// The reading ended before the k-th APDU: every point
			// has been covered.
			if !b.hasToken(1) {
				t.Fatalf("k=%d: no fault and no token", k)
			}
			b.finalize()
			break
		}
		points++
		if d := time.Since(start); d > quick {
			t.Errorf("k=%d: C_GetSlotList took %v", k, d)
		}
		if b.hasToken(1) {
			t.Fatalf("k=%d (before=%v): the slot shows a token of a card that left during reading", k, before)
		}
		if _, err := b.b.TokenInfo(1); rvOf(err) != p11.CKR_TOKEN_NOT_PRESENT {
			t.Errorf("k=%d: TokenInfo: %v, want CKR_TOKEN_NOT_PRESENT", k, err)
		}
		err := timed(t, "OpenSession", func() error { _, err := b.b.OpenSession(1, false); return err })
		if rvOf(err) != p11.CKR_TOKEN_NOT_PRESENT {
			t.Errorf("k=%d: OpenSession: %v, want CKR_TOKEN_NOT_PRESENT", k, err)
		}
		c.reinsert()
		b.waitToken(1, true, 3*time.Second)
		s := b.loggedIn(1)
		b.signAndVerify(s, fx)
		s.Close()
		// Another backend must not read the card while the next one
		// counts APDUs.
		b.finalize()
		goroutinesSettle(t, base, fmt.Sprintf("after Finalize (k=%d)", k))
	}
	if points < 5 {
		t.Fatalf("only %d removal points during enumeration", points)
	}
	logPoints(t, "enumeration (C_GetSlotList, cold cache)", points)
	goroutinesSettle(t, base, "at the end")
}

// The same during the reading that follows an insertion (the backend's
// monitor reads the card at once), with the object cache on, so that the
// warm path (SELECT, GET LIFE CYCLE, first chunk of z0) is covered too:
// one backend for the whole test, never restarted.
func TestRemovalDuringReadingAfterInsertion(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	base := runtime.NumGoroutine()
	b := startBackend(t, c)
	b.slots()
	s := b.loggedIn(1)
	b.signAndVerify(s, fx)
	s.Close()
	var steady int
	points := 0
	for k := 1; k < 100; k++ {
		c.slot.Remove()
		b.waitToken(1, false, 2*time.Second)
		c.arm(k, hostile.Remove(c.slot, k%2 == 1))
		armedAt := c.proxy.APDUs() + k
		c.slot.Insert()
		deadline := time.Now().Add(3 * time.Second)
		for c.proxy.APDUs() < armedAt && !b.hasToken(1) {
			if time.Now().After(deadline) {
				t.Fatalf("k=%d: the card was not read after insertion", k)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if c.proxy.APDUs() >= armedAt {
			points++
			removedAt := time.Now()
			for b.hasToken(1) {
				if time.Since(removedAt) > quick {
					t.Fatalf("k=%d: token still shown %v after the card left", k, quick)
				}
				time.Sleep(5 * time.Millisecond)
			}
			c.reinsert()
			b.waitToken(1, true, 3*time.Second)
		} else {
			c.proxy.SetFault(nil)
		}
		s := b.loggedIn(1)
		b.signAndVerify(s, fx)
		s.Close()
		if k == 2 {
			steady = runtime.NumGoroutine()
		}
		if c.proxy.APDUs() < armedAt {
			break // reading (warm) ended before k: all points done
		}
	}
	if points < 2 {
		t.Fatalf("only %d removal points", points)
	}
	logPoints(t, "reading after insertion (warm cache)", points)
	goroutinesSettle(t, steady, "after repeated removals (no growth)")
	b.finalize()
	goroutinesSettle(t, base, "after Finalize")
}

// The card leaves during C_Login, before or after the card saw VERIFY PIN:
// C_Login fails with a removal code at once, the session is dead, and after
// reinsertion a new session logs in and signs. A VERIFY the card executed
// with the right PIN costs no PIN try.
func TestRemovalDuringLogin(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	base := runtime.NumGoroutine()
	b := startBackend(t, c)
	b.slots()
	points := 0
	for k := 1; ; k++ {
		for _, before := range []bool{true, false} {
			s := b.open(1)
			c.arm(k, hostile.Remove(c.slot, before))
			armedAt := c.proxy.APDUs() + k
			err := timed(t, "Login", func() error { return s.Login(p11.CKU_USER, []byte(testPIN)) })
			if c.proxy.APDUs() < armedAt {
				if err != nil {
					t.Fatalf("login without a fault: %v", err)
				}
				if k < 2 {
					t.Fatalf("login sent only %d APDUs", k-1)
				}
				logPoints(t, "login", points)
				s.Logout()
				s.Close()
				b.finalize()
				goroutinesSettle(t, base, "after Finalize")
				return
			}
			points++
			if !isRemoval(err) {
				t.Errorf("k=%d before=%v: Login: %v, want a removal code", k, before, err)
			}
			if _, err := s.LoginState(); !isRemoval(err) {
				t.Errorf("k=%d before=%v: LoginState after removal: %v", k, before, err)
			}
			c.reinsert()
			b.waitToken(1, true, 3*time.Second)
			if info, err := b.b.TokenInfo(1); err != nil || info.Flags&(p11.CKF_USER_PIN_COUNT_LOW|p11.CKF_USER_PIN_FINAL_TRY|p11.CKF_USER_PIN_LOCKED) != 0 {
				t.Errorf("k=%d: token info after reinsertion: %+v, %v", k, info, err)
			}
			s = b.loggedIn(1)
			b.signAndVerify(s, fx)
			s.Logout()
			s.Close()
		}
		if k > 10 {
			t.Fatal("login never ended")
		}
	}
}

// The card leaves between C_SignInit and C_Sign (and between
// C_DecryptInit and C_Decrypt): the second call fails at once with a
// removal code, the session with it; nothing hangs; after reinsertion the
// same backend signs again.
func TestRemovalBetweenInitAndOperation(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	base := runtime.NumGoroutine()
	b := startBackend(t, c)
	b.slots()

	s := b.loggedIn(1)
	op, err := signInit(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.slot.Remove()
	err = timed(t, "Sign after removal", func() error { _, err := op.Sign([]byte("gone")); return err })
	if !isRemoval(err) {
		t.Errorf("Sign after removal: %v, want a removal code", err)
	}
	if _, err := s.LoginState(); !isRemoval(err) {
		t.Errorf("LoginState after removal: %v", err)
	}
	if _, err := signInit(s, 1); !isRemoval(err) {
		t.Errorf("SignInit after removal: %v", err)
	}
	c.reinsert()
	b.waitToken(1, true, 3*time.Second)

	s = b.loggedIn(1)
	b.signAndVerify(s, fx)
	h, err := privateKey(s, 2)
	if err != nil {
		t.Fatal(err)
	}
	dop, err := s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, fx.certs[2].PublicKey.(*rsa.PublicKey), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	c.slot.Remove()
	err = timed(t, "Decrypt after removal", func() error { _, err := dop.Decrypt(ct); return err })
	if !isRemoval(err) {
		t.Errorf("Decrypt after removal: %v, want a removal code", err)
	}
	c.reinsert()
	b.waitToken(1, true, 3*time.Second)
	s = b.loggedIn(1)
	b.signAndVerify(s, fx)
	s.Logout()
	s.Close()
	b.finalize()
	goroutinesSettle(t, base, "after Finalize")
}

// The card leaves after each APDU of an RSA-2048 signature (SELECT, the
// I/O-buffer writes, COMPUTE CRYPT, the reads) and of an RSA-2048
// decryption, executed or not: a removal code at once, then, after
// reinsertion, a good signature from the same backend.
func TestRemovalDuringRSAOperation(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	base := runtime.NumGoroutine()
	b := startBackend(t, c)
	b.slots()
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, fx.certs[2].PublicKey.(*rsa.PublicKey), []byte("the plaintext"))
	if err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		run  func(s p11.Session) error
	}{
		{"sign", func(s p11.Session) error {
			msg := []byte("mid-sequence")
			sig, err := sign(s, 1, msg)
			if err == nil {
				err = fx.verify(1, msg, sig)
			}
			return err
		}},
		{"decrypt", func(s p11.Session) error {
			h, err := privateKey(s, 2)
			if err != nil {
				return err
			}
			op, err := s.DecryptInit(p11.Mechanism{Type: p11.CKM_RSA_PKCS}, h)
			if err != nil {
				return err
			}
			pt, err := op.Decrypt(ct)
			if err == nil && string(pt) != "the plaintext" {
				err = fmt.Errorf("decrypted %q", pt)
			}
			return err
		}},
	}
	for _, op := range ops {
		points := 0
		for k := 1; ; k++ {
			before := k%2 == 1
			s := b.loggedIn(1)
			c.arm(k, hostile.Remove(c.slot, before))
			armedAt := c.proxy.APDUs() + k
			err := timed(t, op.name, func() error { return op.run(s) })
			if c.proxy.APDUs() < armedAt {
				if err != nil {
					t.Fatalf("%s without a fault: %v", op.name, err)
				}
				c.proxy.SetFault(nil)
				s.Close()
				break
			}
			points++
			if !isRemoval(err) {
				t.Errorf("%s, removal after APDU %d (before=%v): %v, want a removal code", op.name, k, before, err)
			}
			c.reinsert()
			b.waitToken(1, true, 3*time.Second)
			if k > 20 {
				t.Fatalf("%s never ended", op.name)
			}
		}
		if points < 5 {
			t.Errorf("%s: only %d removal points", op.name, points)
		}
		logPoints(t, "RSA-2048 "+op.name, points)
	}
	b.finalize()
	goroutinesSettle(t, base, "after Finalize")
}

// A reset by someone else (another process resetting the card, a reader
// resetting it) at each stage: the token and its sessions survive (it is
// the same card), the login does not, and the next operation says so
// (CKR_USER_NOT_LOGGED_IN) instead of failing strangely; logging in again
// is enough. A power glitch the reader does not report, after each APDU of
// a signature, fails that signature (or not, after the last APDU) and the
// one after a new login works.
func TestResetAtEveryStage(t *testing.T) {
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	base := runtime.NumGoroutine()
	b := startBackend(t, c)
	b.slots()
	resetter := new(int)
	reset := func() {
		if _, err := c.slot.Reset(resetter); err != nil {
			t.Fatal(err)
		}
	}
	notLoggedIn := func(what string, err error) {
		t.Helper()
		if rv := rvOf(err); rv != p11.CKR_USER_NOT_LOGGED_IN {
			t.Errorf("%s: %v, want CKR_USER_NOT_LOGGED_IN", what, err)
		}
	}

	// Between C_Login and C_SignInit.
	s := b.loggedIn(1)
	reset()
	err := timed(t, "sign after reset", func() error { _, err := sign(s, 1, []byte("x")); return err })
	notLoggedIn("sign after a reset", err)
	if ls, err := s.LoginState(); err != nil || ls != p11.LoggedOut {
		t.Errorf("LoginState after reset: %v, %v", ls, err)
	}
	b.signAndVerify(b.loggedIn(1), fx)

	// Between C_SignInit and C_Sign.
	op, err := signInit(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	reset()
	err = timed(t, "Sign after reset", func() error { _, err := op.Sign([]byte("x")); return err })
	notLoggedIn("Sign after a reset between SignInit and Sign", err)
	b.signAndVerify(b.loggedIn(1), fx)

	// Seen by the monitor: the token is re-validated (SELECT, GET LIFE
	// CYCLE, first chunk of z0), not replaced, so an open session and its
	// object handles survive.
	keep := b.open(1)
	h, err := privateKey(b.loggedIn(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	before := c.proxy.APDUs()
	reset()
	settle(c.proxy, 3*time.Second)
	if c.proxy.APDUs()-before < 3 {
		t.Errorf("the monitor did not re-validate the token after a reset (%d APDUs)", c.proxy.APDUs()-before)
	}
	b.slots()
	if !b.hasToken(1) {
		t.Fatal("token gone after a reset")
	}
	if _, err := keep.FindObjects(nil); err != nil {
		t.Errorf("session opened before the reset: %v", err)
	}
	if err := keep.Login(p11.CKU_USER, []byte(testPIN)); err != nil {
		t.Fatalf("login after the reset: %v", err)
	}
	if op, err := keep.SignInit(sha256RSA, h); err != nil {
		t.Errorf("handle from before the reset: %v", err)
	} else if _, err := op.Sign([]byte("x")); err != nil {
		t.Errorf("sign with a handle from before the reset: %v", err)
	}

	// A glitch after each APDU of a signature.
	points := 0
	for k := 1; k < 20; k++ {
		s := b.loggedIn(1)
		c.arm(k, hostile.Glitch(c.slot))
		armedAt := c.proxy.APDUs() + k
		msg := []byte("glitch")
		var sig []byte
		err := timed(t, "sign with a glitch", func() error {
			var err error
			sig, err = sign(s, 1, msg)
			return err
		})
		c.proxy.SetFault(nil)
		if c.proxy.APDUs() < armedAt {
			break
		}
		points++
		if err == nil {
			// The glitch came after the card had answered everything
			// the signature needed. Nothing can tell the host that the
			// card forgot the login, so the next operation finds out:
			// CKR_USER_NOT_LOGGED_IN, once.
			if verr := fx.verify(1, msg, sig); verr != nil {
				t.Errorf("glitch after APDU %d: a signature that does not verify", k)
			}
			_, err := sign(s, 1, msg)
			notLoggedIn(fmt.Sprintf("sign after a glitch after the last APDU (%d)", k), err)
		} else {
			if rv := rvOf(err); rv == p11.CKR_FUNCTION_FAILED || rv == p11.CKR_GENERAL_ERROR {
				t.Errorf("glitch after APDU %d: %v (no specific CKR code)", k, err)
			}
			// The card forgot the login; so must the token, or the
			// caller cannot log in again.
			if ls, err := s.LoginState(); err == nil && ls != p11.LoggedOut {
				t.Errorf("glitch after APDU %d: still logged in after a failure", k)
			}
		}
		s2 := b.loggedIn(1)
		b.signAndVerify(s2, fx)
	}
	logPoints(t, "power glitch during RSA-2048 sign", points)
	s.Close()
	b.finalize()
	goroutinesSettle(t, base, "after Finalize")
}

// settle waits until the proxy has seen no APDU for half a second (a
// monitor's reaction to an event is over), or until within has passed.
func settle(p *hostile.Proxy, within time.Duration) {
	deadline := time.Now().Add(within)
	last, since := p.APDUs(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if n := p.APDUs(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 500*time.Millisecond {
			return
		}
	}
}
