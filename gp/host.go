package gp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// HostConfig configures the host (TPS) end of a secure channel.
type HostConfig struct {
	// Protocol expected from the card; 0 takes it from the INITIALIZE UPDATE
	// answer (see ParseInitializeUpdateResponse).
	Protocol Protocol
	// Keys are the master keys (or the card's static keys when
	// Diversification is DiversifyNone).
	Keys            KeySet
	Diversification Diversification
	// KeyLookup, when set, replaces Keys and Diversification: it is called
	// with the card's INITIALIZE UPDATE answer and returns the master keys
	// and diversification for that card and key version, as a TKS looks up
	// its key set by key information (e.g. developer keys undiversified for
	// version 01, VISA2-diversified master keys above).
	KeyLookup func(InitializeUpdateResponse) (KeySet, Diversification, error)
	// Level is the security level requested in EXTERNAL AUTHENTICATE;
	// 0 means LevelMACEnc, which Dogtag always uses.
	Level SecurityLevel
	// KeyVersion and KeyIndex are P1 and P2 of INITIALIZE UPDATE; 0 asks
	// for the card's current key set.
	KeyVersion, KeyIndex byte
	// InitializeUpdateLe appends Le=00 to INITIALIZE UPDATE (GPPro style).
	InitializeUpdateLe bool
	// Rand supplies the host challenge; nil means crypto/rand.
	Rand io.Reader
}

// HostSession is the host end of one secure channel: call InitializeUpdate,
// send it, pass the card's answer to ExternalAuthenticate, send that, and
// then Wrap every command. A HostSession is not safe for concurrent use.
type HostSession struct {
	cfg   HostConfig
	hc    [ChallengeLen]byte
	state hostState
	resp  InitializeUpdateResponse
	card  KeySet // the card's static keys (diversified)
	ch    channel
}

type hostState uint8

const (
	hostNew hostState = iota
	hostChallengeSent
	hostAuthenticated
)

