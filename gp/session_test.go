package gp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Round trips: a HostSession and a CardSession talk to each other.

type pair struct {
	host *HostSession
	card *CardSession
}

type pairOpts struct {
	protocol Protocol
	level    SecurityLevel
	master   KeySet
	div      Diversification
	kdd      [KDDLen]byte
	hostVer  byte // P1 of INITIALIZE UPDATE
}

func defaultKDD() [KDDLen]byte {
	return [KDDLen]byte{0x40, 0x90, 0x61, 0x45, 0xC7, 0x62, 0x24, 0x19, 0x2D, 0x2B}
}

func newPair(t testing.TB, o pairOpts) pair {
	t.Helper()
	cardKeys, err := Diversify(o.master, o.div, o.kdd[:])
	if err != nil {
		t.Fatal(err)
	}
	host, err := NewHostSession(HostConfig{Protocol: o.protocol, Keys: o.master, Diversification: o.div,
		Level: o.level, KeyVersion: o.hostVer})
	if err != nil {
		t.Fatal(err)
	}
	card, err := NewCardSession(CardConfig{Protocol: o.protocol, Keys: cardKeys, KDD: o.kdd, SequenceCounter: 0x0101})
	if err != nil {
		t.Fatal(err)
	}
	return pair{host, card}
}

// open runs INITIALIZE UPDATE and EXTERNAL AUTHENTICATE between the two.
func (p pair) open(t testing.TB) {
	t.Helper()
	iu, err := p.host.InitializeUpdate()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.card.InitializeUpdate(iu)
	if err != nil {
		t.Fatalf("card INITIALIZE UPDATE: %v", err)
	}
	ea, err := p.host.ExternalAuthenticate(append(resp, 0x90, 0x00))
	if err != nil {
		t.Fatalf("host EXTERNAL AUTHENTICATE: %v", err)
	}
	if err := p.card.ExternalAuthenticate(ea); err != nil {
		t.Fatalf("card EXTERNAL AUTHENTICATE: %v", err)
	}
	if !p.card.IsOpen() {
		t.Fatal("channel not open after EXTERNAL AUTHENTICATE")
	}
}

func (p pair) send(t *testing.T, plain []byte) {
	t.Helper()
	w, err := p.host.Wrap(plain)
	if err != nil {
		t.Fatalf("wrap %X: %v", plain, err)
	}
	got, err := p.card.Unwrap(w)
	if err != nil {
		t.Fatalf("unwrap of %X (wire %X): %v", plain, w, err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("unwrapped\n %X\nwant\n %X", got, plain)
	}
}

func wantStatus(t *testing.T, err error, sw uint16, reason error) {
	t.Helper()
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *StatusError", err)
	}
	if se.SW != sw {
		t.Errorf("SW %04X, want %04X (%v)", se.SW, sw, err)
	}
	if reason != nil && !errors.Is(err, reason) {
		t.Errorf("error %v is not %v", err, reason)
	}
}

type variant struct {
	name  string
	proto Protocol
	level SecurityLevel
	keys  KeySet
	div   Diversification
}

func variants() []variant {
	var out []variant
	for _, lv := range []SecurityLevel{LevelMAC, LevelMACEnc} {
		out = append(out,
			variant{fmt.Sprintf("SCP01/level%02X", byte(lv)), SCP01, lv, DeveloperKeySet(), DiversifyNone},
			variant{fmt.Sprintf("SCP01-VISA2/level%02X", byte(lv)), SCP01, lv, DeveloperKeySet(), DiversifyVISA2},
			variant{fmt.Sprintf("SCP02/level%02X", byte(lv)), SCP02, lv, DeveloperKeySet(), DiversifyNone},
			variant{fmt.Sprintf("SCP02-EMV/level%02X", byte(lv)), SCP02, lv, DeveloperKeySet(), DiversifyEMV},
			variant{fmt.Sprintf("SCP03/level%02X", byte(lv)), SCP03, lv, DeveloperKeySetAES(), DiversifyNone},
			variant{fmt.Sprintf("SCP03-KDF3/level%02X", byte(lv)), SCP03, lv, DeveloperKeySetAES(), DiversifyKDF3},
		)
	}
	return out
}

