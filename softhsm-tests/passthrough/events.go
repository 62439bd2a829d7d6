package main

import (
	"context"
	"os"

	"github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// Slot events cannot be forwarded: miekg/pkcs11's WaitForSlotEvent drops
// the target's return value. Without events the pass-through answers
// C_WaitForSlotEvent with CKR_FUNCTION_NOT_SUPPORTED, like any backend
// without the capability.
//
// With PASSTHROUGH_SYNTHETIC_EVENTS=1 it instead reports slot events from a
// synthetic source that never has one: polls get CKR_NO_EVENT and blocking
// waits last until C_Finalize. That is what the C ABI tests need to check
// C_WaitForSlotEvent through the C entry points, threads included; it is not
// a pass-through of the target.
type syntheticEvents struct{ *backend }

func (syntheticEvents) WaitForSlotEvent(ctx context.Context) (pkcs11mod.SlotID, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func (syntheticEvents) PollSlotEvent() (pkcs11mod.SlotID, bool, error) { return 0, false, nil }

var _ pkcs11mod.SlotEventSource = syntheticEvents{}

func withEvents(b *backend) pkcs11mod.Backend {
	if os.Getenv("PASSTHROUGH_SYNTHETIC_EVENTS") == "1" {
		return syntheticEvents{b}
	}
	return b
}