// NewHostSession checks the configuration and returns a session ready for
// InitializeUpdate.
func NewHostSession(cfg HostConfig) (*HostSession, error) {
	if cfg.KeyLookup == nil {
		if err := cfg.Keys.Validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Level == 0 {
		cfg.Level = LevelMACEnc
	}
	if !cfg.Level.valid() {
		return nil, fmt.Errorf("gp: security level %02X: %w", byte(cfg.Level), ErrSecurityLevel)
	}
	switch cfg.Protocol {
	case 0, SCP01, SCP02, SCP03:
	default:
		return nil, fmt.Errorf("gp: unsupported protocol %v", cfg.Protocol)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &HostSession{cfg: cfg}, nil
}

// InitializeUpdate draws a host challenge and returns the INITIALIZE UPDATE
// command APDU. Calling it again starts over.
func (h *HostSession) InitializeUpdate() ([]byte, error) {
	if _, err := io.ReadFull(h.cfg.Rand, h.hc[:]); err != nil {
		return nil, fmt.Errorf("gp: host challenge: %w", err)
	}
	h.state = hostChallengeSent
	h.ch = channel{}
	iu := InitializeUpdate{KeyVersion: h.cfg.KeyVersion, KeyIndex: h.cfg.KeyIndex,
		HostChallenge: h.hc, WithLe: h.cfg.InitializeUpdateLe}
	return iu.Encode(), nil
}

// HostChallenge returns the challenge sent in INITIALIZE UPDATE.
func (h *HostSession) HostChallenge() [ChallengeLen]byte { return h.hc }

// ExternalAuthenticate takes the card's full answer to INITIALIZE UPDATE
// (data and status word), checks it (status, requested key version, card
// cryptogram), derives the session keys and returns the EXTERNAL
// AUTHENTICATE command APDU. A status word other than 9000 comes back as a
// *StatusError (6A 88: ErrKeyVersion); a wrong card cryptogram as
// ErrCardCryptogram.
func (h *HostSession) ExternalAuthenticate(initUpdateResponse []byte) ([]byte, error) {
	if h.state != hostChallengeSent {
		return nil, fmt.Errorf("gp: EXTERNAL AUTHENTICATE before INITIALIZE UPDATE: %w", ErrSequence)
	}
	h.state = hostNew // any failure below needs a new INITIALIZE UPDATE
	data, sw, err := splitResponse(initUpdateResponse)
	if err != nil {
		return nil, err
	}
	if sw != SWOK {
		return nil, cardStatusError(sw)
	}
	r, err := ParseInitializeUpdateResponse(data, h.cfg.Protocol)
	if err != nil {
		return nil, err
	}
	if h.cfg.KeyVersion != 0 && r.KeyVersion != h.cfg.KeyVersion {
		return nil, fmt.Errorf("gp: asked for key version %02X, card answered with %02X: %w",
			h.cfg.KeyVersion, r.KeyVersion, ErrKeyVersion)
	}
	p := r.layout()
	master, div := h.cfg.Keys, h.cfg.Diversification
	if h.cfg.KeyLookup != nil {
		if master, div, err = h.cfg.KeyLookup(r); err != nil {
			return nil, fmt.Errorf("gp: key lookup for key version %02X: %w", r.KeyVersion, err)
		}
	}
	master.Version = r.KeyVersion
	card, err := Diversify(master, div, r.KDD[:])
	if err != nil {
		return nil, err
	}
	sk, err := sessionKeys(p, card, h.hc[:], r)
	if err != nil {
		return nil, err
	}
	cardCrypto, hostCrypto := cryptograms(p, sk, h.hc[:], r)
	if !equalMAC(cardCrypto, r.CardCryptogram[:]) {
		return nil, fmt.Errorf("gp: %w", ErrCardCryptogram)
	}
	h.resp, h.card = r, card
	h.ch = channel{proto: p, level: h.cfg.Level, keys: sk}
	ea := Command{CLA: 0x84, INS: INSExternalAuthenticate, P1: byte(h.cfg.Level), P2: 0x00, Data: hostCrypto}
	out, err := h.ch.wrap(ea, false, false)
	if err != nil {
		return nil, err
	}
	h.state = hostAuthenticated
	return out, nil
}

// ErrNotAuthenticated is returned by host operations that need a channel
// (Wrap, key wrapping) before ExternalAuthenticate succeeded.
var ErrNotAuthenticated = errors.New("gp: secure channel not established")

// Wrap secures a plain command APDU (CLA 80 or 84, any ISO case) for the
// channel: C-MAC, and C-DECRYPTION of the data at level 03. The result has
// CLA 84.
func (h *HostSession) Wrap(apdu []byte) ([]byte, error) {
	c, err := ParseCommand(apdu)
	if err != nil {
		return nil, err
	}
	return h.WrapCommand(c)
}

// WrapCommand is Wrap for a parsed command.
func (h *HostSession) WrapCommand(c Command) ([]byte, error) {
	if h.state != hostAuthenticated {
		return nil, ErrNotAuthenticated
	}
	return h.ch.wrap(c, h.ch.level.encrypts(), true)
}

// Protocol returns the protocol in use (after ExternalAuthenticate).
func (h *HostSession) Protocol() Protocol { return h.ch.proto }

// Level returns the security level in use.
func (h *HostSession) Level() SecurityLevel { return h.cfg.Level }

// CardResponse returns the card's parsed INITIALIZE UPDATE answer (KDD, key
// information, challenges) after ExternalAuthenticate.
func (h *HostSession) CardResponse() InitializeUpdateResponse { return h.resp }

// CardKeys returns the card's static keys (the master keys diversified with
// the card's KDD) after ExternalAuthenticate.
func (h *HostSession) CardKeys() KeySet { return h.card }

// SessionKeys returns the session keys after ExternalAuthenticate.
func (h *HostSession) SessionKeys() SessionKeys { return h.ch.keys }

// String describes the session without its keys.
func (h *HostSession) String() string {
	if h.state != hostAuthenticated {
		return "gp.HostSession(not authenticated)"
	}
	return fmt.Sprintf("gp.HostSession(%v, level %02X, key version %02X)", h.ch.proto, byte(h.ch.level), h.resp.KeyVersion)
}

// Format makes every verb print the redacted form.
func (h *HostSession) Format(f fmt.State, _ rune) { fmt.Fprint(f, h.String()) }
