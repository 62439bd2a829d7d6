package pkcs11mod

import (
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// newLib returns a library whose backends come from fresh fakes; the fakes
// created so far are in *made.
func newLib(t *testing.T, wrap func(*fakeBackend) Backend) (*library, *[]*fakeBackend) {
	t.Helper()
	made := &[]*fakeBackend{}
	l := &library{newBackend: func() Backend {
		f := newFake()
		*made = append(*made, f)
		if wrap != nil {
			return wrap(f)
		}
		return f
	}}
	t.Cleanup(func() { l.finalize() })
	return l, made
}

func mustInit(t *testing.T, l *library) {
	t.Helper()
	if err := l.initialize(initArgs{}); err != nil {
		t.Fatalf("initialize: %v", err)
	}
}

func TestInitArgs(t *testing.T) {
	all := [4]bool{true, true, true, true}
	tests := []struct {
		name    string
		args    initArgs
		wantErr error
	}{
		{"no callbacks, no flags", initArgs{}, nil},
		{"OS locking", initArgs{flags: CKF_OS_LOCKING_OK}, nil},
		{"NSS: can't create threads + OS locking + callbacks", initArgs{mutexes: all, flags: CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS}, nil},
		{"callbacks without OS locking", initArgs{mutexes: all}, nil},
		{"can't create threads alone", initArgs{flags: CKF_LIBRARY_CANT_CREATE_OS_THREADS}, nil},
		{"some callbacks", initArgs{mutexes: [4]bool{true, true, false, true}}, CKR_ARGUMENTS_BAD},
		{"one callback", initArgs{mutexes: [4]bool{false, false, false, true}}, CKR_ARGUMENTS_BAD},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newLib(t, nil)
			if err := l.initialize(tc.args); err != tc.wantErr {
				t.Errorf("initialize = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestStateMachine(t *testing.T) {
	l, made := newLib(t, nil)
	if _, err := l.info(); err != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Fatalf("info before initialize: %v", err)
	}
	if err := l.finalize(); err != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Fatalf("finalize before initialize: %v", err)
	}
	if err := l.initialize(initArgs{flags: CKF_OS_LOCKING_OK, libraryParameters: "configdir=x"}); err != nil {
		t.Fatal(err)
	}
	if got := (*made)[0].opts; got.LibraryParameters != "configdir=x" || !got.OSLockingOK || got.CantCreateThreads || got.Logger == nil {
		t.Errorf("backend got options %+v", got)
	}
	if err := l.initialize(initArgs{}); err != CKR_CRYPTOKI_ALREADY_INITIALIZED {
		t.Fatalf("second initialize: %v", err)
	}
	if info, err := l.info(); err != nil || info.Manufacturer != "fake" {
		t.Fatalf("info = %+v, %v", info, err)
	}
	h, err := l.openSession(1, CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.finalize(); err != nil {
		t.Fatal(err)
	}
	if !(*made)[0].finalized {
		t.Error("backend not finalized")
	}
	if err := l.finalize(); err != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Errorf("second finalize: %v", err)
	}
	if _, err := l.sessionInfo(h); err != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Errorf("call after finalize: %v", err)
	}

	// Re-initialization gets a fresh backend and never revives old handles.
	mustInit(t, l)
	if len(*made) != 2 {
		t.Fatalf("%d backends made, want a fresh one per C_Initialize", len(*made))
	}
	if _, err := l.sessionInfo(h); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("old session after re-initialize: %v", err)
	}
	h2, err := l.openSession(1, CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Errorf("session handle %d reused after re-initialize", h)
	}
}

func TestInitializeFailure(t *testing.T) {
	l := &library{newBackend: func() Backend {
		f := newFake()
		f.initErr = CKR_DEVICE_ERROR
		return f
	}}
	if err := l.initialize(initArgs{}); err != CKR_DEVICE_ERROR {
		t.Fatalf("initialize = %v", err)
	}
	if _, err := l.info(); err != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Errorf("library initialized after a failed backend initialize: %v", err)
	}
	if err := (&library{}).initialize(initArgs{}); err != CKR_GENERAL_ERROR {
		t.Errorf("initialize with no registered backend: %v", err)
	}
}

