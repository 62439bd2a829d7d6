package reliability

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/coolkey-go/coolkey-go/vcard/hostile"
)

// Tests that load the module into a Go process do it in a child process
// started with the module's environment, serving the card there on a
// listener inherited from the parent (its address, known before the child
// starts, goes into COOLKEY_SIM). The module must never see the machine's
// PC/SC readers from a test (COOLKEY_PCSC=off), and a variable set in this
// process is no guarantee: a Go c-shared library's own os.Getenv reads
// the process's initial environment (see TestModuleSeesSetenv).
const childEnv = "RELIABILITY_CHILD"

// inChild runs the calling test again in a child process with the module's
// environment and a listener for the card on file descriptor 3, and
// reports its result; it returns false there. In the child it returns true
// and the test runs its body.
func inChild(t *testing.T, level string) bool {
	t.Helper()
	if os.Getenv(childEnv) == "1" {
		return true
	}
	so := moduleSO(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "COOLKEY_MODULE="+so,
		"COOLKEY_SIM="+ln.Addr().String(), "COOLKEY_PCSC=off", "XDG_CACHE_HOME="+t.TempDir(),
		"COOLKEY_LOG="+suiteLogPath(t, "module.log"), "COOLKEY_LOG_LEVEL="+level)
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	t.Logf("child process:\n%s", out)
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
	return false
}

// childListener is the card listener a child inherited.
func childListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.FileListener(os.NewFile(3, "card listener"))
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// p11ctx loads the module named by COOLKEY_MODULE into this (child)
// process with miekg/pkcs11 and initializes it; it is finalized when the
// test ends.
func p11ctx(t *testing.T) *pkcs11.Ctx {
	t.Helper()
	if os.Getenv(childEnv) != "1" || os.Getenv("COOLKEY_PCSC") != "off" {
		t.Fatal("the module may be loaded in a child process only, away from the machine's readers")
	}
	ctx := pkcs11.New(os.Getenv("COOLKEY_MODULE"))
	if ctx == nil {
		t.Fatal("loading the module failed")
	}
	if err := ctx.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx.Finalize()
		ctx.Destroy()
	})
	return ctx
}

// rvOfP11 returns the CK_RV of a miekg/pkcs11 error (0 for nil).
func rvOfP11(err error) uint {
	var e pkcs11.Error
	if errors.As(err, &e) {
		return uint(e)
	}
	if err != nil {
		return 0xFFFFFFFF
	}
	return 0
}

func isRemovalRV(rv uint) bool {
	switch rv {
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED:
		return true
	}
	return false
}

