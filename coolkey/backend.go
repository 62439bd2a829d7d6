package coolkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// Environment variables the backend reads at C_Initialize.
const (
	// SimEnv lists virtual cards served with `coolkey sim card serve
	// --listen ADDR`, comma-separated: each address gets a slot after the
	// PC/SC readers.
	SimEnv = "COOLKEY_SIM"
	// PCSCEnv set to "off" (or "0", "no") leaves PC/SC readers out, so that
	// only COOLKEY_SIM cards show (tests on a shared machine).
	PCSCEnv = "COOLKEY_PCSC"
	// CacheEnv set to "off" disables the cross-process object cache.
	CacheEnv = "COOLKEY_CACHE"
)

// LibraryVersion is the version C_GetInfo reports.
var LibraryVersion = p11.Version{Major: 1, Minor: 0}

// Backend is the CoolKey token backend for pkcs11mod: a slot per PC/SC
// reader and per COOLKEY_SIM endpoint, tokens read once per card insertion,
// and the card's RSA and EC operations with padding and hashing done here.
type Backend struct {
	cfg config
	log *slog.Logger

	mu     sync.Mutex
	slots  []*slot
	byName map[string]*slot

	// events latches slot events (by reader name) for C_WaitForSlotEvent.
	events   *cardedge.EventLatch
	monitors []cardedge.Monitor
	wg       sync.WaitGroup

	// rechecks are the background looks at readers whose connection
	// failed under an operation (see slot.recheck); finalizing stops new
	// ones. Both under mu.
	rechecks   sync.WaitGroup
	finalizing bool

	cache      *objectCache
	noAppletOK bool
	// hold says how long slots keep their card transactions open after
	// an operation (hold.go).
	hold holdPolicy
}

// config says where readers come from; NewBackend fills it from the
// environment, tests give it directly.
type config struct {
	// dynamic is a source whose reader list changes (PC/SC); C_GetSlotList
	// lists it again and new readers get new slots.
	dynamic cardedge.ReaderSource
	// fixed are readers that always have a slot, in this order, whether or
	// not they answer (COOLKEY_SIM endpoints), and their source.
	fixed    []string
	fixedSrc cardedge.ReaderSource
	// cacheDir is the object cache directory; "" for none.
	cacheDir string
	// holdIdle is how long a card transaction stays open after an
	// operation; 0 (tests' default) closes it at once.
	holdIdle time.Duration
	// fromEnv makes Initialize read the environment.
	fromEnv bool
}

var _ p11.Backend = (*Backend)(nil)
var _ p11.SlotEventSource = (*Backend)(nil)

// NewBackend returns the backend the module registers with pkcs11mod. It
// does nothing until Initialize, which reads COOLKEY_SIM, COOLKEY_PCSC and
// COOLKEY_CACHE.
func NewBackend() p11.Backend { return &Backend{cfg: config{fromEnv: true}} }

// newBackend returns a backend over the given readers (for tests).
func newBackend(cfg config) *Backend { return &Backend{cfg: cfg} }

// configFromEnv builds the reader configuration from the environment.
func configFromEnv(log *slog.Logger) config {
	var cfg config
	switch strings.ToLower(strings.TrimSpace(p11.Getenv(PCSCEnv))) {
	case "off", "0", "no", "false":
	default:
		cfg.dynamic = pcsc.NewSource()
	}
	var eps []netcard.Endpoint
	for _, addr := range strings.Split(p11.Getenv(SimEnv), ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			name := "CoolKey virtual card " + addr
			eps = append(eps, netcard.Endpoint{Name: name, Addr: addr})
			cfg.fixed = append(cfg.fixed, name)
		}
	}
	if len(eps) > 0 {
		cfg.fixedSrc = netcard.NewSource(eps...)
	}
	hold, err := parseHoldIdle(p11.Getenv(HoldEnv))
	if err != nil {
		log.Warn("ignoring "+HoldEnv, "err", err, "default", defaultHoldIdle)
		hold = defaultHoldIdle
	}
	cfg.holdIdle = hold
	if v := strings.ToLower(strings.TrimSpace(p11.Getenv(CacheEnv))); v != "off" && v != "0" && v != "no" {
		dir, err := defaultCacheDir()
		if err != nil {
			log.Warn("object cache disabled: no cache directory", "err", err)
		} else {
			cfg.cacheDir = dir
		}
	}
	return cfg
}

