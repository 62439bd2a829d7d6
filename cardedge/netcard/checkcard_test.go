package netcard

import (
	"context"
	"errors"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

// CheckCard reports removals and resets without an APDU and without ending
// the transaction, once per change, so that a host holding a transaction
// across operations can tell whether the card it selected is still there.
func TestCheckCard(t *testing.T) {
	srv := newFakeServer(t)
	tr, err := Dial(context.Background(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckCard(); err != nil {
		t.Fatalf("unchanged card: %v", err)
	}
	held := func() bool {
		var owned bool
		srv.set(func(s *fakeServer) { owned = s.txOwner != nil })
		return owned
	}
	if !held() {
		t.Fatal("CheckCard ended the transaction")
	}

	// Pulled and put back (a new ATR): a reset, reported once.
	srv.set(func(s *fakeServer) { s.counter++; s.atr = []byte{0x3B, 0x01, 0x99} })
	if err := tr.CheckCard(); !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("after a reinsertion: %v, want ErrCardReset", err)
	}
	if string(tr.ATR()) != string([]byte{0x3B, 0x01, 0x99}) {
		t.Errorf("ATR not refreshed: %X", tr.ATR())
	}
	if err := tr.CheckCard(); err != nil {
		t.Fatalf("second check after the reset: %v", err)
	}

	srv.set(func(s *fakeServer) { s.present = false })
	if err := tr.CheckCard(); !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("card out: %v, want ErrNoCard", err)
	}
	if err := tr.EndTransaction(); err != nil {
		t.Fatal(err)
	}
	srv.close()
	if err := tr.CheckCard(); !errors.Is(err, cardedge.ErrNoReader) {
		t.Errorf("server gone: %v, want ErrNoReader", err)
	}
}
