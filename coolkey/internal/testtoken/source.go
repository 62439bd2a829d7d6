package testtoken

import (
	"context"
	"fmt"
	"sync"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// Source is a cardedge.ReaderSource over in-process virtual readers, so that
// the token backend can be tested without sockets or pcscd. Readers can be
// attached while the source is in use (hot-plug).
type Source struct {
	mu      sync.Mutex
	readers []*reader
	latches []*cardedge.EventLatch
	// Connects counts successful Connect calls.
	Connects int
}

type reader struct {
	name string
	slot *vcard.Slot
	// counter is the slot counter last reported, for reset detection.
	present bool
	counter uint32
}

// NewSource returns a source with no readers.
func NewSource() *Source { return &Source{} }

// Attach adds a reader holding slot and reports ReaderAdded (and
// CardInserted) to running monitors.
func (s *Source) Attach(name string, slot *vcard.Slot) {
	s.mu.Lock()
	present, counter := slot.State()
	r := &reader{name: name, slot: slot, present: present, counter: counter}
	s.readers = append(s.readers, r)
	latches := append([]*cardedge.EventLatch(nil), s.latches...)
	ch := slot.Changed()
	s.mu.Unlock()
	k := cardedge.ReaderAdded
	if present {
		k |= cardedge.CardInserted
	}
	for _, l := range latches {
		l.Post(name, k)
	}
	go s.watch(r, slot, ch)
}

// watch turns the changes of slot into events for as long as it is r's
// slot (a parked goroutine per slot for the test binary's lifetime). ch was
// taken before the goroutine started, so no change is missed; a change
// between two takes is caught by Notify comparing states.
func (s *Source) watch(r *reader, slot *vcard.Slot, ch <-chan struct{}) {
	for {
		<-ch
		ch = slot.Changed()
		s.mu.Lock()
		current := r.slot == slot
		s.mu.Unlock()
		if !current {
			return
		}
		s.Notify(r.name)
	}
}

// Notify compares the named reader's slot with what was last reported and
// posts the difference: insertion, removal, or (same presence, different
// counter) a reset by someone else. Tests call it after Reset on a slot,
// which Changed does not signal.
func (s *Source) Notify(name string) {
	s.mu.Lock()
	var k cardedge.EventKind
	for _, r := range s.readers {
		if r.name != name {
			continue
		}
		present, counter := r.slot.State()
		switch {
		case r.present && !present:
			k = cardedge.CardRemoved
		case !r.present && present:
			k = cardedge.CardInserted
		case present && counter != r.counter:
			k = cardedge.CardReset
		}
		r.present, r.counter = present, counter
	}
	latches := append([]*cardedge.EventLatch(nil), s.latches...)
	s.mu.Unlock()
	for _, l := range latches {
		l.Post(name, k)
	}
}

// Swap replaces the card in the named reader with the one in slot, as if
// the user swapped cards faster than anyone looked, and reports
// CardRemoved|CardInserted.
func (s *Source) Swap(name string, slot *vcard.Slot) {
	s.mu.Lock()
	var old *vcard.Slot
	var r *reader
	for _, rd := range s.readers {
		if rd.name == name {
			r, old = rd, rd.slot
			rd.slot = slot
			rd.present, rd.counter = slot.State()
		}
	}
	ch := slot.Changed()
	latches := append([]*cardedge.EventLatch(nil), s.latches...)
	s.mu.Unlock()
	if r == nil {
		return
	}
	old.Remove()
	go s.watch(r, slot, ch)
	for _, l := range latches {
		l.Post(name, cardedge.CardRemoved|cardedge.CardInserted)
	}
}

// Readers lists the attached readers.
func (s *Source) Readers() ([]cardedge.ReaderStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []cardedge.ReaderStatus
	for _, r := range s.readers {
		present, _ := r.slot.State()
		st := cardedge.ReaderStatus{Name: r.name, CardPresent: present}
		if present {
			st.ATR = r.slot.Card().ATR()
		}
		out = append(out, st)
	}
	return out, nil
}

// Connect returns an in-process transport to the reader's card.
func (s *Source) Connect(name string) (cardedge.Transport, error) {
	s.mu.Lock()
	var slot *vcard.Slot
	for _, r := range s.readers {
		if r.name == name {
			slot = r.slot
		}
	}
	s.mu.Unlock()
	if slot == nil {
		return nil, fmt.Errorf("%w: %q", cardedge.ErrNoReader, name)
	}
	t, err := vcard.NewTransport(slot)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.Connects++
	s.mu.Unlock()
	return t, nil
}

// NewMonitor returns a monitor fed by Attach, the slots' changes and Notify.
func (s *Source) NewMonitor() (cardedge.Monitor, error) {
	l := cardedge.NewEventLatch()
	s.mu.Lock()
	s.latches = append(s.latches, l)
	s.mu.Unlock()
	return &monitor{l}, nil
}

type monitor struct{ l *cardedge.EventLatch }

func (m *monitor) Wait(ctx context.Context) (cardedge.Event, error) { return m.l.Wait(ctx) }
func (m *monitor) Poll() (cardedge.Event, bool)                     { return m.l.Poll() }
func (m *monitor) Close() error                                     { m.l.Close(); return nil }