// Initialize lists the readers, gives each a slot and starts watching them.
// Cards are read at the first C_GetSlotList (or on insertion), not here.
func (b *Backend) Initialize(opts p11.InitOptions) error {
	b.log = opts.Logger
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.cfg.fromEnv {
		b.cfg = configFromEnv(b.log)
	}
	b.noAppletOK = parseNoAppletOK(opts.LibraryParameters)
	b.hold = newHoldPolicy(b.cfg.holdIdle)
	b.byName = map[string]*slot{}
	b.events = cardedge.NewEventLatch()
	if b.cfg.cacheDir != "" {
		b.cache = openCache(b.cfg.cacheDir, b.log)
	}

	// Monitors first: a monitor's baseline is its first look, and only a
	// listing taken after it is sure to miss no event (a card pulled and
	// put back between the listing and that first look would otherwise
	// leave its slot empty for good). Their events wait in the latch until
	// the slots exist.
	type watched struct {
		m   cardedge.Monitor
		src cardedge.ReaderSource
	}
	var watch []watched
	for _, src := range []cardedge.ReaderSource{b.cfg.dynamic, b.cfg.fixedSrc} {
		if src == nil {
			continue
		}
		m, err := src.NewMonitor()
		if err != nil {
			// Without a monitor the slots still work; insertions are
			// seen at the next C_GetSlotList.
			b.log.Warn("reader monitor not started", "err", err)
			continue
		}
		b.monitors = append(b.monitors, m)
		watch = append(watch, watched{m, src})
	}
	if src := b.cfg.dynamic; src != nil {
		readers, err := src.Readers()
		if err != nil {
			b.log.Warn("listing PC/SC readers", "err", err)
		}
		for _, r := range readers {
			s := b.addSlot(r.Name, src, false)
			s.present.Store(r.CardPresent)
		}
	}
	if src := b.cfg.fixedSrc; src != nil {
		reachable := map[string]bool{}
		if readers, err := src.Readers(); err == nil {
			for _, r := range readers {
				reachable[r.Name] = r.CardPresent
			}
		}
		for _, name := range b.cfg.fixed {
			s := b.addSlot(name, src, true)
			s.present.Store(reachable[name])
		}
	}
	for _, w := range watch {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.watch(w.m, w.src)
		}()
	}
	b.log.Info("coolkey backend initialized", "slots", len(b.slots), "cache", b.cache != nil, "noAppletOK", b.noAppletOK,
		"hold", b.hold.idle)
	return nil
}

// parseNoAppletOK reads the reference module's library parameter
// "noAppletOK=…" (the ESC passes noAppletOK=yes): cards without the CoolKey
// applet then show as tokens, with firmware version 0.0.
func parseNoAppletOK(params string) bool {
	for _, f := range strings.Fields(params) {
		k, v, _ := strings.Cut(f, "=")
		if strings.EqualFold(k, "noAppletOK") {
			switch strings.ToLower(v) {
			case "no", "false", "0":
				return false
			}
			return true
		}
	}
	return false
}

// addSlot gives a reader the next slot ID, or returns its slot.
func (b *Backend) addSlot(name string, src cardedge.ReaderSource, sim bool) *slot {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.byName[name]; s != nil {
		return s
	}
	s := &slot{b: b, id: p11.SlotID(len(b.slots) + 1), name: name, src: src, sim: sim}
	b.slots = append(b.slots, s)
	b.byName[name] = s
	return s
}

func (b *Backend) isFinalizing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.finalizing
}

func (b *Backend) slotByName(name string) *slot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byName[name]
}

func (b *Backend) slot(id p11.SlotID) (*slot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id < 1 || int(id) > len(b.slots) {
		return nil, p11.CKR_SLOT_ID_INVALID
	}
	return b.slots[id-1], nil
}

// watch applies a monitor's events to the slots until the monitor closes.
func (b *Backend) watch(m cardedge.Monitor, src cardedge.ReaderSource) {
	for {
		e, err := m.Wait(context.Background())
		if err != nil {
			return
		}
		b.handleEvent(e, src)
	}
}

