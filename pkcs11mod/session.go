package pkcs11mod

import (
	"cmp"
	"reflect"
	"slices"
	"sync"
)

// session is pkcs11mod's side of one PKCS#11 session: the backend session
// and the state of the operations in progress (at most one of each kind).
type session struct {
	// mu serialises the calls on this session; the backend session and the
	// fields below are only used under it.
	mu     sync.Mutex
	handle SessionHandle
	slot   SlotID // immutable
	rw     bool   // immutable
	be     Session
	closed bool

	find    *findState
	sign    *opState[SignOperation]
	decrypt *opState[DecryptOperation]
	encrypt *opState[EncryptOperation]
	digest  *opState[DigestOperation]
	verify  *opState[VerifyOperation]
	wrap    *wrapState
}

// opState is an operation in progress.
type opState[T any] struct {
	op T
	// multi is set by the first Update, single by the first one-part call
	// that reached the backend; an operation is one or the other.
	multi, single bool
	pending       pendingOutput
}

type findState struct {
	handles []ObjectHandle
}

// wrapState keeps a wrapped key computed for a length query, with the
// arguments it was computed for.
type wrapState struct {
	mech             Mechanism
	wrappingKey, key ObjectHandle
	pending          pendingOutput
}

// abandon tells the backend that pkcs11mod ended an operation the backend
// had not ended itself.
func abandon(op any) {
	if c, ok := op.(OperationCanceler); ok {
		c.Cancel()
	}
}

// endsOperation reports whether a call that failed with err terminates its
// operation: every failure does except CKR_BUFFER_TOO_SMALL (v3.0 §5.2).
func endsOperation(err error) bool {
	return err != nil && returnValue(err) != CKR_BUFFER_TOO_SMALL
}

// countSessions counts the sessions open on slot. Sessions whose backend
// session died with the card are closed first, without waiting for a call
// on them: PKCS#11 closes every session of a removed token, and a count
// taken after reinsertion must not include them. A session busy in
// another call is counted as it is.
func (in *instance) countSessions(slot SlotID) (all, rw uint) {
	in.mu.Lock()
	var ss []*session
	for _, s := range in.sessions {
		if s.slot == slot {
			ss = append(ss, s)
		}
	}
	in.mu.Unlock()
	for _, s := range ss {
		if s.mu.TryLock() {
			gone := s.closed
			if !gone {
				if _, err := s.be.LoginState(); err != nil && sessionGone(err) {
					in.log.Info("session lost", "session", s.handle, "err", err)
					in.closeLocked(s, false)
					gone = true
				}
			}
			s.mu.Unlock()
			if gone {
				continue
			}
		}
		all++
		if s.rw {
			rw++
		}
	}
	return all, rw
}

// withSession runs f on session h under its lock, inside an initialized
// library. A failure meaning the backend session is gone (card removed)
// closes the session.
func (l *library) withSession(h SessionHandle, f func(in *instance, s *session) error) error {
	in, done, err := l.enter()
	if err != nil {
		return err
	}
	defer done()
	in.mu.Lock()
	s := in.sessions[h]
	in.mu.Unlock()
	if s == nil {
		return CKR_SESSION_HANDLE_INVALID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return CKR_SESSION_HANDLE_INVALID
	}
	err = f(in, s)
	if err != nil && !s.closed && sessionGone(err) {
		in.log.Info("session lost", "session", h, "err", err)
		in.closeLocked(s, false)
	}
	return err
}

// closeLocked closes s (whose lock the caller holds). With logoutIfLast it
// logs the token out when s was the last session on its slot, as PKCS#11
// requires of C_CloseSession and C_CloseAllSessions.
func (in *instance) closeLocked(s *session, logoutIfLast bool) error {
	in.mu.Lock()
	delete(in.sessions, s.handle)
	last := true
	for _, o := range in.sessions {
		if o.slot == s.slot {
			last = false
			break
		}
	}
	in.mu.Unlock()
	s.closed = true
	if logoutIfLast && last {
		if st, err := s.be.LoginState(); err == nil && st != LoggedOut {
			if err := s.be.Logout(); err != nil {
				in.log.Warn("logout of last session", "session", s.handle, "err", err)
			}
		}
	}
	return s.be.Close()
}

func (l *library) openSession(slot SlotID, flags uint) (SessionHandle, error) {
	if flags&CKF_SERIAL_SESSION == 0 {
		return 0, CKR_SESSION_PARALLEL_NOT_SUPPORTED
	}
	in, done, err := l.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	rw := flags&CKF_RW_SESSION != 0
	be, err := in.backend.OpenSession(slot, rw)
	if err != nil {
		return 0, err
	}
	s := &session{
		handle: SessionHandle(l.lastSession.Add(1)),
		slot:   slot,
		rw:     rw,
		be:     be,
	}
	in.mu.Lock()
	in.sessions[s.handle] = s
	in.mu.Unlock()
	return s.handle, nil
}

