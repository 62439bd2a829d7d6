package tpssim

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/tps"
)

// Every fault replaces the server's second message (the first is the
// SELECT a format starts with) with its misbehaviour, and nothing follows
// it — no END_OP.
func TestFaults(t *testing.T) {
	tests := []struct {
		kind  FaultKind
		check func(m tps.Message, err error) bool
	}{
		{FaultGarbage, func(_ tps.Message, err error) bool {
			var de *tps.DecodeError
			var fe *tps.FrameError
			return errors.As(err, &de) || errors.As(err, &fe)
		}},
		{FaultOversize, func(_ tps.Message, err error) bool {
			var fe *tps.FrameError
			return errors.As(err, &fe)
		}},
		{FaultWrongMessage, func(m tps.Message, err error) bool { return err == nil && m.Type() == tps.MsgTokenPDUResponse }},
		{FaultBadAPDU, func(_ tps.Message, err error) bool {
			var de *tps.DecodeError
			return errors.As(err, &de)
		}},
		{FaultBadChunk, func(_ tps.Message, err error) bool { return err != nil }},
		{FaultClose, func(_ tps.Message, err error) bool {
			return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		}},
		{FaultStall, func(_ tps.Message, err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			_, hs := newTestServer(t, func(c *Config) {
				c.Fault = &Fault{Kind: tt.kind, After: 1, Stall: 300 * time.Millisecond}
			})
			c := dialOp(t, hs)
			c.send(tps.BeginOp{Op: tps.OpFormat, Extensions: tps.Extensions{{Name: tps.ExtTokenType, Value: "userKey"}}})
			if m := c.recv(); m.Type() != tps.MsgTokenPDURequest {
				t.Fatalf("first message %v", m)
			}
			c.send(tps.TokenPDUResponse{Response: []byte{0x6A, 0x82}})
			start := time.Now()
			m, err := c.r.Read()
			if !tt.check(m, err) {
				t.Fatalf("got %v, %v", m, err)
			}
			if tt.kind == FaultStall && time.Since(start) < 300*time.Millisecond {
				t.Errorf("stall ended after %v", time.Since(start))
			}
			if tt.kind != FaultClose && tt.kind != FaultStall && err == nil {
				if m, err := c.r.Read(); err == nil {
					t.Fatalf("%v after the fault", m)
				}
			}
		})
	}
}
