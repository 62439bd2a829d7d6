package coolkey

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// dropSource hands out transports whose next Transmit fails with
// ErrNoReader once drop is set: the connection broke, the card did not
// move.
type dropSource struct {
	wrapSource
	drop atomic.Bool
}

func newDropSource() *dropSource {
	d := &dropSource{}
	d.wrapSource = hookSource(func(next cardedge.Transport, cmd []byte) ([]byte, error) {
		if d.drop.CompareAndSwap(true, false) {
			return nil, fmt.Errorf("test: %w: connection reset", cardedge.ErrNoReader)
		}
		return next.Transmit(cmd)
	})
	return d
}

// A connection that fails under an operation while the card stays in the
// reader (no monitor event follows: nothing changed) must not leave the
// slot empty: the card is looked for and read again (found by
// reliability's TestPINNeverRetried, where the slot stayed empty for good).
func TestConnectionLostCardStays(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	src := newDropSource()
	src.Attach("Flaky Reader", vcard.NewSlot(card))
	b, s := sessionOnSource(t, config{dynamic: src})
	src.drop.Store(true)
	if err := s.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); rvOf(err) != p11.CKR_DEVICE_REMOVED {
		t.Fatalf("login over a broken connection: %v", err)
	}
	eventually(t, "the token to come back without an event", func() bool {
		info, err := b.SlotInfo(1)
		return err == nil && info.Flags&p11.CKF_TOKEN_PRESENT != 0
	})
	ps, err := b.OpenSession(1, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Login(p11.CKU_USER, []byte(tok.Spec.PIN)); err != nil {
		t.Fatal(err)
	}
	if id, ok, err := b.PollSlotEvent(); !ok || err != nil || id != 1 {
		t.Errorf("slot event for the token's return: %v %v %v", id, ok, err)
	}
}
