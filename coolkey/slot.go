package coolkey

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// slot is one reader: a PC/SC reader or a socket-served virtual card. Its ID
// never changes and it never goes away, even when the reader does.
type slot struct {
	b    *Backend
	id   p11.SlotID
	name string
	src  cardedge.ReaderSource
	// sim marks a COOLKEY_SIM endpoint.
	sim bool

	// present is whether a card is in the reader, as last seen by the
	// monitor or a reader listing; tok is the token read from it. Both are
	// read without the lock by the functions that must not do I/O.
	present atomic.Bool
	tok     atomic.Pointer[token]

	// mu serialises card I/O on this reader and guards what follows.
	mu   sync.Mutex
	card *cardedge.Card
	// conn is card's transport, whose transaction may be held between
	// operations (hold.go); idle is the timer that releases it, idleGen
	// the generation that voids a timer already fired.
	conn    *heldTransport
	idle    *time.Timer
	idleGen uint64
	// noHoldUntil: after a hold reached its maximum, none until then.
	noHoldUntil time.Time
	// attempted is set once the card now in the reader has been read
	// (successfully or not, e.g. no CoolKey applet), so that reader
	// listings do not read it again; an insertion clears it.
	attempted bool
}

func (s *slot) log() *slog.Logger { return s.b.log.With("slot", s.id, "reader", s.name) }

// ensureToken reads the card if one is present and has not been read since
// it was inserted.
func (s *slot) ensureToken() {
	if !s.present.Load() || s.tok.Load() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attempted || s.tok.Load() != nil || !s.present.Load() {
		return
	}
	s.loadLocked()
}

// loadLocked reads the card and publishes its token. Failures are logged:
// the slot then simply has no token.
func (s *slot) loadLocked() {
	tok, err := s.readLocked()
	if errors.Is(err, cardedge.ErrCardReset) {
		// The transport reconnected; read once more.
		tok, err = s.readLocked()
	}
	switch {
	case err == nil:
		s.attempted = true
	case errors.Is(err, cardedge.ErrNoCard):
		s.present.Store(false)
		s.dropConnLocked()
		s.log().Debug("no card to read")
		return
	default:
		// Transient (sharing violation, a card that did not answer): the
		// next listing tries again.
		s.dropConnLocked()
		s.log().Warn("reading the card failed", "err", err)
		return
	}
	if tok == nil {
		return
	}
	if old := s.tok.Swap(tok); old != nil {
		old.invalidate()
	}
}

// connectLocked opens the connection to the card.
func (s *slot) connectLocked() error {
	if s.card != nil {
		return nil
	}
	t, err := s.src.Connect(s.name)
	if err != nil {
		return err
	}
	s.conn = newHeldTransport(newTracedTransport(t, s.b.log, s.name), t)
	s.card = cardedge.NewCard(s.conn)
	return nil
}

func (s *slot) dropConnLocked() {
	s.releaseLocked()
	if s.card != nil {
		s.conn.Close()
		s.card, s.conn = nil, nil
	}
}

