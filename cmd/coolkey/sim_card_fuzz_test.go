package main

import (
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// FuzzControlCommand: `coolkey sim card serve --control` answers whatever
// one-line command a local client sends: a known command changes the slot
// and reports its state, anything else is an error line; nothing panics
// and the answer is one line.
func FuzzControlCommand(f *testing.F) {
	for _, c := range []string{"insert", "remove", "toggle", "status", "", "INSERT", "remove\x00", "\xff"} {
		f.Add(c)
	}
	card, err := vcard.New(vcard.BlankImage(cardedge.CPLCForCUID(cardedge.CUID{0x40, 0x90}).Encode()[3:]), vcard.Options{})
	if err != nil {
		f.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	f.Fuzz(func(t *testing.T, cmd string) {
		ans := controlCommand(slot, cmd)
		if strings.Contains(ans, "\n") {
			t.Fatalf("a multi-line answer to %q", cmd)
		}
		switch cmd {
		case "insert", "remove", "toggle", "status":
			if !strings.HasPrefix(ans, "inserted ") && !strings.HasPrefix(ans, "removed ") {
				t.Fatalf("%q answered %q", cmd, ans)
			}
		default:
			if !strings.HasPrefix(ans, "error: ") {
				t.Fatalf("unknown command %q answered %q", cmd, ans)
			}
		}
	})
}
