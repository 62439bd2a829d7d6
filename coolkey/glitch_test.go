package coolkey

import (
	"sync/atomic"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// glitchSource power-cycles the card behind the reader's back (no reset
// reported) after the command numbered at, counted over all its transports
// from 1; 0 disarms.
type glitchSource struct {
	wrapSource
	slot *vcard.Slot
	n    atomic.Int64
	at   atomic.Int64
}

func newGlitchSource(slot *vcard.Slot) *glitchSource {
	g := &glitchSource{slot: slot}
	g.wrapSource = hookSource(func(next cardedge.Transport, cmd []byte) ([]byte, error) {
		resp, err := next.Transmit(cmd)
		if n := g.n.Add(1); n == g.at.Load() {
			g.slot.Card().PowerOn()
		}
		return resp, err
	})
	return g
}

// A card that lost power behind the reader's back answers the card-edge
// commands after our SELECT with 6E00: the failed operation must leave the
// token logged out, so that the caller can log in again at once instead of
// meeting CKR_USER_ALREADY_LOGGED_IN and then CKR_USER_NOT_LOGGED_IN (found
// by reliability's TestResetAtEveryStage).
func TestGlitchMidOperationLogsOut(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	src := newGlitchSource(slot)
	src.Attach("Glitch Reader", slot)
	_, s := sessionOnSource(t, config{dynamic: src})
	if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
		t.Fatal(err)
	}
	key := one(t, s, classAttr(p11.CKO_PRIVATE_KEY), idAttr(1))
	op, err := s.SignInit(p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, key)
	if err != nil {
		t.Fatal(err)
	}
	// SELECT is the first APDU of the signature; the glitch follows it.
	src.at.Store(src.n.Load() + 1)
	if _, err := op.Sign([]byte("x")); err == nil {
		t.Fatal("a signature from a card that lost its state")
	}
	if ls, err := s.LoginState(); err != nil || ls != p11.LoggedOut {
		t.Fatalf("LoginState after the glitch: %v, %v; want logged out", ls, err)
	}
	if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
		t.Fatalf("login after the glitch: %v", err)
	}
	signWith(t, s, key, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, []byte("x"))
}
