package cardedge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ReaderStatus is one reader as a ReaderSource lists it.
type ReaderStatus struct {
	// Name is stable for as long as the reader is attached (PC/SC reader
	// name, or the name a socket endpoint was given).
	Name        string
	CardPresent bool
	// ATR is the card's ATR when the source knows it without connecting.
	ATR []byte
}

// ReaderSource lists readers and connects to their cards: PC/SC readers and
// socket-served virtual cards look the same to the token backend.
type ReaderSource interface {
	// Readers lists the readers attached now. A source whose service is
	// down returns an empty list, not an error, so that other sources
	// still show.
	Readers() ([]ReaderStatus, error)
	// Connect connects to the card in the named reader, in shared mode. It
	// returns ErrNoCard when the reader is empty and ErrNoReader when it
	// is gone.
	Connect(reader string) (Transport, error)
	// NewMonitor starts watching the source's readers.
	NewMonitor() (Monitor, error)
}

// EventKind is a set of things that happened to a reader.
type EventKind uint8

const (
	ReaderAdded EventKind = 1 << iota
	ReaderRemoved
	CardInserted
	CardRemoved
	// CardReset: the card was reset or power-cycled (by anyone); what a
	// host knew about its volatile state is gone.
	CardReset
)

func (k EventKind) String() string {
	var s []string
	for i, n := range []string{"reader-added", "reader-removed", "card-inserted", "card-removed", "card-reset"} {
		if k&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "|")
}

// Event is what happened to one reader since its last event was taken.
type Event struct {
	Reader string
	Kinds  EventKind
}

func (e Event) String() string { return fmt.Sprintf("%s: %s", e.Reader, e.Kinds) }

// Monitor reports reader and card events. Events latch: whatever happens
// while nobody waits is kept, merged per reader, until taken, which is what
// C_WaitForSlotEvent needs.
type Monitor interface {
	// Wait returns the oldest pending event, blocking until there is one,
	// ctx is done, or the monitor is closed (ErrMonitorClosed).
	Wait(ctx context.Context) (Event, error)
	// Poll returns a pending event without blocking (CKF_DONT_BLOCK).
	Poll() (Event, bool)
	// Close stops the monitor and wakes every Wait.
	Close() error
}

// ErrMonitorClosed is returned by Wait once the monitor is closed.
var ErrMonitorClosed = errors.New("cardedge: reader monitor closed")

// EventLatch is the latching queue behind every Monitor: producers Post,
// consumers Wait or Poll. The zero value is not usable; use NewEventLatch.
type EventLatch struct {
	mu      sync.Mutex
	pending map[string]EventKind
	order   []string      // readers with pending events, oldest first
	wake    chan struct{} // closed and replaced on every Post
	closed  bool
}

// NewEventLatch returns an empty latch.
func NewEventLatch() *EventLatch {
	return &EventLatch{pending: map[string]EventKind{}, wake: make(chan struct{})}
}

// Post records kinds for reader, merging with what is pending.
func (l *EventLatch) Post(reader string, kinds EventKind) {
	if kinds == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if _, ok := l.pending[reader]; !ok {
		l.order = append(l.order, reader)
	}
	l.pending[reader] |= kinds
	close(l.wake)
	l.wake = make(chan struct{})
}

// Poll takes the oldest pending event.
func (l *EventLatch) Poll() (Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.takeLocked()
}

func (l *EventLatch) takeLocked() (Event, bool) {
	if len(l.order) == 0 {
		return Event{}, false
	}
	r := l.order[0]
	l.order = l.order[1:]
	k := l.pending[r]
	delete(l.pending, r)
	return Event{Reader: r, Kinds: k}, true
}

// Wait blocks until an event is pending and takes it.
func (l *EventLatch) Wait(ctx context.Context) (Event, error) {
	for {
		l.mu.Lock()
		if e, ok := l.takeLocked(); ok {
			l.mu.Unlock()
			return e, nil
		}
		if l.closed {
			l.mu.Unlock()
			return Event{}, ErrMonitorClosed
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Close wakes every Wait; pending events can still be polled, later Posts
// are dropped.
func (l *EventLatch) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.wake)
	}
}

// Sources combines reader sources into one (e.g. PC/SC readers and socket
// endpoints). Reader names must be unique across them; Connect goes to the
// first source that lists the name.
type Sources []ReaderSource

// Readers lists the readers of every source. A failing source is skipped
// unless all fail.
func (s Sources) Readers() ([]ReaderStatus, error) {
	var out []ReaderStatus
	var errs []error
	for _, src := range s {
		rs, err := src.Readers()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rs...)
	}
	if len(errs) == len(s) && len(s) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Connect connects through the source that lists reader.
func (s Sources) Connect(reader string) (Transport, error) {
	for _, src := range s {
		rs, err := src.Readers()
		if err != nil {
			continue
		}
		for _, r := range rs {
			if r.Name == reader {
				return src.Connect(reader)
			}
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNoReader, reader)
}

// NewMonitor starts a monitor per source and merges their events.
func (s Sources) NewMonitor() (Monitor, error) {
	m := &multiMonitor{latch: NewEventLatch()}
	for _, src := range s {
		sm, err := src.NewMonitor()
		if err != nil {
			m.Close()
			return nil, err
		}
		m.subs = append(m.subs, sm)
	}
	for _, sm := range m.subs {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for {
				e, err := sm.Wait(context.Background())
				if err != nil {
					return
				}
				m.latch.Post(e.Reader, e.Kinds)
			}
		}()
	}
	return m, nil
}

type multiMonitor struct {
	latch *EventLatch
	subs  []Monitor
	wg    sync.WaitGroup
	once  sync.Once
}

func (m *multiMonitor) Wait(ctx context.Context) (Event, error) { return m.latch.Wait(ctx) }
func (m *multiMonitor) Poll() (Event, bool)                     { return m.latch.Poll() }

func (m *multiMonitor) Close() error {
	var err error
	m.once.Do(func() {
		for _, sm := range m.subs {
			err = errors.Join(err, sm.Close())
		}
		m.wg.Wait()
		m.latch.Close()
	})
	return err
}
