// Package cardedge is the host side of the CoolKey applet's APDU card edge:
// transports that carry APDUs to a card (PC/SC, a socket to a virtual card,
// or an in-process card), the CoolKey instructions as typed functions, status
// words as typed errors, and the codecs of the card's object formats (the
// combined z0 object, v0 objects, CPLC).
package cardedge

import "errors"

// Transport carries APDUs to one card. It moves bytes only: it does not
// interpret status words (T=0 GET RESPONSE and 6Cxx re-sends are handled above
// it, once for every transport).
//
// A Transport is used by one goroutine at a time; callers serialise with a
// mutex and bracket each logical operation with BeginTransaction and
// EndTransaction so that other processes cannot interleave APDUs.
type Transport interface {
	// Transmit sends one command APDU and returns the response APDU
	// (data ‖ SW1 ‖ SW2).
	Transmit(cmd []byte) ([]byte, error)
	// BeginTransaction takes exclusive access to the card.
	BeginTransaction() error
	// EndTransaction releases it, leaving the card as it is.
	EndTransaction() error
	// ATR returns the card's answer to reset.
	ATR() []byte
	// Reset warm-resets the card. Volatile card state (selected applet,
	// login nonce, secure channel) is lost.
	Reset() error
	// Close disconnects from the card, leaving it as it is.
	Close() error
}

// Errors every Transport returns (possibly wrapped) so that callers can react
// to the card's state without knowing the transport.
var (
	// ErrNoCard: the card was removed, or no card is present.
	ErrNoCard = errors.New("cardedge: no card present")
	// ErrCardReset: the card was reset by another party since we last used
	// it; volatile state (selected applet, login) is gone. The transport has
	// reconnected, so the next call can proceed.
	ErrCardReset = errors.New("cardedge: card was reset")
	// ErrNoReader: the reader went away (unplugged, or the service stopped).
	ErrNoReader = errors.New("cardedge: reader not available")
)