func (b *Backend) handleEvent(e cardedge.Event, src cardedge.ReaderSource) {
	s := b.slotByName(e.Reader)
	if s == nil {
		if src != b.cfg.dynamic || e.Kinds&(cardedge.ReaderAdded|cardedge.CardInserted) == 0 {
			return
		}
		s = b.addSlot(e.Reader, src, false)
		b.log.Info("reader added", "slot", s.id, "reader", s.name)
	}
	b.log.Debug("reader event", "slot", s.id, "reader", s.name, "event", e.Kinds)
	removed := e.Kinds&(cardedge.CardRemoved|cardedge.ReaderRemoved) != 0
	inserted := e.Kinds&cardedge.CardInserted != 0
	switch {
	case e.Kinds&cardedge.CardReset != 0:
		s.cardReset()
	case inserted:
		// Removed and inserted between two looks is a swap: the old
		// token's sessions end either way.
		s.cardInserted()
	case removed:
		s.cardRemoved()
	}
	b.events.Post(s.name, e.Kinds)
}

// Finalize logs every logged-in token out (the reference module never does,
// leaving the card logged in for the next process), stops the monitors and
// disconnects.
func (b *Backend) Finalize() error {
	b.mu.Lock()
	b.finalizing = true
	b.mu.Unlock()
	b.rechecks.Wait()
	for _, m := range b.monitors {
		m.Close()
	}
	b.wg.Wait()
	b.mu.Lock()
	slots := append([]*slot(nil), b.slots...)
	b.mu.Unlock()
	for _, s := range slots {
		s.logoutAtFinalize()
	}
	b.events.Close()
	if c, ok := b.cfg.dynamic.(interface{ Close() error }); ok && b.cfg.fromEnv {
		c.Close()
	}
	writeAPDUCount()
	b.log.Info("coolkey backend finalized", "apdus", APDUCount())
	return nil
}

// Info describes the library.
func (b *Backend) Info() p11.LibraryInfo {
	return p11.LibraryInfo{
		Manufacturer:   "coolkey-go",
		Description:    "CoolKey PKCS#11 module (Go)",
		LibraryVersion: LibraryVersion,
	}
}

// Slots lists every slot. New PC/SC readers are added first, and cards that
// are present but not read yet are read now, so that the C_GetSlotInfo and
// C_GetTokenInfo calls that follow answer from memory.
func (b *Backend) Slots() ([]p11.SlotID, error) {
	if src := b.cfg.dynamic; src != nil {
		if readers, err := src.Readers(); err == nil {
			for _, r := range readers {
				s := b.slotByName(r.Name)
				if s == nil {
					s = b.addSlot(r.Name, src, false)
					b.log.Info("reader added", "slot", s.id, "reader", s.name)
				}
				if r.CardPresent && !s.present.Load() {
					s.present.Store(true)
				}
			}
		}
	}
	b.mu.Lock()
	slots := append([]*slot(nil), b.slots...)
	b.mu.Unlock()
	ids := make([]p11.SlotID, len(slots))
	for i, s := range slots {
		s.ensureToken()
		ids[i] = s.id
	}
	return ids, nil
}

// SlotInfo answers from memory.
func (b *Backend) SlotInfo(id p11.SlotID) (p11.SlotInfo, error) {
	s, err := b.slot(id)
	if err != nil {
		return p11.SlotInfo{}, err
	}
	return s.slotInfo(), nil
}

func (b *Backend) token(id p11.SlotID) (*token, error) {
	s, err := b.slot(id)
	if err != nil {
		return nil, err
	}
	tok := s.tok.Load()
	if tok == nil {
		return nil, p11.CKR_TOKEN_NOT_PRESENT
	}
	return tok, nil
}

// TokenInfo answers from memory.
func (b *Backend) TokenInfo(id p11.SlotID) (p11.TokenInfo, error) {
	tok, err := b.token(id)
	if err != nil {
		return p11.TokenInfo{}, err
	}
	return tok.tokenInfo(), nil
}

