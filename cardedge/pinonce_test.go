package cardedge

import (
	"errors"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge/cardtest"
)

// A 6Cxx answer to a command carrying a PIN is returned, never followed by
// a re-send: the card already has the PIN, and a card that counted a wrong
// one would count it twice (found by reliability's TestPINNeverRetried; the
// scripted card fails the test if a second command arrives).
func TestPINCommandsNeverResent(t *testing.T) {
	tests := []struct {
		name string
		run  func(c *Card) error
		cmd  string
	}{
		{"VERIFY PIN", func(c *Card) error { return c.VerifyPIN(UserPIN, []byte("1234")) }, "B0 42 00 00 04 31323334"},
		{"CHANGE PIN", func(c *Card) error { return c.ChangePIN(UserPIN, []byte("1234"), []byte("5678")) }, "B0 44 00 00 0A 04 31323334 04 35363738"},
		{"CREATE PIN", func(c *Card) error { return c.CreatePIN(1, 3, []byte("1234")) }, "B0 40 01 03 0C 31323334" + zeroNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := cardtest.New(t, step{Cmd: tt.cmd, Resp: "6C08"})
			err := tt.run(NewCard(ft))
			ft.Done()
			var se *StatusError
			if !errors.As(err, &se) || se.SW != 0x6C08 {
				t.Fatalf("err = %v, want status 6C08", err)
			}
		})
	}
	// A GET LIFE CYCLE still follows 6Cxx.
	ft := cardtest.New(t, step{Cmd: "B0F2000004", Resp: "6C04"}, step{Cmd: "B0F2000004", Resp: "0F010101 9000"})
	if _, err := NewCard(ft).LifeCycle(); err != nil {
		t.Fatal(err)
	}
	ft.Done()
}
