package serve

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/framing"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

func formattedSlot(t *testing.T, store vcard.Store) *vcard.Slot {
	t.Helper()
	img, err := provision.NewImage(provision.Options{State: provision.Formatted})
	if err != nil {
		t.Fatal(err)
	}
	c, err := vcard.New(img, vcard.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return vcard.NewSlot(c)
}

var (
	selectApplet = []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00}
	getStatus    = []byte{0xB0, 0x3C, 0x00, 0x00, 0x10}
)

func listen(t *testing.T, slot *vcard.Slot) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, slot, ln, Options{Logf: t.Logf}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) *netcard.Transport {
	t.Helper()
	tr, err := netcard.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func mustTransmit(t *testing.T, tr cardedge.Transport, cmd []byte) []byte {
	t.Helper()
	resp, err := tr.Transmit(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Fatalf("% X: % X", cmd, resp)
	}
	return resp
}

func TestSocketTransport(t *testing.T) {
	slot := formattedSlot(t, nil)
	addr := listen(t, slot)
	a := dial(t, addr)
	if !bytes.Equal(a.ATR(), vcard.DefaultATR) {
		t.Fatalf("ATR % X", a.ATR())
	}
	mustTransmit(t, a, selectApplet)
	if resp := mustTransmit(t, a, getStatus); len(resp) != 18 {
		t.Fatalf("GET STATUS % X", resp)
	}

	// A transaction holds other hosts off.
	b := dial(t, addr)
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	bDone := make(chan error, 1)
	go func() {
		_, err := b.Transmit(getStatus)
		bDone <- err
	}()
	select {
	case err := <-bDone:
		t.Fatalf("the other host got through a transaction (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	mustTransmit(t, a, getStatus)
	if err := a.EndTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}

	// A reset by one host is noticed by the other.
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := a.BeginTransaction(); !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("after another host's reset: %v", err)
	}
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	a.EndTransaction()

	// Removal and insertion.
	slot.Remove()
	if _, err := a.Transmit(getStatus); !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("transmit without a card: %v", err)
	}
	if err := a.BeginTransaction(); !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("begin without a card: %v", err)
	}
	if _, err := netcard.Dial(context.Background(), addr); !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("dial without a card: %v", err)
	}
	slot.Insert()
	if err := a.BeginTransaction(); !errors.Is(err, cardedge.ErrCardReset) {
		t.Fatalf("after reinsertion: %v", err)
	}
	mustTransmit(t, a, selectApplet)
}

// fakeVPCD plays pcscd's vpcd driver: it listens, and the card dials it.
func TestVPCD(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	slot := formattedSlot(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connected := make(chan string, 4)
	go VPCD(ctx, slot, ln.Addr().String(), Options{
		Logf:          t.Logf,
		Connected:     func(a string) { connected <- a },
		RetryInterval: 20 * time.Millisecond,
	})
	exchange := func(conn net.Conn, p []byte) []byte {
		t.Helper()
		if err := framing.WriteFrame(conn, p); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := framing.ReadFrame(conn)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	accept := func() net.Conn {
		t.Helper()
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		<-connected
		return conn
	}
	conn := accept()
	if atr := exchange(conn, []byte{framing.GetATR}); !bytes.Equal(atr, vcard.DefaultATR) {
		t.Fatalf("ATR % X", atr)
	}
	framing.WriteFrame(conn, []byte{framing.PowerOn})
	if resp := exchange(conn, selectApplet); !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT % X", resp)
	}
	// vpcd never sends the socket extensions: no answer to them
	framing.WriteFrame(conn, []byte{framing.CardState})
	if resp := exchange(conn, getStatus); len(resp) != 18 {
		t.Fatalf("GET STATUS % X", resp)
	}

	// pcscd restarts: the card dials again.
	conn.Close()
	conn = accept()
	if resp := exchange(conn, getStatus); !bytes.Equal(resp, []byte{0x6E, 0x00}) {
		t.Fatalf("the applet stayed selected across a reconnect: % X", resp)
	}
	exchange(conn, selectApplet)
	if resp := exchange(conn, getStatus); len(resp) != 18 {
		t.Fatalf("after reconnect % X", resp)
	}

	// Removal closes the connection; insertion dials again.
	slot.Remove()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := framing.ReadFrame(conn); err == nil {
		t.Fatal("connection still open after removal")
	}
	conn.Close()
	slot.Insert()
	conn = accept()
	defer conn.Close()
	if atr := exchange(conn, []byte{framing.GetATR}); len(atr) == 0 {
		t.Fatal("no ATR after reinsertion")
	}
}
