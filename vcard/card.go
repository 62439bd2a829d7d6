package vcard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Options configure a Card.
type Options struct {
	// Store receives the card image after every command that changed
	// something the real card keeps in EEPROM. Nil keeps the card in
	// memory only.
	Store Store
	// SecureChannel opens GlobalPlatform secure channel sessions; nil
	// means GPSecureChannel, the SCP01/SCP02/SCP03 implementation of
	// package gp.
	SecureChannel SecureChannelProvider
	// WrongPINDelay is how long the card stays busy after a wrong PIN. The
	// applet waits about one second (delay(1000)) to slow down guessing;
	// the default 0 keeps tests fast.
	WrongPINDelay time.Duration
	// Rand is the card's random source; nil means crypto/rand.
	Rand io.Reader
}

// Store persists card images.
type Store interface {
	Save(img *Image) error
}

type application int

const (
	appISD application = iota
	appApplet
)

// Card is a virtual CoolKey card. Its methods are safe for concurrent use;
// commands are processed one at a time, as on a card.
type Card struct {
	mu   sync.Mutex
	opts Options

	// persistent
	atr           []byte
	cplc          []byte // 42 bytes, without the 9F7F tag
	cardLifeCycle byte
	sd            SecurityDomain
	pkg           *Package // the applet's load file, nil on a blank card
	applet        *applet  // the applet instance, nil when not installed

	// volatile
	selected application
	pending  SecureSession // after INITIALIZE UPDATE
	session  SecureSession // after EXTERNAL AUTHENTICATE
	loading  *loadSession  // between INSTALL [for load] and the last LOAD
	dirty    bool
	powered  bool
	comment  string // the image's free-text comment, kept across saves
}

// ErrStore wraps a failure to persist the card image. The command that
// caused it was answered with 6581 (memory failure).
var ErrStore = errors.New("vcard: saving the card image failed")

// New builds a card from an image.
func New(img *Image, opts Options) (*Card, error) {
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.SecureChannel == nil {
		opts.SecureChannel = GPSecureChannel{Rand: opts.Rand}
	}
	c := &Card{opts: opts}
	if err := c.load(img); err != nil {
		return nil, err
	}
	return c, nil
}

// ATR returns the answer to reset.
func (c *Card) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.atr)
}

// PowerOn cold-starts the card and returns its ATR. Everything volatile is
// lost: selection, secure channel, login nonce, I/O buffer.
func (c *Card) PowerOn() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powerOn()
	return bytes.Clone(c.atr)
}

// Reset warm-resets the card; to the card it is the same as a power cycle.
func (c *Card) Reset() []byte { return c.PowerOn() }

// PowerOff removes power.
func (c *Card) PowerOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powered = false
	c.endSession()
}

func (c *Card) powerOn() {
	c.powered = true
	c.selected = appISD
	c.endSession()
	if c.applet != nil {
		c.applet.powerOn()
	}
}

// Powered reports whether the card has power.
func (c *Card) Powered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.powered
}

// Transmit processes one command APDU and returns the response APDU. A card
// without power is powered on first. The error is non-nil only when the
// command changed persistent state and the Store failed to save it; the
// response is then 6581.
func (c *Card) Transmit(raw []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.powered {
		c.powerOn()
	}
	var data []byte
	var err error
	cmd, perr := ParseCommand(raw)
	if perr != nil {
		err = SWWrongLength
	} else {
		data, err = c.dispatch(cmd)
	}
	sw := SWOK
	if err != nil {
		data = nil
		if !errors.As(err, &sw) {
			sw = SWUnknown
		}
	}
	if c.dirty {
		c.dirty = false
		if serr := c.save(); serr != nil {
			return response(nil, SWMemoryFailure), serr
		}
	}
	return response(data, sw), nil
}

func (c *Card) save() error {
	if c.opts.Store == nil {
		return nil
	}
	if err := c.opts.Store.Save(c.image()); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Image returns a snapshot of the card's persistent contents.
func (c *Card) Image() *Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.image()
}

func (c *Card) markDirty() { c.dirty = true }

func (c *Card) rand() io.Reader { return c.opts.Rand }

func (c *Card) random(b []byte) error {
	_, err := io.ReadFull(c.opts.Rand, b)
	return err
}

func (c *Card) wrongPINDelay() {
	if c.opts.WrongPINDelay > 0 {
		time.Sleep(c.opts.WrongPINDelay)
	}
}