// A forked child inherits the parent's state, which it must not use: it
// sees CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize itself.
func TestForkedChild(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	// As if we were the child of the process that initialized: a fork
	// through fork(3) shows in the fork count, one without the atfork
	// handlers (_Fork, raw clone) only in the pid.
	in := l.inst.Load()
	in.forks--
	if _, err := l.sessionInfo(h); err != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Errorf("child call: %v", err)
	}
	if lib := (&library{}); lib.initialized() {
		t.Error("an uninitialized library says it is initialized")
	}
	in.forks++
	in.pid = os.Getpid() + 1
	if _, err := l.sessionInfo(h); err != nil {
		t.Errorf("a call in a child the fork count misses: %v (only C_Initialize and C_Finalize check the pid)", err)
	}
	if err := l.finalize(); err != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Errorf("child finalize: %v", err)
	}
	mustInit(t, l)
	if (*made)[0].finalized {
		t.Error("the child finalized the parent's backend")
	}
	if _, err := l.sessionInfo(h); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("parent's session in the child: %v", err)
	}
}

func TestSlotsAndTokens(t *testing.T) {
	l, _ := newLib(t, nil)
	mustInit(t, l)
	all, err := l.slotList(false)
	if err != nil || len(all) != 2 {
		t.Fatalf("all slots = %v, %v", all, err)
	}
	present, err := l.slotList(true)
	if err != nil || len(present) != 1 || present[0] != 1 {
		t.Fatalf("slots with token = %v, %v", present, err)
	}
	if _, err := l.tokenInfo(2); err != CKR_TOKEN_NOT_PRESENT {
		t.Errorf("token info of empty slot: %v", err)
	}
	l.openSession(1, CKF_SERIAL_SESSION)
	l.openSession(1, CKF_SERIAL_SESSION|CKF_RW_SESSION)
	ti, err := l.tokenInfo(1)
	if err != nil || ti.SessionCount != 2 || ti.RwSessionCount != 1 {
		t.Errorf("token info = %+v, %v; want pkcs11mod's session counts", ti, err)
	}
}

func TestSessions(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	fake := (*made)[0]

	if _, err := l.openSession(1, CKF_RW_SESSION); err != CKR_SESSION_PARALLEL_NOT_SUPPORTED {
		t.Errorf("open without CKF_SERIAL_SESSION: %v", err)
	}
	if _, err := l.openSession(2, CKF_SERIAL_SESSION); err != CKR_TOKEN_NOT_PRESENT {
		t.Errorf("open on empty slot: %v", err)
	}
	ro, _ := l.openSession(1, CKF_SERIAL_SESSION)
	rw, _ := l.openSession(1, CKF_SERIAL_SESSION|CKF_RW_SESSION)

	wantState := func(h SessionHandle, state uint) {
		t.Helper()
		info, err := l.sessionInfo(h)
		if err != nil || info.state != state || info.slot != 1 {
			t.Errorf("session %d: %+v, %v; want state %d", h, info, err, state)
		}
	}
	wantState(ro, CKS_RO_PUBLIC_SESSION)
	wantState(rw, CKS_RW_PUBLIC_SESSION)

	if err := l.login(ro, 7, []byte("1234")); err != CKR_USER_TYPE_INVALID {
		t.Errorf("login with user type 7: %v", err)
	}
	if err := l.login(rw, CKU_SO, []byte("1234")); err != CKR_SESSION_READ_ONLY_EXISTS {
		t.Errorf("SO login beside a read-only session: %v", err)
	}
	if err := l.login(ro, CKU_USER, []byte("0000")); err != CKR_PIN_INCORRECT {
		t.Errorf("wrong PIN: %v", err)
	}
	if err := l.login(ro, CKU_USER, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	// Login is per token: every session, old and new, is a user session.
	wantState(ro, CKS_RO_USER_FUNCTIONS)
	wantState(rw, CKS_RW_USER_FUNCTIONS)
	late, _ := l.openSession(1, CKF_SERIAL_SESSION)
	wantState(late, CKS_RO_USER_FUNCTIONS)

	// Closing sessions that are not the last keeps the login.
	if err := l.closeSession(ro); err != nil {
		t.Fatal(err)
	}
	if err := l.closeSession(ro); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("closing twice: %v", err)
	}
	if err := l.closeSession(late); err != nil {
		t.Fatal(err)
	}
	wantState(rw, CKS_RW_USER_FUNCTIONS)
	// Closing the last one logs the token out.
	if err := l.closeSession(rw); err != nil {
		t.Fatal(err)
	}
	if fake.login != LoggedOut || fake.logouts != 1 {
		t.Errorf("after closing the last session: login %v, %d logouts", fake.login, fake.logouts)
	}
	if _, err := l.sessionInfo(rw); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("closed session: %v", err)
	}
	if _, err := l.sessionInfo(0); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("handle 0: %v", err)
	}
}

