package vcard

import (
	"errors"
	"sync"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

// Transport is an in-process cardedge.Transport to the card in a Slot, for
// tests of host code that want a card without sockets or pcscd. Like a PC/SC
// handle it reports cardedge.ErrCardReset once after someone else reset,
// re-powered or re-inserted the card, and cardedge.ErrNoCard while the card
// is out.
type Transport struct {
	slot *Slot

	mu     sync.Mutex
	seen   uint32
	closed bool
}

var _ cardedge.Transport = (*Transport)(nil)

// ErrClosed is returned by a Transport after Close.
var ErrClosed = errors.New("vcard: transport closed")

// NewTransport connects to the slot's card, powering it up if needed, as
// SCardConnect does.
func NewTransport(slot *Slot) (*Transport, error) {
	t := &Transport{slot: slot}
	present, _ := slot.State()
	if !present {
		return nil, cardedge.ErrNoCard
	}
	if !slot.Card().Powered() {
		if _, err := slot.PowerOn(t); err != nil {
			return nil, err
		}
	}
	_, t.seen = slot.State()
	return t, nil
}

// check reports a closed transport, a missing card, or (once) a card that
// lost its state to someone else.
func (t *Transport) check() error {
	if t.closed {
		return ErrClosed
	}
	present, counter := t.slot.State()
	if !present {
		return cardedge.ErrNoCard
	}
	if counter != t.seen {
		t.seen = counter
		return cardedge.ErrCardReset
	}
	if !t.slot.Card().Powered() {
		// Someone powered the card down: it comes back up without our
		// selection and login, as after a reset.
		if _, err := t.slot.PowerOn(t); err != nil {
			return err
		}
		_, t.seen = t.slot.State()
		return cardedge.ErrCardReset
	}
	return nil
}

// Transmit sends one APDU.
func (t *Transport) Transmit(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.check(); err != nil {
		return nil, err
	}
	resp, err := t.slot.Transmit(t, cmd)
	if errors.Is(err, ErrStore) {
		err = nil // the card answered 6581, as a card with failing EEPROM would
	}
	return resp, err
}

// BeginTransaction takes exclusive access to the card.
func (t *Transport) BeginTransaction() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.check(); err != nil {
		return err
	}
	return t.slot.Begin(t)
}

// EndTransaction releases it.
func (t *Transport) EndTransaction() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.slot.End(t)
	return nil
}

// ATR returns the card's ATR (nil without a card).
func (t *Transport) ATR() []byte {
	atr, _ := t.slot.ATR()
	return atr
}

// Reset warm-resets the card.
func (t *Transport) Reset() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if _, err := t.slot.Reset(t); err != nil {
		return err
	}
	_, t.seen = t.slot.State()
	return nil
}

// Close releases the transport and any transaction it holds.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.slot.Release(t)
	}
	return nil
}
