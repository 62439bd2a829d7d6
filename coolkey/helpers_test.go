package coolkey

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// rig is a backend over in-process virtual readers.
type rig struct {
	t      *testing.T
	b      *Backend
	src    *testtoken.Source
	toks   []*testtoken.Token
	slots  []*vcard.Slot
	cache  string
	logBuf *syncBuffer
	// hold is the backend's transaction hold (0: released after every
	// operation, which the APDU counts of most tests assume).
	hold time.Duration
}

type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// buildToken builds a token image, failing the test on error.
func buildToken(t testing.TB, spec testtoken.Spec) *testtoken.Token {
	t.Helper()
	tok, err := testtoken.Build(spec)
	if err != nil {
		t.Fatalf("building token: %v", err)
	}
	return tok
}

// newRig starts a backend with one reader per token, cards inserted, and an
// object cache in a temporary directory (cacheDir "" makes one).
func newRig(t *testing.T, cacheDir string, toks ...*testtoken.Token) *rig {
	t.Helper()
	return newHoldRig(t, 0, cacheDir, toks...)
}

// newHoldRig is newRig with card transactions held for hold after each
// operation.
func newHoldRig(t *testing.T, hold time.Duration, cacheDir string, toks ...*testtoken.Token) *rig {
	t.Helper()
	r := &rig{t: t, src: testtoken.NewSource(), toks: toks, logBuf: &syncBuffer{}, hold: hold}
	for i, tok := range toks {
		card, err := tok.NewCard()
		if err != nil {
			t.Fatal(err)
		}
		slot := vcard.NewSlot(card)
		r.slots = append(r.slots, slot)
		r.src.Attach(fmt.Sprintf("Test Reader %d", i), slot)
	}
	if cacheDir == "" {
		cacheDir = t.TempDir()
	}
	r.cache = cacheDir
	r.start()
	return r
}

func (r *rig) start() {
	r.t.Helper()
	r.b = newBackend(config{dynamic: r.src, cacheDir: r.cache, holdIdle: r.hold})
	level := slog.LevelDebug
	if os.Getenv("COOLKEY_TEST_TRACE") != "" {
		level = p11.LevelTrace
	}
	log := slog.New(slog.NewTextHandler(r.logBuf, &slog.HandlerOptions{Level: level}))
	if err := r.b.Initialize(p11.InitOptions{Logger: log}); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if r.b != nil {
			r.b.Finalize()
		}
		if r.t.Failed() {
			r.t.Logf("backend log:\n%s", r.logBuf.String())
		}
	})
}

// restart finalizes the backend and starts a new one (a new process, as far
// as the backend can tell).
func (r *rig) restart() {
	r.t.Helper()
	r.b.Finalize()
	r.b = nil
	r.start()
}

// slotIDs lists the slots, failing on error.
func (r *rig) slotIDs() []p11.SlotID {
	r.t.Helper()
	ids, err := r.b.Slots()
	if err != nil {
		r.t.Fatal(err)
	}
	return ids
}

// open opens a session on slot 1 (after listing the slots).
func (r *rig) open(rw bool) *session {
	r.t.Helper()
	r.slotIDs()
	return r.openOn(1, rw)
}

func (r *rig) openOn(id p11.SlotID, rw bool) *session {
	r.t.Helper()
	s, err := r.b.OpenSession(id, rw)
	if err != nil {
		r.t.Fatalf("OpenSession(%d): %v", id, err)
	}
	return s.(*session)
}

// login logs s in with the token's PIN.
func (r *rig) login(s *session) {
	r.t.Helper()
	if err := s.Login(p11.CKU_USER, []byte(r.toks[0].Spec.PIN)); err != nil {
		r.t.Fatalf("login: %v", err)
	}
}

// apdus runs f and returns how many APDUs it sent.
func apdus(f func()) uint64 {
	start := APDUCount()
	f()
	return APDUCount() - start
}

// wantRV fails unless err carries rv.
func wantRV(t *testing.T, what string, err error, rv p11.Error) {
	t.Helper()
	if rv == p11.CKR_OK {
		if err != nil {
			t.Fatalf("%s: %v, want CKR_OK", what, err)
		}
		return
	}
	var got p11.Error
	if !errors.As(err, &got) || got != rv {
		t.Fatalf("%s: got %v, want %v", what, err, rv)
	}
}

// find returns the handles matching template.
func find(t *testing.T, s *session, template ...p11.Attribute) []p11.ObjectHandle {
	t.Helper()
	hs, err := s.FindObjects(template)
	if err != nil {
		t.Fatalf("FindObjects: %v", err)
	}
	return hs
}

func classAttr(c p11.ObjectClass) p11.Attribute {
	return p11.Attribute{Type: p11.CKA_CLASS, Value: p11.ULongValue(uint(c))}
}

func idAttr(id byte) p11.Attribute { return p11.Attribute{Type: p11.CKA_ID, Value: []byte{id}} }

// one returns the single object matching template.
func one(t *testing.T, s *session, template ...p11.Attribute) p11.ObjectHandle {
	t.Helper()
	hs := find(t, s, template...)
	if len(hs) != 1 {
		t.Fatalf("found %d objects, want 1", len(hs))
	}
	return hs[0]
}

// attr reads one attribute, failing on error.
func attr(t *testing.T, s *session, h p11.ObjectHandle, typ p11.AttributeType) []byte {
	t.Helper()
	res, err := s.GetAttributes(h, []p11.AttributeType{typ})
	if err != nil {
		t.Fatalf("GetAttributes: %v", err)
	}
	if res[0].Err != nil {
		t.Fatalf("attribute %v: %v", typ, res[0].Err)
	}
	return res[0].Value
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
