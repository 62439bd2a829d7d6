// Package pcsce2e tests the PC/SC transport and monitor against the system
// pcscd with the vsmartcard vpcd driver. A small scripted card dials vpcd
// (as a virtual card does), so these tests do not depend on the virtual
// CoolKey card. They hold the vpcd flock while a card is served.
package pcsce2e

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/framing"
	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
	"github.com/ebfe/scard"
)

const (
	reader0  = "Virtual PCD 00 00"
	reader1  = "Virtual PCD 00 01"
	vpcdAddr = "127.0.0.1:35963"
	lockPath = "/tmp/coolkey-go-vpcd.lock"
)

var testATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

// needPCSCD skips (or, under COOLKEY_E2E_REQUIRED=1, fails) without pcscd
// and the vpcd readers.
func needPCSCD(t *testing.T) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("COOLKEY_E2E_REQUIRED") == "1" {
		fail = t.Fatalf
	}
	ctx, err := scard.EstablishContext()
	if err != nil {
		fail("pcscd not reachable (start it with build/pcscd.sh start): %v", err)
		return
	}
	defer ctx.Release()
	names, err := ctx.ListReaders()
	if err != nil {
		fail("pcscd lists no readers (is the vpcd driver installed?): %v", err)
		return
	}
	for _, n := range names {
		if n == reader0 {
			return
		}
	}
	fail("pcscd has no %q reader: %q", reader0, names)
}

