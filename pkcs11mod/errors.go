package pkcs11mod

import (
	"context"
	"errors"
)

// errorTable maps errors that are not [Error] values to return values. It
// and [Error] itself are the only way an error becomes a CK_RV; everything
// else is CKR_FUNCTION_FAILED.
var errorTable = []struct {
	target error
	rv     Error
}{
	// A backend operation interrupted by C_Finalize or C_SessionCancel.
	{context.Canceled, CKR_FUNCTION_CANCELED},
	{context.DeadlineExceeded, CKR_FUNCTION_CANCELED},
}

// returnValue converts a Go error into the CK_RV the caller sees.
func returnValue(err error) Error {
	if err == nil {
		return CKR_OK
	}
	var e Error
	if errors.As(err, &e) {
		if e == CKR_OK {
			// A backend bug: an error value that says "success". Failing
			// is the only safe reading.
			return CKR_GENERAL_ERROR
		}
		return e
	}
	for _, m := range errorTable {
		if errors.Is(err, m.target) {
			return m.rv
		}
	}
	return CKR_FUNCTION_FAILED
}

// sessionGone reports whether err means the backend session no longer
// exists, so that pkcs11mod forgets its handle.
func sessionGone(err error) bool {
	switch returnValue(err) {
	case CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT:
		return true
	}
	return false
}