func (v variant) pair(t testing.TB) pair {
	return newPair(t, pairOpts{protocol: v.proto, level: v.level, master: v.keys, div: v.div, kdd: defaultKDD()})
}

// commandsOfAllSizes covers every padding case of every protocol, with and
// without Le, up to the largest data that still fits once wrapped.
func commandsOfAllSizes(t *testing.T, maxData int) [][]byte {
	var out [][]byte
	out = append(out, []byte{0x84, 0xF0, 0x0F, 0x00}, []byte{0x84, 0x56, 0x00, 0x00, 0x00})
	for n := 1; n <= maxData; n++ {
		if n > 40 && n%17 != 0 && n < maxData-2 {
			continue
		}
		data := make([]byte, n)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		c := Command{CLA: 0x84, INS: 0x54, P1: byte(n), P2: 0, Data: data, HasLe: n%3 == 0}
		b, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			if p.host.Protocol() != v.proto || p.card.Level() != v.level {
				t.Fatalf("protocol %v level %02X, want %v %02X", p.host.Protocol(), byte(p.card.Level()), v.proto, byte(v.level))
			}
			for _, c := range commandsOfAllSizes(t, p.host.ch.maxPlainData()) {
				p.send(t, c)
			}
			// A CLA 80 command goes out as 84 and comes back as 84.
			w, err := p.host.Wrap([]byte{0x80, 0xCA, 0x00, 0x66, 0x00})
			if err != nil {
				t.Fatal(err)
			}
			if w[0] != 0x84 {
				t.Errorf("wrapped CLA %02X, want 84", w[0])
			}
			if got, err := p.card.Unwrap(w); err != nil || !bytes.Equal(got, []byte{0x84, 0xCA, 0x00, 0x66, 0x00}) {
				t.Errorf("unwrap: %X, %v", got, err)
			}
			// Too long for one wrapped short APDU.
			big := append([]byte{0x84, 0x54, 0, 0, byte(p.host.ch.maxPlainData() + 1)}, make([]byte, p.host.ch.maxPlainData()+1)...)
			if _, err := p.host.Wrap(big); !errors.Is(err, ErrLength) {
				t.Errorf("oversized wrap: %v, want ErrLength", err)
			}
		})
	}
}

func TestEncryptionHidesData(t *testing.T) {
	for _, v := range variants() {
		if v.level != LevelMACEnc {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			secret := []byte("0123456789abcdef-new-pin")
			w, err := p.host.Wrap(append([]byte{0x84, 0x04, 0x00, 0x00, byte(len(secret))}, secret...))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(w, secret[:8]) || bytes.Contains(w, secret[8:16]) {
				t.Errorf("wire APDU %X contains plaintext", w)
			}
		})
	}
}

func TestTamperedCommandClosesChannel(t *testing.T) {
	cmd := []byte{0x84, 0x04, 0x00, 0x00, 0x08, 'p', 'a', 's', 's', 'w', 'o', 'r', 'd'}
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			// Flip every byte position in turn, including header, data and MAC.
			probe := v.pair(t)
			probe.open(t)
			w0, err := probe.host.Wrap(cmd)
			if err != nil {
				t.Fatal(err)
			}
			for i := range w0 {
				p := v.pair(t)
				p.open(t)
				w, err := p.host.Wrap(cmd)
				if err != nil {
					t.Fatal(err)
				}
				w[i] ^= 0x01
				_, err = p.card.Unwrap(w)
				if i == 4 { // Lc no longer matches the body
					wantStatus(t, err, SWWrongLength, ErrLength)
				} else {
					wantStatus(t, err, SWSecurityNotSatisfied, nil)
				}
				if p.card.IsOpen() {
					t.Fatalf("byte %d: channel still open after a bad MAC", i)
				}
				// Even a correct next command is refused now.
				w2, err := p.host.Wrap(cmd)
				if err != nil {
					t.Fatal(err)
				}
				_, err = p.card.Unwrap(w2)
				wantStatus(t, err, SWSecurityNotSatisfied, ErrNoChannel)
			}
		})
	}
}

func TestBadMACIsErrBadMAC(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			w, err := p.host.Wrap([]byte{0x84, 0xF0, 0x0F, 0x00})
			if err != nil {
				t.Fatal(err)
			}
			w[len(w)-1] ^= 0x80
			_, err = p.card.Unwrap(w)
			wantStatus(t, err, SWSecurityNotSatisfied, ErrBadMAC)
		})
	}
}