func (l *library) closeSession(h SessionHandle) error {
	return l.withSession(h, func(in *instance, s *session) error {
		return in.closeLocked(s, true)
	})
}

func (l *library) closeAllSessions(slot SlotID) error {
	in, done, err := l.enter()
	if err != nil {
		return err
	}
	defer done()
	if _, err := in.backend.SlotInfo(slot); err != nil {
		return err
	}
	in.mu.Lock()
	var victims []*session
	for _, s := range in.sessions {
		if s.slot == slot {
			victims = append(victims, s)
		}
	}
	in.mu.Unlock()
	// Close in handle order so the last one (which logs out) is
	// deterministic.
	slices.SortFunc(victims, func(a, b *session) int { return cmp.Compare(a.handle, b.handle) })
	var first error
	for _, s := range victims {
		s.mu.Lock()
		if !s.closed {
			if err := in.closeLocked(s, true); err != nil && first == nil {
				first = err
			}
		}
		s.mu.Unlock()
	}
	return first
}

// SessionState is what C_GetSessionInfo reports.
type sessionState struct {
	slot  SlotID
	state uint // CKS_*
	flags uint // CKF_SERIAL_SESSION, CKF_RW_SESSION
}

func (l *library) sessionInfo(h SessionHandle) (sessionState, error) {
	var info sessionState
	err := l.withSession(h, func(in *instance, s *session) error {
		ls, err := s.be.LoginState()
		if err != nil {
			return err
		}
		info = sessionState{slot: s.slot, state: sessionStateOf(ls, s.rw), flags: CKF_SERIAL_SESSION}
		if s.rw {
			info.flags |= CKF_RW_SESSION
		}
		return nil
	})
	return info, err
}

// sessionStateOf derives a session's CKS_* state from its token's login
// state: login is per token, so every session of the application shares it.
func sessionStateOf(ls LoginState, rw bool) uint {
	switch {
	case ls == SOLoggedIn:
		return CKS_RW_SO_FUNCTIONS
	case ls == UserLoggedIn && rw:
		return CKS_RW_USER_FUNCTIONS
	case ls == UserLoggedIn:
		return CKS_RO_USER_FUNCTIONS
	case rw:
		return CKS_RW_PUBLIC_SESSION
	}
	return CKS_RO_PUBLIC_SESSION
}

func (l *library) login(h SessionHandle, user UserType, pin []byte) error {
	return l.withSession(h, func(in *instance, s *session) error {
		switch user {
		case CKU_SO:
			in.mu.Lock()
			roExists := false
			for _, o := range in.sessions {
				if o.slot == s.slot && !o.rw {
					roExists = true
				}
			}
			in.mu.Unlock()
			if roExists {
				return CKR_SESSION_READ_ONLY_EXISTS
			}
		case CKU_USER, CKU_CONTEXT_SPECIFIC:
		default:
			return CKR_USER_TYPE_INVALID
		}
		return s.be.Login(user, pin)
	})
}

func (l *library) logout(h SessionHandle) error {
	return l.withSession(h, func(in *instance, s *session) error {
		return s.be.Logout()
	})
}

// withCapability runs f on session h with its backend session as the
// optional capability T, or fails with missing when the backend session
// does not have it.
func withCapability[T any](l *library, h SessionHandle, missing error, f func(T) error) error {
	return l.withSession(h, func(in *instance, s *session) error {
		c, ok := s.be.(T)
		if !ok {
			return missing
		}
		return f(c)
	})
}

func (l *library) initPIN(h SessionHandle, pin []byte) error {
	return withCapability(l, h, CKR_FUNCTION_NOT_SUPPORTED, func(pm PINManager) error { return pm.InitPIN(pin) })
}

func (l *library) setPIN(h SessionHandle, oldPIN, newPIN []byte) error {
	return withCapability(l, h, CKR_FUNCTION_NOT_SUPPORTED, func(pm PINManager) error { return pm.SetPIN(oldPIN, newPIN) })
}

// sessionOnly checks the session and then fails with rv: for functions
// pkcs11mod does not support, so that bad handles are still reported.
func (l *library) sessionOnly(h SessionHandle, rv Error) error {
	return l.withSession(h, func(*instance, *session) error { return rv })
}

// ---- objects ----

