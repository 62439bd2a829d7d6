package esc

import (
	"errors"
	"fmt"

	"github.com/coolkey-go/coolkey-go/tps"
)

// Kind classifies a failure by who can fix it.
type Kind int

const (
	// KindInternal: a bug or an unexpected local failure.
	KindInternal Kind = iota
	// KindUser: the request cannot be carried out as given (bad flags, no
	// card chosen, a PIN outside the TPS's rules, no TPS URL known).
	KindUser
	// KindRefused: the TPS ended the operation with an error (END_OP
	// result 1): wrong password, policy, server trouble.
	KindRefused
	// KindConnection: the TPS could not be reached, or the connection
	// failed or went silent before END_OP.
	KindConnection
	// KindTrust: the TPS's certificate is not trusted.
	KindTrust
	// KindCard: no card, the card was removed, or it failed an exchange.
	KindCard
	// KindCancelled: the user or caller cancelled.
	KindCancelled
)

func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user error"
	case KindRefused:
		return "refused by the TPS"
	case KindConnection:
		return "connection failure"
	case KindTrust:
		return "untrusted TPS certificate"
	case KindCard:
		return "card failure"
	case KindCancelled:
		return "cancelled"
	}
	return "internal error"
}

// Exit codes of the coolkey commands that use this package.
const (
	ExitOK         = 0
	ExitInternal   = 1
	ExitUsage      = 2
	ExitRefused    = 3
	ExitConnection = 4
	ExitTrust      = 5
	ExitCard       = 6
	ExitCancelled  = 7
)

// ExitCode maps a kind to the process exit code.
func (k Kind) ExitCode() int {
	switch k {
	case KindUser:
		return ExitUsage
	case KindRefused:
		return ExitRefused
	case KindConnection:
		return ExitConnection
	case KindTrust:
		return ExitTrust
	case KindCard:
		return ExitCard
	case KindCancelled:
		return ExitCancelled
	}
	return ExitInternal
}

// Error is a classified failure. For KindRefused, Status is the TPS's
// END_OP code; for failures this client detects itself it is the code the
// ESC would have reported (e.g. 28 for a lost connection, 8 for a card
// exchange failure).
type Error struct {
	Kind   Kind
	Status tps.Status
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Err != nil {
		if s != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func newErr(k Kind, st tps.Status, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Status: st, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of err (KindInternal when it is not an *Error).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ExitCode returns the exit code for err (0 for nil).
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	return KindOf(err).ExitCode()
}