func TestReplayAndReorderAreRejected(t *testing.T) {
	a := []byte{0x84, 0x54, 0x00, 0x00, 0x03, 1, 2, 3}
	b := []byte{0x84, 0x54, 0x00, 0x00, 0x03, 4, 5, 6}
	for _, v := range variants() {
		t.Run(v.name+"/replay", func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			w, err := p.host.Wrap(a)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.card.Unwrap(w); err != nil {
				t.Fatal(err)
			}
			_, err = p.card.Unwrap(w)
			wantStatus(t, err, SWSecurityNotSatisfied, ErrBadMAC)
			if p.card.IsOpen() {
				t.Error("channel open after replay")
			}
		})
		t.Run(v.name+"/reorder", func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			wa, _ := p.host.Wrap(a)
			wb, err := p.host.Wrap(b)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.card.Unwrap(wb)
			wantStatus(t, err, SWSecurityNotSatisfied, ErrBadMAC)
			_, err = p.card.Unwrap(wa)
			wantStatus(t, err, SWSecurityNotSatisfied, ErrNoChannel)
		})
		t.Run(v.name+"/replay into a new session", func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			w, _ := p.host.Wrap(a)
			if _, err := p.card.Unwrap(w); err != nil {
				t.Fatal(err)
			}
			p.open(t)
			_, err := p.card.Unwrap(w)
			// At level 03 (SCP01/02) the new S-ENC usually garbles the
			// padding before the MAC is even checked: same SW either way.
			wantStatus(t, err, SWSecurityNotSatisfied, nil)
			if !errors.Is(err, ErrBadMAC) && !errors.Is(err, ErrBadPadding) {
				t.Errorf("error %v, want ErrBadMAC or ErrBadPadding", err)
			}
		})
	}
}

func TestWrongKeyVersion(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			p := newPair(t, pairOpts{protocol: v.proto, level: v.level, master: v.keys, div: v.div, kdd: defaultKDD(), hostVer: 2})
			iu, err := p.host.InitializeUpdate()
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.card.InitializeUpdate(iu)
			wantStatus(t, err, SWReferencedDataNotFound, ErrKeyVersion)
			sw, _ := StatusWord(err)
			// The host sees the card's 6A 88 as the same typed error.
			_, err = p.host.ExternalAuthenticate([]byte{byte(sw >> 8), byte(sw)})
			wantStatus(t, err, SWReferencedDataNotFound, ErrKeyVersion)

			// Version 01 (the card's) and 00 (current) both work.
			for _, ver := range []byte{0x00, 0x01} {
				p := newPair(t, pairOpts{protocol: v.proto, level: v.level, master: v.keys, div: v.div, kdd: defaultKDD(), hostVer: ver})
				p.open(t)
			}
		})
	}
}

func TestWrongKeys(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			other, err := GenerateKey(v.keys.Type(), 16, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			p := v.pair(t)
			// The host holds a different ENC key: the card cryptogram fails
			// on the host side.
			wrong := v.keys
			wrong.ENC = other
			wrong.MAC = other
			h, err := NewHostSession(HostConfig{Protocol: v.proto, Keys: wrong, Diversification: v.div, Level: v.level})
			if err != nil {
				t.Fatal(err)
			}
			iu, _ := h.InitializeUpdate()
			resp, err := p.card.InitializeUpdate(iu)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.ExternalAuthenticate(append(resp, 0x90, 0x00)); !errors.Is(err, ErrCardCryptogram) {
				t.Errorf("host with wrong keys: %v, want ErrCardCryptogram", err)
			}
		})
	}
}