func (l *library) objectManager(h SessionHandle, f func(ObjectManager) error) error {
	return withCapability(l, h, CKR_FUNCTION_NOT_SUPPORTED, f)
}

func (l *library) getAttributeValue(h SessionHandle, obj ObjectHandle, types []AttributeType, slots []attrSlot) error {
	return l.withSession(h, func(in *instance, s *session) error {
		res, err := s.be.GetAttributes(obj, types)
		if err != nil {
			return err
		}
		return fillTemplate(slots, res)
	})
}

func (l *library) findObjectsInit(h SessionHandle, template []Attribute) error {
	return l.withSession(h, func(in *instance, s *session) error {
		if s.find != nil {
			return CKR_OPERATION_ACTIVE
		}
		handles, err := s.be.FindObjects(template)
		if err != nil {
			return err
		}
		s.find = &findState{handles: handles}
		return nil
	})
}

// findObjects hands out up to max handles of the active search.
func (l *library) findObjects(h SessionHandle, max int) ([]ObjectHandle, error) {
	var out []ObjectHandle
	err := l.withSession(h, func(in *instance, s *session) error {
		if s.find == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		n := min(max, len(s.find.handles))
		out = s.find.handles[:n:n]
		s.find.handles = s.find.handles[n:]
		return nil
	})
	return out, err
}

func (l *library) findObjectsFinal(h SessionHandle) error {
	return l.withSession(h, func(in *instance, s *session) error {
		if s.find == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		s.find = nil
		return nil
	})
}

// ---- operations ----

// opSlot selects one kind of operation of a session.
type opSlot[T any] func(*session) **opState[T]

func signSlot(s *session) **opState[SignOperation]       { return &s.sign }
func decryptSlot(s *session) **opState[DecryptOperation] { return &s.decrypt }
func encryptSlot(s *session) **opState[EncryptOperation] { return &s.encrypt }
func digestSlot(s *session) **opState[DigestOperation]   { return &s.digest }
func verifySlot(s *session) **opState[VerifyOperation]   { return &s.verify }

// opInit starts an operation of the kind slot selects. A nil mech ends an
// active one instead (PKCS#11 v3.0 lets C_XxxInit(NULL) cancel).
func opInit[T any](l *library, h SessionHandle, slot opSlot[T], mech *Mechanism, start func(s *session, mech Mechanism) (T, error)) error {
	return l.withSession(h, func(in *instance, s *session) error {
		p := slot(s)
		if mech == nil {
			if *p == nil {
				return CKR_ARGUMENTS_BAD
			}
			abandon((*p).op)
			*p = nil
			return nil
		}
		if *p != nil {
			return CKR_OPERATION_ACTIVE
		}
		op, err := start(s, *mech)
		if err != nil {
			return err
		}
		*p = &opState[T]{op: op}
		return nil
	})
}

// opSingle runs a one-part call (C_Sign, C_Decrypt, ...) under the length
// protocol.
func opSingle[T any](l *library, h SessionHandle, slot opSlot[T], out outBuf, hint func(T) int, run func(T) ([]byte, error)) error {
	return l.withSession(h, func(in *instance, s *session) error {
		p := slot(s)
		st := *p
		if st == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		if st.multi {
			// A one-part call cannot finish a multi-part operation.
			abandon(st.op)
			*p = nil
			return CKR_OPERATION_NOT_INITIALIZED
		}
		done, err := produce(&st.pending, stageSingle, out, hint(st.op), func() ([]byte, error) {
			st.single = true
			return run(st.op)
		})
		endOp(p, done, err)
		return err
	})
}

// opUpdate feeds a part to a multi-part operation that has no output
// (C_SignUpdate, C_DigestUpdate, C_DigestKey, C_VerifyUpdate).
func opUpdate[T any](l *library, h SessionHandle, slot opSlot[T], update func(T) error) error {
	return l.withSession(h, func(in *instance, s *session) error {
		p := slot(s)
		st := *p
		if st == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		if st.single || st.pending.stage != stageNone {
			abandon(st.op)
			*p = nil
			return CKR_OPERATION_NOT_INITIALIZED
		}
		st.multi = true
		err := update(st.op)
		if err != nil {
			*p = nil
		}
		return err
	})
}

// opUpdateOutput feeds a part to a multi-part operation that produces
// output as it goes (C_EncryptUpdate, C_DecryptUpdate).
func opUpdateOutput[T any](l *library, h SessionHandle, slot opSlot[T], out outBuf, hint func(T) int, update func(T) ([]byte, error)) error {
	return l.withSession(h, func(in *instance, s *session) error {
		p := slot(s)
		st := *p
		if st == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		if st.single {
			abandon(st.op)
			*p = nil
			return CKR_OPERATION_NOT_INITIALIZED
		}
		st.multi = true
		_, err := produce(&st.pending, stageUpdate, out, hint(st.op), func() ([]byte, error) {
			return update(st.op)
		})
		endOp(p, false, err)
		return err
	})
}

