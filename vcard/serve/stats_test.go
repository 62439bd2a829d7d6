package serve

import (
	"context"
	"net"
	"testing"
)

func TestStats(t *testing.T) {
	slot := formattedSlot(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stats := &Stats{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, slot, ln, Options{Logf: t.Logf, Stats: stats}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// netcard.Dial asks for the card state and the ATR: two control frames.
	tr := dial(t, ln.Addr().String())
	before := stats.Snapshot()
	if before.APDUs != 0 || before.Controls == 0 {
		t.Fatalf("after dialling: %+v", before)
	}
	mustTransmit(t, tr, selectApplet)
	mustTransmit(t, tr, getStatus)
	if err := tr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	mustTransmit(t, tr, getStatus)
	if err := tr.EndTransaction(); err != nil {
		t.Fatal(err)
	}
	got := stats.Snapshot().Sub(before)
	if got.APDUs != 3 {
		t.Errorf("APDUs = %d, want 3", got.APDUs)
	}
	// Begin and end, plus whatever state queries the transport makes.
	if got.Controls < 2 {
		t.Errorf("control frames = %d, want at least 2", got.Controls)
	}
	if got.CardTime <= 0 {
		t.Errorf("card time = %v", got.CardTime)
	}

	// Without a card an APDU still reaches the card's side and counts.
	slot.Remove()
	tr.Transmit(getStatus)
	if n := stats.Snapshot().Sub(before).APDUs; n != 4 {
		t.Errorf("APDUs after one without a card = %d, want 4", n)
	}

	// A nil Stats counts nothing and does not panic.
	var none *Stats
	none.apdu(1)
	none.control()
}