func TestExternalAuthenticateFailures(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			start := func() (pair, []byte) {
				p := v.pair(t)
				iu, _ := p.host.InitializeUpdate()
				resp, err := p.card.InitializeUpdate(iu)
				if err != nil {
					t.Fatal(err)
				}
				ea, err := p.host.ExternalAuthenticate(append(resp, 0x90, 0x00))
				if err != nil {
					t.Fatal(err)
				}
				return p, ea
			}
			cases := []struct {
				name   string
				mutate func([]byte) []byte
				sw     uint16
				reason error
			}{
				{"host cryptogram", func(b []byte) []byte { b[5] ^= 1; return b }, SWAuthenticationFailed, ErrAuthFailed},
				{"MAC", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, SWSecurityNotSatisfied, ErrBadMAC},
				{"level 00", func(b []byte) []byte { b[2] = 0x00; return b }, SWConditionsNotSatisfied, ErrSecurityLevel},
				{"level 33", func(b []byte) []byte { b[2] = 0x33; return b }, SWConditionsNotSatisfied, ErrSecurityLevel},
				{"level changed 03↔01", func(b []byte) []byte { b[2] ^= 0x02; return b }, SWSecurityNotSatisfied, ErrBadMAC},
				{"short", func(b []byte) []byte { b[4] = 0x08; return b[:13] }, SWWrongLength, ErrLength},
				{"CLA 80", func(b []byte) []byte { b[0] = 0x80; return b }, SWSecurityNotSatisfied, nil},
			}
			for _, tc := range cases {
				p, ea := start()
				err := p.card.ExternalAuthenticate(tc.mutate(ea))
				if err == nil {
					t.Fatalf("%s: accepted", tc.name)
				}
				wantStatus(t, err, tc.sw, tc.reason)
				if p.card.IsOpen() {
					t.Errorf("%s: channel open", tc.name)
				}
				// The INITIALIZE UPDATE is used up: a correct retry is out of sequence.
				err = p.card.ExternalAuthenticate(ea)
				wantStatus(t, err, SWConditionsNotSatisfied, ErrSequence)
			}

			// EXTERNAL AUTHENTICATE with no INITIALIZE UPDATE at all.
			p := v.pair(t)
			err := p.card.ExternalAuthenticate([]byte{0x84, 0x82, 0x03, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8})
			wantStatus(t, err, SWConditionsNotSatisfied, ErrSequence)
			// And wrapped commands with no channel.
			_, err = p.card.Unwrap([]byte{0x84, 0xF0, 0x0F, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8})
			wantStatus(t, err, SWSecurityNotSatisfied, ErrNoChannel)
		})
	}
}

func TestCloseEndsChannel(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			p.card.Close()
			w, _ := p.host.Wrap([]byte{0x84, 0xF0, 0x0F, 0x00})
			_, err := p.card.Unwrap(w)
			wantStatus(t, err, SWSecurityNotSatisfied, ErrNoChannel)
			// A new INITIALIZE UPDATE also ends an open channel.
			p.open(t)
			w, _ = p.host.Wrap([]byte{0x84, 0xF0, 0x0F, 0x00})
			iu, _ := NewHostSession(HostConfig{Keys: v.keys})
			b, _ := iu.InitializeUpdate()
			if _, err := p.card.InitializeUpdate(b); err != nil {
				t.Fatal(err)
			}
			_, err = p.card.Unwrap(w)
			wantStatus(t, err, SWSecurityNotSatisfied, ErrNoChannel)
		})
	}
}

func TestSCP02SequenceCounter(t *testing.T) {
	p := newPair(t, pairOpts{protocol: SCP02, level: LevelMACEnc, master: DeveloperKeySet(), kdd: defaultKDD()})
	if p.card.SequenceCounter() != 0x0101 {
		t.Fatalf("counter %04X", p.card.SequenceCounter())
	}
	p.open(t)
	first := p.host.SessionKeys()
	if got := p.host.CardResponse().SequenceCounter; !bytes.Equal(got, []byte{0x01, 0x01}) {
		t.Errorf("answered counter %X, want 0101", got)
	}
	if p.card.SequenceCounter() != 0x0102 {
		t.Errorf("counter after a session %04X, want 0102", p.card.SequenceCounter())
	}
	p.open(t)
	if p.host.SessionKeys().MAC.Equal(first.MAC) {
		t.Error("second session reused the session keys")
	}
	// A failed authentication does not advance the counter.
	iu, _ := p.host.InitializeUpdate()
	resp, _ := p.card.InitializeUpdate(iu)
	ea, _ := p.host.ExternalAuthenticate(append(resp, 0x90, 0x00))
	ea[6] ^= 1
	if err := p.card.ExternalAuthenticate(ea); err == nil {
		t.Fatal("tampered EXTERNAL AUTHENTICATE accepted")
	}
	if p.card.SequenceCounter() != 0x0103 {
		t.Errorf("counter %04X after a failed authentication, want 0103", p.card.SequenceCounter())
	}
}