// readLocked identifies the card and reads its objects in one transaction:
// SELECT, GET LIFE CYCLE and the first READ OBJECT of z0, then either the
// object cache or the rest of z0. It returns a nil token for a card that is
// not a CoolKey token.
func (s *slot) readLocked() (*token, error) {
	if err := s.connectLocked(); err != nil {
		return nil, err
	}
	start := APDUCount()
	var (
		id        *cardedge.Identity
		contents  *cachedToken
		fromCache bool
		v0        bool
	)
	s.beginOpLocked()
	err := s.card.Transact(func() error {
		var err error
		if id, err = s.card.Identify(cardedge.IdentifyOptions{}); err != nil {
			return err
		}
		if !id.AppletPresent {
			return nil
		}
		// Identify leaves the applet selected.
		s.conn.selected = true
		if h := id.CombinedHeader; h != nil {
			key := cacheKey{CUID: h.CUID, ObjectVersion: h.ObjectVersion, Prefix: id.CombinedPrefix}
			if c, ok := s.b.cache.get(key); ok {
				contents, fromCache = c, true
				return nil
			}
			contents, err = readCombined(s.card, id.CombinedPrefix)
			return err
		}
		// No z0 read: a v0 token, a token whose z0 is shorter than the
		// first read, or an applet without objects.
		v0 = true
		contents, err = readSeparate(s.card, s.log())
		return err
	})
	s.endOpLocked(err)
	if err != nil {
		return nil, err
	}
	log := s.log()
	if !id.AppletPresent && !s.b.noAppletOK {
		log.Info("card has no CoolKey applet; no token", "apdus", APDUCount()-start)
		return nil, nil
	}
	if contents == nil {
		contents = &cachedToken{}
	}
	if !fromCache && !v0 && id.CombinedHeader != nil && len(contents.Objects) > 0 {
		h := id.CombinedHeader
		s.b.cache.put(cacheKey{CUID: h.CUID, ObjectVersion: h.ObjectVersion, Prefix: id.CombinedPrefix}, contents)
	}
	tok := s.b.newToken(s, id, contents)
	log.Info("token read", "label", tok.info.Label, "cuid", id.CUID, "objects", tok.describe(),
		"from_cache", fromCache, "apdus", APDUCount()-start)
	return tok, nil
}

// readCombined reads and decodes the rest of z0. A z0 that does not decode
// leaves the token without objects (logged), as the reference host does.
func readCombined(c *cardedge.Card, prefix []byte) (*cachedToken, error) {
	raw, err := c.ReadCombined(prefix)
	if err != nil {
		if isCardAnswer(err) {
			return &cachedToken{}, nil
		}
		return nil, err
	}
	z, err := cardedge.DecodeCombined(raw)
	if err != nil {
		return &cachedToken{}, nil
	}
	return &cachedToken{TokenName: z.TokenName, Objects: z.Objects()}, nil
}

// readSeparate reads the objects of a token without a z0 that the first
// READ OBJECT found: LIST OBJECTS, then every object anyone may read. v0
// objects are decoded; a listed z0 (one shorter than 255 bytes, which the
// reference host cannot read) is read whole and decoded.
func readSeparate(c *cardedge.Card, log *slog.Logger) (*cachedToken, error) {
	infos, err := c.ListObjects()
	if err != nil {
		if isCardAnswer(err) {
			return nil, nil
		}
		return nil, err
	}
	out := &cachedToken{}
	ders := map[int][]byte{}
	var attrObjs []cardedge.Object
	for _, info := range infos {
		if info.ACL.Read&cardedge.IdentityDefault == 0 || info.Size == 0 || info.Size > cardedge.MaxObjectSize {
			continue
		}
		letter := info.ID.Letter()
		switch letter {
		case cardedge.LetterCombined, cardedge.LetterCertAttrs, cardedge.LetterCertDER, cardedge.LetterKey, cardedge.LetterData:
		default:
			continue
		}
		b, err := c.ReadObject(info.ID, 0, int(info.Size))
		if err != nil {
			if isCardAnswer(err) {
				log.Warn("card object unreadable; skipped", "object", info.ID, "err", err)
				continue
			}
			return nil, err
		}
		switch letter {
		case cardedge.LetterCombined:
			if info.ID != cardedge.CombinedObjectID {
				continue
			}
			z, err := cardedge.DecodeCombined(b)
			if err != nil {
				log.Warn("z0 does not decode; ignored", "err", err)
				continue
			}
			out.TokenName = z.TokenName
			attrObjs = append(attrObjs, z.Objects()...)
		case cardedge.LetterCertDER:
			if n, ok := info.ID.Index(); ok {
				ders[n] = b
			}
		default:
			o, err := cardedge.DecodeV0(info.ID, b)
			if err != nil {
				log.Warn("v0 object does not decode; skipped", "object", info.ID, "err", err)
				continue
			}
			attrObjs = append(attrObjs, withV0Class(o))
		}
	}
	// A v0 certificate-attribute object takes its value from the raw
	// certificate object with the same index.
	for i, o := range attrObjs {
		if o.ID.Letter() != cardedge.LetterCertAttrs {
			continue
		}
		if _, ok := o.Attr(cardedge.CKA_VALUE); ok {
			continue
		}
		if n, ok := o.ID.Index(); ok && ders[n] != nil {
			attrObjs[i].Attributes = append(attrObjs[i].Attributes, cardedge.BytesAttr(cardedge.CKA_VALUE, ders[n]))
		}
	}
	out.Objects = attrObjs
	return out, nil
}

