package vcard

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

func TestTransport(t *testing.T) {
	slot := NewSlot(newTestCard(t, testImage(t), Options{}))
	a, err := NewTransport(slot)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewTransport(slot)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !bytes.Equal(a.ATR(), DefaultATR) {
		t.Fatalf("ATR % X", a.ATR())
	}
	send := func(tr *Transport, cmd string) ([]byte, error) {
		t.Helper()
		return tr.Transmit(unhex(t, cmd))
	}
	if resp, err := send(a, selectCoolKey); err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT: % X %v", resp, err)
	}

	// Transactions exclude the other transport.
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := send(b, "B0 3C 00 00 10")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("b got through a's transaction (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := send(a, "B0 3C 00 00 10"); err != nil {
		t.Fatal(err)
	}
	a.EndTransaction()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A reset by b is reported to a once; b itself is not told.
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := send(b, selectCoolKey); err != nil {
		t.Fatalf("b after its own reset: %v", err)
	}
	if _, err := send(a, "B0 3C 00 00 10"); !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("a after b's reset: %v", err)
	}
	if _, err := send(a, "B0 3C 00 00 10"); err != nil {
		t.Fatalf("a the second time: %v", err)
	}

	// A power-down by someone else is a reset too.
	slot.PowerOff(nil)
	if err := a.BeginTransaction(); !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("after power-down: %v", err)
	}
	if resp, err := send(a, "B0 3C 00 00 10"); err != nil || !bytes.Equal(resp, []byte{0x6E, 0x00}) {
		t.Fatalf("the applet stayed selected across a power-down: % X %v", resp, err)
	}

	// Removal.
	slot.Remove()
	if _, err := send(a, selectCoolKey); !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("without a card: %v", err)
	}
	if a.ATR() != nil {
		t.Fatal("ATR without a card")
	}
	if _, err := NewTransport(slot); !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("connect without a card: %v", err)
	}
	slot.Insert()
	if _, err := send(a, selectCoolKey); !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("after reinsertion: %v", err)
	}
	a.Close()
	if _, err := send(a, selectCoolKey); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestSlotReleasesTransactionOnRemoval(t *testing.T) {
	slot := NewSlot(newTestCard(t, testImage(t), Options{}))
	owner := new(int)
	if err := slot.Begin(owner); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- slot.Begin(new(int)) }()
	slot.Remove()
	if err := <-done; !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("waiting transaction after removal: %v", err)
	}
	slot.Insert()
	if err := slot.Begin(new(int)); err != nil {
		t.Fatalf("transaction after reinsertion: %v", err)
	}
}
