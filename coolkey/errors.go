package coolkey

import (
	"errors"
	"fmt"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// cardError turns an error from a card operation into one that carries the
// CK_RV the caller should see, keeping the original for the log. what names
// the operation ("sign", "login", ...).
//
// The mapping follows the reference host where it has one (9C06 →
// CKR_USER_NOT_LOGGED_IN, removed card → CKR_DEVICE_REMOVED) and otherwise
// reports CKR_DEVICE_ERROR: the card answered something a correct token
// never does.
func cardError(what string, err error) error {
	if err == nil {
		return nil
	}
	var rv p11.Error
	if errors.As(err, &rv) {
		return err
	}
	return &opError{what: what, rv: cardRV(err), err: err}
}

func cardRV(err error) p11.Error {
	switch {
	case errors.Is(err, cardedge.ErrNoCard), errors.Is(err, cardedge.ErrNoReader):
		return p11.CKR_DEVICE_REMOVED
	case errors.Is(err, cardedge.ErrUnauthorized):
		return p11.CKR_USER_NOT_LOGGED_IN
	case errors.Is(err, cardedge.ErrBlocked):
		return p11.CKR_PIN_LOCKED
	case errors.Is(err, cardedge.ErrAuthFailed):
		return p11.CKR_PIN_INCORRECT
	}
	return p11.CKR_DEVICE_ERROR
}

// opError is a failed card operation: the CK_RV for the caller and the
// cause for the log. It never holds a PIN: cardedge errors carry status
// words and instruction bytes only.
type opError struct {
	what string
	rv   p11.Error
	err  error
}

func (e *opError) Error() string { return fmt.Sprintf("coolkey: %s: %v (%v)", e.what, e.err, e.rv) }

// As lets errors.As find the CK_RV (pkcs11mod looks for a p11.Error), while
// Unwrap keeps errors.Is working on the card error.
func (e *opError) As(target any) bool {
	if t, ok := target.(*p11.Error); ok {
		*t = e.rv
		return true
	}
	return false
}

func (e *opError) Unwrap() error { return e.err }

// rvOf returns the CK_RV an error carries, or CKR_FUNCTION_FAILED.
func rvOf(err error) p11.Error {
	var rv p11.Error
	if errors.As(err, &rv) {
		return rv
	}
	return p11.CKR_FUNCTION_FAILED
}
