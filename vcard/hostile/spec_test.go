package hostile

import (
	"errors"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

func TestParseFaults(t *testing.T) {
	r := newRig(t, enrolled(t), &Proxy{})
	f, err := ParseFaults("sw=6F00@ins:F2, remove@5-", r.slot)
	if err != nil {
		t.Fatal(err)
	}
	r.proxy.SetFault(f)
	c := r.dial(t)
	if err := c.SelectApplet(); err != nil {
		t.Fatal(err)
	}
	var se *cardedge.StatusError
	if _, err := c.LifeCycle(); !errors.As(err, &se) || se.SW != 0x6F00 {
		t.Fatalf("GET LIFE CYCLE: %v, want 6F00", err)
	}
	for i := 0; i < 5; i++ {
		if _, err := c.ReadObjectChunk(cardedge.CombinedObjectID, 0, 16); err != nil {
			if !errors.Is(err, cardedge.ErrNoCard) || r.proxy.APDUs() < 5 {
				t.Fatalf("read %d: %v", i, err)
			}
			return
		}
	}
	t.Fatal("the card never left")
}

func TestParseFaultsErrors(t *testing.T) {
	for _, spec := range []string{"", "bogus", "sw=12", "sw", "truncate=-1", "remove=1", "remove@0", "remove@x", "6c=XYZ",
		"chain61=0", "chain61=", "stall=forever", "replace=zz", "drop@ins:1234"} {
		if _, err := ParseFaults(spec, nil); err == nil {
			t.Errorf("%q parsed", spec)
		}
	}
	for _, spec := range []string{"remove@3", "remove-before@2-", "glitch@ins:2A", "truncate=1", "pad=300", "replace=", "replace=9000",
		"6c=10", "endless61@4", "chain61=1:7:200", "stall=10ms", "drop@9", "sw=6A82@ins:A4,remove@10-"} {
		if _, err := ParseFaults(spec, nil); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
	if !strings.Contains(SpecHelp, "chain61") {
		t.Error("SpecHelp misses a rule")
	}
}

// FuzzParseFaults: the --fault specification comes from a command line.
func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"remove@3", "sw=6A82@ins:A4,remove@10-", "chain61=1:7:200", "stall=10ms", "replace=", "@", ",,", "pad=99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		fault, err := ParseFaults(spec, nil)
		if err != nil {
			return
		}
		if fault == nil {
			t.Fatal("nil fault without an error")
		}
	})
}
