package vcard

import (
	"sync"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

// Slot is a virtual reader slot holding a Card that can be inserted and
// removed. It arbitrates between hosts (each identified by an owner value of
// its choice): one may hold an exclusive transaction, during which the
// others' commands wait.
//
// Its counter increases on every insertion, reset and power-up, so a host
// that remembers the counter can tell that the card lost its volatile state
// (selection, login, secure channel) because of someone else.
type Slot struct {
	card *Card

	mu      sync.Mutex
	cond    *sync.Cond
	present bool
	counter uint32
	owner   any // transaction holder
	depth   int
	changed chan struct{}
}

// NewSlot returns a slot with the card inserted and powered, as a reader
// powers a card when it is inserted.
func NewSlot(card *Card) *Slot {
	s := &Slot{card: card, present: true, counter: 1, changed: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	card.PowerOn()
	return s
}

// Card returns the slot's card, present or not.
func (s *Slot) Card() *Card { return s.card }

// State reports whether the card is present, and the event counter.
func (s *Slot) State() (present bool, counter uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.present, s.counter
}

// Changed returns a channel that is closed at the next insertion or removal.
func (s *Slot) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Insert puts the card in the slot and powers it; it reports false if it
// already was in.
func (s *Slot) Insert() bool { return s.setPresent(true) }

// Remove takes the card out; it reports false if it already was out. The
// card loses power and any transaction ends.
func (s *Slot) Remove() bool { return s.setPresent(false) }

// Toggle inserts a removed card or removes an inserted one, and returns
// whether the card is now present.
func (s *Slot) Toggle() bool {
	s.mu.Lock()
	present := s.present
	s.mu.Unlock()
	s.setPresent(!present)
	return !present
}

func (s *Slot) setPresent(present bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.present == present {
		return false
	}
	s.present = present
	s.card.PowerOff()
	if present {
		s.counter++
		s.card.PowerOn()
	}
	s.owner, s.depth = nil, 0
	close(s.changed)
	s.changed = make(chan struct{})
	s.cond.Broadcast()
	return true
}

// wait blocks until owner may use the card; it is called with s.mu held.
func (s *Slot) wait(owner any) error {
	for s.present && s.owner != nil && s.owner != owner {
		s.cond.Wait()
	}
	if !s.present {
		return cardedge.ErrNoCard
	}
	return nil
}

// PowerOn powers the card (a cold reset if it had power) and returns the
// ATR.
func (s *Slot) PowerOn(owner any) ([]byte, error) { return s.Reset(owner) }

// Reset resets the card and returns the ATR.
func (s *Slot) Reset(owner any) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.wait(owner); err != nil {
		return nil, err
	}
	s.counter++
	return s.card.PowerOn(), nil
}

// PowerOff removes power from the card.
func (s *Slot) PowerOff(owner any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.wait(owner); err != nil {
		return err
	}
	s.card.PowerOff()
	return nil
}

// ATR returns the card's ATR.
func (s *Slot) ATR() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.present {
		return nil, cardedge.ErrNoCard
	}
	return s.card.ATR(), nil
}

// Transmit sends a command APDU to the card, powering it first if needed,
// and waiting while another owner holds a transaction. The error is
// cardedge.ErrNoCard without a card, or the card's store error (the
// response is then still valid: 6581).
func (s *Slot) Transmit(owner any, cmd []byte) ([]byte, error) {
	s.mu.Lock()
	if err := s.wait(owner); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if !s.card.Powered() {
		s.counter++
		s.card.PowerOn()
	}
	// Holding the slot lock across the command keeps a transaction from
	// starting in the middle of it; the card itself serialises commands.
	defer s.mu.Unlock()
	return s.card.Transmit(cmd)
}

// Begin starts (or nests) owner's exclusive transaction, waiting for another
// owner's to end.
func (s *Slot) Begin(owner any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.wait(owner); err != nil {
		return err
	}
	s.owner = owner
	s.depth++
	return nil
}

// End ends one level of owner's transaction.
func (s *Slot) End(owner any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner != owner {
		return
	}
	if s.depth--; s.depth <= 0 {
		s.owner, s.depth = nil, 0
		s.cond.Broadcast()
	}
}

// Release drops any transaction owner holds (its connection went away).
func (s *Slot) Release(owner any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner == owner {
		s.owner, s.depth = nil, 0
		s.cond.Broadcast()
	}
}
