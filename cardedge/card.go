package cardedge

import (
	"errors"
	"fmt"
)

// CLA bytes.
const (
	ClaISO      = 0x00
	ClaGP       = 0x80
	ClaGPSecure = 0x84
	ClaCardEdge = 0xB0
)

// CoolKey instruction bytes (CLA B0 unless noted).
const (
	insSelect          = 0xA4 // CLA 00
	insGetResponse     = 0xC0 // CLA 00
	insGetData         = 0xCA // CLA 80
	insComputeCrypt    = 0x36
	insComputeECCSign  = 0x37 // SC650 applet; OpenSC has 37 and 38 swapped
	insComputeECCAgree = 0x38
	insListKeys        = 0x3A
	insGetStatus       = 0x3C
	insCreatePIN       = 0x40
	insVerifyPIN       = 0x42
	insChangePIN       = 0x44
	insListPINs        = 0x48
	insGetPINTries     = 0x4A
	insDeleteObject    = 0x52
	insWriteObject     = 0x54
	insReadObject      = 0x56
	insListObjects     = 0x58
	insCreateObject    = 0x5A
	insLogout          = 0x61
	insGetBuildID      = 0x70
	insNOP             = 0x71
	insGetRandom       = 0x72
	insSeedRandom      = 0x73
	insGetLifeCycle    = 0xF2
	insGetIssuerInfo   = 0xF6
	insGetBuiltinACL   = 0xFA
)

// AIDs.
var (
	// AppletAID is the CoolKey applet instance.
	AppletAID = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00}
	// AppletPackageAID is the CoolKey load file.
	AppletPackageAID = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00}
	// CardManagerAID is the GlobalPlatform (OP 2.0.1) card manager.
	CardManagerAID = []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00}
)

// NonceSize is the length of the login nonce.
const NonceSize = 8

// Card is a session with one CoolKey card over a Transport: it runs the
// instructions, keeps the login nonce, and brackets logical operations in
// card transactions.
//
// A Card is not safe for concurrent use; the caller serialises.
type Card struct {
	t Transport
	// nonce is what VERIFY PIN returned; all zero while not logged in,
	// which the applet takes as the "anyone" identity.
	nonce    [NonceSize]byte
	loggedIn bool
	txDepth  int
}

// NewCard returns a session over t.
func NewCard(t Transport) *Card { return &Card{t: t} }

// Transport returns the underlying transport.
func (c *Card) Transport() Transport { return c.t }

// ATR returns the card's answer to reset.
func (c *Card) ATR() []byte { return c.t.ATR() }

// LoggedIn reports whether this session holds a login nonce.
func (c *Card) LoggedIn() bool { return c.loggedIn }

// ForgetLogin drops the login nonce without telling the card.
func (c *Card) ForgetLogin() {
	clear(c.nonce[:])
	c.loggedIn = false
}

// Transact runs fn inside a card transaction, so that no other process can
// interleave APDUs (and, e.g., select another applet). Nested calls join the
// outer transaction.
//
// When the transport reports that the card was reset or removed, the login
// is forgotten (the card forgot it too) and the error is returned; the caller
// re-reads whatever state it keeps.
func (c *Card) Transact(fn func() error) (err error) {
	if c.txDepth > 0 {
		c.txDepth++
		defer func() { c.txDepth-- }()
		return fn()
	}
	if err := c.t.BeginTransaction(); err != nil {
		c.noteTransportError(err)
		return err
	}
	c.txDepth = 1
	defer func() {
		c.txDepth = 0
		if endErr := c.t.EndTransaction(); endErr != nil {
			c.noteTransportError(endErr)
			if err == nil {
				err = endErr
			}
		}
	}()
	return fn()
}

func (c *Card) noteTransportError(err error) {
	if errors.Is(err, ErrCardReset) || errors.Is(err, ErrNoCard) || errors.Is(err, ErrNoReader) {
		c.ForgetLogin()
	}
}

// Exchange sends cmd (with T=0 handling) and returns the response with its
// status word uninterpreted. It is the pass-through the enrollment relay
// uses for TPS APDUs.
func (c *Card) Exchange(cmd Command) (Response, error) {
	r, err := Exchange(c.t, cmd)
	if err != nil {
		c.noteTransportError(err)
	}
	return r, err
}

