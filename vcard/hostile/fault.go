package hostile

import (
	"errors"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/vcard"
)

// Card sends a command APDU to the real card and returns its answer.
type Card func(cmd []byte) ([]byte, error)

// A Fault decides what the host receives for one command APDU. n numbers
// command APDUs from 1 over the proxy's life; card reaches the real card
// and may be called any number of times, or not at all. Apply returns the
// answer frame: a response APDU, or an empty one for "no card" (vpcd then
// loses the card). An error cuts the connection (ErrDrop does it without a
// log line).
//
// The proxy calls Apply from one goroutine per connection, so faults that
// keep state must lock it.
type Fault interface {
	Apply(n int, cmd []byte, card Card) ([]byte, error)
}

// FaultFunc adapts a function to a Fault.
type FaultFunc func(n int, cmd []byte, card Card) ([]byte, error)

// Apply calls f.
func (f FaultFunc) Apply(n int, cmd []byte, card Card) ([]byte, error) { return f(n, cmd, card) }

// ErrDrop cuts the connection: to a socket host the reader is gone, to
// vpcd the card is.
var ErrDrop = errors.New("hostile: connection dropped")

// Relay passes the command to the card and its answer back.
var Relay Fault = FaultFunc(func(_ int, cmd []byte, card Card) ([]byte, error) { return card(cmd) })

// At applies f to command APDU number k only and relays the others.
func At(k int, f Fault) Fault {
	return When(func(n int, _ []byte) bool { return n == k }, f)
}

// From applies f to command APDU number k and every one after it.
func From(k int, f Fault) Fault {
	return When(func(n int, _ []byte) bool { return n >= k }, f)
}

// When applies f to the commands match selects and relays the others.
func When(match func(n int, cmd []byte) bool, f Fault) Fault {
	return FaultFunc(func(n int, cmd []byte, card Card) ([]byte, error) {
		if match(n, cmd) {
			return f.Apply(n, cmd, card)
		}
		return card(cmd)
	})
}

// Ins selects commands by class and instruction byte.
func Ins(cla, ins byte) func(int, []byte) bool {
	return func(_ int, cmd []byte) bool { return len(cmd) >= 2 && cmd[0] == cla && cmd[1] == ins }
}

// Remove takes the card out of slot. With before set the command never
// reaches the card; otherwise the card executes it and then leaves the
// reader before its answer does, so the host cannot know whether it ran.
// The host receives "no card".
func Remove(slot *vcard.Slot, before bool) Fault {
	return FaultFunc(func(_ int, cmd []byte, card Card) ([]byte, error) {
		if !before {
			if _, err := card(cmd); err != nil {
				return nil, err
			}
		}
		slot.Remove()
		return nil, nil
	})
}

// Glitch lets the card execute the command and answer, then power-cycles
// it behind the reader's back (a brown-out the reader does not report):
// its selection, login and secure channel are gone and nothing tells the
// host, whose next command reaches a card in its power-on state.
func Glitch(slot *vcard.Slot) Fault {
	return FaultFunc(func(_ int, cmd []byte, card Card) ([]byte, error) {
		resp, err := card(cmd)
		slot.Card().PowerOn()
		return resp, err
	})
}

// Replace answers resp without asking the card.
func Replace(resp ...byte) Fault {
	return FaultFunc(func(int, []byte, Card) ([]byte, error) { return append([]byte(nil), resp...), nil })
}

// Mutate relays the command and lets edit change the card's answer.
func Mutate(edit func(resp []byte) []byte) Fault {
	return FaultFunc(func(_ int, cmd []byte, card Card) ([]byte, error) {
		resp, err := card(cmd)
		if err != nil || len(resp) == 0 {
			return resp, err
		}
		return edit(append([]byte(nil), resp...)), nil
	})
}

// StatusWord relays the command and replaces the status word of the answer
// (its data stays).
func StatusWord(sw1, sw2 byte) Fault {
	return Mutate(func(resp []byte) []byte {
		if len(resp) < 2 {
			return []byte{sw1, sw2}
		}
		resp[len(resp)-2], resp[len(resp)-1] = sw1, sw2
		return resp
	})
}

// Truncate relays the command and keeps only the first n bytes of the
// answer (fewer than 2 leave no whole status word).
func Truncate(n int) Fault {
	return Mutate(func(resp []byte) []byte { return resp[:min(n, len(resp))] })
}

// Pad relays the command and inserts extra bytes before the status word,
// so that the answer is longer than the command asked for.
func Pad(extra int, fill byte) Fault {
	return Mutate(func(resp []byte) []byte {
		if len(resp) < 2 {
			return resp
		}
		sw := append([]byte(nil), resp[len(resp)-2:]...)
		out := append(resp[:len(resp)-2:len(resp)-2], make([]byte, extra)...)
		for i := len(out) - extra; i < len(out); i++ {
			out[i] = fill
		}
		return append(out, sw...)
	})
}

// Stall waits d, then applies f (nil relays): a card that takes its time.
func Stall(d time.Duration, f Fault) Fault {
	if f == nil {
		f = Relay
	}
	return FaultFunc(func(n int, cmd []byte, card Card) ([]byte, error) {
		time.Sleep(d)
		return f.Apply(n, cmd, card)
	})
}

// Drop cuts the connection without answering.
var Drop Fault = FaultFunc(func(int, []byte, Card) ([]byte, error) { return nil, ErrDrop })

// Wrong6C answers every command it is applied to with 6C le ("wrong
// length, use le"), however often the host re-sends: a 6Cxx loop.
func Wrong6C(le byte) Fault { return Replace(0x6C, le) }

// Chain61 makes the card answer the T=0 way: the data of each answer is
// withheld behind 61xx and handed out by GET RESPONSE (00 C0 00 00 xx) in
// pieces whose sizes cycle through sizes (odd sizes split answers at odd
// places). The final piece carries the card's status word. Apply it to
// every command (it must see the GET RESPONSEs), e.g. From(1, Chain61(7)).
// A GET RESPONSE asking for less than was announced gets what it asks for.
func Chain61(sizes ...int) Fault {
	if len(sizes) == 0 {
		sizes = []int{256}
	}
	c := &chain61{sizes: sizes}
	return c
}

type chain61 struct {
	sizes []int

	mu      sync.Mutex
	next    int
	pending []byte // data still withheld, then the status word
}

func (c *chain61) size() int {
	s := c.sizes[c.next%len(c.sizes)]
	c.next++
	return min(max(s, 1), 256)
}

// announce returns 61xx for the next piece of pending, or the data and
// status word when nothing more is withheld.
func (c *chain61) announce() []byte {
	data := len(c.pending) - 2
	if data <= 0 {
		out := c.pending
		c.pending = nil
		return out
	}
	n := min(c.size(), data)
	if n == 256 {
		n = 0
	}
	return []byte{0x61, byte(n)}
}

func (c *chain61) Apply(_ int, cmd []byte, card Card) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending != nil && len(cmd) >= 4 && cmd[0] == 0x00 && cmd[1] == 0xC0 {
		want := 256
		if len(cmd) == 5 && cmd[4] != 0 {
			want = int(cmd[4])
		}
		n := min(want, len(c.pending)-2)
		piece := append([]byte(nil), c.pending[:n]...)
		c.pending = c.pending[n:]
		if len(c.pending) == 2 {
			out := append(piece, c.pending...)
			c.pending = nil
			return out, nil
		}
		return append(piece, c.announce()...), nil
	}
	c.pending = nil
	resp, err := card(cmd)
	if err != nil || len(resp) <= 2 {
		return resp, err
	}
	c.pending = resp
	return c.announce(), nil
}
