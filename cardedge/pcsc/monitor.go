package pcsc

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/ebfe/scard"
)

// pnpReader is the pseudo-reader whose state changes when a reader is
// plugged in or out; pcsc-lite compares the reader count a caller passes in
// the high word of its current state with the real one.
const pnpReader = `\\?PnP?\Notification`

// Monitor timing. statusTimeout bounds each SCardGetStatusChange so that
// reader lists are refreshed even where PnP notification is missing;
// retryDelay paces attempts to reach a pcscd that is down.
const (
	statusTimeout = 5 * time.Second
	retryDelay    = time.Second
)

// readerState is what the monitor last saw in a reader.
type readerState struct {
	flags scard.StateFlag // last event state, CHANGED cleared
}

func (r readerState) present() bool { return r.flags&scard.StatePresent != 0 }

// eventCount is pcsc-lite's per-reader card event counter, kept in the high
// word of the event state.
func (r readerState) eventCount() uint32 { return uint32(r.flags) >> 16 }

// monitor is the goroutine on SCardGetStatusChange, with its own context.
type monitor struct {
	latch *cardedge.EventLatch

	mu      sync.Mutex
	ctx     *statusContext
	closing bool
	done    chan struct{}
}

// NewMonitor starts watching the PC/SC readers: card insertion and removal,
// readers plugged in and out (through the PnP pseudo-reader), and pcscd
// restarts (every reader is reported removed, then added back).
func (s *Source) NewMonitor() (cardedge.Monitor, error) {
	m := &monitor{latch: cardedge.NewEventLatch(), done: make(chan struct{})}
	go m.run()
	return m, nil
}

func (m *monitor) Wait(ctx context.Context) (cardedge.Event, error) { return m.latch.Wait(ctx) }
func (m *monitor) Poll() (cardedge.Event, bool)                     { return m.latch.Poll() }

// Close stops the goroutine. SCardCancel only interrupts a call already in
// progress, and pcsc-lite 1.9.9 may answer it (or the interrupted call)
// with SCARD_E_INVALID_HANDLE, so Close keeps cancelling until the goroutine
// is gone instead of trusting one cancel.
func (m *monitor) Close() error {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		<-m.done
		return nil
	}
	m.closing = true
	m.mu.Unlock()
	// A cancel that comes while the goroutine is between two calls is
	// lost; it is there for microseconds, so retry soon, then less often
	// (Close right after the monitor started took a whole 50 ms retry).
	retry := time.Millisecond
	for {
		m.mu.Lock()
		if m.ctx != nil {
			m.ctx.Cancel() // errors, INVALID_HANDLE included, are fine here
		}
		m.mu.Unlock()
		select {
		case <-m.done:
			m.latch.Close()
			return nil
		case <-time.After(retry):
		}
		retry = min(2*retry, 50*time.Millisecond)
	}
}

func (m *monitor) isClosing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

// sleep waits d or until Close.
func (m *monitor) sleep(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !m.isClosing() {
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *monitor) setContext(ctx *statusContext) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx != nil && m.ctx != ctx {
		m.ctx.Release()
	}
	m.ctx = ctx
}

func (m *monitor) run() {
	defer close(m.done)
	defer m.setContext(nil)
	known := map[string]readerState{}
	baseline := true // the state at start is not an event
	for !m.isClosing() {
		m.mu.Lock()
		ctx := m.ctx
		m.mu.Unlock()
		if ctx == nil {
			c, err := establishStatusContext()
			if err != nil {
				m.forgetAll(known)
				baseline = false
				m.sleep(retryDelay)
				continue
			}
			m.setContext(c)
			ctx = c
		}
		names, err := listReaders(ctx)
		if err != nil {
			m.contextFailed(err, known)
			baseline = false
			continue
		}
		m.syncReaderList(names, known, baseline)

		states := make([]scard.ReaderState, 0, len(names)+1)
		for _, n := range names {
			states = append(states, scard.ReaderState{Reader: n, CurrentState: known[n].flags})
		}
		states = append(states, scard.ReaderState{Reader: pnpReader, CurrentState: scard.StateFlag(len(names) << 16)})
		if m.isClosing() {
			break
		}
		err = ctx.GetStatusChange(states, statusTimeout)
		switch {
		case err == nil:
		case errors.Is(err, scard.ErrTimeout):
			baseline = false
			continue
		case errors.Is(err, scard.ErrCancelled) || errors.Is(err, scard.ErrInvalidHandle) && m.isClosing():
			continue // the loop condition ends it when closing
		case errors.Is(err, scard.ErrUnknownReader):
			baseline = false
			continue // a reader went between listing and waiting; list again
		default:
			m.contextFailed(err, known)
			baseline = false
			continue
		}
		for _, st := range states[:len(names)] {
			old, had := known[st.Reader]
			now := readerState{flags: st.EventState &^ scard.StateChanged}
			if st.EventState&(scard.StateUnknown|scard.StateIgnore) != 0 {
				continue // gone; the next listing reports it
			}
			if had && !baseline {
				m.latch.Post(st.Reader, cardDiff(old, now))
			}
			known[st.Reader] = now
		}
		baseline = false
	}
}

// cardDiff returns the card events between two states of one reader.
func cardDiff(old, now readerState) cardedge.EventKind {
	switch {
	case old.present() && !now.present():
		return cardedge.CardRemoved
	case !old.present() && now.present():
		return cardedge.CardInserted
	case now.present() && old.eventCount() != now.eventCount() && old.flags != 0:
		// Present both times but the card events moved on: it was
		// swapped (or removed and reinserted) between two looks.
		return cardedge.CardRemoved | cardedge.CardInserted
	}
	return 0
}

// syncReaderList reports readers that appeared or vanished.
func (m *monitor) syncReaderList(names []string, known map[string]readerState, baseline bool) {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
		if _, ok := known[n]; !ok {
			// StateUnaware makes the first GetStatusChange return at
			// once with the real state.
			known[n] = readerState{flags: scard.StateUnaware}
			if !baseline {
				m.latch.Post(n, cardedge.ReaderAdded)
			}
		}
	}
	for n, st := range known {
		if !seen[n] {
			m.removeReader(n, st, known)
		}
	}
}

func (m *monitor) removeReader(n string, st readerState, known map[string]readerState) {
	k := cardedge.ReaderRemoved
	if st.present() {
		k |= cardedge.CardRemoved
	}
	m.latch.Post(n, k)
	delete(known, n)
}

// forgetAll reports every known reader removed (pcscd is gone).
func (m *monitor) forgetAll(known map[string]readerState) {
	for n, st := range known {
		m.removeReader(n, st, known)
	}
}

// contextFailed drops a context that pcscd no longer honours and waits a
// little before the next attempt.
func (m *monitor) contextFailed(err error, known map[string]readerState) {
	if m.isClosing() {
		return
	}
	if serviceLost(err) {
		m.setContext(nil)
		m.forgetAll(known)
	}
	m.sleep(retryDelay)
}
