// Package hostile makes virtual cards misbehave on purpose, for reliability
// tests of the hosts that talk to them: a frame proxy that sits between a
// host and a served card (the socket transport or pcscd's vpcd driver) and
// lets a Fault decide what each command APDU gets — the card's answer, a
// corrupted one, a removal or power glitch of the card after the N-th APDU,
// a GET RESPONSE chain, a stall, a cut connection — and card images whose
// combined object z0 is hostile (zlib bombs, truncated or oversized data).
//
// It changes nothing in package vcard or vcard/serve: the proxy speaks the
// frames of cardedge/framing on both sides, and removals go through the
// vcard.Slot the test holds.
package hostile

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge/framing"
)

// Header is the CLA, INS, P1 and P2 of a command APDU: what the proxy
// records of each command (never its data, which may hold a PIN).
type Header [4]byte

// INS returns the instruction byte.
func (h Header) INS() byte { return h[1] }

// Proxy relays frames between hosts and a served card. Its zero value relays
// everything unchanged; SetFault arms a fault at any time.
type Proxy struct {
	// Split, if > 0, makes the proxy write every answer frame to the host
	// in pieces of Split bytes, a millisecond apart, so that hosts must
	// reassemble frames from short reads.
	Split int
	// Logf receives diagnostics; nil discards them.
	Logf func(format string, args ...any)

	fault atomic.Pointer[faultBox]
	apdus atomic.Int64

	mu      sync.Mutex
	headers []Header
	conns   map[net.Conn]bool
}

type faultBox struct{ f Fault }

// SetFault arms f (nil relays) for the command APDUs that follow.
func (p *Proxy) SetFault(f Fault) { p.fault.Store(&faultBox{f}) }

// APDUs returns how many command APDUs the proxy has seen, over all
// connections. Faults number APDUs the same way, from 1.
func (p *Proxy) APDUs() int { return int(p.apdus.Load()) }

// Commands returns the headers of the command APDUs seen so far, in order.
func (p *Proxy) Commands() []Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Header(nil), p.headers...)
}

// Count returns how many command APDUs with instruction ins the proxy has
// seen (with class byte cla, or any class when cla is negative).
func (p *Proxy) Count(cla int, ins byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, h := range p.headers {
		if h[1] == ins && (cla < 0 || h[0] == byte(cla)) {
			n++
		}
	}
	return n
}

func (p *Proxy) logf(format string, args ...any) {
	if p.Logf != nil {
		p.Logf(format, args...)
	}
}

// ServeHosts serves the socket transport: every host that connects to ln
// is relayed to its own connection to the card server at cardAddr (for
// example a serve.Listen listener), until ctx ends.
func (p *Proxy) ServeHosts(ctx context.Context, ln net.Listener, cardAddr string) error {
	return p.accept(ctx, ln, func(accepted net.Conn) (host, card net.Conn, err error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", cardAddr)
		return accepted, c, err
	}, false)
}

// ServeCard sits between a card that dials ln (serve.VPCD given ln's
// address) and pcscd's vpcd driver at vpcdAddr, until ctx ends. To vpcd the
// relayed connection is the card: when a fault removes the card or cuts the
// connection, pcscd sees the card go.
func (p *Proxy) ServeCard(ctx context.Context, ln net.Listener, vpcdAddr string) error {
	return p.accept(ctx, ln, func(accepted net.Conn) (host, card net.Conn, err error) {
		var d net.Dialer
		h, err := d.DialContext(ctx, "tcp", vpcdAddr)
		return h, accepted, err
	}, true)
}

func (p *Proxy) accept(ctx context.Context, ln net.Listener, pair func(net.Conn) (host, card net.Conn, err error), vpcd bool) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		host, card, err := pair(c)
		if err != nil {
			p.logf("hostile: connecting the other side: %v", err)
			c.Close()
			continue
		}
		framing.TuneConn(host)
		framing.TuneConn(card)
		if !p.track(ctx, host, card) {
			host.Close()
			card.Close()
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.relay(host, card, vpcd)
			host.Close()
			card.Close()
			p.untrack(host, card)
		}()
	}
}

// track registers connections for closing when ctx ends; it refuses them
// once ctx has ended (the AfterFunc may already have run).
func (p *Proxy) track(ctx context.Context, cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	if p.conns == nil {
		p.conns = map[net.Conn]bool{}
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// answered reports whether the card answers a control byte. vpcd sends
// only power, reset and ATR requests; the socket transport adds state and
// transactions, which the card answers too.
func answered(b byte, vpcd bool) bool {
	switch b {
	case framing.GetATR:
		return true
	case framing.CardState, framing.BeginTransaction, framing.EndTransaction:
		return !vpcd
	}
	return false
}

// relay moves frames until either side fails or a fault cuts the
// connection. Each host frame is handled to the end (its answer written)
// before the next is read, so answers stay in step with commands.
func (p *Proxy) relay(host, card net.Conn, vpcd bool) {
	exchange := func(cmd []byte) ([]byte, error) {
		if err := framing.WriteFrame(card, cmd); err != nil {
			return nil, err
		}
		a, err := framing.ReadFrame(card)
		framing.QuickAck(card)
		return a, err
	}
	for {
		f, err := framing.ReadFrame(host)
		if err != nil {
			return
		}
		framing.QuickAck(host)
		if len(f) == 1 {
			if err := framing.WriteFrame(card, f); err != nil {
				return
			}
			if !answered(f[0], vpcd) {
				continue
			}
			a, err := framing.ReadFrame(card)
			if err != nil || p.write(host, a) != nil {
				return
			}
			continue
		}
		n := int(p.apdus.Add(1))
		p.record(f)
		var fault Fault = Relay
		if b := p.fault.Load(); b != nil && b.f != nil {
			fault = b.f
		}
		resp, err := fault.Apply(n, f, exchange)
		if err != nil {
			if !errors.Is(err, ErrDrop) {
				p.logf("hostile: APDU %d: %v", n, err)
			}
			return
		}
		if len(resp) == 0 && vpcd {
			// vpcd has no "no card" answer: the card is gone when its
			// connection is.
			return
		}
		if p.write(host, resp) != nil {
			return
		}
	}
}

func (p *Proxy) record(cmd []byte) {
	var h Header
	copy(h[:], cmd)
	p.mu.Lock()
	p.headers = append(p.headers, h)
	p.mu.Unlock()
}

// write sends one answer frame, in pieces when Split is set.
func (p *Proxy) write(w net.Conn, payload []byte) error {
	if p.Split <= 0 {
		return framing.WriteFrame(w, payload)
	}
	b, err := framing.AppendFrame(nil, payload)
	if err != nil {
		return err
	}
	for len(b) > 0 {
		n := min(p.Split, len(b))
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if len(b) > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}
