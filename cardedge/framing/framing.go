// Package framing is the byte stream between a host and a virtual card, the
// one vsmartcard's vpcd speaks and that our socket transport extends: frames
// of a 2-byte big-endian length and a payload.
//
// Host → card, a 1-byte payload is a control byte (see the constants);
// anything longer is a command APDU. Card → host, a frame is the response
// APDU, the ATR, a control answer, or empty when no card is inserted.
//
// The card side (vcard) and the host side (cardedge/netcard) both use this
// package, so the two cannot drift apart.
package framing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Control bytes (host → card, 1-byte payload).
const (
	// PowerOff, PowerOn and Reset get no answer.
	PowerOff byte = 0x00
	PowerOn  byte = 0x01
	Reset    byte = 0x02
	// GetATR is answered with one frame holding the ATR (empty without a
	// card).
	GetATR byte = 0x04
	// CardState is answered with a State (socket transport only).
	CardState byte = 0x05
	// BeginTransaction blocks until the caller has the card exclusively,
	// then is answered with the 1-byte frame 00 (socket transport only).
	BeginTransaction byte = 0x10
	// EndTransaction is answered with 00 (socket transport only).
	EndTransaction byte = 0x11
)

// Ack is the payload answering BeginTransaction and EndTransaction.
var Ack = []byte{0x00}

// MaxPayload is the largest payload a frame can carry.
const MaxPayload = 0xFFFF

// ErrFrame is matched by errors about malformed frames and control answers.
var ErrFrame = errors.New("framing: malformed frame")

// AppendFrame appends length ‖ payload to dst.
func AppendFrame(dst, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: %d-byte payload", ErrFrame, len(payload))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	return append(dst, payload...), nil
}

// WriteFrame writes one frame with a single Write, so that length and
// payload leave in one segment (vpcd writes them separately, which costs a
// delayed ACK per APDU on the receiving side).
func WriteFrame(w io.Writer, payload []byte) error {
	b, err := AppendFrame(make([]byte, 0, 2+len(payload)), payload)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadFrame reads one frame. It returns io.EOF when the stream ends cleanly
// before a frame and io.ErrUnexpectedEOF when it ends inside one. At most
// MaxPayload bytes are allocated, whatever the peer sends.
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// DecodeFrame splits the first frame off b; with a truncated frame it
// returns io.ErrUnexpectedEOF and b is left for more data.
func DecodeFrame(b []byte) (payload, rest []byte, err error) {
	if len(b) < 2 {
		return nil, b, io.ErrUnexpectedEOF
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, b, io.ErrUnexpectedEOF
	}
	return b[2 : 2+n : 2+n], b[2+n:], nil
}

// State answers CardState: whether a card is inserted, and a counter that
// grows on every insertion, reset and power cycle, so that a host notices
// what others did to the card between its transactions.
type State struct {
	Present bool
	Counter uint32
}

// StateSize is the length of a CardState answer.
const StateSize = 5

// Encode returns present(1) ‖ counter(4, big-endian).
func (s State) Encode() []byte {
	b := []byte{0, 0, 0, 0, 0}
	if s.Present {
		b[0] = 1
	}
	binary.BigEndian.PutUint32(b[1:], s.Counter)
	return b
}

// ParseState decodes a CardState answer.
func ParseState(b []byte) (State, error) {
	if len(b) != StateSize || b[0] > 1 {
		return State{}, fmt.Errorf("%w: card state %X", ErrFrame, b)
	}
	return State{Present: b[0] == 1, Counter: binary.BigEndian.Uint32(b[1:])}, nil
}

// TuneConn sets TCP_NODELAY on a TCP connection (and is a no-op on others).
// Card-side servers should also call QuickAck after each read.
func TuneConn(c net.Conn) error {
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetNoDelay(true); err != nil {
			return err
		}
		return QuickAck(c)
	}
	return nil
}
