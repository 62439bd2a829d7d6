package gp

import (
	"crypto/rand"
	"fmt"
	"io"
)

// CardConfig configures the card (security domain) end of a secure channel.
type CardConfig struct {
	Protocol Protocol
	// Keys are the card's current static keys; Keys.Version is the key
	// version it answers and accepts in INITIALIZE UPDATE.
	Keys KeySet
	// KDD is the key diversification data returned in INITIALIZE UPDATE,
	// normally the card's 10-byte CUID.
	KDD [KDDLen]byte
	// SequenceCounter is the SCP02 sequence counter for the next session. It
	// increases by one with every successful EXTERNAL AUTHENTICATE; persist
	// CardSession.SequenceCounter to keep it across power cycles.
	SequenceCounter uint16
	// Param is SCP03's "i" parameter. Only random card challenges are
	// implemented, so the pseudo-random bit (10) must be clear; 0 is fine.
	Param byte
	// Rand supplies card challenges; nil means crypto/rand.
	Rand io.Reader
}

// CardSession is the card end of the secure channel of one logical channel:
// feed it INITIALIZE UPDATE, EXTERNAL AUTHENTICATE and then every command
// with the secure-messaging class bit. Any failure closes the channel; the
// returned error carries the status word to answer (*StatusError). A
// CardSession is not safe for concurrent use.
type CardSession struct {
	cfg   CardConfig
	state cardState
	hc    []byte
	resp  InitializeUpdateResponse
	ch    channel
}

type cardState uint8

const (
	cardIdle cardState = iota
	cardInitialized
	cardOpen
)

