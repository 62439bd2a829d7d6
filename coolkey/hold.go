package coolkey

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

// Holding the card between operations.
//
// Every operation needs the card to itself (a PC/SC or socket transaction),
// and a new transaction must start with SELECT: another process may have
// selected another applet since our last one. A PKCS#11 client's operations
// come in bursts (C_GetSlotList, C_Login, C_Sign, C_Finalize within a few
// milliseconds), so a slot keeps its transaction open for a short idle time
// after an operation that left the CoolKey applet selected. While the
// transaction is held without a break nobody else can talk to the card, the
// applet stays selected, and the next operation goes straight to its own
// APDUs: a login is one VERIFY, an RSA-2048 signature five APDUs, an ECDSA
// signature one. OpenSC's lock_login holds the card for a whole login
// session; holding only across short gaps keeps it available to others.
//
// The transaction is released when the idle time passes, on any error that
// is not the applet's own status word (the selection can no longer be
// vouched for), on a card event (removal, insertion, reset), before
// C_WaitForSlotEvent blocks, and at C_Finalize. Under continuous use it is
// held for at most holdPolicy.max and then left alone for
// holdPolicy.cooldown, during which each operation takes and releases its
// own transaction as without holding: pcsc-lite's SCardBeginTransaction
// retries only every 100 ms, and a process that never let go would starve
// the others.

// HoldEnv sets how long a slot keeps its card transaction open after an
// operation: a Go duration ("25ms") or a number of milliseconds, at most
// maxHoldIdle; "0" or "off" turns holding off.
const HoldEnv = "COOLKEY_HOLD"

const (
	// defaultHoldIdle covers the gaps between the calls of one client
	// action (pkcs11-tool --login --sign: a few ms each) with room for a
	// loaded machine, and is short enough that another process waiting
	// for the card hardly notices.
	defaultHoldIdle = 25 * time.Millisecond
	// maxHoldIdle bounds a configured idle time: holding a card for
	// seconds after use would lock other programs out of it.
	maxHoldIdle = time.Second
	// minHoldMax is the shortest continuous hold under sustained use,
	// whatever the idle time.
	minHoldMax = 100 * time.Millisecond
)

// holdPolicy says how long slots keep their card transactions. The zero
// value never holds.
type holdPolicy struct {
	// idle is how long a transaction stays open after an operation.
	idle time.Duration
	// max bounds one continuous hold; once it is reached the transaction
	// is released at the end of the operation and none is held for
	// cooldown.
	max, cooldown time.Duration
}

// newHoldPolicy returns the policy for an idle time (0: no holding): a
// continuous hold lasts at most four idle times (at least minHoldMax), and
// the card is then left alone for twice that, more than one retry period
// of pcsc-lite's waiting processes.
func newHoldPolicy(idle time.Duration) holdPolicy {
	if idle <= 0 {
		return holdPolicy{}
	}
	max := max(4*idle, minHoldMax)
	return holdPolicy{idle: idle, max: max, cooldown: 2 * max}
}

// parseHoldIdle reads HoldEnv's value; empty means the default.
func parseHoldIdle(v string) (time.Duration, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	switch v {
	case "":
		return defaultHoldIdle, nil
	case "off", "no", "false", "0":
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		ms, err2 := strconv.ParseUint(v, 10, 32)
		if err2 != nil {
			return 0, fmt.Errorf("%s=%q: not a duration", HoldEnv, v)
		}
		d = time.Duration(ms) * time.Millisecond
	}
	if d < 0 || d > maxHoldIdle {
		return 0, fmt.Errorf("%s=%q: outside 0 to %v", HoldEnv, v, maxHoldIdle)
	}
	return d, nil
}

// cardChecker is implemented by transports that must be asked whether the
// card changed before a held transaction is reused (netcard: its server
// drops a transaction silently when the card is removed). PC/SC needs no
// check: pcsc-lite makes other handles' resets wait for our transaction,
// and after a removal or a pcscd restart the next SCardTransmit fails
// without sending anything. The in-process virtual card behaves the same.
type cardChecker interface {
	CheckCard() error
}

// heldTransport is a slot's transport whose transaction can outlive the
// operation that opened it. cardedge.Card brackets each operation with
// BeginTransaction and EndTransaction; while hold is set, EndTransaction
// leaves the transaction open and the next BeginTransaction joins it.
// Guarded by the slot's mutex, like the Card on top of it.
type heldTransport struct {
	cardedge.Transport
	// check re-checks the card before a held transaction is reused; nil
	// when the transport needs no check.
	check func() error
	// connected reports whether the connection still reaches the card it
	// was made to (PC/SC); nil when the transport cannot tell.
	connected func() error
	// hold makes EndTransaction leave the transaction open.
	hold bool
	// open is whether a transaction is open on the card, since when.
	open  bool
	since time.Time
	// selected is whether the CoolKey applet is known to be selected in
	// the open transaction.
	selected bool
}