// withV0Class gives certificate and data objects the class their letter
// implies when the object does not say.
func withV0Class(o cardedge.Object) cardedge.Object {
	if _, ok := o.Class(); ok {
		return o
	}
	switch o.ID.Letter() {
	case cardedge.LetterCertAttrs:
		o.Attributes = append(o.Attributes, cardedge.UlongAttr(cardedge.CKA_CLASS, cardedge.CKO_CERTIFICATE))
	case cardedge.LetterData:
		o.Attributes = append(o.Attributes, cardedge.UlongAttr(cardedge.CKA_CLASS, cardedge.CKO_DATA))
	}
	return o
}

// isCardAnswer reports whether err is the card answering (a status word or
// a malformed answer) rather than the connection failing.
func isCardAnswer(err error) bool {
	var se *cardedge.StatusError
	return errors.As(err, &se) || errors.Is(err, cardedge.ErrMalformedResponse) || errors.Is(err, cardedge.ErrMalformedObject)
}

// invalidate marks a token gone: its sessions are dead, its objects and
// login with it.
func (t *token) invalidate() {
	t.gone.Store(true)
	t.loggedIn.Store(false)
	t.dropAllSessionObjects()
}

// cardRemoved handles the card leaving the reader.
func (s *slot) cardRemoved() {
	s.present.Store(false)
	if old := s.tok.Swap(nil); old != nil {
		old.invalidate()
		s.log().Info("token removed")
	}
	s.mu.Lock()
	s.dropConnLocked()
	s.attempted = false
	s.mu.Unlock()
}

// cardInserted handles a new card: it is read at once, so that C_GetSlotInfo
// and C_GetTokenInfo can answer from memory.
func (s *slot) cardInserted() {
	s.present.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.Load() != nil && s.conn != nil && s.conn.connected != nil && s.conn.connected() == nil {
		// The token was read through a connection that still reaches
		// its card, so it was made after this insertion: listing the
		// readers found the card before the monitor's event came (after
		// a pcscd restart, for one). Sessions opened since stay.
		s.b.log.Debug("insertion already seen", "slot", s.id, "reader", s.name)
		return
	}
	if old := s.tok.Swap(nil); old != nil {
		old.invalidate()
	}
	s.dropConnLocked()
	s.attempted = false
	s.loadLocked()
}

// cardReset handles a reset (or a swap the monitor could not tell from
// one): if the card still holds the same token, the token and its sessions
// stay and only the login is gone; otherwise it is a new token.
func (s *slot) cardReset() {
	s.present.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.tok.Load()
	if tok == nil {
		s.attempted = false
		s.loadLocked()
		return
	}
	s.revalidateLocked(tok)
}

