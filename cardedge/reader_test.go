package cardedge

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestEventLatch(t *testing.T) {
	l := NewEventLatch()
	if _, ok := l.Poll(); ok {
		t.Fatal("event in a new latch")
	}
	l.Post("a", CardInserted)
	l.Post("b", ReaderAdded)
	l.Post("a", CardRemoved) // merges into a's pending event, keeps a first
	l.Post("c", 0)           // nothing happened: no event
	e, ok := l.Poll()
	if !ok || e.Reader != "a" || e.Kinds != CardInserted|CardRemoved {
		t.Errorf("first = %v %v", e, ok)
	}
	e, err := l.Wait(context.Background())
	if err != nil || e.Reader != "b" || e.Kinds != ReaderAdded {
		t.Errorf("second = %v %v", e, err)
	}
	// Wait blocks until a Post.
	got := make(chan Event, 1)
	go func() {
		e, _ := l.Wait(context.Background())
		got <- e
	}()
	select {
	case e := <-got:
		t.Fatalf("Wait returned %v with nothing pending", e)
	case <-time.After(20 * time.Millisecond):
	}
	l.Post("c", CardReset)
	if e := <-got; e.Reader != "c" || e.Kinds != CardReset {
		t.Errorf("woken with %v", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with a deadline: %v", err)
	}
	// Close wakes waiters; pending events can still be polled.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Wait(context.Background()); !errors.Is(err, ErrMonitorClosed) {
				t.Errorf("Wait at Close: %v", err)
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	l.Close()
	wg.Wait()
	l.Post("d", CardInserted)
	if _, ok := l.Poll(); ok {
		t.Error("Post after Close was kept")
	}
	if s := (CardInserted | ReaderRemoved).String(); s != "reader-removed|card-inserted" {
		t.Errorf("String = %q", s)
	}
}

// fakeSource is a ReaderSource with fixed readers and a latch-backed monitor.
type fakeSource struct {
	readers []ReaderStatus
	err     error
	latch   *EventLatch
}

func (f *fakeSource) Readers() ([]ReaderStatus, error) { return f.readers, f.err }
func (f *fakeSource) Connect(r string) (Transport, error) {
	return nil, errors.New("connected to " + r)
}
func (f *fakeSource) NewMonitor() (Monitor, error) {
	f.latch = NewEventLatch()
	return latchMonitor{f.latch}, nil
}

type latchMonitor struct{ *EventLatch }

func (m latchMonitor) Close() error { m.EventLatch.Close(); return nil }

func TestSources(t *testing.T) {
	a := &fakeSource{readers: []ReaderStatus{{Name: "pcsc 0"}}}
	b := &fakeSource{readers: []ReaderStatus{{Name: "sock 0", CardPresent: true}}}
	down := &fakeSource{err: errors.New("down")}
	s := Sources{a, down, b}
	rs, err := s.Readers()
	if err != nil || len(rs) != 2 || rs[0].Name != "pcsc 0" || rs[1].Name != "sock 0" {
		t.Fatalf("Readers = %+v %v", rs, err)
	}
	if _, err := s.Connect("sock 0"); err == nil || err.Error() != "connected to sock 0" {
		t.Errorf("Connect went to %v", err)
	}
	if _, err := s.Connect("nope"); !errors.Is(err, ErrNoReader) {
		t.Errorf("Connect unknown: %v", err)
	}
	if _, err := (Sources{down}).Readers(); err == nil {
		t.Error("all sources down, no error")
	}
	m, err := s.NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	b.latch.Post("sock 0", CardRemoved)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e, err := m.Wait(ctx); err != nil || e.Reader != "sock 0" || e.Kinds != CardRemoved {
		t.Errorf("merged event %v %v", e, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Wait(context.Background()); !errors.Is(err, ErrMonitorClosed) {
		t.Errorf("Wait after Close: %v", err)
	}
}