// generateKeyPair fills a private and a public key slot with a new pair.
func (c *Card) generateKeyPair(prv, pub *key, bits int) error {
	switch prv.typ {
	case KeyRSACRTPrivate:
		k, err := rsa.GenerateKey(c.opts.Rand, bits)
		if err != nil {
			return SWUnknown
		}
		*prv = key{typ: KeyRSACRTPrivate, bits: bits, initialized: true, rsaPriv: k}
		*pub = key{typ: KeyRSAPublic, bits: bits, initialized: true, rsaPub: &k.PublicKey}
	case KeyECFpPrivate:
		curve := curveForBits(bits)
		if curve == nil {
			return SWUnknown
		}
		k, err := ecdsa.GenerateKey(curve, c.opts.Rand)
		if err != nil {
			return SWUnknown
		}
		*prv = key{typ: KeyECFpPrivate, bits: bits, initialized: true, ecPriv: k}
		*pub = key{typ: KeyECFpPublic, bits: bits, initialized: true, ecPub: &k.PublicKey}
	default:
		return SWUnknown
	}
	return nil
}

// dispatch routes a command: SELECT to the card runtime, everything else to
// the selected application.
func (c *Card) dispatch(cmd Command) ([]byte, error) {
	if cmd.CLA&0xFC == 0x00 && cmd.INS == 0xA4 && cmd.P1 == 0x04 {
		return c.selectByName(cmd)
	}
	if c.selected == appApplet && c.applet != nil {
		return c.applet.process(cmd)
	}
	return c.isdProcess(cmd)
}

// selectByName selects the application whose AID starts with the command's
// data (partial selection, as Java Card allows); an empty AID selects the
// issuer security domain. Any successful SELECT ends a secure channel.
func (c *Card) selectByName(cmd Command) ([]byte, error) {
	aid := cmd.Data
	target := application(-1)
	switch {
	case len(aid) == 0 || bytes.HasPrefix(c.sd.AID, aid) && len(aid) >= 5:
		target = appISD
	case c.applet != nil && c.applet.selectable() && len(aid) >= 5 && bytes.HasPrefix(c.applet.aid, aid):
		target = appApplet
	}
	if target < 0 || cmd.P2&0x03 != 0 {
		return nil, SWFileNotFound
	}
	if c.selected == appApplet && c.applet != nil {
		c.applet.deselect()
	}
	c.endSession()
	c.selected = target
	if target == appApplet {
		// CardEdge answers its own selection with 90 00 and no data.
		return nil, nil
	}
	if cmd.P2&0x0C == 0x0C {
		return nil, nil // no response data requested
	}
	return c.fci(), nil
}

func (c *Card) endSession() {
	c.pending, c.session = nil, nil
	c.loading = nil
}

// initializeUpdate starts a secure channel session (80 50), for the
// security domain or on behalf of the applet.
func (c *Card) initializeUpdate(cmd Command) ([]byte, error) {
	c.endSession()
	before := c.sd.SequenceCounter
	resp, s, err := c.opts.SecureChannel.InitializeUpdate(&c.sd, cmd)
	if c.sd.SequenceCounter != before {
		c.markDirty()
	}
	if err != nil {
		return nil, err
	}
	c.pending = s
	return resp, nil
}

func (c *Card) externalAuthenticate(cmd Command) error {
	s := c.pending
	c.endSession()
	if s == nil {
		return SWConditionsNotSatisfied
	}
	before := c.sd.SequenceCounter
	err := s.ExternalAuthenticate(cmd)
	if c.sd.SequenceCounter != before {
		c.markDirty()
	}
	if err != nil {
		return err
	}
	c.session = s
	return nil
}

// unwrap checks an 84-class command through the open session.
func (c *Card) unwrap(cmd Command) (Command, error) {
	if c.session == nil {
		return Command{}, SWSecurityNotSatisfied
	}
	plain, err := c.session.Unwrap(cmd)
	if err != nil {
		c.endSession()
		return Command{}, err
	}
	return plain, nil
}

func (c *Card) decryptChallenge(block []byte) ([]byte, error) {
	if c.session == nil {
		return nil, SWSecurityNotSatisfied
	}
	return c.session.DecryptChallenge(block)
}

func (c *Card) unwrapTransportKey(block []byte) ([]byte, error) {
	if c.session == nil {
		return nil, SWSecurityNotSatisfied
	}
	return c.session.UnwrapTransportKey(block)
}