// opFinal finishes a multi-part operation with output (C_SignFinal, ...).
func opFinal[T any](l *library, h SessionHandle, slot opSlot[T], out outBuf, hint func(T) int, final func(T) ([]byte, error)) error {
	return l.withSession(h, func(in *instance, s *session) error {
		p := slot(s)
		st := *p
		if st == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		if st.single {
			abandon(st.op)
			*p = nil
			return CKR_OPERATION_NOT_INITIALIZED
		}
		done, err := produce(&st.pending, stageFinal, out, hint(st.op), func() ([]byte, error) {
			st.multi = true
			return final(st.op)
		})
		endOp(p, done, err)
		return err
	})
}

// opCheck runs a call without output that always ends the operation
// (C_Verify, C_VerifyFinal). A one-part call cannot finish a multi-part
// operation.
func opCheck[T any](l *library, h SessionHandle, slot opSlot[T], multiPart bool, check func(T) error) error {
	return l.withSession(h, func(in *instance, s *session) error {
		p := slot(s)
		st := *p
		if st == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		*p = nil
		if !multiPart && st.multi {
			abandon(st.op)
			return CKR_OPERATION_NOT_INITIALIZED
		}
		return check(st.op)
	})
}

// endOp ends the operation in *p after an output-producing call that
// delivered its output (done) or failed. When the failure is pkcs11mod's
// (the caller mixed up calls) rather than the backend's, the backend is told.
func endOp[T any](p **opState[T], done bool, err error) {
	switch {
	case err == errCallSequence:
		abandon((*p).op)
		*p = nil
	case done || endsOperation(err):
		*p = nil
	}
}

func noHint[T any](T) int { return 0 }

// sessionCancel ends the operations selected by flags (C_SessionCancel).
func (l *library) sessionCancel(h SessionHandle, flags uint) error {
	return l.withSession(h, func(in *instance, s *session) error {
		if flags&CKF_FIND_OBJECTS != 0 {
			s.find = nil
		}
		if flags&CKF_SIGN != 0 {
			cancelOp(&s.sign)
		}
		if flags&CKF_DECRYPT != 0 {
			cancelOp(&s.decrypt)
		}
		if flags&CKF_ENCRYPT != 0 {
			cancelOp(&s.encrypt)
		}
		if flags&CKF_DIGEST != 0 {
			cancelOp(&s.digest)
		}
		if flags&CKF_VERIFY != 0 {
			cancelOp(&s.verify)
		}
		return nil
	})
}

func cancelOp[T any](p **opState[T]) {
	if *p != nil {
		abandon((*p).op)
		*p = nil
	}
}

// ---- keys and random numbers ----

func (l *library) wrapKey(h SessionHandle, mech Mechanism, wrappingKey, key ObjectHandle, out outBuf) error {
	return l.withSession(h, func(in *instance, s *session) error {
		kw, ok := s.be.(KeyWrapper)
		if !ok {
			return CKR_FUNCTION_NOT_SUPPORTED
		}
		w := s.wrap
		if w == nil || w.wrappingKey != wrappingKey || w.key != key || !reflect.DeepEqual(w.mech, mech) {
			w = &wrapState{mech: mech, wrappingKey: wrappingKey, key: key}
		}
		done, err := produce(&w.pending, stageWrap, out, 0, func() ([]byte, error) {
			return kw.WrapKey(mech, wrappingKey, key)
		})
		if done || endsOperation(err) {
			s.wrap = nil
		} else {
			s.wrap = w
		}
		return err
	})
}

func (l *library) keyWrapper(h SessionHandle, f func(KeyWrapper) error) error {
	return withCapability(l, h, CKR_FUNCTION_NOT_SUPPORTED, f)
}

func (l *library) keyGenerator(h SessionHandle, f func(KeyGenerator) error) error {
	return withCapability(l, h, CKR_FUNCTION_NOT_SUPPORTED, f)
}

func (l *library) keyDeriver(h SessionHandle, f func(KeyDeriver) error) error {
	return withCapability(l, h, CKR_FUNCTION_NOT_SUPPORTED, f)
}

func (l *library) randomSource(h SessionHandle, f func(RandomSource) error) error {
	return withCapability(l, h, CKR_RANDOM_NO_RNG, f)
}