func newHeldTransport(t cardedge.Transport, raw cardedge.Transport) *heldTransport {
	h := &heldTransport{Transport: t}
	if c, ok := raw.(cardChecker); ok {
		h.check = c.CheckCard
	}
	if c, ok := raw.(interface{ Connected() error }); ok {
		h.connected = c.Connected
	}
	return h
}

// BeginTransaction joins the held transaction, after checking the card when
// the transport needs it, or opens one.
func (h *heldTransport) BeginTransaction() error {
	if h.open {
		if h.check == nil {
			return nil
		}
		err := h.check()
		if err != nil {
			h.release()
		}
		return err
	}
	if err := h.Transport.BeginTransaction(); err != nil {
		return err
	}
	h.open, h.since, h.selected = true, time.Now(), false
	return nil
}

// EndTransaction ends the transaction unless it is to be held.
func (h *heldTransport) EndTransaction() error {
	if h.hold && h.open {
		// The count file is written at the end of every operation, as
		// it would be when its transaction ended.
		writeAPDUCount()
		return nil
	}
	return h.release()
}

// release ends the transaction if one is open.
func (h *heldTransport) release() error {
	if !h.open {
		return nil
	}
	h.open, h.selected = false, false
	return h.Transport.EndTransaction()
}

func (h *heldTransport) Close() error {
	h.open, h.selected = false, false
	return h.Transport.Close()
}

// appletAnswer reports whether err is the CoolKey applet answering with
// one of its own status words, after which it is still selected.
func appletAnswer(err error) bool {
	var se *cardedge.StatusError
	return errors.As(err, &se) && se.SW.SW1() == 0x9C
}

// beginOpLocked prepares the slot's connection for an operation: the idle
// timer is stopped, and the transaction will be held afterwards unless
// holding is off or cooling down.
func (s *slot) beginOpLocked() {
	s.stopIdleLocked()
	if s.conn != nil {
		s.conn.hold = s.b.hold.idle > 0 && !time.Now().Before(s.noHoldUntil)
	}
}

// endOpLocked decides, once an operation's transaction would have ended,
// whether it stays open: only when the operation succeeded or the applet
// itself answered, the applet is known selected, and the hold has not
// lasted its maximum. A held transaction is released when the idle time
// passes.
func (s *slot) endOpLocked(err error) {
	h := s.conn
	if h == nil {
		return
	}
	h.hold = false
	switch {
	case !h.open:
	case err != nil && !appletAnswer(err), !h.selected:
		s.releaseLocked()
	case time.Since(h.since) >= s.b.hold.max:
		s.releaseLocked()
		s.noHoldUntil = time.Now().Add(s.b.hold.cooldown)
	default:
		s.armIdleLocked()
	}
}

// armIdleLocked starts the idle timer. A timer that fires while an
// operation runs finds the generation moved on and does nothing.
func (s *slot) armIdleLocked() {
	s.stopIdleLocked()
	gen := s.idleGen
	s.idle = time.AfterFunc(s.b.hold.idle, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.idleGen == gen {
			s.releaseLocked()
		}
	})
}

func (s *slot) stopIdleLocked() {
	s.idleGen++
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
}

// releaseLocked ends a held transaction. A failure to end it says the card
// was reset or went away in the meantime; the login is then gone too, and
// the monitor reports the event.
func (s *slot) releaseLocked() {
	s.stopIdleLocked()
	if s.conn == nil || !s.conn.open {
		return
	}
	if err := s.conn.release(); err != nil {
		s.log().Info("releasing the card transaction failed", "err", err)
		if errors.Is(err, cardedge.ErrCardReset) || errors.Is(err, cardedge.ErrNoCard) || errors.Is(err, cardedge.ErrNoReader) {
			s.card.ForgetLogin()
			if tok := s.tok.Load(); tok != nil {
				tok.loggedIn.Store(false)
			}
		}
	}
}

// releaseIdle ends the slot's held transaction now, if the slot is idle.
// A slot busy with an operation is left alone (the wait could be long, a
// card's key generation takes seconds): its transaction is released once
// the operation ends and the idle time passes.
func (s *slot) releaseIdle() {
	if !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	s.releaseLocked()
}

// holding reports whether the slot holds a transaction (for tests).
func (s *slot) holding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil && s.conn.open
}