func TestCloseAllSessions(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	var hs []SessionHandle
	for range 3 {
		h, _ := l.openSession(1, CKF_SERIAL_SESSION)
		hs = append(hs, h)
	}
	l.login(hs[0], CKU_USER, []byte("1234"))
	if err := l.closeAllSessions(9); err != CKR_SLOT_ID_INVALID {
		t.Errorf("close all on a bad slot: %v", err)
	}
	if err := l.closeAllSessions(1); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if _, err := l.sessionInfo(h); err != CKR_SESSION_HANDLE_INVALID {
			t.Errorf("session %d survived C_CloseAllSessions: %v", h, err)
		}
	}
	if f := (*made)[0]; f.login != LoggedOut || f.logouts != 1 {
		t.Errorf("token still logged in after C_CloseAllSessions (%d logouts)", f.logouts)
	}
}

// When the backend reports the card gone, the session is closed: the
// caller gets the backend's error once, then CKR_SESSION_HANDLE_INVALID.
func TestSessionLostWithCard(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	(*made)[0].gone = CKR_DEVICE_REMOVED
	if _, err := l.sessionInfo(h); err != CKR_DEVICE_REMOVED {
		t.Errorf("first call after removal: %v", err)
	}
	if err := l.findObjectsInit(h, nil); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("next call: %v", err)
	}
}

// Sessions of a token whose card went away are not counted by
// C_GetTokenInfo, even before a call on them has noticed (found by
// reliability's PC/SC removal test: a count of 1 after reinsertion).
func TestSessionCountAfterRemoval(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	l.openSession(1, CKF_SERIAL_SESSION|CKF_RW_SESSION)
	if ti, err := l.tokenInfo(1); err != nil || ti.SessionCount != 2 || ti.RwSessionCount != 1 {
		t.Fatalf("before removal: %+v %v", ti, err)
	}
	(*made)[0].gone = CKR_DEVICE_REMOVED
	if ti, err := l.tokenInfo(1); err != nil || ti.SessionCount != 0 || ti.RwSessionCount != 0 {
		t.Errorf("after removal: %d sessions (%d RW), %v; want 0", ti.SessionCount, ti.RwSessionCount, err)
	}
	if _, err := l.sessionInfo(h); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("a counted-out session: %v", err)
	}
}

