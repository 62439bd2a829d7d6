package gp

import (
	"errors"
	"fmt"
)

// Status words a GlobalPlatform security domain answers on secure-channel
// failures.
const (
	SWOK                     uint16 = 0x9000
	SWAuthenticationFailed   uint16 = 0x6300 // host cryptogram wrong
	SWWrongLength            uint16 = 0x6700
	SWSecurityNotSatisfied   uint16 = 0x6982 // bad C-MAC, replay, no channel
	SWConditionsNotSatisfied uint16 = 0x6985 // out of sequence, bad security level
	SWWrongData              uint16 = 0x6A80 // malformed command data (PUT KEY)
	SWWrongP1P2              uint16 = 0x6A86
	SWReferencedDataNotFound uint16 = 0x6A88 // no key set with that version
	SWINSNotSupported        uint16 = 0x6D00
	SWCLANotSupported        uint16 = 0x6E00
)

// Reasons behind a StatusError, for errors.Is. Host-side checks that have no
// status word (a wrong card cryptogram) return them wrapped in a plain error.
var (
	// ErrNoChannel: a wrapped command arrived with no open secure channel
	// (never opened, or closed by an earlier failure).
	ErrNoChannel = errors.New("no secure channel open")
	// ErrBadMAC: the C-MAC did not verify. A replayed or reordered command
	// fails this way too, since the MAC chains from the previous one.
	ErrBadMAC = errors.New("C-MAC verification failed")
	// ErrBadPadding: the decrypted command data was not well formed.
	ErrBadPadding = errors.New("decrypted command data malformed")
	// ErrAuthFailed: the host cryptogram in EXTERNAL AUTHENTICATE was wrong.
	ErrAuthFailed = errors.New("host cryptogram verification failed")
	// ErrCardCryptogram: the card cryptogram in the INITIALIZE UPDATE answer
	// was wrong (host side: wrong keys, or not the card we think).
	ErrCardCryptogram = errors.New("card cryptogram verification failed")
	// ErrKeyVersion: INITIALIZE UPDATE named a key version the card lacks.
	ErrKeyVersion = errors.New("key set version not found")
	// ErrSequence: EXTERNAL AUTHENTICATE without a preceding INITIALIZE
	// UPDATE.
	ErrSequence = errors.New("command out of sequence")
	// ErrSecurityLevel: EXTERNAL AUTHENTICATE asked for a level other than
	// 01 (C-MAC) or 03 (C-MAC and C-DECRYPTION).
	ErrSecurityLevel = errors.New("unsupported security level")
	// ErrLength: a command of the wrong length or structure.
	ErrLength = errors.New("wrong length")
	// ErrBadKeyData: wrapped key data that does not parse or whose key
	// check value does not match.
	ErrBadKeyData = errors.New("bad wrapped key data")
	// ErrCardStatus: the card answered a status word this package did not
	// expect (host side).
	ErrCardStatus = errors.New("card returned an error status")
)

// StatusError is a failure the card must answer with status word SW; the
// host side returns it too when the card answered with SW. Err is one of the
// Err* reasons above, so both errors.Is(err, ErrBadMAC) and
// errors.As(err, &statusErr) work.
type StatusError struct {
	SW  uint16
	Err error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("gp: %v (SW %04X)", e.Err, e.SW)
}

func (e *StatusError) Unwrap() error { return e.Err }

// Bytes returns SW1 SW2, ready to append to a response.
func (e *StatusError) Bytes() []byte { return []byte{byte(e.SW >> 8), byte(e.SW)} }

func statusError(sw uint16, err error) *StatusError { return &StatusError{SW: sw, Err: err} }

// StatusWord extracts the status word a card should answer for err: the SW of
// a StatusError in its chain, or ok=false.
func StatusWord(err error) (sw uint16, ok bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.SW, true
	}
	return 0, false
}

// cardStatusError turns a non-9000 status word from a card into an error,
// naming the reason where the SW has a secure-channel meaning.
func cardStatusError(sw uint16) *StatusError {
	switch sw {
	case SWReferencedDataNotFound:
		return statusError(sw, ErrKeyVersion)
	case SWAuthenticationFailed:
		return statusError(sw, ErrAuthFailed)
	}
	return statusError(sw, ErrCardStatus)
}