func TestHostSequenceErrors(t *testing.T) {
	h, err := NewHostSession(HostConfig{Keys: DeveloperKeySet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Wrap([]byte{0x84, 0xF0, 0x0F, 0x00}); !errors.Is(err, ErrNotAuthenticated) {
		t.Errorf("wrap before authentication: %v", err)
	}
	if _, err := h.ExternalAuthenticate([]byte{0x90, 0x00}); !errors.Is(err, ErrSequence) {
		t.Errorf("EXTERNAL AUTHENTICATE before INITIALIZE UPDATE: %v", err)
	}
	if _, err := NewHostSession(HostConfig{Keys: DeveloperKeySet(), Level: 0x02}); !errors.Is(err, ErrSecurityLevel) {
		t.Errorf("level 02: %v", err)
	}
	if _, err := NewHostSession(HostConfig{}); err == nil {
		t.Error("empty key set accepted")
	}
	if _, err := NewCardSession(CardConfig{Protocol: SCP03, Keys: DeveloperKeySet()}); err == nil {
		t.Error("SCP03 card with 3DES keys accepted")
	}
	if _, err := NewCardSession(CardConfig{Protocol: SCP01, Keys: DeveloperKeySetAES()}); err == nil {
		t.Error("SCP01 card with AES keys accepted")
	}
	// A 3DES host talking to an SCP03 card.
	card, _ := NewCardSession(CardConfig{Protocol: SCP03, Keys: DeveloperKeySetAES()})
	iu, _ := h.InitializeUpdate()
	resp, err := card.InitializeUpdate(iu)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ExternalAuthenticate(append(resp, 0x90, 0x00)); err == nil {
		t.Error("3DES keys accepted for SCP03")
	}
}

func TestPutKeyChangeover(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			newMaster := KeySet{Version: 2}
			for _, k := range []*Key{&newMaster.ENC, &newMaster.MAC, &newMaster.KEK} {
				var err error
				if *k, err = GenerateKey(v.keys.Type(), 16, rand.Reader); err != nil {
					t.Fatal(err)
				}
			}
			// The TPS sends the card its diversified new keys.
			kdd := p.host.CardResponse().KDD
			newCard, err := Diversify(newMaster, v.div, kdd[:])
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := p.host.PutKey(newCard)
			if err != nil {
				t.Fatal(err)
			}
			if cmd.P1 != 0x01 || cmd.P2 != 0x81 || cmd.HasLe != (v.proto != SCP01) {
				t.Errorf("PUT KEY header P1 %02X P2 %02X Le %v", cmd.P1, cmd.P2, cmd.HasLe)
			}
			w, err := p.host.WrapCommand(cmd)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := p.card.UnwrapCommand(w)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.card.UnwrapPutKey(plain)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(newCard) {
				t.Fatalf("card got %v, want %v", got, newCard)
			}
			if err := p.card.SetKeys(got); err != nil {
				t.Fatal(err)
			}
			// The open channel still works with its session keys.
			p.send(t, []byte{0x84, 0xF0, 0x0F, 0x00})

			// New keys, version 2: works.
			p.host, _ = NewHostSession(HostConfig{Protocol: v.proto, Keys: newMaster, Diversification: v.div, Level: v.level, KeyVersion: 2})
			p.open(t)
			// Old keys: the card cryptogram no longer verifies.
			old, _ := NewHostSession(HostConfig{Protocol: v.proto, Keys: v.keys, Diversification: v.div, Level: v.level})
			iu, _ := old.InitializeUpdate()
			resp, err := p.card.InitializeUpdate(iu)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.ExternalAuthenticate(append(resp, 0x90, 0x00)); !errors.Is(err, ErrCardCryptogram) {
				t.Errorf("old keys: %v, want ErrCardCryptogram", err)
			}
			// Old version number: 6A 88.
			oldv, _ := NewHostSession(HostConfig{Protocol: v.proto, Keys: v.keys, Diversification: v.div, KeyVersion: 1})
			iu, _ = oldv.InitializeUpdate()
			_, err = p.card.InitializeUpdate(iu)
			wantStatus(t, err, SWReferencedDataNotFound, ErrKeyVersion)
		})
	}
}