// Mechanisms lists the mechanisms for the token's key types: RSA ones when
// it has an RSA key (or no key at all, as the reference module does), EC
// ones when it has an EC key.
func (b *Backend) Mechanisms(id p11.SlotID) ([]p11.MechanismType, error) {
	tok, err := b.token(id)
	if err != nil {
		return nil, err
	}
	var out []p11.MechanismType
	for _, m := range mechanismOrder {
		if tok.offers(m) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (t *token) offers(m p11.MechanismType) bool {
	spec, ok := mechanisms[m]
	if !ok {
		return false
	}
	switch spec.keyType {
	case p11.CKK_RSA:
		return t.hasRSA || !t.hasEC
	case p11.CKK_EC:
		return t.hasEC
	}
	return false
}

// MechanismInfo reports the sizes of the token's keys (or what the applets
// can hold when it has none of the type) and what the mechanism does.
func (b *Backend) MechanismInfo(id p11.SlotID, m p11.MechanismType) (p11.MechanismInfo, error) {
	tok, err := b.token(id)
	if err != nil {
		return p11.MechanismInfo{}, err
	}
	if !tok.offers(m) {
		return p11.MechanismInfo{}, p11.CKR_MECHANISM_INVALID
	}
	spec := mechanisms[m]
	info := p11.MechanismInfo{Flags: spec.flags}
	switch spec.keyType {
	case p11.CKK_RSA:
		info.MinKeySize, info.MaxKeySize = defaultRSAMin, defaultRSAMax
		if tok.keys.rsaMax > 0 {
			info.MinKeySize, info.MaxKeySize = uint(tok.keys.rsaMin), uint(tok.keys.rsaMax)
		}
	case p11.CKK_EC:
		info.MinKeySize, info.MaxKeySize = defaultECMin, defaultECMax
		if tok.keys.ecMax > 0 {
			info.MinKeySize, info.MaxKeySize = uint(tok.keys.ecMin), uint(tok.keys.ecMax)
		}
	}
	return info, nil
}

// OpenSession opens a session on the slot's token. Read-write sessions are
// allowed although the token is write-protected (there is nothing to write
// through them): many applications ask for one out of habit.
func (b *Backend) OpenSession(id p11.SlotID, rw bool) (p11.Session, error) {
	s, err := b.slot(id)
	if err != nil {
		return nil, err
	}
	s.ensureToken()
	tok := s.tok.Load()
	if tok == nil {
		return nil, p11.CKR_TOKEN_NOT_PRESENT
	}
	return &session{tok: tok, rw: rw}, nil
}

// WaitForSlotEvent blocks until a slot event is pending. Card transactions
// held since the last operations are released first: an application that
// waits for events is done with the cards for now.
func (b *Backend) WaitForSlotEvent(ctx context.Context) (p11.SlotID, error) {
	b.mu.Lock()
	slots := append([]*slot(nil), b.slots...)
	b.mu.Unlock()
	for _, s := range slots {
		s.releaseIdle()
	}
	for {
		e, err := b.events.Wait(ctx)
		if err != nil {
			if errors.Is(err, cardedge.ErrMonitorClosed) {
				return 0, p11.CKR_CRYPTOKI_NOT_INITIALIZED
			}
			return 0, err
		}
		if s := b.slotByName(e.Reader); s != nil {
			return s.id, nil
		}
	}
}

// PollSlotEvent takes a pending slot event, if any.
func (b *Backend) PollSlotEvent() (p11.SlotID, bool, error) {
	for {
		e, ok := b.events.Poll()
		if !ok {
			return 0, false, nil
		}
		if s := b.slotByName(e.Reader); s != nil {
			return s.id, true, nil
		}
	}
}

// lastHandle numbers object handles for the whole process, not per
// Backend: C_Finalize and C_Initialize make a new Backend, and a handle an
// application kept across them must not name an object of the next one.
var lastHandle atomic.Uint64

// newHandle allocates an object handle. Handles are never reused within a
// process, so a handle kept across a card removal or a C_Finalize can never
// name another object.
func (b *Backend) newHandle() p11.ObjectHandle {
	return p11.ObjectHandle(lastHandle.Add(1))
}

// newToken builds the token read from a card.
func (b *Backend) newToken(s *slot, id *cardedge.Identity, contents *cachedToken) *token {
	ident := identityOf(id)
	builder := &objectBuilder{newHandle: b.newHandle, log: s.log()}
	objs, info := builder.build(contents.Objects, s.name, id.ATR)
	tok := &token{
		slot:     s,
		ident:    ident,
		applet:   id.AppletPresent,
		name:     contents.TokenName,
		objects:  objs,
		byHandle: make(map[p11.ObjectHandle]*object, len(objs)),
		keys:     info,
	}
	for _, o := range objs {
		tok.byHandle[o.handle] = o
		if o.key != nil || o.class == p11.CKO_PRIVATE_KEY {
			kt, _ := ulongOf(o.attrs[p11.CKA_KEY_TYPE])
			switch p11.KeyType(kt) {
			case p11.CKK_RSA:
				tok.hasRSA = true
			case p11.CKK_EC:
				tok.hasEC = true
			}
		}
	}
	tok.info = buildTokenInfo(ident, id.AppletPresent, contents.TokenName, info.certLabel)
	return tok
}

func (b *Backend) String() string { return fmt.Sprintf("coolkey backend (%d slots)", len(b.slots)) }