// ExchangeRaw is Exchange on wire-form APDUs.
func (c *Card) ExchangeRaw(apdu []byte) ([]byte, error) {
	cmd, err := ParseCommand(apdu)
	if err != nil {
		return nil, err
	}
	r, err := c.Exchange(cmd)
	if err != nil {
		return nil, err
	}
	return r.Encode(), nil
}

// do sends cmd and turns any status word but 9000 into a *StatusError.
func (c *Card) do(cmd Command) ([]byte, error) { return c.check(cmd, Exchange) }

// doSecret is do for commands that carry a PIN: they are sent exactly
// once, whatever the card answers (see exchangeOnce).
func (c *Card) doSecret(cmd Command) ([]byte, error) { return c.check(cmd, exchangeOnce) }

func (c *Card) check(cmd Command, exchange func(Transport, Command) (Response, error)) ([]byte, error) {
	r, err := exchange(c.t, cmd)
	if err != nil {
		c.noteTransportError(err)
		return nil, err
	}
	if r.SW != SWSuccess {
		return nil, &StatusError{SW: r.SW, INS: cmd.INS}
	}
	return r.Data, nil
}

// doExact is do for commands whose response has a fixed length.
func (c *Card) doExact(cmd Command, n int) ([]byte, error) {
	b, err := c.do(cmd)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, &ResponseLengthError{INS: cmd.INS, Want: n, Got: len(b)}
	}
	return b, nil
}

// withNonce appends the session nonce (zeros before login), as the applet
// requires on the instructions it guards.
func (c *Card) withNonce(data ...[]byte) []byte {
	n := NonceSize
	for _, d := range data {
		n += len(d)
	}
	b := make([]byte, 0, n)
	for _, d := range data {
		b = append(b, d...)
	}
	return append(b, c.nonce[:]...)
}

func cardEdge(ins, p1, p2 byte, data []byte, le int) Command {
	return Command{CLA: ClaCardEdge, INS: ins, P1: p1, P2: p2, Data: data, Le: le}
}

// Select sends SELECT by AID (00 A4 04 00 Lc AID, no Le, as the reference
// host does) and returns the response data, which the CoolKey applet leaves
// empty.
func (c *Card) Select(aid []byte) ([]byte, error) {
	return c.do(Command{CLA: ClaISO, INS: insSelect, P1: 0x04, P2: 0x00, Data: aid})
}

// SelectApplet selects the CoolKey applet.
func (c *Card) SelectApplet() error {
	_, err := c.Select(AppletAID)
	return err
}

// SelectCardManager selects the card manager the way the reference host does:
// SELECT with an empty AID (00 A4 04 00 00), which the card OS takes as its
// default application. Use Select(CardManagerAID) for the explicit form.
func (c *Card) SelectCardManager() error {
	// An empty AID is P3 = 00 with no data; Command has no way to say "Lc
	// = 0", and ISO reads a 5-byte APDU as case 2 with Le = 256, which is
	// what every card manager we know treats it as anyway.
	_, err := c.do(Command{CLA: ClaISO, INS: insSelect, P1: 0x04, P2: 0x00, Le: 256})
	return err
}

// Status is the GET STATUS response.
type Status struct {
	ProtocolMajor, ProtocolMinor byte
	AppletMajor, AppletMinor     byte
	TotalMemory, FreeMemory      uint32
	PINCount                     byte
	KeyCount                     byte
	// LoggedIn is the mask of identities currently logged in on the card.
	LoggedIn uint16
}

// StatusSize is the length of the GET STATUS response.
const StatusSize = 16

// ParseStatus decodes the 16-byte GET STATUS response.
func ParseStatus(b []byte) (Status, error) {
	if len(b) != StatusSize {
		return Status{}, &ResponseLengthError{INS: insGetStatus, Want: StatusSize, Got: len(b)}
	}
	return Status{
		ProtocolMajor: b[0], ProtocolMinor: b[1], AppletMajor: b[2], AppletMinor: b[3],
		TotalMemory: be32(b[4:]), FreeMemory: be32(b[8:]),
		PINCount: b[12], KeyCount: b[13], LoggedIn: be16(b[14:]),
	}, nil
}