func TestPutKeyRejectsBadData(t *testing.T) {
	p := newPair(t, pairOpts{protocol: SCP02, level: LevelMACEnc, master: DeveloperKeySet(), kdd: defaultKDD()})
	p.open(t)
	good, err := p.host.PutKey(DeveloperKeySet())
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(c *Command)) Command {
		c := good
		c.Data = bytes.Clone(good.Data)
		f(&c)
		return c
	}
	cases := []struct {
		name string
		cmd  Command
		sw   uint16
	}{
		{"bad KCV", mutate(func(c *Command) { c.Data[len(c.Data)-1] ^= 1 }), SWWrongData},
		{"bad wrapped key", mutate(func(c *Command) { c.Data[3] ^= 1 }), SWWrongData},
		{"truncated", mutate(func(c *Command) { c.Data = c.Data[:30] }), SWWrongData},
		{"trailing byte", mutate(func(c *Command) { c.Data = append(c.Data, 0) }), SWWrongData},
		{"wrong P2", mutate(func(c *Command) { c.P2 = 0x01 }), SWWrongP1P2},
		{"wrong current version", mutate(func(c *Command) { c.P1 = 0x05 }), SWReferencedDataNotFound},
		{"empty", mutate(func(c *Command) { c.Data = nil }), SWWrongLength},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.card.UnwrapPutKey(tc.cmd)
			wantStatus(t, err, tc.sw, nil)
		})
	}
}

func TestEnrollmentChallengeAndTransportKey(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			p := v.pair(t)
			p.open(t)
			challenge := make([]byte, 16)
			rand.Read(challenge)
			blk, err := p.host.WrapChallenge(challenge)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := blk.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if len(enc) != 19 || enc[0] != 0x00 || enc[1] != 0x10 || enc[18] != 0x00 {
				t.Errorf("challenge block %X, want 00 10 <16> 00", enc)
			}
			parsed, n, err := ParseKeyBlock(enc)
			if err != nil || n != len(enc) {
				t.Fatalf("parse: %v (%d bytes)", err, n)
			}
			got, err := p.card.DecryptChallenge(parsed)
			if err != nil || !bytes.Equal(got, challenge) {
				t.Fatalf("card decrypted %X, %v; want %X", got, err, challenge)
			}

			if v.proto == SCP03 {
				return // IMPORT KEY ENCRYPTED with AES transport keys is not implemented
			}
			tk, err := GenerateKey(DES3, 16, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tb, err := p.host.WrapTransportKey(tk)
			if err != nil {
				t.Fatal(err)
			}
			iv := make([]byte, 8)
			rand.Read(iv)
			data, err := ImportKeyEncrypted{ObjectID: 0xFFFFFFFF, Key: tb, IV: iv}.Encode()
			if err != nil {
				t.Fatal(err)
			}
			d, rest, err := ParseImportKeyEncrypted(data)
			if err != nil || len(rest) != 0 || d.ObjectID != 0xFFFFFFFF || !bytes.Equal(d.IV, iv) {
				t.Fatalf("parse: %+v %X %v", d, rest, err)
			}
			k, err := p.card.UnwrapTransportKey(d.Key)
			if err != nil || !k.Equal(tk) {
				t.Fatalf("card unwrapped %v, %v; want %v", k, err, tk)
			}
			// The blob encrypted under the transport key decrypts on the card.
			blob := bytes.Repeat([]byte("PKCS#8 key blob"), 4)[:56]
			ct, err := tk.EncryptCBC(iv, blob)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := k.DecryptCBC(iv, ct)
			if err != nil || !bytes.Equal(pt, blob) {
				t.Fatalf("blob round trip: %v", err)
			}
			d.Key.Check[0] ^= 1
			if _, err := p.card.UnwrapTransportKey(d.Key); !errors.Is(err, ErrBadKeyData) {
				t.Errorf("bad KCV: %v, want ErrBadKeyData", err)
			}
		})
	}
}