// NewCardSession checks the configuration and returns a card session with
// no channel open.
func NewCardSession(cfg CardConfig) (*CardSession, error) {
	want := DES3
	switch cfg.Protocol {
	case SCP01, SCP02:
	case SCP03:
		want = AES
		if cfg.Param&scp03PseudoRandom != 0 {
			return nil, fmt.Errorf("gp: SCP03 pseudo-random card challenges (i=%02X) are not implemented", cfg.Param)
		}
	default:
		return nil, fmt.Errorf("gp: unsupported protocol %v", cfg.Protocol)
	}
	if err := checkStatic(cfg.Keys, want); err != nil {
		return nil, err
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &CardSession{cfg: cfg}, nil
}

// InitializeUpdate processes an INITIALIZE UPDATE command APDU and returns
// the response data (append 90 00). It closes any open channel first. A key
// version other than 00 or the card's answers ErrKeyVersion (6A 88).
func (c *CardSession) InitializeUpdate(apdu []byte) ([]byte, error) {
	c.Close()
	iu, err := ParseInitializeUpdate(apdu)
	if err != nil {
		return nil, err
	}
	if iu.KeyVersion != 0 && iu.KeyVersion != c.cfg.Keys.Version {
		return nil, statusError(SWReferencedDataNotFound,
			fmt.Errorf("key version %02X requested, card has %02X: %w", iu.KeyVersion, c.cfg.Keys.Version, ErrKeyVersion))
	}
	r := InitializeUpdateResponse{KDD: c.cfg.KDD, KeyVersion: c.cfg.Keys.Version, Protocol: c.cfg.Protocol}
	ccLen := 8
	switch c.cfg.Protocol {
	case SCP02:
		ccLen = 6
		r.SequenceCounter = []byte{byte(c.cfg.SequenceCounter >> 8), byte(c.cfg.SequenceCounter)}
	case SCP03:
		r.Param = c.cfg.Param
	}
	r.CardChallenge = make([]byte, ccLen)
	if _, err := io.ReadFull(c.cfg.Rand, r.CardChallenge); err != nil {
		return nil, fmt.Errorf("gp: card challenge: %w", err)
	}
	sk, err := sessionKeys(c.cfg.Protocol, c.cfg.Keys, iu.HostChallenge[:], r)
	if err != nil {
		return nil, err
	}
	cardCrypto, _ := cryptograms(c.cfg.Protocol, sk, iu.HostChallenge[:], r)
	copy(r.CardCryptogram[:], cardCrypto)
	out, err := r.Encode()
	if err != nil {
		return nil, err
	}
	c.hc = iu.HostChallenge[:]
	c.resp = r
	c.ch = channel{proto: c.cfg.Protocol, keys: sk}
	c.state = cardInitialized
	return out, nil
}

// ExternalAuthenticate processes an EXTERNAL AUTHENTICATE command APDU
// (84 82 <level> 00 10 <host cryptogram> <C-MAC>). On success the channel is
// open at the requested level. Errors: ErrSequence (69 85) without a
// preceding INITIALIZE UPDATE, ErrSecurityLevel (69 85), ErrLength (67 00),
// ErrAuthFailed (63 00) for a wrong host cryptogram, ErrBadMAC (69 82).
func (c *CardSession) ExternalAuthenticate(apdu []byte) error {
	if c.state != cardInitialized {
		c.Close()
		return statusError(SWConditionsNotSatisfied, ErrSequence)
	}
	// Whatever happens, this INITIALIZE UPDATE is used up.
	ch, hc, resp := c.ch, c.hc, c.resp
	c.Close()
	w, err := ParseCommand(apdu)
	if err != nil {
		return statusError(SWWrongLength, err)
	}
	if w.INS != INSExternalAuthenticate {
		return statusError(SWConditionsNotSatisfied, fmt.Errorf("INS %02X instead of EXTERNAL AUTHENTICATE: %w", w.INS, ErrSequence))
	}
	level := SecurityLevel(w.P1)
	if !level.valid() {
		// The CoolKey applet answers "conditions not satisfied" here.
		return statusError(SWConditionsNotSatisfied, fmt.Errorf("level %02X: %w", w.P1, ErrSecurityLevel))
	}
	if len(w.Data) != 16 {
		return statusError(SWWrongLength, fmt.Errorf("EXTERNAL AUTHENTICATE data of %d bytes: %w", len(w.Data), ErrLength))
	}
	_, hostCrypto := cryptograms(ch.proto, ch.keys, hc, resp)
	if !equalMAC(hostCrypto, w.Data[:8]) {
		return statusError(SWAuthenticationFailed, ErrAuthFailed)
	}
	if _, err := ch.unwrap(w, false, false); err != nil {
		return err
	}
	ch.level = level
	c.ch = ch
	c.state = cardOpen
	if c.cfg.Protocol == SCP02 {
		c.cfg.SequenceCounter++
	}
	return nil
}

// Unwrap verifies and strips the C-MAC of a secured command APDU (class with
// the 04 bit) and decrypts its data at level 03, returning the plain APDU
// (CLA unchanged, any Le kept). A bad or replayed MAC, malformed
// cryptogram or no open channel closes the channel and returns a
// *StatusError: ErrNoChannel and ErrBadMAC answer 69 82, a length error
// 67 00.
func (c *CardSession) Unwrap(apdu []byte) ([]byte, error) {
	cmd, err := c.UnwrapCommand(apdu)
	if err != nil {
		return nil, err
	}
	return cmd.Encode()
}

// UnwrapCommand is Unwrap returning the parsed plain command.
func (c *CardSession) UnwrapCommand(apdu []byte) (Command, error) {
	if c.state != cardOpen {
		c.Close()
		return Command{}, statusError(SWSecurityNotSatisfied, ErrNoChannel)
	}
	w, err := ParseCommand(apdu)
	if err != nil {
		c.Close()
		return Command{}, statusError(SWWrongLength, err)
	}
	plain, err := c.ch.unwrap(w, c.ch.level.encrypts(), true)
	if err != nil {
		c.Close()
		return Command{}, err
	}
	return plain, nil
}

// Close ends the channel (card reset, applet deselected, or a failure).
func (c *CardSession) Close() {
	c.state = cardIdle
	c.ch = channel{}
	c.hc = nil
}

// IsOpen reports whether EXTERNAL AUTHENTICATE succeeded and no failure or
// Close has ended the channel since.
func (c *CardSession) IsOpen() bool { return c.state == cardOpen }

// Level returns the security level of the open channel.
func (c *CardSession) Level() SecurityLevel { return c.ch.level }

// Protocol returns the configured protocol.
func (c *CardSession) Protocol() Protocol { return c.cfg.Protocol }

// Keys returns the card's current static key set.
func (c *CardSession) Keys() KeySet { return c.cfg.Keys }

// SetKeys replaces the static key set (after PUT KEY). An open channel keeps
// its session keys; the next INITIALIZE UPDATE uses the new keys and version.
func (c *CardSession) SetKeys(ks KeySet) error {
	if err := checkStatic(ks, c.cfg.Keys.Type()); err != nil {
		return err
	}
	c.cfg.Keys = ks
	return nil
}

// SequenceCounter returns the SCP02 sequence counter the next session will
// use.
func (c *CardSession) SequenceCounter() uint16 { return c.cfg.SequenceCounter }

// SessionKeys returns the session keys of the channel being opened or open
// (zero when idle).
func (c *CardSession) SessionKeys() SessionKeys { return c.ch.keys }

// String describes the session without its keys.
func (c *CardSession) String() string {
	state := map[cardState]string{cardIdle: "idle", cardInitialized: "awaiting EXTERNAL AUTHENTICATE", cardOpen: "open"}[c.state]
	return fmt.Sprintf("gp.CardSession(%v, key version %02X, %s)", c.cfg.Protocol, c.cfg.Keys.Version, state)
}

// Format makes every verb print the redacted form.
func (c *CardSession) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }
