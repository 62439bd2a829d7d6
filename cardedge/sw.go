package cardedge

import (
	"errors"
	"fmt"
)

// SW is a status word, SW1‖SW2.
type SW uint16

// SWSuccess is the only status word this package treats as success.
//
// The reference host also accepts any 63xx as success
// (CKYApplet_VerifyResponse). We deliberately do not: the CoolKey applet
// never sends 63xx, and in ISO 7816-4 63xx means "warning, state changed",
// 6300 "authentication failed" and 63Cx "verification failed, x tries left".
// Accepting those as success would, for instance, turn a failed VERIFY on a
// non-CoolKey applet into a login. 6300 and 63Cx are reported as
// ErrAuthFailed; other 63xx as a plain *StatusError.
const SWSuccess SW = 0x9000

// SW1 returns the first status byte.
func (sw SW) SW1() byte { return byte(sw >> 8) }

// SW2 returns the second status byte.
func (sw SW) SW2() byte { return byte(sw) }

func (sw SW) String() string { return fmt.Sprintf("%04X", uint16(sw)) }

// Err returns nil for 9000 and a *StatusError otherwise.
func (sw SW) Err() error {
	if sw == SWSuccess {
		return nil
	}
	return &StatusError{SW: sw}
}

// Sentinel errors a *StatusError matches with errors.Is. Some status words
// match more than one (6A82 is both ErrNotFound and ErrFileNotFound; 6982
// is both ErrSecurityStatus and ErrUnauthorized) so that callers can test
// for the class of failure they care about.
var (
	ErrNoMemory               = errors.New("cardedge: card memory full or size invalid")          // 9C01
	ErrAuthFailed             = errors.New("cardedge: authentication failed")                     // 9C02, 6300, 63Cx
	ErrOperationNotAllowed    = errors.New("cardedge: operation not allowed")                     // 9C03
	ErrUnsupportedFeature     = errors.New("cardedge: unsupported feature")                       // 9C05
	ErrUnauthorized           = errors.New("cardedge: not authorized")                            // 9C06, 6982, 6985
	ErrNotFound               = errors.New("cardedge: not found")                                 // 9C07, 6A82
	ErrObjectExists           = errors.New("cardedge: object already exists")                     // 9C08
	ErrIncorrectAlgorithm     = errors.New("cardedge: incorrect algorithm")                       // 9C09
	ErrSignatureInvalid       = errors.New("cardedge: signature self-check failed")               // 9C0B
	ErrBlocked                = errors.New("cardedge: identity blocked")                          // 9C0C, 6983
	ErrUnspecified            = errors.New("cardedge: unspecified card error")                    // 9C0D, 6F00
	ErrInvalidParameter       = errors.New("cardedge: invalid parameter")                         // 9C0F
	ErrIncorrectP1            = errors.New("cardedge: incorrect P1 (no such key, PIN or object)") // 9C10
	ErrIncorrectP2            = errors.New("cardedge: incorrect P2")                              // 9C11
	ErrSequenceEnd            = errors.New("cardedge: end of sequence")                           // 9C12
	ErrDirectionUnsupported   = errors.New("cardedge: crypt direction unsupported")               // 9C13
	ErrDirectionInvalid       = errors.New("cardedge: crypt direction invalid")                   // 9C14
	ErrLocationUnsupported    = errors.New("cardedge: data location unsupported")                 // 9C15
	ErrLocationInvalid        = errors.New("cardedge: data location invalid")                     // 9C16
	ErrKeyTypeUnsupported     = errors.New("cardedge: key type unsupported")                      // 9C17
	ErrKeyTypeInvalid         = errors.New("cardedge: key type invalid")                          // 9C18
	ErrDataChunkSize          = errors.New("cardedge: input length does not match the key")       // 9C19
	ErrKeySize                = errors.New("cardedge: key size error")                            // 9C1A
	ErrCipherModeUnsupported  = errors.New("cardedge: cipher mode unsupported")                   // 9C1B
	ErrCipherModeInvalid      = errors.New("cardedge: cipher mode invalid")                       // 9C1C
	ErrOutputBufferTooSmall   = errors.New("cardedge: output buffer too small")                   // 9C1D
	ErrInconsistentKeyPairing = errors.New("cardedge: key pair mates do not match")               // 9C1E
	ErrInputBufferTooSmall    = errors.New("cardedge: input buffer too small")                    // 9C1F
	ErrBadWrappedKey          = errors.New("cardedge: wrapped key rejected")                      // 9C20
	ErrBadAlgIDForKey         = errors.New("cardedge: PKCS#8 algorithm does not match the key")   // 9C21
	ErrBadWrappedPrivateKey   = errors.New("cardedge: unwrapped private key is not DER")          // 9C22
	ErrInternal               = errors.New("cardedge: card internal error")                       // 9CFF
	ErrWrongLength            = errors.New("cardedge: wrong length")                              // 6700, 6Cxx
	ErrINSNotSupported        = errors.New("cardedge: instruction not supported")                 // 6D00
	ErrCLANotSupported        = errors.New("cardedge: class not supported")                       // 6E00
	ErrSecurityStatus         = errors.New("cardedge: security status not satisfied")             // 6982
	ErrConditionsNotSatisfied = errors.New("cardedge: conditions of use not satisfied")           // 6985
	ErrDataInvalid            = errors.New("cardedge: data invalid")                              // 6984
	ErrFileNotFound           = errors.New("cardedge: file or application not found")             // 6A82
)

