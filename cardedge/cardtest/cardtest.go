// Package cardtest provides a scripted fake card transport for tests: each
// Transmit must send the next expected command APDU and gets the scripted
// response. It implements cardedge.Transport without importing cardedge, so
// cardedge's own tests can use it.
package cardtest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// Step is one expected exchange.
type Step struct {
	// Cmd is the expected command APDU in hex (spaces allowed); "*"
	// accepts any command.
	Cmd string
	// Resp is the response APDU in hex (data ‖ SW).
	Resp string
	// Err, when set, is returned instead of a response.
	Err error
}

// Transport is a scripted cardedge.Transport.
type Transport struct {
	tb    testing.TB
	steps []Step
	pos   int

	// ATRBytes is what ATR returns.
	ATRBytes []byte
	// Sent records every command APDU.
	Sent [][]byte
	// Begins, Ends and Resets count the calls.
	Begins, Ends, Resets int
	// BeginErrs are returned by successive BeginTransaction calls (nil
	// entries succeed); once used up, BeginTransaction succeeds.
	BeginErrs []error
	Closed    bool
}

// New returns a transport that expects exactly steps, in order.
func New(tb testing.TB, steps ...Step) *Transport {
	return &Transport{tb: tb, steps: steps}
}

// Hex decodes hex with optional spaces; it panics on bad input (test data).
func Hex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(fmt.Sprintf("cardtest: bad hex %q: %v", s, err))
	}
	return b
}

// Transmit checks cmd against the next step and returns its response.
func (t *Transport) Transmit(cmd []byte) ([]byte, error) {
	t.tb.Helper()
	t.Sent = append(t.Sent, append([]byte(nil), cmd...))
	if t.pos >= len(t.steps) {
		t.tb.Fatalf("cardtest: unexpected command %X after the script ended", cmd)
		return nil, fmt.Errorf("cardtest: script ended")
	}
	s := t.steps[t.pos]
	t.pos++
	if s.Cmd != "*" && !bytes.Equal(cmd, Hex(s.Cmd)) {
		t.tb.Fatalf("cardtest: step %d: sent\n  %X\nwant\n  %X", t.pos-1, cmd, Hex(s.Cmd))
	}
	if s.Err != nil {
		return nil, s.Err
	}
	return Hex(s.Resp), nil
}

// BeginTransaction counts the call and returns the next scripted error.
func (t *Transport) BeginTransaction() error {
	t.Begins++
	if len(t.BeginErrs) > 0 {
		err := t.BeginErrs[0]
		t.BeginErrs = t.BeginErrs[1:]
		return err
	}
	return nil
}

// EndTransaction counts the call.
func (t *Transport) EndTransaction() error { t.Ends++; return nil }

// ATR returns ATRBytes.
func (t *Transport) ATR() []byte { return t.ATRBytes }

// Reset counts the call.
func (t *Transport) Reset() error { t.Resets++; return nil }

// Close marks the transport closed.
func (t *Transport) Close() error { t.Closed = true; return nil }

// Done fails the test if scripted steps were not used.
func (t *Transport) Done() {
	t.tb.Helper()
	if t.pos != len(t.steps) {
		t.tb.Errorf("cardtest: %d of %d scripted steps not sent; next: %s", len(t.steps)-t.pos, len(t.steps), t.steps[t.pos].Cmd)
	}
}

// Remaining returns how many steps are left.
func (t *Transport) Remaining() int { return len(t.steps) - t.pos }