func TestFindObjects(t *testing.T) {
	l, _ := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	if _, err := l.findObjects(h, 16); err != CKR_OPERATION_NOT_INITIALIZED {
		t.Errorf("find without init: %v", err)
	}
	if err := l.findObjectsFinal(h); err != CKR_OPERATION_NOT_INITIALIZED {
		t.Errorf("final without init: %v", err)
	}
	if err := l.findObjectsInit(h, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.findObjectsInit(h, nil); err != CKR_OPERATION_ACTIVE {
		t.Errorf("second init: %v", err)
	}
	for i, want := range []int{0, 1, 0, 2, 0} {
		max := []int{0, 1, 0, 16, 16}[i]
		got, err := l.findObjects(h, max)
		if err != nil || len(got) != want {
			t.Errorf("find(%d) #%d = %v, %v; want %d handles", max, i, got, err, want)
		}
	}
	if err := l.findObjectsFinal(h); err != nil {
		t.Fatal(err)
	}
	// A template on an unknown (NSS vendor) class finds nothing, fine.
	l.findObjectsInit(h, []Attribute{{CKA_CLASS, ULongValue(uint(CKO_NSS_TRUST))}})
	if got, err := l.findObjects(h, 16); err != nil || len(got) != 0 {
		t.Errorf("vendor class: %v, %v", got, err)
	}
	l.findObjectsFinal(h)
}

func TestGetAttributeValue(t *testing.T) {
	l, _ := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	sizes := []uint{0, 0, 0}
	slots := []attrSlot{{null: true, size: &sizes[0]}, {null: true, size: &sizes[1]}, {null: true, size: &sizes[2]}}
	err := l.getAttributeValue(h, 2, []AttributeType{CKA_LABEL, CKA_VALUE, CKA_MODULUS}, slots)
	if err != CKR_ATTRIBUTE_SENSITIVE {
		t.Errorf("err = %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
	if sizes[0] != 3 || sizes[1] != CK_UNAVAILABLE_INFORMATION || sizes[2] != CK_UNAVAILABLE_INFORMATION {
		t.Errorf("sizes = %#x", sizes)
	}
	if err := l.getAttributeValue(h, 99, []AttributeType{CKA_LABEL}, slots[:1]); err != CKR_OBJECT_HANDLE_INVALID {
		t.Errorf("bad object: %v", err)
	}
}

func TestSignOneShot(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	sign := func(null bool, capacity uint) (uint, string, error) {
		size := capacity
		var buf []byte
		if !null {
			buf = make([]byte, capacity)
		}
		err := opSingle(l, h, signSlot, outBuf{buf: buf, null: null, size: &size}, SignOperation.SignatureLength,
			func(op SignOperation) ([]byte, error) { return op.Sign([]byte("data")) })
		if err != nil || null {
			return size, "", err
		}
		return size, string(buf[:size]), nil
	}
	if _, _, err := sign(true, 0); err != CKR_OPERATION_NOT_INITIALIZED {
		t.Errorf("sign before init: %v", err)
	}
	mech := &Mechanism{Type: CKM_RSA_PKCS}
	if err := opInit(l, h, signSlot, mech, signStart(9)); err != CKR_KEY_HANDLE_INVALID {
		t.Errorf("bad key: %v", err)
	}
	if err := opInit(l, h, signSlot, mech, signStart(2)); err != nil {
		t.Fatal(err)
	}
	if err := opInit(l, h, signSlot, mech, signStart(2)); err != CKR_OPERATION_ACTIVE {
		t.Errorf("second init: %v", err)
	}
	op := (*made)[0].sign
	if n, _, err := sign(true, 0); err != nil || n != 8 || op.runs != 0 {
		t.Errorf("length query: %d, %v, %d runs (must not sign)", n, err, op.runs)
	}
	if n, _, err := sign(false, 7); err != CKR_BUFFER_TOO_SMALL || n != 8 || op.runs != 0 {
		t.Errorf("short buffer: %d, %v, %d runs", n, err, op.runs)
	}
	if n, sig, err := sign(false, 8); err != nil || n != 8 || sig != "sig:data" || op.runs != 1 {
		t.Errorf("sign: %d %q %v, %d runs", n, sig, err, op.runs)
	}
	if _, _, err := sign(false, 8); err != CKR_OPERATION_NOT_INITIALIZED {
		t.Errorf("operation still active after a signature: %v", err)
	}
	// C_SignInit(NULL) cancels (PKCS#11 3.0); without an operation it is
	// an argument error.
	opInit(l, h, signSlot, mech, signStart(2))
	if err := opInit(l, h, signSlot, nil, signStart(2)); err != nil {
		t.Errorf("cancel: %v", err)
	}
	if err := opInit(l, h, signSlot, nil, signStart(2)); err != CKR_ARGUMENTS_BAD {
		t.Errorf("cancel with nothing active: %v", err)
	}
}

func signStart(key ObjectHandle) func(*session, Mechanism) (SignOperation, error) {
	return func(s *session, m Mechanism) (SignOperation, error) { return s.be.SignInit(m, key) }
}

func TestSignMultiPart(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	final := func(null bool, capacity uint) (uint, error) {
		size := capacity
		var buf []byte
		if !null {
			buf = make([]byte, capacity)
		}
		err := opFinal(l, h, signSlot, outBuf{buf: buf, null: null, size: &size}, SignOperation.SignatureLength, SignOperation.Final)
		return size, err
	}
	update := func(part string) error {
		return opUpdate(l, h, signSlot, func(op SignOperation) error { return op.Update([]byte(part)) })
	}
	// CKM_SHA256_RSA_PKCS in the fake gives no length hint: the length
	// query runs Final once and the result is kept.
	if err := opInit(l, h, signSlot, &Mechanism{Type: CKM_SHA256_RSA_PKCS}, signStart(2)); err != nil {
		t.Fatal(err)
	}
	op := (*made)[0].sign
	for _, p := range []string{"64 bytes", "34 bytes", "32 bytes"} {
		if err := update(p); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := final(true, 0); err != nil || n != 8 || op.runs != 1 {
		t.Errorf("final length query: %d %v, %d runs", n, err, op.runs)
	}
	if n, err := final(false, 2); err != CKR_BUFFER_TOO_SMALL || n != 8 || op.runs != 1 {
		t.Errorf("final short: %d %v, %d runs", n, err, op.runs)
	}
	if n, err := final(false, 256); err != nil || n != 8 || op.runs != 1 {
		t.Errorf("final: %d %v, %d runs", n, err, op.runs)
	}
	if len(op.updates) != 3 {
		t.Errorf("updates = %q", op.updates)
	}
	// A one-part call cannot end a multi-part operation; it ends it.
	opInit(l, h, signSlot, &Mechanism{Type: CKM_SHA256_RSA_PKCS}, signStart(2))
	update("x")
	size := uint(0)
	err := opSingle(l, h, signSlot, outBuf{null: true, size: &size}, SignOperation.SignatureLength,
		func(op SignOperation) ([]byte, error) { return op.Sign(nil) })
	if err != CKR_OPERATION_NOT_INITIALIZED {
		t.Errorf("C_Sign after C_SignUpdate: %v", err)
	}
	if err := update("y"); err != CKR_OPERATION_NOT_INITIALIZED {
		t.Errorf("operation survived: %v", err)
	}
}

func TestSessionCancel(t *testing.T) {
	l, _ := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	opInit(l, h, signSlot, &Mechanism{Type: CKM_RSA_PKCS}, signStart(2))
	l.findObjectsInit(h, nil)
	if err := l.sessionCancel(h, CKF_SIGN); err != nil {
		t.Fatal(err)
	}
	if err := opInit(l, h, signSlot, &Mechanism{Type: CKM_RSA_PKCS}, signStart(2)); err != nil {
		t.Errorf("sign not cancelled: %v", err)
	}
	if err := l.findObjectsInit(h, nil); err != CKR_OPERATION_ACTIVE {
		t.Errorf("find cancelled though not asked: %v", err)
	}
}

func TestOptionalCapabilities(t *testing.T) {
	l, _ := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	checks := map[string]error{
		"InitToken":       l.initToken(1, nil, "x"),
		"InitPIN":         l.initPIN(h, []byte("1")),
		"GenerateKey":     l.keyGenerator(h, func(KeyGenerator) error { return nil }),
		"WrapKey":         l.wrapKey(h, Mechanism{}, 1, 2, outBuf{null: true, size: new(uint)}),
		"DeriveKey":       l.keyDeriver(h, func(KeyDeriver) error { return nil }),
		"CreateObject":    l.objectManager(h, func(ObjectManager) error { return nil }),
		"OperationState":  l.sessionOnly(h, CKR_FUNCTION_NOT_SUPPORTED),
		"WaitForSlotEvnt": func() error { _, err := l.waitForSlotEvent(true); return err }(),
	}
	for name, err := range checks {
		if err != CKR_FUNCTION_NOT_SUPPORTED {
			t.Errorf("%s without the capability: %v, want CKR_FUNCTION_NOT_SUPPORTED", name, err)
		}
	}
	if err := l.randomSource(h, func(RandomSource) error { return nil }); err != CKR_RANDOM_NO_RNG {
		t.Errorf("random without an RNG: %v", err)
	}
	if err := l.sessionOnly(99, CKR_FUNCTION_NOT_SUPPORTED); err != CKR_SESSION_HANDLE_INVALID {
		t.Errorf("unsupported function with a bad handle: %v", err)
	}
}

func TestWaitForSlotEvent(t *testing.T) {
	l, made := newLib(t, func(f *fakeBackend) Backend { return eventBackend{f} })
	mustInit(t, l)
	fake := (*made)[0]

	if _, err := l.waitForSlotEvent(true); err != CKR_NO_EVENT {
		t.Errorf("poll with nothing pending: %v", err)
	}
	fake.events <- 1
	if slot, err := l.waitForSlotEvent(true); err != nil || slot != 1 {
		t.Errorf("poll: %d, %v", slot, err)
	}
	fake.events <- 2
	if slot, err := l.waitForSlotEvent(false); err != nil || slot != 2 {
		t.Errorf("wait: %d, %v", slot, err)
	}

	// A blocked wait returns CKR_CRYPTOKI_NOT_INITIALIZED when another
	// thread finalizes, and the library can be initialized again at once
	// (NSS's SECMOD_CancelWait does exactly this).
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.waitForSlotEvent(false)
			errc <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them block; the test is correct without it
	if err := l.finalize(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for range 2 {
		if err := <-errc; err != CKR_CRYPTOKI_NOT_INITIALIZED {
			t.Errorf("blocked wait after finalize: %v", err)
		}
	}
	mustInit(t, l)
	if _, err := l.waitForSlotEvent(true); err != CKR_NO_EVENT {
		t.Errorf("poll after re-initialize: %v", err)
	}
}

// C_Initialize while a wait is blocked must not stall C_Finalize.
func TestInitializeDuringBlockedWait(t *testing.T) {
	l, _ := newLib(t, func(f *fakeBackend) Backend { return eventBackend{f} })
	mustInit(t, l)
	done := make(chan error)
	go func() { _, err := l.waitForSlotEvent(false); done <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := l.initialize(initArgs{}); err != CKR_CRYPTOKI_ALREADY_INITIALIZED {
		t.Errorf("initialize: %v", err)
	}
	if err := l.finalize(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != CKR_CRYPTOKI_NOT_INITIALIZED {
			t.Errorf("wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked wait was not woken by finalize")
	}
}

func TestConcurrentSessions(t *testing.T) {
	l, _ := newLib(t, nil)
	mustInit(t, l)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				h, err := l.openSession(1, CKF_SERIAL_SESSION)
				if err != nil {
					t.Error(err)
					return
				}
				if err := l.findObjectsInit(h, nil); err != nil {
					t.Error(err)
				}
				l.findObjects(h, 16)
				l.findObjectsFinal(h)
				l.sessionInfo(h)
				if err := l.closeSession(h); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestCallRecoversPanics(t *testing.T) {
	rv := call("C_Test", false, func() error { panic("backend bug") })
	if Error(rv) != CKR_GENERAL_ERROR {
		t.Errorf("rv = %v, want CKR_GENERAL_ERROR", Error(rv))
	}
	rv = call("C_Test", false, func() error { return errors.New("x") })
	if Error(rv) != CKR_FUNCTION_FAILED {
		t.Errorf("rv = %v", Error(rv))
	}
	rv = call("C_Test", true, func() error { t.Fatal("body ran"); return nil })
	if Error(rv) != CKR_CRYPTOKI_NOT_INITIALIZED {
		t.Errorf("uninitialized: %v", Error(rv))
	}
}

// The backend hears about every operation pkcs11mod ends on its own, and
// about no other.
func TestOperationCancel(t *testing.T) {
	l, made := newLib(t, nil)
	mustInit(t, l)
	h, _ := l.openSession(1, CKF_SERIAL_SESSION)
	mech := &Mechanism{Type: CKM_SHA256_RSA_PKCS}
	start := func() *fakeSignOp {
		t.Helper()
		if err := opInit(l, h, signSlot, mech, signStart(2)); err != nil {
			t.Fatal(err)
		}
		return (*made)[0].sign
	}
	sign := func(null bool) error {
		size := uint(64)
		var buf []byte
		if !null {
			buf = make([]byte, 64)
		}
		return opSingle(l, h, signSlot, outBuf{buf: buf, null: null, size: &size}, SignOperation.SignatureLength,
			func(op SignOperation) ([]byte, error) { return op.Sign([]byte("d")) })
	}
	update := func() error {
		return opUpdate(l, h, signSlot, func(op SignOperation) error { return op.Update([]byte("p")) })
	}
	final := func(null bool) error {
		size := uint(64)
		var buf []byte
		if !null {
			buf = make([]byte, 64)
		}
		return opFinal(l, h, signSlot, outBuf{buf: buf, null: null, size: &size}, SignOperation.SignatureLength, SignOperation.Final)
	}
	tests := []struct {
		name    string
		run     func(op *fakeSignOp)
		cancels int
	}{
		{"signature delivered", func(*fakeSignOp) { sign(false) }, 0},
		{"multi-part delivered", func(*fakeSignOp) { update(); final(false) }, 0},
		{"backend failure", func(op *fakeSignOp) { op.failing = true; sign(false) }, 0},
		{"C_Sign after C_SignUpdate", func(*fakeSignOp) { update(); sign(false) }, 1},
		{"C_SignUpdate after a kept one-part result", func(*fakeSignOp) { sign(true); update() }, 1},
		{"C_SignFinal after a kept one-part result", func(*fakeSignOp) { sign(true); final(false) }, 1},
		{"C_SignInit(NULL)", func(*fakeSignOp) { opInit(l, h, signSlot, nil, signStart(2)) }, 1},
		{"C_SessionCancel", func(*fakeSignOp) { l.sessionCancel(h, CKF_SIGN) }, 1},
		{"C_SessionCancel of something else", func(op *fakeSignOp) { l.sessionCancel(h, CKF_DECRYPT); sign(false) }, 0},
	}
	for _, tc := range tests {
		op := start()
		tc.run(op)
		if op.cancels != tc.cancels {
			t.Errorf("%s: %d cancels, want %d", tc.name, op.cancels, tc.cancels)
		}
		if err := opInit(l, h, signSlot, nil, signStart(2)); err != CKR_ARGUMENTS_BAD {
			t.Errorf("%s: operation still active afterwards", tc.name)
		}
	}
}