// swSentinels lists the sentinels each exactly-known status word matches.
var swSentinels = map[SW][]error{
	0x9C01: {ErrNoMemory},
	0x9C02: {ErrAuthFailed},
	0x9C03: {ErrOperationNotAllowed},
	0x9C05: {ErrUnsupportedFeature},
	0x9C06: {ErrUnauthorized},
	0x9C07: {ErrNotFound},
	0x9C08: {ErrObjectExists},
	0x9C09: {ErrIncorrectAlgorithm},
	0x9C0B: {ErrSignatureInvalid},
	0x9C0C: {ErrBlocked},
	0x9C0D: {ErrUnspecified},
	0x9C0F: {ErrInvalidParameter},
	0x9C10: {ErrIncorrectP1},
	0x9C11: {ErrIncorrectP2},
	0x9C12: {ErrSequenceEnd},
	0x9C13: {ErrDirectionUnsupported},
	0x9C14: {ErrDirectionInvalid},
	0x9C15: {ErrLocationUnsupported},
	0x9C16: {ErrLocationInvalid},
	0x9C17: {ErrKeyTypeUnsupported},
	0x9C18: {ErrKeyTypeInvalid},
	0x9C19: {ErrDataChunkSize},
	0x9C1A: {ErrKeySize},
	0x9C1B: {ErrCipherModeUnsupported},
	0x9C1C: {ErrCipherModeInvalid},
	0x9C1D: {ErrOutputBufferTooSmall},
	0x9C1E: {ErrInconsistentKeyPairing},
	0x9C1F: {ErrInputBufferTooSmall},
	0x9C20: {ErrBadWrappedKey},
	0x9C21: {ErrBadAlgIDForKey},
	0x9C22: {ErrBadWrappedPrivateKey},
	0x9CFF: {ErrInternal},
	0x6300: {ErrAuthFailed},
	0x6700: {ErrWrongLength},
	0x6982: {ErrSecurityStatus, ErrUnauthorized},
	0x6983: {ErrBlocked},
	0x6984: {ErrDataInvalid},
	0x6985: {ErrConditionsNotSatisfied, ErrUnauthorized},
	0x6A82: {ErrFileNotFound, ErrNotFound},
	0x6D00: {ErrINSNotSupported},
	0x6E00: {ErrCLANotSupported},
	0x6F00: {ErrUnspecified},
}

