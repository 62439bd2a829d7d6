package pcsc

import (
	"errors"
	"fmt"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/ebfe/scard"
)

func TestMapError(t *testing.T) {
	tests := []struct {
		in   error
		want error
	}{
		{scard.ErrNoSmartcard, cardedge.ErrNoCard},
		{scard.ErrRemovedCard, cardedge.ErrNoCard},
		{scard.ErrUnpoweredCard, cardedge.ErrNoCard},
		{scard.ErrResetCard, cardedge.ErrCardReset},
		{scard.ErrUnknownReader, cardedge.ErrNoReader},
		{scard.ErrReaderUnavailable, cardedge.ErrNoReader},
		{scard.ErrNoService, cardedge.ErrNoReader},
		{scard.ErrServiceStopped, cardedge.ErrNoReader},
		{fmt.Errorf("wrapped: %w", scard.ErrNoSmartcard), cardedge.ErrNoCard},
	}
	for _, tt := range tests {
		err := mapError("op", tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("mapError(%v) = %v, want %v", tt.in, err, tt.want)
		}
		if !errors.As(err, new(scard.Error)) && errors.As(tt.in, new(scard.Error)) {
			t.Errorf("mapError(%v) lost the PC/SC error", tt.in)
		}
	}
	if err := mapError("op", scard.ErrSharingViolation); errors.Is(err, cardedge.ErrNoCard) || errors.Is(err, cardedge.ErrNoReader) || !errors.Is(err, scard.ErrSharingViolation) {
		t.Errorf("sharing violation mapped to %v", err)
	}
	if mapError("op", nil) != nil {
		t.Error("nil mapped to an error")
	}
}

func TestCardDiff(t *testing.T) {
	st := func(present bool, count uint32) readerState {
		f := scard.StateEmpty
		if present {
			f = scard.StatePresent
		}
		return readerState{flags: f | scard.StateFlag(count<<16)}
	}
	tests := []struct {
		old, now readerState
		want     cardedge.EventKind
	}{
		{st(false, 0), st(true, 1), cardedge.CardInserted},
		{st(true, 1), st(false, 2), cardedge.CardRemoved},
		{st(true, 1), st(true, 1), 0},
		{st(true, 1), st(true, 3), cardedge.CardRemoved | cardedge.CardInserted},
		{st(false, 2), st(false, 4), 0},
		{readerState{}, st(true, 5), cardedge.CardInserted}, // reader just added, card in it
		{readerState{}, st(false, 5), 0},
	}
	for _, tt := range tests {
		if got := cardDiff(tt.old, tt.now); got != tt.want {
			t.Errorf("cardDiff(%#x, %#x) = %v, want %v", tt.old.flags, tt.now.flags, got, tt.want)
		}
	}
}

func TestSplitMultiString(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"Virtual PCD 00 00\x00\x00", []string{"Virtual PCD 00 00"}},
		{"A\x00B\x00\x00", []string{"A", "B"}},
		{"A\x00B", []string{"A", "B"}}, // unterminated: keep what is there
	}
	for _, tt := range tests {
		got := splitMultiString([]byte(tt.in))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
			t.Errorf("splitMultiString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
