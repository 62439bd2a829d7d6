package netcard

import (
	"context"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

// A change right after NewMonitor returns is reported: the baseline is
// taken before it returns, so a caller that lists readers afterwards cannot
// lose an event in between (found by reliability's removal tests: a card
// pulled and reinserted between C_Initialize and the monitor's first look
// left its slot empty for good).
func TestMonitorBaselineBeforeReturn(t *testing.T) {
	for i := 0; i < 20; i++ {
		srv := newFakeServer(t)
		src := NewSource(Endpoint{Name: "sock 0", Addr: srv.addr()})
		src.PollInterval = 20 * time.Millisecond
		m, err := src.NewMonitor()
		if err != nil {
			t.Fatal(err)
		}
		srv.set(func(s *fakeServer) { s.counter++ }) // pulled and put back at once
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		e, err := m.Wait(ctx)
		cancel()
		m.Close()
		if err != nil || e.Kinds&cardedge.CardReset == 0 {
			t.Fatalf("round %d: %v %v, want a reset event", i, e, err)
		}
	}
}
