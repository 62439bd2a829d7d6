// Package serve connects a virtual card (a vcard.Slot) to hosts: to pcscd's
// vpcd reader driver, which the card dials, or to clients of the socket
// transport (cardedge/netcard), which dial the card. Both speak the frames
// of cardedge/framing; the socket transport adds exclusive transactions and
// the card-state counter.
package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/framing"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// Options configure serving.
type Options struct {
	// Logf receives diagnostics (connection failures, store errors); nil
	// discards them.
	Logf func(format string, args ...any)
	// Connected is called when a vpcd connection is up, i.e. pcscd sees the
	// card inserted, and Disconnected when it goes down.
	Connected    func(addr string)
	Disconnected func(addr string)
	// RetryInterval is how often VPCD redials while pcscd is not
	// listening; 0 means 250 ms.
	RetryInterval time.Duration
	// Stats, if not nil, counts the frames the card receives.
	Stats *Stats
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// host is one connection: pcscd's vpcd driver or a socket client. Its
// address is its identity for transactions.
type host struct {
	slot       *vcard.Slot
	conn       net.Conn
	extensions bool // socket transport: 05, 10, 11
	opts       *Options
}

// serve answers frames until the connection fails.
func (h *host) serve() error {
	defer h.slot.Release(h)
	for {
		p, err := framing.ReadFrame(h.conn)
		if err != nil {
			return err
		}
		answer, reply := h.handle(p)
		if !reply {
			continue
		}
		if err := framing.WriteFrame(h.conn, answer); err != nil {
			return err
		}
		// vpcd writes a frame's length and payload separately without
		// TCP_NODELAY, so its payload waits for our ACK of the length.
		// Sending data puts Linux in delayed-ACK ("pingpong") mode, which
		// would hold that ACK ~40 ms; leaving it right after every answer
		// makes the next length ACKed at once (measured: 44 ms → <1 ms per
		// APDU through pcscd).
		framing.QuickAck(h.conn)
	}
}

// handle returns the answer to one frame, and whether there is one.
func (h *host) handle(p []byte) ([]byte, bool) {
	if len(p) == 1 {
		h.opts.Stats.control()
		switch p[0] {
		case framing.PowerOff:
			h.slot.PowerOff(h)
			return nil, false
		case framing.PowerOn, framing.Reset:
			h.slot.Reset(h)
			return nil, false
		case framing.GetATR:
			atr, _ := h.slot.ATR()
			return atr, true
		}
		if h.extensions {
			switch p[0] {
			case framing.CardState:
				present, counter := h.slot.State()
				return framing.State{Present: present, Counter: counter}.Encode(), true
			case framing.BeginTransaction:
				// Without a card there is nothing to hold; the host learns
				// that from the card state it asks for next.
				h.slot.Begin(h)
				return framing.Ack, true
			case framing.EndTransaction:
				h.slot.End(h)
				return framing.Ack, true
			}
		}
		h.opts.logf("serve: ignoring control byte %02X from %v", p[0], h.conn.RemoteAddr())
		return nil, false
	}
	start := time.Now()
	resp, err := h.slot.Transmit(h, p)
	h.opts.Stats.apdu(time.Since(start))
	switch {
	case errors.Is(err, cardedge.ErrNoCard):
		return nil, true // an empty frame: no card
	case errors.Is(err, vcard.ErrStore):
		h.opts.logf("serve: %v", err)
	case err != nil:
		h.opts.logf("serve: %v", err)
		return nil, true
	}
	return resp, true
}

// Listen serves the socket transport on ln until ctx ends: any number of
// hosts may connect; transactions serialise them.
func Listen(ctx context.Context, slot *vcard.Slot, ln net.Listener, opts Options) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := framing.TuneConn(conn); err != nil {
			opts.logf("serve: %v", err)
		}
		mu.Lock()
		conns[conn] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &host{slot: slot, conn: conn, extensions: true, opts: &opts}
			if err := h.serve(); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
				opts.logf("serve: %v: %v", conn.RemoteAddr(), err)
			}
			conn.Close()
			mu.Lock()
			delete(conns, conn)
			mu.Unlock()
		}()
	}
}

// VPCD keeps the card connected to pcscd's vpcd driver at addr (for
// example 127.0.0.1:35963, reader "Virtual PCD 00 00") until ctx ends. To
// vpcd the connection is the card: it is up while the slot holds the card
// and is closed when the card is removed. When pcscd goes away VPCD keeps
// redialling, so a restarted pcscd finds the card again.
func VPCD(ctx context.Context, slot *vcard.Slot, addr string, opts Options) error {
	retry := opts.RetryInterval
	if retry <= 0 {
		retry = 250 * time.Millisecond
	}
	failing := false
	for ctx.Err() == nil {
		changed := slot.Changed()
		if present, _ := slot.State(); !present {
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if !failing && ctx.Err() == nil {
				opts.logf("serve: vpcd at %s: %v (retrying)", addr, err)
				failing = true
			}
			select {
			case <-time.After(retry):
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		failing = false
		if err := framing.TuneConn(conn); err != nil {
			opts.logf("serve: %v", err)
		}
		if opts.Connected != nil {
			opts.Connected(addr)
		}
		done := make(chan error, 1)
		h := &host{slot: slot, conn: conn, opts: &opts}
		go func() { done <- h.serve() }()
		var serr error
		select {
		case serr = <-done:
		case <-changed: // removed
		case <-ctx.Done():
		}
		conn.Close()
		if serr == nil {
			serr = <-done
		}
		// The reader lost the card: whatever pcscd did, its state is gone.
		slot.Card().PowerOff()
		if opts.Disconnected != nil {
			opts.Disconnected(addr)
		}
		if present, _ := slot.State(); present && ctx.Err() == nil {
			opts.logf("serve: vpcd at %s closed the connection (%v); reconnecting", addr, serr)
			select {
			case <-time.After(retry):
			case <-ctx.Done():
			}
		}
	}
	return nil
}
