package netcard

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/framing"
)

// fakeServer is a minimal card-side peer of the framing contract, enough to
// drive the host side: a card that answers every APDU with its reversal ‖
// 9000, insert/remove/reset controls for the test, and exclusive
// transactions across connections.
type fakeServer struct {
	ln net.Listener

	mu      sync.Mutex
	present bool
	counter uint32
	atr     []byte
	txOwner net.Conn
	txFree  *sync.Cond
	conns   []net.Conn
}

func newFakeServer(t testing.TB) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, present: true, counter: 1, atr: []byte{0x3B, 0x02, 0x14, 0x50}}
	s.txFree = sync.NewCond(&s.mu)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *fakeServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.handle(c)
	}
}

func (s *fakeServer) set(fn func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *fakeServer) handle(c net.Conn) {
	defer func() {
		s.mu.Lock()
		if s.txOwner == c {
			s.txOwner = nil
			s.txFree.Broadcast()
		}
		s.mu.Unlock()
		c.Close()
	}()
	for {
		p, err := framing.ReadFrame(c)
		if err != nil {
			return
		}
		var ans []byte
		reply := true
		s.mu.Lock()
		switch {
		case len(p) == 1 && p[0] == framing.GetATR:
			if s.present {
				ans = s.atr
			}
		case len(p) == 1 && p[0] == framing.CardState:
			ans = framing.State{Present: s.present, Counter: s.counter}.Encode()
		case len(p) == 1 && p[0] == framing.Reset:
			s.counter++
			reply = false
		case len(p) == 1 && p[0] == framing.BeginTransaction:
			for s.txOwner != nil && s.txOwner != c {
				s.txFree.Wait()
			}
			s.txOwner = c
			ans = framing.Ack
		case len(p) == 1 && p[0] == framing.EndTransaction:
			if s.txOwner == c {
				s.txOwner = nil
				s.txFree.Broadcast()
			}
			ans = framing.Ack
		case len(p) == 1:
			reply = false
		default:
			if s.present {
				for i := len(p) - 1; i >= 0; i-- {
					ans = append(ans, p[i])
				}
				ans = append(ans, 0x90, 0x00)
			}
		}
		s.mu.Unlock()
		if reply {
			if err := framing.WriteFrame(c, ans); err != nil {
				return
			}
		}
	}
}