// Encode returns the 16-byte GET STATUS response.
func (s Status) Encode() []byte {
	b := []byte{s.ProtocolMajor, s.ProtocolMinor, s.AppletMajor, s.AppletMinor}
	b = appendBE32(b, s.TotalMemory)
	b = appendBE32(b, s.FreeMemory)
	b = append(b, s.PINCount, s.KeyCount)
	return appendBE16(b, s.LoggedIn)
}

// Status sends GET STATUS (B0 3C 00 00 10).
func (c *Card) Status() (Status, error) {
	b, err := c.doExact(cardEdge(insGetStatus, 0, 0, nil, StatusSize), StatusSize)
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(b)
}

// Application life-cycle states (GET LIFE CYCLE byte 0).
const (
	LifeCycleDeleted      byte = 0x00
	LifeCycleInstalled    byte = 0x03
	LifeCycleSelectable   byte = 0x07
	LifeCyclePersonalized byte = 0x0F
	LifeCycleBlocked      byte = 0x7F
	LifeCycleLocked       byte = 0xFF
)

// LifeCycle is what the host learns from GET LIFE CYCLE.
type LifeCycle struct {
	State byte
	// PINs is byte 1 of the 4-byte form (pinEnabled + isWritable), or the
	// PIN count from GET STATUS on applets that only know the 1-byte form.
	// The host only tests it for zero ("login needed").
	PINs                         byte
	ProtocolMajor, ProtocolMinor byte
}

// Personalized reports whether the TPS finished enrolling the token.
func (l LifeCycle) Personalized() bool { return l.State == LifeCyclePersonalized }

// Encode returns the 4-byte GET LIFE CYCLE response.
func (l LifeCycle) Encode() []byte {
	return []byte{l.State, l.PINs, l.ProtocolMajor, l.ProtocolMinor}
}

// NeedsLogin reports whether the token has a PIN.
func (l LifeCycle) NeedsLogin() bool { return l.PINs != 0 }

// LifeCycle sends GET LIFE CYCLE in its 4-byte form (B0 F2 00 00 04). An
// applet that does not answer 4 bytes is asked the 1-byte form plus GET
// STATUS for the PIN count and protocol version, like the reference host's
// GetLifeCycleV2.
func (c *Card) LifeCycle() (LifeCycle, error) {
	b, err := c.do(cardEdge(insGetLifeCycle, 0, 0, nil, 4))
	if err == nil && len(b) == 4 {
		return LifeCycle{State: b[0], PINs: b[1], ProtocolMajor: b[2], ProtocolMinor: b[3]}, nil
	}
	var se *StatusError
	if err != nil && !errors.As(err, &se) {
		return LifeCycle{}, err // the transport failed; no point asking again
	}
	state, err := c.LifeCycleState()
	if err != nil {
		return LifeCycle{}, err
	}
	st, err := c.Status()
	if err != nil {
		return LifeCycle{}, err
	}
	return LifeCycle{State: state, PINs: st.PINCount, ProtocolMajor: st.ProtocolMajor, ProtocolMinor: st.ProtocolMinor}, nil
}

