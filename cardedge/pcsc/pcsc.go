// Package pcsc reaches cards through the PC/SC service (pcscd) with
// github.com/ebfe/scard. It is the only cardedge package that needs cgo.
//
// Every Transport has its own PC/SC context, so a transaction blocked on one
// reader never stalls another, and a context lost to a pcscd restart is
// re-created by the transport that notices.
package pcsc

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/ebfe/scard"
)

// mapError turns a PC/SC error into the cardedge sentinel callers react to,
// keeping the PC/SC error in the chain for logs.
func mapError(op string, err error) error {
	if err == nil {
		return nil
	}
	var se scard.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	switch se {
	case scard.ErrNoSmartcard, scard.ErrRemovedCard, scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard:
		return fmt.Errorf("pcsc: %s: %w (%w)", op, cardedge.ErrNoCard, se)
	case scard.ErrResetCard:
		return fmt.Errorf("pcsc: %s: %w (%w)", op, cardedge.ErrCardReset, se)
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable, scard.ErrNoReadersAvailable,
		scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle, scard.ErrCommError:
		return fmt.Errorf("pcsc: %s: %w (%w)", op, cardedge.ErrNoReader, se)
	}
	return fmt.Errorf("pcsc: %s: %w", op, se)
}

// serviceLost reports errors after which a context is useless: pcscd went
// away (or restarted, which invalidates every handle).
func serviceLost(err error) bool {
	return errors.Is(err, scard.ErrNoService) || errors.Is(err, scard.ErrServiceStopped) ||
		errors.Is(err, scard.ErrInvalidHandle)
}

// Source is a cardedge.ReaderSource over the PC/SC readers.
type Source struct {
	mu  sync.Mutex
	ctx *statusContext // for listing; re-created when pcscd restarts
}

var _ cardedge.ReaderSource = (*Source)(nil)

// NewSource returns a source. It does not contact pcscd until used, so a
// module can load while pcscd is down.
func NewSource() *Source { return &Source{} }

// Close releases the source's context. Transports and monitors have their
// own and stay usable.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		return nil
	}
	err := s.ctx.Release()
	s.ctx = nil
	return err
}

// withContext runs fn with the listing context, re-creating the context once
// if pcscd has restarted since.
func (s *Source) withContext(fn func(*statusContext) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if s.ctx == nil {
			ctx, err := establishStatusContext()
			if err != nil {
				return err
			}
			s.ctx = ctx
		}
		err := fn(s.ctx)
		if err == nil || !serviceLost(err) || attempt == 1 {
			return err
		}
		s.ctx.Release()
		s.ctx = nil
	}
}

// listReaders returns the reader names; none (not an error) when there are
// no readers or no service.
func listReaders(ctx *statusContext) ([]string, error) {
	names, err := ctx.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	return names, err
}