// Through the C ABI: three sessions (two logged in, one in a search, one
// with a signature started) when the card leaves. Within a second every
// old session reports a removal code, the token count drops, C_WaitForSlotEvent
// reports the slot; after reinsertion the token's session count is zero
// (no session leaked), old handles stay invalid, and a new session logs in
// and signs — all in the same process and C_Initialize. The same again with
// the card leaving in the middle of the signature.
func TestSessionsAfterRemoval(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module")
	}
	if !inChild(t, "trace") {
		return
	}
	fx := rsaFixture(t)
	c := serveCardOn(t, fx, nil, childListener(t))
	ctx := p11ctx(t)
	slots, err := ctx.GetSlotList(true)
	if err != nil || len(slots) != 1 {
		t.Fatalf("slots %v %v", slots, err)
	}
	slot := slots[0]
	for round, mid := range []bool{false, true, false} {
		var hs []pkcs11.SessionHandle
		for i := 0; i < 3; i++ {
			h, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		if err := ctx.Login(hs[0], pkcs11.CKU_USER, testPIN); err != nil {
			t.Fatalf("round %d: login: %v", round, err)
		}
		if err := ctx.FindObjectsInit(hs[1], nil); err != nil {
			t.Fatal(err)
		}
		keys, err := findKeys(ctx, hs[2])
		if err != nil || len(keys) == 0 {
			t.Fatalf("round %d: keys %v %v", round, keys, err)
		}
		if err := ctx.SignInit(hs[2], []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_RSA_PKCS, nil)}, keys[0]); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if mid {
			// Out with the second APDU of the signature, executed.
			c.arm(2, hostile.Remove(c.slot, false))
			_, err := ctx.Sign(hs[2], []byte("mid-signature"))
			if !isRemovalRV(rvOfP11(err)) {
				t.Errorf("round %d: C_Sign with the card leaving: %v", round, err)
			}
		} else {
			c.slot.Remove()
		}
		for i, h := range hs {
			_, err := ctx.GetSessionInfo(h)
			for !isRemovalRV(rvOfP11(err)) && time.Since(start) < quick {
				time.Sleep(10 * time.Millisecond)
				_, err = ctx.GetSessionInfo(h)
			}
			if !isRemovalRV(rvOfP11(err)) {
				t.Errorf("round %d: C_GetSessionInfo(session %d) %v after removal: %v", round, i, time.Since(start), err)
			}
		}
		if _, err := ctx.GetTokenInfo(slot); rvOfP11(err) != pkcs11.CKR_TOKEN_NOT_PRESENT {
			t.Errorf("round %d: C_GetTokenInfo after removal: %v", round, err)
		}
		if present, err := ctx.GetSlotList(true); err != nil || len(present) != 0 {
			t.Errorf("round %d: slots with a token after removal: %v %v", round, present, err)
		}
		c.reinsert()
		deadline := time.Now().Add(3 * time.Second)
		var info pkcs11.TokenInfo
		for info, err = ctx.GetTokenInfo(slot); err != nil; info, err = ctx.GetTokenInfo(slot) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: token not back after reinsertion: %v", round, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if info.SessionCount != 0 || info.RwSessionCount != 0 {
			t.Errorf("round %d: %d sessions (%d RW) open after removal and reinsertion, want 0", round, info.SessionCount, info.RwSessionCount)
		}
		for i, h := range hs {
			if _, err := ctx.GetSessionInfo(h); rvOfP11(err) != pkcs11.CKR_SESSION_HANDLE_INVALID {
				t.Errorf("round %d: old session %d after reinsertion: %v", round, i, err)
			}
			if err := ctx.CloseSession(h); rvOfP11(err) != pkcs11.CKR_SESSION_HANDLE_INVALID {
				t.Errorf("round %d: closing old session %d: %v", round, i, err)
			}
		}
		h, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		if si, err := ctx.GetSessionInfo(h); err != nil || si.State != pkcs11.CKS_RO_PUBLIC_SESSION {
			t.Errorf("round %d: new session state %v %v, want public (the login went with the card)", round, si.State, err)
		}
		if err := ctx.Login(h, pkcs11.CKU_USER, testPIN); err != nil {
			t.Fatalf("round %d: login after reinsertion: %v", round, err)
		}
		keys, err = findKeys(ctx, h)
		if err != nil || len(keys) == 0 {
			t.Fatal(err)
		}
		msg := make([]byte, 40)
		rand.Read(msg)
		if err := ctx.SignInit(h, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_RSA_PKCS, nil)}, keys[0]); err != nil {
			t.Fatal(err)
		}
		sig, err := ctx.Sign(h, msg)
		if err != nil {
			t.Fatalf("round %d: sign after reinsertion: %v", round, err)
		}
		if err := fx.verify(1, msg, sig); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		ctx.Logout(h)
		if err := ctx.CloseSession(h); err != nil {
			t.Fatal(err)
		}
		if info, _ := ctx.GetTokenInfo(slot); info.SessionCount != 0 {
			t.Errorf("round %d: %d sessions left", round, info.SessionCount)
		}
	}
}

// findKeys returns the private keys with CKA_ID 1.
func findKeys(ctx *pkcs11.Ctx, h pkcs11.SessionHandle) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte{1}),
	}
	if err := ctx.FindObjectsInit(h, tmpl); err != nil {
		return nil, err
	}
	defer ctx.FindObjectsFinal(h)
	keys, _, err := ctx.FindObjects(h, 4)
	return keys, err
}