func TestTransport(t *testing.T) {
	srv := newFakeServer(t)
	tr, err := Dial(context.Background(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if string(tr.ATR()) != string(srv.atr) {
		t.Errorf("ATR %X", tr.ATR())
	}
	if err := tr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	got, err := tr.Transmit([]byte{1, 2, 3, 4})
	if err != nil || string(got) != string([]byte{4, 3, 2, 1, 0x90, 0}) {
		t.Fatalf("Transmit = %X %v", got, err)
	}
	// A second host waits for the transaction.
	other, err := Dial(context.Background(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	granted := make(chan error, 1)
	go func() { granted <- other.BeginTransaction() }()
	select {
	case err := <-granted:
		t.Fatalf("second transaction granted while the first is held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := tr.EndTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := <-granted; err != nil {
		t.Fatal(err)
	}
	// The other host resets the card; we learn it at our next transaction,
	// which is released again, and the one after proceeds.
	if err := other.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := other.EndTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tr.BeginTransaction(); !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("after a reset by another host: %v", err)
	}
	if err := other.BeginTransaction(); err != nil { // not held by tr
		t.Fatal(err)
	}
	other.EndTransaction()
	if err := tr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	tr.EndTransaction()
	// Removal.
	srv.set(func(s *fakeServer) { s.present = false })
	if _, err := tr.Transmit([]byte{1, 2, 3, 4}); !errors.Is(err, cardedge.ErrNoCard) {
		t.Errorf("Transmit without a card: %v", err)
	}
	if err := tr.BeginTransaction(); !errors.Is(err, cardedge.ErrNoCard) {
		t.Errorf("Begin without a card: %v", err)
	}
	if _, err := Dial(context.Background(), srv.addr()); !errors.Is(err, cardedge.ErrNoCard) {
		t.Errorf("Dial without a card: %v", err)
	}
	if _, err := tr.Transmit([]byte{1}); err == nil {
		t.Error("1-byte APDU sent")
	}
	srv.close()
	if _, err := tr.Transmit([]byte{1, 2, 3, 4}); !errors.Is(err, cardedge.ErrNoReader) {
		t.Errorf("Transmit after the server went: %v", err)
	}
}

func TestDialNothingListening(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), addr); !errors.Is(err, cardedge.ErrNoReader) {
		t.Errorf("err = %v", err)
	}
}

func TestCardThroughSocket(t *testing.T) {
	// The cardedge session works over the socket: a SELECT gets the
	// reversed APDU back, which is a malformed SELECT answer but proves the
	// path. Use Exchange to see the raw response.
	srv := newFakeServer(t)
	tr, err := Dial(context.Background(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	c := cardedge.NewCard(tr)
	err = c.Transact(func() error {
		r, err := c.Exchange(cardedge.Command{CLA: 0xB0, INS: 0x71})
		if err != nil {
			return err
		}
		if r.SW != 0x9000 || string(r.Data) != string([]byte{0, 0, 0x71, 0xB0}) {
			t.Errorf("response %X %s", r.Data, r.SW)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
}

func TestSourceAndMonitor(t *testing.T) {
	srv := newFakeServer(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := ln.Addr().String()
	ln.Close()
	src := NewSource(Endpoint{Name: "sock 0", Addr: srv.addr()}, Endpoint{Name: "sock 1", Addr: deadAddr})
	src.PollInterval = 10 * time.Millisecond
	rs, err := src.Readers()
	if err != nil || len(rs) != 1 || rs[0].Name != "sock 0" || !rs[0].CardPresent || string(rs[0].ATR) != string(srv.atr) {
		t.Fatalf("Readers = %+v %v", rs, err)
	}
	if _, err := src.Connect("sock 9"); !errors.Is(err, cardedge.ErrNoReader) {
		t.Errorf("Connect unknown: %v", err)
	}
	tr, err := src.Connect("sock 0")
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()

	m, err := src.NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	time.Sleep(50 * time.Millisecond) // let it take its baseline
	if e, ok := m.Poll(); ok {
		t.Fatalf("event at start: %v", e)
	}
	wait := func(want cardedge.EventKind) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var got cardedge.EventKind
		for got&want != want {
			e, err := m.Wait(ctx)
			if err != nil {
				t.Fatalf("waiting for %v (have %v): %v", want, got, err)
			}
			if e.Reader != "sock 0" {
				t.Fatalf("event for %q", e.Reader)
			}
			got |= e.Kinds
		}
	}
	srv.set(func(s *fakeServer) { s.present = false })
	wait(cardedge.CardRemoved)
	srv.set(func(s *fakeServer) { s.present = true; s.counter++ })
	wait(cardedge.CardInserted)
	srv.set(func(s *fakeServer) { s.counter++ })
	wait(cardedge.CardReset)
	srv.close()
	wait(cardedge.ReaderRemoved | cardedge.CardRemoved)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Wait(context.Background()); !errors.Is(err, cardedge.ErrMonitorClosed) {
		t.Errorf("Wait after Close: %v", err)
	}
}

func TestDiff(t *testing.T) {
	on := func(present bool, counter uint32) endpointState {
		return endpointState{reachable: true, State: framing.State{Present: present, Counter: counter}}
	}
	off := endpointState{}
	tests := []struct {
		old, new endpointState
		want     cardedge.EventKind
	}{
		{off, off, 0},
		{off, on(false, 1), cardedge.ReaderAdded},
		{off, on(true, 1), cardedge.ReaderAdded | cardedge.CardInserted},
		{on(true, 1), off, cardedge.ReaderRemoved | cardedge.CardRemoved},
		{on(false, 1), off, cardedge.ReaderRemoved},
		{on(true, 1), on(true, 1), 0},
		{on(true, 1), on(false, 1), cardedge.CardRemoved},
		{on(false, 1), on(true, 2), cardedge.CardInserted},
		{on(true, 1), on(true, 2), cardedge.CardReset | cardedge.CardRemoved | cardedge.CardInserted},
		{on(false, 1), on(false, 3), 0},
	}
	for _, tt := range tests {
		if got := diff(tt.old, tt.new); got != tt.want {
			t.Errorf("diff(%+v, %+v) = %v, want %v", tt.old, tt.new, got, tt.want)
		}
	}
}