// LifeCycleState sends the 1-byte form of GET LIFE CYCLE (B0 F2 00 00 01),
// which is what the TPS uses.
func (c *Card) LifeCycleState() (byte, error) {
	b, err := c.doExact(cardEdge(insGetLifeCycle, 0, 0, nil, 1), 1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// BuildID sends GET BUILD ID (B0 70 00 00 04); the TPS names applet files
// after it.
func (c *Card) BuildID() (uint32, error) {
	b, err := c.doExact(cardEdge(insGetBuildID, 0, 0, nil, 4), 4)
	if err != nil {
		return 0, err
	}
	return be32(b), nil
}

// IssuerInfoSize is the fixed length of the issuer info.
const IssuerInfoSize = 224

// IssuerInfo sends GET ISSUER INFO (B0 F6 00 00 E0) and returns the 224
// bytes, NUL padding included; see TrimIssuerInfo.
func (c *Card) IssuerInfo() ([]byte, error) {
	return c.doExact(cardEdge(insGetIssuerInfo, 0, 0, nil, IssuerInfoSize), IssuerInfoSize)
}

// TrimIssuerInfo returns the issuer info up to its first NUL (the TPS stores
// its phone-home URL there).
func TrimIssuerInfo(b []byte) string {
	for i, x := range b {
		if x == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// BuiltinACL is the GET BUILTIN ACL response: who may create objects, keys
// and PINs, and whether SET BUILTIN ACL is enabled.
type BuiltinACL struct {
	CreateObject, CreateKey, CreatePIN uint16
	ChangeEnabled                      bool
}

// BuiltinACLSize is the length of the GET BUILTIN ACL response.
const BuiltinACLSize = 7

// ParseBuiltinACL decodes the 7-byte GET BUILTIN ACL response.
func ParseBuiltinACL(b []byte) (BuiltinACL, error) {
	if len(b) != BuiltinACLSize {
		return BuiltinACL{}, &ResponseLengthError{INS: insGetBuiltinACL, Want: BuiltinACLSize, Got: len(b)}
	}
	return BuiltinACL{CreateObject: be16(b), CreateKey: be16(b[2:]), CreatePIN: be16(b[4:]), ChangeEnabled: b[6] != 0}, nil
}

// Encode returns the 7-byte GET BUILTIN ACL response.
func (a BuiltinACL) Encode() []byte {
	b := appendBE16(appendBE16(appendBE16(nil, a.CreateObject), a.CreateKey), a.CreatePIN)
	if a.ChangeEnabled {
		return append(b, 1)
	}
	return append(b, 0)
}

// BuiltinACL sends GET BUILTIN ACL (B0 FA 00 00 07).
func (c *Card) BuiltinACL() (BuiltinACL, error) {
	b, err := c.doExact(cardEdge(insGetBuiltinACL, 0, 0, nil, BuiltinACLSize), BuiltinACLSize)
	if err != nil {
		return BuiltinACL{}, err
	}
	return ParseBuiltinACL(b)
}

// maxListEntries bounds LIST OBJECTS and LIST KEYS loops: a card that never
// ends the sequence cannot keep us looping. The applet's 5000-byte default
// heap holds at most a few hundred objects.
const maxListEntries = 4096

// ListObjects runs LIST OBJECTS (B0 58 00/01 00 0E) to the end (9C 12).
// The applet lists the newest object first.
func (c *Card) ListObjects() ([]ObjectInfo, error) {
	var out []ObjectInfo
	for p1 := byte(0); ; p1 = 1 {
		if len(out) == maxListEntries {
			return nil, fmt.Errorf("%w: LIST OBJECTS did not end after %d entries", ErrMalformedResponse, maxListEntries)
		}
		b, err := c.do(cardEdge(insListObjects, p1, 0, nil, ObjectInfoSize))
		if errors.Is(err, ErrSequenceEnd) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		o, err := ParseObjectInfo(b)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
}

// ListKeys runs LIST KEYS (B0 3A 00/01 00 0B) to the end, which the applet
// signals with 9000 and no data (or, per its spec, 9C 12).
func (c *Card) ListKeys() ([]KeyInfo, error) {
	var out []KeyInfo
	for p1 := byte(0); ; p1 = 1 {
		if len(out) == maxListEntries {
			return nil, fmt.Errorf("%w: LIST KEYS did not end after %d entries", ErrMalformedResponse, maxListEntries)
		}
		b, err := c.do(cardEdge(insListKeys, p1, 0, nil, KeyInfoSize))
		if errors.Is(err, ErrSequenceEnd) || err == nil && len(b) == 0 {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		k, err := ParseKeyInfo(b)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
}

// MaxReadChunk is the most READ OBJECT returns in one APDU.
const MaxReadChunk = 255

// MaxWriteChunk is the most data one WRITE OBJECT carries: 255 less the
// object ID, offset, length byte and nonce. The reference host writes 220.
const MaxWriteChunk = 255 - 4 - 4 - 1 - NonceSize

// ReadObjectChunk sends one READ OBJECT for n ≤ 255 bytes at offset:
// B0 56 00 00 11 id(4) offset(4) n nonce(8), with no Le (byte-identical to
// the reference host).
func (c *Card) ReadObjectChunk(id ObjectID, offset uint32, n int) ([]byte, error) {
	if n < 0 || n > MaxReadChunk {
		return nil, fmt.Errorf("cardedge: READ OBJECT of %d bytes", n)
	}
	data := c.withNonce(appendBE32(appendBE32(nil, uint32(id)), offset), []byte{byte(n)})
	return c.doExact(cardEdge(insReadObject, 0, 0, data, 0), n)
}

// ReadObject reads n bytes of an object from offset, in 255-byte chunks.
func (c *Card) ReadObject(id ObjectID, offset uint32, n int) ([]byte, error) {
	if n < 0 || uint64(offset)+uint64(n) > 1<<32 {
		return nil, fmt.Errorf("cardedge: READ OBJECT of %d bytes at %d", n, offset)
	}
	out := make([]byte, 0, n)
	for len(out) < n {
		k := min(n-len(out), MaxReadChunk)
		b, err := c.ReadObjectChunk(id, offset+uint32(len(out)), k)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// WriteObject writes data into an object at offset, in chunks of up to
// MaxWriteChunk bytes: B0 54 00 00 Lc id(4) offset(4) len data nonce(8).
func (c *Card) WriteObject(id ObjectID, offset uint32, data []byte) error {
	if uint64(offset)+uint64(len(data)) > 1<<32 {
		return fmt.Errorf("cardedge: WRITE OBJECT of %d bytes at %d", len(data), offset)
	}
	for done := 0; ; {
		k := min(len(data)-done, MaxWriteChunk)
		hdr := appendBE32(appendBE32(nil, uint32(id)), offset+uint32(done))
		cmd := cardEdge(insWriteObject, 0, 0, c.withNonce(hdr, []byte{byte(k)}, data[done:done+k]), 0)
		if _, err := c.do(cmd); err != nil {
			return err
		}
		if done += k; done >= len(data) {
			break
		}
	}
	return nil
}

// CreateObject sends CREATE OBJECT: B0 5A 00 00 16 id(4) size(4) ACLs(6)
// nonce(8). By default only the TPS (over the secure channel) may create
// objects.
func (c *Card) CreateObject(id ObjectID, size uint32, acl ACL) error {
	data := c.withNonce(appendBE32(appendBE32(nil, uint32(id)), size), acl.encode())
	_, err := c.do(cardEdge(insCreateObject, 0, 0, data, 0))
	return err
}

// DeleteObject sends DELETE OBJECT: B0 52 00 zero 0C id(4) nonce(8). The
// zero flag (wipe the memory before freeing it) goes in P2, where the applet
// reads it; the reference host's factory wrongly puts it in P1.
func (c *Card) DeleteObject(id ObjectID, zero bool) error {
	var p2 byte
	if zero {
		p2 = 1
	}
	_, err := c.do(cardEdge(insDeleteObject, 0, p2, c.withNonce(appendBE32(nil, uint32(id))), 0))
	return err
}

// UserPIN is the PIN number of the CoolKey user PIN.
const UserPIN = 0

// VerifyPIN sends VERIFY PIN (B0 42 pin 00 Lc PIN, no Le) and keeps the
// nonce the card returns, so later guarded instructions run with the PIN's
// identity. The applet logs every process out of that PIN when the PIN is
// wrong. Errors: ErrAuthFailed (wrong PIN, or length outside 4–16),
// ErrBlocked, ErrIncorrectP1 (no such PIN).
func (c *Card) VerifyPIN(pin byte, value []byte) error {
	if len(value) == 0 || len(value) > 255 {
		return fmt.Errorf("cardedge: PIN of %d bytes cannot be sent", len(value))
	}
	b, err := c.doSecret(cardEdge(insVerifyPIN, pin, 0, value, 0))
	if err == nil && len(b) != NonceSize {
		err = &ResponseLengthError{INS: insVerifyPIN, Want: NonceSize, Got: len(b)}
	}
	if err != nil {
		if errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrBlocked) {
			c.ForgetLogin() // the card just logged everyone out of this PIN
		}
		return err
	}
	copy(c.nonce[:], b)
	clear(b)
	c.loggedIn = true
	return nil
}

// ChangePIN sends CHANGE PIN: B0 44 pin 00 Lc oldLen(1) old newLen(1) new.
// The applet uses 1-byte lengths (the reference host's factory writes 2-byte
// lengths and no PIN number). On success the card logs that PIN out
// everywhere, so this session's login is dropped too.
func (c *Card) ChangePIN(pin byte, old, new []byte) error {
	if len(old) > 255 || len(new) > 255 || 2+len(old)+len(new) > 255 {
		return fmt.Errorf("cardedge: PINs too long for CHANGE PIN")
	}
	data := make([]byte, 0, 2+len(old)+len(new))
	data = append(data, byte(len(old)))
	data = append(data, old...)
	data = append(data, byte(len(new)))
	data = append(data, new...)
	_, err := c.doSecret(cardEdge(insChangePIN, pin, 0, data, 0))
	clear(data)
	if err == nil || errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrBlocked) {
		c.ForgetLogin()
	}
	return err
}

// Logout sends LOGOUT (B0 61 pin 00 08 nonce), which decrements the card's
// login count for the PIN, and forgets the nonce whatever the card answers.
// Other processes logged in to the same card keep their login until the
// count reaches zero.
func (c *Card) Logout(pin byte) error {
	_, err := c.do(cardEdge(insLogout, pin, 0, c.withNonce(), 0))
	c.ForgetLogin()
	return err
}

// ListPINs sends LIST PINS (B0 48 00 00 02): bit n set means PIN n exists.
func (c *Card) ListPINs() (uint16, error) {
	b, err := c.doExact(cardEdge(insListPINs, 0, 0, nil, 2), 2)
	if err != nil {
		return 0, err
	}
	return be16(b), nil
}

// PINTriesLeft sends GET PIN REMAINING TRIES (B0 4A pin 00 01). Applets
// older than 2015 answer ErrINSNotSupported.
func (c *Card) PINTriesLeft(pin byte) (int, error) {
	b, err := c.doExact(cardEdge(insGetPINTries, pin, 0, nil, 1), 1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

// CreatePIN sends CREATE PIN (B0 40 pin tries Lc value nonce). It needs the
// create-PIN ACL, which by default only the TPS has.
func (c *Card) CreatePIN(pin, tries byte, value []byte) error {
	if len(value) > 255-NonceSize {
		return fmt.Errorf("cardedge: PIN of %d bytes cannot be sent", len(value))
	}
	data := c.withNonce(value)
	_, err := c.doSecret(cardEdge(insCreatePIN, pin, tries, data, 0))
	clear(data)
	return err
}

// GetRandom returns n bytes from the card's RNG (B0 72 00 00 n), asking for
// at most 255 per APDU. Like the reference host it does not select the
// applet first.
func (c *Card) GetRandom(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("cardedge: GET RANDOM of %d bytes", n)
	}
	out := make([]byte, 0, n)
	for len(out) < n {
		k := min(n-len(out), 255)
		b, err := c.doExact(cardEdge(insGetRandom, 0, 0, nil, k), k)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// SeedRandom feeds seed to the card's RNG (B0 73 00 00 n seed), in chunks of
// at most 255 bytes.
func (c *Card) SeedRandom(seed []byte) error {
	for done := 0; done < len(seed); {
		k := min(len(seed)-done, 255)
		if _, err := c.do(cardEdge(insSeedRandom, 0, 0, seed[done:done+k], 0)); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// CPLC selects nothing: it sends GET DATA CPLC (80 CA 9F 7F 2D) to whatever
// is selected, normally the card manager (see SelectCardManager).
func (c *Card) CPLC() (CPLC, error) {
	b, err := c.doExact(Command{CLA: ClaGP, INS: insGetData, P1: 0x9F, P2: 0x7F, Le: CPLCResponseSize}, CPLCResponseSize)
	if err != nil {
		return CPLC{}, err
	}
	return ParseCPLC(b)
}

// NOP sends the applet's NOP (B0 71 00 00).
func (c *Card) NOP() error {
	_, err := c.do(cardEdge(insNOP, 0, 0, nil, 0))
	return err
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func appendBE16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }
func appendBE32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
