package coolkey

import (
	"log/slog"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// hookSource hands out transports whose Transmit goes through hook, so a
// test can fail, count or disturb commands on their way to the card.
type hookSource struct {
	*testtoken.Source
	hook func(next cardedge.Transport, cmd []byte) ([]byte, error)
}

func (h *hookSource) Connect(name string) (cardedge.Transport, error) {
	t, err := h.Source.Connect(name)
	if err != nil {
		return nil, err
	}
	return &hookTransport{Transport: t, hook: h.hook}, nil
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