// revalidateLocked checks, after a reset, that the card holds the token tok
// was read from. If so the login is gone (the card forgot it) and that is
// all; if not, tok is invalidated and the new card read. It reports whether
// tok survived.
func (s *slot) revalidateLocked(tok *token) bool {
	// The applet is no longer selected: a held transaction is of no use.
	s.releaseLocked()
	if s.card != nil {
		s.card.ForgetLogin()
	}
	wasLoggedIn := tok.loggedIn.Swap(false)
	var id *cardedge.Identity
	err := s.connectLocked()
	if err == nil {
		identify := func() error {
			var err error
			id, err = s.card.Identify(cardedge.IdentifyOptions{})
			return err
		}
		// The first transaction after a reset reports it; the second
		// one talks to the card.
		if err = s.card.Transact(identify); errors.Is(err, cardedge.ErrCardReset) {
			err = s.card.Transact(identify)
		}
	}
	if err == nil && identityOf(id).same(tok.ident) {
		if wasLoggedIn {
			s.log().Warn("card was reset by someone else: the login is gone")
		}
		return true
	}
	s.log().Info("card changed after a reset; token replaced", "err", err)
	if s.tok.CompareAndSwap(tok, nil) {
		tok.invalidate()
	}
	if errors.Is(err, cardedge.ErrNoCard) {
		s.present.Store(false)
		s.dropConnLocked()
		return false
	}
	s.attempted = false
	s.loadLocked()
	s.b.events.Post(s.name, cardedge.CardRemoved|cardedge.CardInserted)
	return false
}

// transact runs fn in a card transaction for token tok, with the CoolKey
// applet selected: SELECT once per transaction, because another process may
// have selected another applet since our last one, and none when the
// transaction was held since an operation that left the applet selected
// (hold.go). It keeps tok's login state in step with the card and turns
// removal and reset into the token's fate:
//
//   - the card is gone: tok is invalidated, CKR_DEVICE_REMOVED;
//   - the card was reset before anything was sent: if it still holds tok,
//     fn runs (once more); the login is gone either way;
//   - the card was reset while fn ran: the error is returned (fn is not
//     rerun: it may have sent a PIN).
//
// With optimistic set, fn first runs without SELECT, and SELECT and a
// second run follow only if the card answers with a status word that is
// not the applet's own (so another applet is selected). For harmless
// commands only (GET RANDOM, LOGOUT). Other commands (a PIN, a signature)
// never go to the card unless the applet is known to be selected (by a
// SELECT in this transaction or in the held one), and never twice.
func (s *slot) transact(tok *token, optimistic bool, fn func(c *cardedge.Card) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.Load() != tok || tok.gone.Load() {
		return p11.CKR_DEVICE_REMOVED
	}
	for attempt := 0; ; attempt++ {
		if err := s.connectLocked(); err != nil {
			s.lostLocked(tok, err)
			return cardError("connect", err)
		}
		started := false
		c, h := s.card, s.conn
		s.beginOpLocked()
		err := c.Transact(func() error {
			started = true
			if held := h.selected; held || optimistic {
				loggedIn := c.LoggedIn()
				err := fn(c)
				if !otherApplet(err) {
					return err
				}
				if !optimistic {
					// Never run again: the command may have carried
					// a PIN, and an answer that is not the applet's
					// does not prove it went nowhere.
					if held && loggedIn && errors.Is(err, cardedge.ErrCLANotSupported) {
						// The applet was selected in this held
						// transaction and now nothing answers CLA
						// B0: the card lost its state behind the
						// reader's back (a glitch nobody reported),
						// and the login with it. Say so, as the
						// card would have after a SELECT (9C06).
						return &opError{what: "card lost its state", rv: p11.CKR_USER_NOT_LOGGED_IN, err: err}
					}
					return err
				}
				h.selected = false
			}
			if err := c.SelectApplet(); err != nil {
				return err
			}
			h.selected = true
			return fn(c)
		})
		s.endOpLocked(err)
		if errors.Is(err, cardedge.ErrUnauthorized) || errors.Is(err, cardedge.ErrCLANotSupported) {
			// 9C06: the card no longer counts us as logged in (another
			// process entered a wrong PIN, or logged out its last login).
			// 6E00 with the applet selected in this transaction (by our
			// SELECT, or held since): the applet is not selected any
			// more, so the card was reset without the reader saying so;
			// its login is gone too.
			c.ForgetLogin()
		}
		tok.loggedIn.Store(c.LoggedIn())
		switch {
		case err == nil:
			return nil
		case errors.Is(err, cardedge.ErrNoCard), errors.Is(err, cardedge.ErrNoReader):
			s.lostLocked(tok, err)
			return cardError("card", err)
		case errors.Is(err, cardedge.ErrCardReset):
			if !s.revalidateLocked(tok) {
				return p11.CKR_DEVICE_REMOVED
			}
			if !started && attempt == 0 {
				continue
			}
		}
		return err
	}
}

