package coolkey

import (
	"log/slog"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// wrapSource hands out its card's transports wrapped by wrap, so a test
// can change what a transport does or can tell.
type wrapSource struct {
	*testtoken.Source
	wrap func(cardedge.Transport) cardedge.Transport
}

func (w *wrapSource) Connect(name string) (cardedge.Transport, error) {
	t, err := w.Source.Connect(name)
	if err != nil {
		return nil, err
	}
	return w.wrap(t), nil
}

// hookSource is a wrapSource whose transports' Transmit goes through hook,
// so a test can fail, count or disturb commands on their way to the card.
func hookSource(hook func(next cardedge.Transport, cmd []byte) ([]byte, error)) wrapSource {
	return wrapSource{Source: testtoken.NewSource(), wrap: func(t cardedge.Transport) cardedge.Transport {
		return &hookTransport{Transport: t, hook: hook}
	}}
}

type hookTransport struct {
	cardedge.Transport
	hook func(next cardedge.Transport, cmd []byte) ([]byte, error)
}

func (t *hookTransport) Transmit(cmd []byte) ([]byte, error) { return t.hook(t.Transport, cmd) }

// sessionOnSource starts a backend with cfg and opens a read-only session
// on slot 1; the backend is finalized when the test ends.
func sessionOnSource(t *testing.T, cfg config) (*Backend, *session) {
	t.Helper()
	b := newBackend(cfg)
	if err := b.Initialize(p11.InitOptions{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Finalize() })
	b.Slots()
	ps, err := b.OpenSession(1, false)
	if err != nil {
		t.Fatal(err)
	}
	return b, ps.(*session)
}

// connectedTransport answers Connected like a PC/SC handle: nil while it
// reaches the card it was made to.
type connectedTransport struct {
	cardedge.Transport
	err *error
}

func (t connectedTransport) Connected() error { return *t.err }

// An insertion event for a card the slot already read through a live
// connection (the reader listing beat the monitor, as after a pcscd
// restart) keeps the token and its sessions; once the connection no longer
// reaches the card, the same event means a new card.
func TestInsertionAlreadySeen(t *testing.T) {
	tok := buildToken(t, testtoken.Alice())
	card, err := tok.NewCard()
	if err != nil {
		t.Fatal(err)
	}
	var connErr error
	src := &wrapSource{Source: testtoken.NewSource(), wrap: func(t cardedge.Transport) cardedge.Transport {
		return connectedTransport{Transport: t, err: &connErr}
	}}
	src.Attach("Reader", vcard.NewSlot(card))
	b, s := sessionOnSource(t, config{dynamic: src})
	inserted := cardedge.Event{Reader: "Reader", Kinds: cardedge.CardInserted}
	b.handleEvent(inserted, src)
	if _, err := s.LoginState(); err != nil {
		t.Fatalf("session after a stale insertion event: %v", err)
	}
	connErr = cardedge.ErrNoCard
	b.handleEvent(inserted, src)
	if _, err := s.LoginState(); rvOf(err) != p11.CKR_SESSION_HANDLE_INVALID {
		t.Fatalf("session after a new card's insertion: %v, want CKR_SESSION_HANDLE_INVALID", err)
	}
}
