package pkcs11mod

import (
	"context"
	"sync"
)

// fakeBackend is an in-memory Backend for the state machine tests: slot 1
// has a token, slot 2 is empty.
type fakeBackend struct {
	mu          sync.Mutex
	initErr     error
	initialized bool
	finalized   bool
	opts        InitOptions
	login       LoginState // of the token in slot 1
	logouts     int
	objects     map[ObjectHandle]map[AttributeType][]byte
	// events feeds WaitForSlotEvent/PollSlotEvent when eventSource is used.
	events chan SlotID
	// gone makes every session call fail with this error (card removed).
	gone error

	sign *fakeSignOp // the last signature started
}

func newFake() *fakeBackend {
	return &fakeBackend{
		events: make(chan SlotID, 4),
		objects: map[ObjectHandle]map[AttributeType][]byte{
			1: {CKA_CLASS: ULongValue(uint(CKO_CERTIFICATE)), CKA_LABEL: []byte("cert"), CKA_ID: []byte{1}},
			2: {CKA_CLASS: ULongValue(uint(CKO_PRIVATE_KEY)), CKA_LABEL: []byte("key"), CKA_ID: []byte{1}, CKA_PRIVATE: BoolValue(true)},
			3: {CKA_CLASS: ULongValue(uint(CKO_PUBLIC_KEY)), CKA_LABEL: []byte("pub"), CKA_ID: []byte{1}},
		},
	}
}

// eventBackend adds slot events to fakeBackend.
type eventBackend struct{ *fakeBackend }

func (b eventBackend) WaitForSlotEvent(ctx context.Context) (SlotID, error) {
	select {
	case s := <-b.events:
		return s, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (b eventBackend) PollSlotEvent() (SlotID, bool, error) {
	select {
	case s := <-b.events:
		return s, true, nil
	default:
		return 0, false, nil
	}
}

func (b *fakeBackend) Initialize(opts InitOptions) error {
	if b.initErr != nil {
		return b.initErr
	}
	b.initialized, b.opts = true, opts
	return nil
}

func (b *fakeBackend) Finalize() error { b.finalized = true; return nil }

func (b *fakeBackend) Info() LibraryInfo {
	return LibraryInfo{Manufacturer: "fake", Description: "fake backend", LibraryVersion: Version{1, 2}}
}

func (b *fakeBackend) Slots() ([]SlotID, error) { return []SlotID{1, 2}, nil }

func (b *fakeBackend) SlotInfo(slot SlotID) (SlotInfo, error) {
	switch slot {
	case 1:
		return SlotInfo{Description: "reader 1", Flags: CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE}, nil
	case 2:
		return SlotInfo{Description: "reader 2", Flags: CKF_REMOVABLE_DEVICE}, nil
	}
	return SlotInfo{}, CKR_SLOT_ID_INVALID
}

func (b *fakeBackend) TokenInfo(slot SlotID) (TokenInfo, error) {
	switch slot {
	case 1:
		return TokenInfo{Label: "token", SessionCount: 99, Flags: CKF_LOGIN_REQUIRED}, nil
	case 2:
		return TokenInfo{}, CKR_TOKEN_NOT_PRESENT
	}
	return TokenInfo{}, CKR_SLOT_ID_INVALID
}

func (b *fakeBackend) Mechanisms(slot SlotID) ([]MechanismType, error) {
	return []MechanismType{CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS}, nil
}

func (b *fakeBackend) MechanismInfo(slot SlotID, m MechanismType) (MechanismInfo, error) {
	return MechanismInfo{MinKeySize: 1024, MaxKeySize: 2048, Flags: CKF_SIGN}, nil
}

func (b *fakeBackend) OpenSession(slot SlotID, rw bool) (Session, error) {
	if slot != 1 {
		if slot == 2 {
			return nil, CKR_TOKEN_NOT_PRESENT
		}
		return nil, CKR_SLOT_ID_INVALID
	}
	return &fakeSession{b: b}, nil
}

type fakeSession struct {
	b      *fakeBackend
	closed bool
}

func (s *fakeSession) LoginState() (LoginState, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.gone != nil {
		return 0, s.b.gone
	}
	return s.b.login, nil
}

func (s *fakeSession) Login(user UserType, pin []byte) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if string(pin) != "1234" {
		return CKR_PIN_INCORRECT
	}
	if s.b.login != LoggedOut {
		return CKR_USER_ALREADY_LOGGED_IN
	}
	s.b.login = UserLoggedIn
	if user == CKU_SO {
		s.b.login = SOLoggedIn
	}
	return nil
}

func (s *fakeSession) Logout() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.login == LoggedOut {
		return CKR_USER_NOT_LOGGED_IN
	}
	s.b.login = LoggedOut
	s.b.logouts++
	return nil
}

func (s *fakeSession) Close() error { s.closed = true; return nil }

func (s *fakeSession) FindObjects(tmpl []Attribute) ([]ObjectHandle, error) {
	if s.b.gone != nil {
		return nil, s.b.gone
	}
	var hs []ObjectHandle
	for h := ObjectHandle(1); h <= ObjectHandle(len(s.b.objects)); h++ {
		if Matches(tmpl, s.b.objects[h]) {
			hs = append(hs, h)
		}
	}
	return hs, nil
}

func (s *fakeSession) GetAttributes(obj ObjectHandle, types []AttributeType) ([]AttributeResult, error) {
	o, ok := s.b.objects[obj]
	if !ok {
		return nil, CKR_OBJECT_HANDLE_INVALID
	}
	res := make([]AttributeResult, len(types))
	for i, t := range types {
		switch v, ok := o[t]; {
		case t == CKA_VALUE && obj == 2:
			res[i].Err = CKR_ATTRIBUTE_SENSITIVE
		case !ok:
			res[i].Err = CKR_ATTRIBUTE_TYPE_INVALID
		default:
			res[i].Value = v
		}
	}
	return res, nil
}

func (s *fakeSession) SignInit(m Mechanism, key ObjectHandle) (SignOperation, error) {
	if key != 2 {
		return nil, CKR_KEY_HANDLE_INVALID
	}
	op := &fakeSignOp{length: 8}
	if m.Type == CKM_SHA256_RSA_PKCS {
		op.length = 0 // unknown in advance
	}
	s.b.sign = op
	return op, nil
}

func (s *fakeSession) DecryptInit(m Mechanism, key ObjectHandle) (DecryptOperation, error) {
	return nil, CKR_MECHANISM_INVALID
}

// fakeSignOp "signs" by returning 8 bytes derived from the data, counting
// how often the expensive part runs.
type fakeSignOp struct {
	length  int // the hint
	runs    int
	updates []string
	cancels int
	failing bool
}

func (o *fakeSignOp) Cancel() { o.cancels++ }

func (o *fakeSignOp) SignatureLength() int { return o.length }

func (o *fakeSignOp) Sign(data []byte) ([]byte, error) {
	o.runs++
	if o.failing {
		return nil, CKR_DATA_LEN_RANGE
	}
	return []byte("sig:" + string(data) + "....")[:8], nil
}

func (o *fakeSignOp) Update(part []byte) error {
	o.updates = append(o.updates, string(part))
	return nil
}

func (o *fakeSignOp) Final() ([]byte, error) {
	o.runs++
	return []byte("multipart")[:8], nil
}