// otherApplet reports whether a card-edge command was answered by something
// other than the CoolKey applet: its errors are all 9Cxx.
func otherApplet(err error) bool {
	var se *cardedge.StatusError
	return errors.As(err, &se) && se.SW.SW1() != 0x9C
}

// lostLocked handles a card that went away under an operation.
func (s *slot) lostLocked(tok *token, err error) {
	s.log().Info("card gone during an operation", "err", err)
	if errors.Is(err, cardedge.ErrNoCard) || errors.Is(err, cardedge.ErrNoReader) {
		s.present.Store(false)
	}
	if s.tok.CompareAndSwap(tok, nil) {
		tok.invalidate()
	}
	s.dropConnLocked()
	s.attempted = false
	s.b.events.Post(s.name, cardedge.CardRemoved)
	if errors.Is(err, cardedge.ErrNoReader) {
		s.recheck()
	}
}

// Delays before the looks recheck takes at a reader.
var recheckDelays = []time.Duration{50 * time.Millisecond, 250 * time.Millisecond, time.Second}

// recheck looks, in the background, whether the card is still in a reader
// whose connection just failed (a dropped socket, a PC/SC communication
// error): the monitors report changes of state only, and the card's state
// did not change, so without this look the slot would show no token until
// the card is pulled and put back. When the card is there it is read again
// as a new insertion (the old token's sessions are gone: its login cannot
// be trusted).
func (s *slot) recheck() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finalizing {
		return
	}
	b.rechecks.Add(1)
	go func() {
		defer b.rechecks.Done()
		for _, d := range recheckDelays {
			time.Sleep(d)
			if s.tok.Load() != nil || b.isFinalizing() {
				return
			}
			readers, err := s.src.Readers()
			if err != nil {
				continue
			}
			for _, r := range readers {
				if r.Name == s.name && r.CardPresent {
					s.log().Info("card still present after a connection failure; reading it again")
					s.cardInserted()
					b.events.Post(s.name, cardedge.CardInserted)
					return
				}
			}
		}
	}()
}

// slotInfo answers C_GetSlotInfo from memory.
func (s *slot) slotInfo() p11.SlotInfo {
	si := p11.SlotInfo{
		Description:  s.name,
		Manufacturer: "Unknown",
		Flags:        p11.CKF_REMOVABLE_DEVICE | p11.CKF_HW_SLOT,
	}
	if s.sim {
		si.Manufacturer = "coolkey-go"
	}
	if s.tok.Load() != nil {
		si.Flags |= p11.CKF_TOKEN_PRESENT
	}
	return si
}

// logout logs the token out at C_Finalize, if it is logged in.
func (s *slot) logoutAtFinalize() {
	tok := s.tok.Load()
	if tok != nil && tok.loggedIn.Load() {
		err := s.transact(tok, true, func(c *cardedge.Card) error { return c.Logout(cardedge.UserPIN) })
		if err != nil {
			s.log().Warn("logout at finalize failed", "err", err)
		}
	}
	s.mu.Lock()
	s.dropConnLocked()
	s.mu.Unlock()
}

func (s *slot) String() string { return fmt.Sprintf("slot %d (%s)", s.id, s.name) }