// Keys never show up in formatted output.
func TestKeysAreRedacted(t *testing.T) {
	secret, err := NewKey(DES3, []byte("\x13\x37SECRETKEYBYT\xfe\xed"))
	if err != nil {
		t.Fatal(err)
	}
	ks := KeySet{Version: 7, ENC: secret, MAC: secret, KEK: secret}
	p := newPair(t, pairOpts{protocol: SCP02, level: LevelMACEnc, master: ks, kdd: defaultKDD()})
	p.open(t)
	values := []any{
		secret, &secret, ks, &ks, p.host.SessionKeys(), p.host, p.card, p.host.CardKeys(),
		HostConfig{Keys: ks}, CardConfig{Keys: ks}, []Key{secret}, map[string]Key{"k": secret},
		struct{ K Key }{secret},
	}
	forbidden := []string{
		string(secret.b), fmt.Sprintf("%x", secret.b), fmt.Sprintf("%X", secret.b), "SECRET", "1337",
		fmt.Sprintf("%x", p.host.SessionKeys().MAC.b), fmt.Sprintf("%X", p.host.SessionKeys().MAC.b),
		fmt.Sprintf("%X", p.host.SessionKeys().ENC.b[:4]), "19 55 ", "[19 55",
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%T %v"} {
			out := fmt.Sprintf(verb, v)
			for _, f := range forbidden {
				if strings.Contains(out, f) {
					t.Errorf("fmt %s of %T reveals key material: %s", verb, v, out)
				}
			}
		}
	}
	if s := secret.String(); !strings.Contains(s, "KCV") {
		t.Errorf("String() = %q, want type, length and KCV", s)
	}
}

func TestParseKeyErrorDoesNotEchoInput(t *testing.T) {
	_, err := ParseKey(DES3, "404142434445464748494A4B4C4D4EZZ")
	if err == nil || strings.Contains(err.Error(), "4041") {
		t.Errorf("error %v", err)
	}
	k, err := ParseKey(DES3, "40:41:42:43:44:45:46:47 48:49:4A:4B:4C:4D:4E:4F")
	if err != nil || !k.Equal(DeveloperKeySet().ENC) {
		t.Errorf("ParseKey: %v", err)
	}
}

func TestHostKeyLookup(t *testing.T) {
	// A TKS-like lookup: developer keys for version 01, a VISA2-diversified
	// master key set for version 02.
	master2 := KeySet{Version: 2}
	for _, k := range []*Key{&master2.ENC, &master2.MAC, &master2.KEK} {
		*k, _ = GenerateKey(DES3, 16, rand.Reader)
	}
	lookup := func(r InitializeUpdateResponse) (KeySet, Diversification, error) {
		switch r.KeyVersion {
		case 1:
			return DeveloperKeySet(), DiversifyNone, nil
		case 2:
			return master2, DiversifyVISA2, nil
		}
		return KeySet{}, 0, errors.New("no such key set")
	}
	kdd := defaultKDD()
	card2, _ := Diversify(master2, DiversifyVISA2, kdd[:])
	for _, cardKeys := range []KeySet{DeveloperKeySet(), card2} {
		card, err := NewCardSession(CardConfig{Protocol: SCP02, Keys: cardKeys, KDD: kdd})
		if err != nil {
			t.Fatal(err)
		}
		host, err := NewHostSession(HostConfig{KeyLookup: lookup})
		if err != nil {
			t.Fatal(err)
		}
		p := pair{host, card}
		p.open(t)
		p.send(t, []byte{0x84, 0xF0, 0x0F, 0x00})
		if !host.CardKeys().Equal(cardKeys) {
			t.Errorf("host derived %v, card has %v", host.CardKeys(), cardKeys)
		}
	}
	// Unknown version: the lookup error comes back.
	card, _ := NewCardSession(CardConfig{Protocol: SCP01, Keys: KeySet{Version: 9, ENC: master2.ENC, MAC: master2.MAC, KEK: master2.KEK}})
	host, _ := NewHostSession(HostConfig{KeyLookup: lookup})
	iu, _ := host.InitializeUpdate()
	resp, _ := card.InitializeUpdate(iu)
	if _, err := host.ExternalAuthenticate(append(resp, 0x90, 0x00)); err == nil || !strings.Contains(err.Error(), "no such key set") {
		t.Errorf("unknown version: %v", err)
	}
}