// Readers lists the PC/SC readers with card presence and ATR. With pcscd
// down it returns no readers and no error.
func (s *Source) Readers() ([]cardedge.ReaderStatus, error) {
	var out []cardedge.ReaderStatus
	err := s.withContext(func(ctx *statusContext) error {
		names, err := listReaders(ctx)
		if err != nil || len(names) == 0 {
			return err
		}
		states := make([]scard.ReaderState, len(names))
		for i, n := range names {
			states[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
		}
		if err := ctx.GetStatusChange(states, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
			return err
		}
		out = out[:0]
		for _, st := range states {
			if st.EventState&(scard.StateUnknown|scard.StateIgnore) != 0 {
				continue // vanished between the two calls
			}
			rs := cardedge.ReaderStatus{Name: st.Reader, CardPresent: st.EventState&scard.StatePresent != 0}
			if rs.CardPresent && len(st.Atr) > 0 {
				rs.ATR = append([]byte(nil), st.Atr...)
			}
			out = append(out, rs)
		}
		return nil
	})
	if serviceLost(err) {
		return nil, nil
	}
	if err != nil {
		return nil, mapError("list readers", err)
	}
	return out, nil
}

// Connect connects to the card in reader in shared mode (T=0 or T=1).
func (s *Source) Connect(reader string) (cardedge.Transport, error) {
	t := &Transport{reader: reader}
	if err := t.connect(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Transport is a shared-mode PC/SC connection to one card. It implements
// cardedge.Transport.
type Transport struct {
	reader string
	ctx    *scard.Context
	card   *scard.Card
	atr    []byte
}

var _ cardedge.Transport = (*Transport)(nil)

// connect (re)establishes the context if needed and connects, retrying a
// sharing violation for half a second like the reference host.
func (t *Transport) connect() error {
	for attempt := 0; ; attempt++ {
		if t.ctx == nil {
			ctx, err := scard.EstablishContext()
			if err != nil {
				return mapError("establish context", err)
			}
			t.ctx = ctx
		}
		card, err := t.ctx.Connect(t.reader, scard.ShareShared, scard.ProtocolAny)
		switch {
		case err == nil:
			t.card = card
			return t.refreshATR()
		case serviceLost(err) && attempt == 0:
			t.ctx.Release()
			t.ctx = nil
			continue
		case errors.Is(err, scard.ErrSharingViolation) && attempt < 5:
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return mapError("connect", err)
	}
}

func (t *Transport) refreshATR() error {
	st, err := t.card.Status()
	if err != nil {
		return mapError("status", err)
	}
	t.atr = st.Atr
	return nil
}

// recover handles an error from a card call: after a reset by someone else
// it reconnects and reports ErrCardReset; after a pcscd restart it builds a
// new context and connection and reports ErrCardReset too (the card's
// volatile state cannot be trusted); otherwise it maps the error.
func (t *Transport) recover(op string, err error) error {
	switch {
	case errors.Is(err, scard.ErrResetCard):
		if rerr := t.card.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard); rerr != nil {
			return mapError(op+": reconnect", rerr)
		}
		if rerr := t.refreshATR(); rerr != nil {
			return rerr
		}
		return mapError(op, err)
	case serviceLost(err):
		t.dropConnection()
		if rerr := t.connect(); rerr != nil {
			return rerr
		}
		return fmt.Errorf("pcsc: %s: %w (reconnected after %v)", op, cardedge.ErrCardReset, err)
	}
	// Readers report a card that went away mid-exchange as a plain
	// communication failure (e.g. SCARD_E_NOT_TRANSACTED); ask for the card
	// status to say which it was.
	if _, serr := t.card.Status(); serr != nil {
		var se scard.Error
		if errors.As(serr, &se) && (se == scard.ErrResetCard || isStateError(se)) && !errors.Is(err, se) {
			return t.recover(op, se)
		}
	}
	return mapError(op, err)
}

// isStateError reports PC/SC errors that describe the card's or reader's
// state rather than a failed exchange.
func isStateError(se scard.Error) bool {
	switch se {
	case scard.ErrNoSmartcard, scard.ErrRemovedCard, scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard,
		scard.ErrUnknownReader, scard.ErrReaderUnavailable, scard.ErrNoService, scard.ErrServiceStopped:
		return true
	}
	return false
}

func (t *Transport) dropConnection() {
	if t.card != nil {
		t.card.Disconnect(scard.LeaveCard)
		t.card = nil
	}
	if t.ctx != nil {
		t.ctx.Release()
		t.ctx = nil
	}
}

// Transmit sends one APDU.
func (t *Transport) Transmit(cmd []byte) ([]byte, error) {
	if t.card == nil {
		if err := t.connect(); err != nil {
			return nil, err
		}
	}
	rsp, err := t.card.Transmit(cmd)
	if err != nil {
		return nil, t.recover("transmit", err)
	}
	if len(rsp) < 2 {
		// A card always ends its answer with a status word: the reader
		// lost the card mid-exchange and still reported success (vpcd
		// answers nothing when the card's connection drops). Ask for the
		// card's state; if the reader has not noticed yet, the command's
		// fate and the card's state are unknown, which the caller must
		// treat like a lost connection, not like a card's answer.
		if _, serr := t.card.Status(); serr != nil {
			return nil, t.recover("transmit", serr)
		}
		return nil, fmt.Errorf("pcsc: transmit: %w: the reader returned a %d-byte response", cardedge.ErrNoReader, len(rsp))
	}
	return rsp, nil
}

// BeginTransaction takes the card for this process (SCardBeginTransaction).
func (t *Transport) BeginTransaction() error {
	if t.card == nil {
		if err := t.connect(); err != nil {
			return err
		}
	}
	if err := t.card.BeginTransaction(); err != nil {
		return t.recover("begin transaction", err)
	}
	return nil
}

// EndTransaction releases it, leaving the card as it is.
func (t *Transport) EndTransaction() error {
	if t.card == nil {
		return nil
	}
	if err := t.card.EndTransaction(scard.LeaveCard); err != nil {
		return t.recover("end transaction", err)
	}
	return nil
}

// ATR returns the card's ATR.
func (t *Transport) ATR() []byte { return t.atr }

// Connected asks pcscd, without an APDU, whether this connection still
// reaches the card it was made to: nil if so, ErrNoCard after a removal,
// ErrCardReset (reconnected) after a reset. A PC/SC handle outlives no
// removal, so a live one proves that an insertion event for its reader is
// one the host has already seen.
func (t *Transport) Connected() error {
	if t.card == nil {
		return fmt.Errorf("pcsc: %w: not connected", cardedge.ErrNoCard)
	}
	if _, err := t.card.Status(); err != nil {
		return t.recover("status", err)
	}
	return nil
}

// Reset warm-resets the card (SCardReconnect with SCARD_RESET_CARD).
func (t *Transport) Reset() error {
	if t.card == nil {
		return t.connect()
	}
	if err := t.card.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.ResetCard); err != nil {
		return mapError("reset", err)
	}
	return t.refreshATR()
}

// Close disconnects, leaving the card as it is, and releases the context.
func (t *Transport) Close() error {
	var err error
	if t.card != nil {
		err = t.card.Disconnect(scard.LeaveCard)
		t.card = nil
	}
	if t.ctx != nil {
		t.ctx.Release()
		t.ctx = nil
	}
	return err
}