// lockVPCD takes the machine-wide vpcd lock for the rest of the test.
func lockVPCD(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("vpcd lock %s held by someone else for 3 minutes", lockPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

// scriptedCard is a card on vpcd that answers SELECT with 9000, NOP
// (B0 71) with 9000, and B0 3C with 61 04 then 4 bytes on GET RESPONSE.
type scriptedCard struct {
	mu     sync.Mutex
	conn   net.Conn
	resets int
}

func insertCard(t *testing.T) *scriptedCard {
	t.Helper()
	c := &scriptedCard{}
	c.insert(t)
	t.Cleanup(c.remove)
	return c
}

func (c *scriptedCard) insert(t *testing.T) {
	t.Helper()
	conn, err := net.Dial("tcp", vpcdAddr)
	if err != nil {
		t.Fatalf("vpcd not listening on %s: %v", vpcdAddr, err)
	}
	framing.TuneConn(conn)
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	go c.serve(conn)
}

func (c *scriptedCard) remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *scriptedCard) serve(conn net.Conn) {
	for {
		p, err := framing.ReadFrame(conn)
		if err != nil {
			return
		}
		framing.QuickAck(conn)
		var ans []byte
		switch {
		case len(p) == 1 && p[0] == framing.GetATR:
			ans = testATR
		case len(p) == 1:
			if p[0] == framing.Reset {
				c.mu.Lock()
				c.resets++
				c.mu.Unlock()
			}
			continue // power on/off, reset: no answer
		case p[1] == 0xA4 || p[1] == 0x71:
			ans = []byte{0x90, 0x00}
		case p[1] == 0x3C:
			ans = []byte{0x61, 0x04}
		case p[1] == 0xC0:
			ans = []byte{1, 2, 3, 4, 0x90, 0x00}
		default:
			ans = []byte{0x6D, 0x00}
		}
		if framing.WriteFrame(conn, ans) != nil {
			return
		}
	}
}

// waitPresent polls until the reader shows the card present (or absent).
func waitPresent(t *testing.T, src *pcsc.Source, want bool) cardedge.ReaderStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, err := src.Readers()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Name == reader0 && r.CardPresent == want {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed present=%v: %+v", reader0, want, rs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReaders(t *testing.T) {
	needPCSCD(t)
	src := pcsc.NewSource()
	defer src.Close()
	rs, err := src.Readers()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range rs {
		names[r.Name] = true
	}
	if !names[reader0] || !names[reader1] {
		t.Errorf("readers %+v, want %q and %q", rs, reader0, reader1)
	}
}

func TestTransportWithScriptedCard(t *testing.T) {
	needPCSCD(t)
	lockVPCD(t)
	src := pcsc.NewSource()
	defer src.Close()
	waitPresent(t, src, false) // a card removed just before may still show
	card := insertCard(t)
	r := waitPresent(t, src, true)
	if string(r.ATR) != string(testATR) {
		t.Errorf("listed ATR %X, want %X", r.ATR, testATR)
	}

	tr, err := src.Connect(reader0)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if string(tr.ATR()) != string(testATR) {
		t.Errorf("ATR %X", tr.ATR())
	}
	c := cardedge.NewCard(tr)
	err = c.Transact(func() error {
		if err := c.SelectApplet(); err != nil {
			return err
		}
		// 61 04 through PC/SC, completed by the shared T=0 handling.
		r, err := c.Exchange(cardedge.Command{CLA: 0xB0, INS: 0x3C, Le: 16})
		if err != nil {
			return err
		}
		if r.SW != 0x9000 || string(r.Data) != string([]byte{1, 2, 3, 4}) {
			t.Errorf("GET STATUS through GET RESPONSE = %X %s", r.Data, r.SW)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Another connection resets the card: ours learns it at its next
	// transaction, reconnects, and the one after proceeds.
	other, err := src.Connect(reader0)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Reset(); err != nil {
		t.Fatal(err)
	}
	other.Close()
	err = c.Transact(c.NOP)
	if !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("after a reset by another connection: %v", err)
	}
	if err := c.Transact(c.NOP); err != nil {
		t.Fatalf("after reconnecting: %v", err)
	}

	// A quick swap (out and straight back in) is reported as a removal or
	// a reset, never as a plain failure; a new connection then works.
	card.remove()
	card.insert(t)
	time.Sleep(time.Second) // let pcscd see it
	if err := c.Transact(c.NOP); !errors.Is(err, cardedge.ErrNoCard) && !errors.Is(err, cardedge.ErrCardReset) {
		t.Errorf("after a swap: %v", err)
	}
	tr.Close()
	waitPresent(t, src, true)
	if tr, err = src.Connect(reader0); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c = cardedge.NewCard(tr)
	if err := c.Transact(c.NOP); err != nil {
		t.Fatalf("new connection after the swap: %v", err)
	}

	// Removal.
	card.remove()
	waitPresent(t, src, false)
	if err := c.Transact(c.NOP); !errors.Is(err, cardedge.ErrNoCard) {
		t.Errorf("after removal: %v", err)
	}
	if _, err := src.Connect(reader0); !errors.Is(err, cardedge.ErrNoCard) {
		t.Errorf("Connect to an empty reader: %v", err)
	}
	if _, err := src.Connect("No Such Reader 42"); !errors.Is(err, cardedge.ErrNoReader) {
		t.Errorf("Connect to an unknown reader: %v", err)
	}
}

func TestMonitor(t *testing.T) {
	needPCSCD(t)
	lockVPCD(t)
	src := pcsc.NewSource()
	defer src.Close()
	waitPresent(t, src, false)

	m, err := src.NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // baseline
	if e, ok := m.Poll(); ok {
		t.Errorf("event before anything happened: %v", e)
	}
	wait := func(want cardedge.EventKind) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			e, err := m.Wait(ctx)
			if err != nil {
				t.Fatalf("waiting for %v: %v", want, err)
			}
			if e.Reader == reader0 && e.Kinds&want == want {
				return
			}
		}
	}
	card := insertCard(t)
	wait(cardedge.CardInserted)
	card.remove()
	wait(cardedge.CardRemoved)
	// Latching: an insertion while nobody waits is kept.
	card.insert(t)
	waitPresent(t, src, true)
	time.Sleep(200 * time.Millisecond)
	if e, ok := m.Poll(); !ok || e.Reader != reader0 || e.Kinds&cardedge.CardInserted == 0 {
		t.Errorf("latched event = %v %v", e, ok)
	}

	// Close interrupts SCardGetStatusChange promptly.
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if _, err := m.Wait(context.Background()); !errors.Is(err, cardedge.ErrMonitorClosed) {
		t.Errorf("Wait after Close: %v", err)
	}
}

// Listing readers while monitors wait on their state must be safe: the
// pinned ebfe/scard's GetStatusChange shares an unlocked map between calls,
// which once crashed pkcs11-tool with "concurrent map writes".
func TestConcurrentListingAndMonitors(t *testing.T) {
	needPCSCD(t)
	src := pcsc.NewSource()
	defer src.Close()
	var monitors []cardedge.Monitor
	for range 3 {
		m, err := src.NewMonitor()
		if err != nil {
			t.Fatal(err)
		}
		monitors = append(monitors, m)
	}
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Second)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := pcsc.NewSource()
			defer other.Close()
			for time.Now().Before(deadline) {
				if _, err := other.Readers(); err != nil {
					t.Errorf("Readers: %v", err)
					return
				}
				if _, err := src.Readers(); err != nil {
					t.Errorf("Readers: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, m := range monitors {
		if err := m.Close(); err != nil {
			t.Errorf("monitor Close: %v", err)
		}
	}
}
