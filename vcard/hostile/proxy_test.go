package hostile

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

var (
	imageOnce sync.Once
	image     *vcard.Image
	imageErr  error
)

// enrolled returns an enrolled image (RSA-1024, for speed), built once.
func enrolled(t *testing.T) *vcard.Image {
	t.Helper()
	imageOnce.Do(func() {
		var ca *testca.CA
		if ca, imageErr = testca.LoadOrCreate(t.TempDir()); imageErr != nil {
			return
		}
		image, imageErr = provision.NewImage(provision.Options{
			State: provision.Enrolled, User: "mallory", PIN: []byte("246810"),
			Keys: []provision.KeySpec{provision.RSA1024}, CA: ca,
		})
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return image
}

// rig is a card served on the socket transport behind a proxy.
type rig struct {
	slot  *vcard.Slot
	proxy *Proxy
	addr  string // the proxy's address, for hosts
}

func newRig(t *testing.T, img *vcard.Image, p *Proxy) *rig {
	t.Helper()
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	cardLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); serve.Listen(ctx, slot, cardLn, serve.Options{Logf: t.Logf}) }()
	go func() { defer wg.Done(); p.ServeHosts(ctx, hostLn, cardLn.Addr().String()) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &rig{slot: slot, proxy: p, addr: hostLn.Addr().String()}
}

func (r *rig) dial(t *testing.T) *cardedge.Card {
	t.Helper()
	tr, err := netcard.Dial(context.Background(), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return cardedge.NewCard(tr)
}

// readZ0 selects the applet and reads the first 255 bytes of z0.
func readZ0(c *cardedge.Card) ([]byte, error) {
	if err := c.SelectApplet(); err != nil {
		return nil, err
	}
	return c.ReadObjectChunk(cardedge.CombinedObjectID, 0, cardedge.MaxReadChunk)
}

func TestRelayRecordsHeadersOnly(t *testing.T) {
	r := newRig(t, enrolled(t), &Proxy{})
	c := r.dial(t)
	want, err := readZ0(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(cardedge.UserPIN, []byte("246810")); err != nil {
		t.Fatal(err)
	}
	if got := r.proxy.APDUs(); got != 3 {
		t.Errorf("APDUs() = %d, want 3", got)
	}
	if n := r.proxy.Count(0xB0, 0x42); n != 1 {
		t.Errorf("VERIFY PIN count %d, want 1", n)
	}
	hs := r.proxy.Commands()
	if len(hs) != 3 || hs[0].INS() != 0xA4 || hs[2] != (Header{0xB0, 0x42, 0x00, 0x00}) {
		t.Errorf("headers %X", hs)
	}
	if len(want) != cardedge.MaxReadChunk {
		t.Errorf("z0 chunk of %d bytes", len(want))
	}
}

func TestRemoveAfterAPDU(t *testing.T) {
	for _, before := range []bool{false, true} {
		r := newRig(t, enrolled(t), &Proxy{})
		c := r.dial(t)
		r.proxy.SetFault(At(2, Remove(r.slot, before)))
		_, err := readZ0(c)
		if !errors.Is(err, cardedge.ErrNoCard) {
			t.Fatalf("before=%v: %v, want ErrNoCard", before, err)
		}
		if present, _ := r.slot.State(); present {
			t.Fatalf("before=%v: the card is still in", before)
		}
		r.slot.Insert()
		c = r.dial(t)
		if _, err := readZ0(c); err != nil {
			t.Fatalf("after reinsertion: %v", err)
		}
	}
}

func TestGlitchForgetsSelection(t *testing.T) {
	r := newRig(t, enrolled(t), &Proxy{})
	c := r.dial(t)
	r.proxy.SetFault(At(1, Glitch(r.slot)))
	if err := c.SelectApplet(); err != nil {
		t.Fatal(err)
	}
	// The card powered up again with the card manager selected: the
	// CoolKey instruction is not understood.
	_, err := c.ReadObjectChunk(cardedge.CombinedObjectID, 0, 16)
	var se *cardedge.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("read after glitch: %v, want a status word", err)
	}
}

// A GET RESPONSE chain in odd pieces and answers written a byte at a time
// reach the host as the same response.
func TestChain61AndSplitWrites(t *testing.T) {
	plain := newRig(t, enrolled(t), &Proxy{})
	want, err := readZ0(plain.dial(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, sizes := range [][]int{{1}, {7, 13}, {256}, {200, 3}} {
		r := newRig(t, enrolled(t), &Proxy{Split: 5})
		r.proxy.SetFault(From(1, Chain61(sizes...)))
		got, err := readZ0(r.dial(t))
		if err != nil {
			t.Fatalf("sizes %v: %v", sizes, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("sizes %v: z0 differs", sizes)
		}
		if n := r.proxy.Count(0x00, 0xC0); n == 0 {
			t.Fatalf("sizes %v: no GET RESPONSE", sizes)
		}
	}
}

func TestMalformedAnswers(t *testing.T) {
	cases := []struct {
		name  string
		fault Fault
		check func(error) bool
	}{
		{"garbage SW", StatusWord(0x12, 0x34), func(err error) bool {
			var se *cardedge.StatusError
			return errors.As(err, &se)
		}},
		{"one byte", Truncate(1), func(err error) bool { return errors.Is(err, cardedge.ErrMalformedResponse) }},
		{"6C loop", Wrong6C(0x10), func(err error) bool {
			var se *cardedge.StatusError
			return errors.As(err, &se)
		}},
		{"endless 61", Replace(0x61, 0x01), func(err error) bool { return errors.Is(err, cardedge.ErrMalformedResponse) }},
		{"drop", Drop, func(err error) bool { return errors.Is(err, cardedge.ErrNoReader) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, enrolled(t), &Proxy{})
			r.proxy.SetFault(From(2, tc.fault))
			_, err := readZ0(r.dial(t))
			if err == nil || !tc.check(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestStallDelaysAnswer(t *testing.T) {
	r := newRig(t, enrolled(t), &Proxy{})
	r.proxy.SetFault(At(1, Stall(200*time.Millisecond, nil)))
	start := time.Now()
	if err := r.dial(t).SelectApplet(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
}

func TestHostileZ0(t *testing.T) {
	img := enrolled(t)
	faults := map[string]Z0Fault{
		"bomb":          Z0Bomb(30 << 20),
		"truncate":      Z0Truncate(100),
		"cut stream":    Z0CutStream(40),
		"oversize":      Z0Oversize(),
		"garbage":       Z0Garbage(4000, 1),
		"lying records": Z0LyingRecords(),
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			bad, err := WithZ0(img, f)
			if err != nil {
				t.Fatal(err)
			}
			var z0 []byte
			for _, o := range bad.Applet.Objects {
				if uint32(o.ID) == uint32(cardedge.CombinedObjectID) {
					z0 = o.Data
				}
			}
			if _, err := cardedge.DecodeCombined(z0); !errors.Is(err, cardedge.ErrMalformedObject) {
				t.Fatalf("DecodeCombined: %v, want ErrMalformedObject", err)
			}
			// The card accepts the image and serves the object.
			if _, err := vcard.New(bad, vcard.Options{}); err != nil {
				t.Fatalf("vcard.New: %v", err)
			}
		})
	}
	// The original is untouched.
	for _, o := range img.Applet.Objects {
		if uint32(o.ID) == uint32(cardedge.CombinedObjectID) {
			if _, err := cardedge.DecodeCombined(o.Data); err != nil {
				t.Fatalf("original z0 changed: %v", err)
			}
		}
	}
}