// swNames are the applet's own names for its 9Cxx codes, used in messages.
var swNames = map[SW]string{
	0x9C01: "NO_MEMORY_LEFT", 0x9C02: "AUTH_FAILED", 0x9C03: "OPERATION_NOT_ALLOWED",
	0x9C05: "UNSUPPORTED_FEATURE", 0x9C06: "UNAUTHORIZED", 0x9C07: "OBJECT_NOT_FOUND",
	0x9C08: "OBJECT_EXISTS", 0x9C09: "INCORRECT_ALG", 0x9C0B: "SIGNATURE_INVALID",
	0x9C0C: "IDENTITY_BLOCKED", 0x9C0D: "UNSPECIFIED_ERROR", 0x9C0F: "INVALID_PARAMETER",
	0x9C10: "INCORRECT_P1", 0x9C11: "INCORRECT_P2", 0x9C12: "SEQUENCE_END",
	0x9C13: "DIRECTION_UNSUPPORTED", 0x9C14: "DIRECTION_INVALID", 0x9C15: "LOCATION_UNSUPPORTED",
	0x9C16: "LOCATION_INVALID", 0x9C17: "KEY_TYPE_UNSUPPORTED", 0x9C18: "KEY_TYPE_INVALID",
	0x9C19: "DATA_CHUNK_SIZE_ERROR", 0x9C1A: "KEY_SIZE_ERROR", 0x9C1B: "CIPH_MODE_UNSUPPORTED",
	0x9C1C: "CIPH_MODE_INVALID", 0x9C1D: "OUT_BUF_TOO_SMALL", 0x9C1E: "INCONSTANT_KEYPAIRING",
	0x9C1F: "IN_BUF_TOO_SMALL", 0x9C20: "BAD_WRAPPED_KEY", 0x9C21: "BAD_ALGID_FOR_KEY",
	0x9C22: "BAD_WRAPPED_PRIV_KEY", 0x9CFF: "INTERNAL_ERROR",
	0x6300: "authentication failed", 0x6700: "wrong length", 0x6982: "security status not satisfied",
	0x6983: "authentication method blocked", 0x6984: "data invalid",
	0x6985: "conditions of use not satisfied", 0x6A82: "file or application not found",
	0x6D00: "INS not supported", 0x6E00: "CLA not supported", 0x6F00: "no precise diagnosis",
}

// StatusError is a command that the card answered with a status word other
// than 9000. It matches the sentinels above with errors.Is, and another
// *StatusError with the same SW.
type StatusError struct {
	SW SW
	// INS is the instruction that failed, for messages; 0 when unknown.
	INS byte
}

func (e *StatusError) Error() string {
	name := swNames[e.SW]
	switch {
	case name == "" && e.SW&0xFFF0 == 0x63C0:
		name = fmt.Sprintf("verification failed, %d tries left", e.SW&0x0F)
	case name == "" && e.SW.SW1() == 0x6C:
		name = fmt.Sprintf("wrong Le, %d expected", e.SW.SW2())
	case name == "":
		name = "unknown status"
	}
	if e.INS != 0 {
		return fmt.Sprintf("cardedge: INS %02X: status %s (%s)", e.INS, e.SW, name)
	}
	return fmt.Sprintf("cardedge: status %s (%s)", e.SW, name)
}

// Is reports whether target is one of the sentinels for e.SW, or a
// *StatusError with the same status word.
func (e *StatusError) Is(target error) bool {
	if t, ok := target.(*StatusError); ok {
		return t.SW == e.SW
	}
	for _, s := range swSentinels[e.SW] {
		if s == target {
			return true
		}
	}
	switch {
	case e.SW&0xFFF0 == 0x63C0:
		return target == ErrAuthFailed
	case e.SW.SW1() == 0x6C:
		return target == ErrWrongLength
	}
	return false
}

// TriesLeft returns the retry counter an ISO 63Cx status word carries. The
// CoolKey applet never sends one (use GET PIN REMAINING TRIES instead).
func (e *StatusError) TriesLeft() (int, bool) {
	if e.SW&0xFFF0 == 0x63C0 {
		return int(e.SW & 0x0F), true
	}
	return 0, false
}

// ErrMalformedResponse is matched by errors about response data that does not
// have the shape the command defines (wrong length, bad inner length fields).
var ErrMalformedResponse = errors.New("cardedge: malformed response")

// ResponseLengthError reports a response whose data length differs from what
// the command defines. The reference host rejects these too.
type ResponseLengthError struct {
	INS       byte
	Want, Got int
}

func (e *ResponseLengthError) Error() string {
	return fmt.Sprintf("cardedge: INS %02X: response has %d data bytes, want %d", e.INS, e.Got, e.Want)
}

// Is makes a ResponseLengthError match ErrMalformedResponse.
func (e *ResponseLengthError) Is(target error) bool { return target == ErrMalformedResponse }
