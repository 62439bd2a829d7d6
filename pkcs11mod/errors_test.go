package pkcs11mod

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestReturnValue(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Error
	}{
		{"nil", nil, CKR_OK},
		{"code", CKR_PIN_INCORRECT, CKR_PIN_INCORRECT},
		{"wrapped code", fmt.Errorf("verify: %w", CKR_PIN_LOCKED), CKR_PIN_LOCKED},
		{"doubly wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", CKR_DEVICE_REMOVED)), CKR_DEVICE_REMOVED},
		{"joined: first code wins", errors.Join(errors.New("x"), CKR_TOKEN_NOT_PRESENT), CKR_TOKEN_NOT_PRESENT},
		{"CKR_OK as an error is a bug", CKR_OK, CKR_GENERAL_ERROR},
		{"cancelled", context.Canceled, CKR_FUNCTION_CANCELED},
		{"wrapped cancelled", fmt.Errorf("wait: %w", context.Canceled), CKR_FUNCTION_CANCELED},
		{"code beats cancellation", fmt.Errorf("%w: %w", CKR_DEVICE_ERROR, context.Canceled), CKR_DEVICE_ERROR},
		{"anything else", errors.New("weird"), CKR_FUNCTION_FAILED},
	}
	for _, tc := range tests {
		if got := returnValue(tc.err); got != tc.want {
			t.Errorf("%s: returnValue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	if got := CKR_BUFFER_TOO_SMALL.Error(); got != "CKR_BUFFER_TOO_SMALL" {
		t.Errorf("Error() = %q", got)
	}
	if got := Error(0x8000_1234).Error(); got != "CKR_0x80001234" {
		t.Errorf("vendor Error() = %q", got)
	}
	if got := CKA_EC_PARAMS.String(); got != "CKA_EC_PARAMS" {
		t.Errorf("alias resolved to %q, want the canonical name", got)
	}
	if got := CKM_SHA256_RSA_PKCS_PSS.String(); got != "CKM_SHA256_RSA_PKCS_PSS" {
		t.Errorf("String() = %q", got)
	}
}

func TestSessionGone(t *testing.T) {
	for _, e := range []Error{CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT} {
		if !sessionGone(fmt.Errorf("x: %w", e)) {
			t.Errorf("%v should end the session", e)
		}
	}
	for _, e := range []error{CKR_PIN_INCORRECT, CKR_DEVICE_ERROR, errors.New("x")} {
		if sessionGone(e) {
			t.Errorf("%v should not end the session", e)
		}
	}
}
