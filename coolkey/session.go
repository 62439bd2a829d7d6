package coolkey

import (
	"errors"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// session is one PKCS#11 session on a token. pkcs11mod serialises the calls
// on a session; what sessions share (login, objects) lives in the token.
type session struct {
	tok *token
	rw  bool
	// opActive is set while a sign or decrypt operation this session
	// started is running, for CKU_CONTEXT_SPECIFIC logins.
	opActive bool
}

var (
	_ p11.Session      = (*session)(nil)
	_ p11.PINManager   = (*session)(nil)
	_ p11.RandomSource = (*session)(nil)
	_ p11.KeyDeriver   = (*session)(nil)
)

// alive fails once the token the session was opened on is gone: the spec's
// CKR_SESSION_HANDLE_INVALID for a session whose token was removed before
// the call (removal closes all its sessions).
func (s *session) alive() error {
	if s.tok.gone.Load() {
		return p11.CKR_SESSION_HANDLE_INVALID
	}
	return nil
}

// LoginState answers from memory.
func (s *session) LoginState() (p11.LoginState, error) {
	if err := s.alive(); err != nil {
		return p11.LoggedOut, err
	}
	if s.tok.loggedIn.Load() {
		return p11.UserLoggedIn, nil
	}
	return p11.LoggedOut, nil
}

// Login verifies the user PIN. CoolKey has no security officer. The PIN is
// exactly the bytes the caller gave (ulPinLen of them, whatever they hold);
// one that the applet's length rules make impossible is refused without
// asking the card, which would log every process out of the PIN. A failed
// attempt is never repeated; GET PIN REMAINING TRIES after it sets the
// token's PIN-count flags.
func (s *session) Login(user p11.UserType, pin []byte) error {
	if err := s.alive(); err != nil {
		return err
	}
	tok := s.tok
	switch user {
	case p11.CKU_USER:
		if tok.loggedIn.Load() {
			return p11.CKR_USER_ALREADY_LOGGED_IN
		}
	case p11.CKU_CONTEXT_SPECIFIC:
		// No key of ours has CKA_ALWAYS_AUTHENTICATE, but a caller may
		// still re-authenticate for the operation it just started.
		if !s.opActive {
			return p11.CKR_OPERATION_NOT_INITIALIZED
		}
		if !tok.loggedIn.Load() {
			return p11.CKR_USER_NOT_LOGGED_IN
		}
	default:
		return p11.CKR_USER_TYPE_INVALID
	}
	if pin == nil {
		return p11.CKR_ARGUMENTS_BAD // no protected authentication path
	}
	if len(pin) < minPINLen || len(pin) > maxPINLen {
		tok.slot.log().Info("login refused: PIN length outside the applet's rules", "len", len(pin))
		return p11.CKR_PIN_INCORRECT
	}
	err := tok.slot.transact(tok, false, func(c *cardedge.Card) error {
		if user == p11.CKU_CONTEXT_SPECIFIC {
			// Each VERIFY adds a login to the card's count and LOGOUT
			// takes one away: end ours first so that the count stays
			// balanced and C_Logout still logs the card out.
			c.Logout(cardedge.UserPIN)
		}
		err := c.VerifyPIN(cardedge.UserPIN, pin)
		if errors.Is(err, cardedge.ErrAuthFailed) {
			tok.refreshTries(c)
		}
		return err
	})
	switch {
	case err == nil:
		tok.pinFlags.Store(0) // a correct PIN restores every try
		tok.slot.log().Info("logged in")
		return nil
	case errors.Is(err, cardedge.ErrBlocked):
		tok.pinFlags.Store(p11.CKF_USER_PIN_LOCKED)
	case errors.Is(err, cardedge.ErrIncorrectP1):
		return cardErrorRV("login", p11.CKR_USER_PIN_NOT_INITIALIZED, err)
	}
	tok.slot.log().Info("login failed", "err", err)
	return cardError("login", err)
}

func cardErrorRV(what string, rv p11.Error, err error) error {
	return &opError{what: what, rv: rv, err: err}
}

// refreshTries asks the card how many tries are left, in the transaction of
// the failed attempt (the applet is selected). Applets older than the
// instruction leave just COUNT_LOW.
func (t *token) refreshTries(c *cardedge.Card) {
	n, err := c.PINTriesLeft(cardedge.UserPIN)
	if err != nil {
		t.pinFlags.Store(p11.CKF_USER_PIN_COUNT_LOW)
		return
	}
	t.setTriesLeft(n)
}

// Logout sends LOGOUT, which the reference module never does.
func (s *session) Logout() error {
	if err := s.alive(); err != nil {
		return err
	}
	tok := s.tok
	if !tok.loggedIn.Load() {
		return p11.CKR_USER_NOT_LOGGED_IN
	}
	err := tok.slot.transact(tok, true, func(c *cardedge.Card) error { return c.Logout(cardedge.UserPIN) })
	tok.loggedIn.Store(false)
	if err != nil {
		if rv := rvOf(err); rv == p11.CKR_DEVICE_REMOVED {
			return err
		}
		// The nonce is forgotten whatever the card said.
		tok.slot.log().Warn("logout", "err", err)
	}
	return nil
}

// Close destroys the session's objects.
func (s *session) Close() error {
	s.tok.dropSessionObjects(s)
	return nil
}

// FindObjects searches the object table in memory.
func (s *session) FindObjects(template []p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	return s.tok.find(template), nil
}

// GetAttributes reads attributes from memory.
func (s *session) GetAttributes(h p11.ObjectHandle, types []p11.AttributeType) ([]p11.AttributeResult, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	o := s.tok.lookup(h)
	if o == nil {
		return nil, p11.CKR_OBJECT_HANDLE_INVALID
	}
	out := make([]p11.AttributeResult, len(types))
	for i, t := range types {
		switch {
		case o.sensitive[t] || t == p11.CKA_VALUE && o.class == p11.CKO_SECRET_KEY && secretSensitive(o):
			out[i].Err = p11.CKR_ATTRIBUTE_SENSITIVE
		default:
			v, ok := o.attrs[t]
			if !ok {
				out[i].Err = p11.CKR_ATTRIBUTE_TYPE_INVALID
				continue
			}
			out[i].Value = v
		}
	}
	return out, nil
}

// secretSensitive reports whether a secret key's value may not be read.
func secretSensitive(o *object) bool {
	return o.boolAttr(p11.CKA_SENSITIVE) || !o.boolAttr(p11.CKA_EXTRACTABLE)
}

// SetPIN changes the user PIN with CHANGE PIN, which needs the old PIN and
// no login. The card logs every process out of the PIN when the change
// succeeds; if this application was logged in it logs in again with the new
// PIN, so that C_SetPIN leaves the login state as it found it.
func (s *session) SetPIN(oldPIN, newPIN []byte) error {
	if err := s.alive(); err != nil {
		return err
	}
	if !s.rw {
		return p11.CKR_SESSION_READ_ONLY
	}
	if oldPIN == nil || newPIN == nil {
		return p11.CKR_ARGUMENTS_BAD
	}
	if len(newPIN) < minPINLen || len(newPIN) > maxPINLen {
		return p11.CKR_PIN_LEN_RANGE
	}
	if len(oldPIN) < minPINLen || len(oldPIN) > maxPINLen {
		return p11.CKR_PIN_INCORRECT
	}
	tok := s.tok
	wasLoggedIn := tok.loggedIn.Load()
	err := tok.slot.transact(tok, false, func(c *cardedge.Card) error {
		err := c.ChangePIN(cardedge.UserPIN, oldPIN, newPIN)
		switch {
		case errors.Is(err, cardedge.ErrAuthFailed):
			tok.refreshTries(c)
			return err
		case err != nil:
			return err
		}
		tok.pinFlags.Store(0)
		if wasLoggedIn {
			if err := c.VerifyPIN(cardedge.UserPIN, newPIN); err != nil {
				tok.slot.log().Warn("login with the new PIN failed", "err", err)
			}
		}
		return nil
	})
	switch {
	case err == nil:
		tok.slot.log().Info("PIN changed")
		return nil
	case errors.Is(err, cardedge.ErrBlocked):
		tok.pinFlags.Store(p11.CKF_USER_PIN_LOCKED)
	case errors.Is(err, cardedge.ErrInvalidParameter):
		return cardErrorRV("set PIN", p11.CKR_PIN_LEN_RANGE, err)
	case errors.Is(err, cardedge.ErrIncorrectP1):
		return cardErrorRV("set PIN", p11.CKR_USER_PIN_NOT_INITIALIZED, err)
	}
	return cardError("set PIN", err)
}

// InitPIN needs the security officer, which CoolKey does not have: the PIN
// is reset by the TPS over its secure channel.
func (s *session) InitPIN(pin []byte) error {
	if err := s.alive(); err != nil {
		return err
	}
	return p11.CKR_FUNCTION_NOT_SUPPORTED
}

// GenerateRandom reads the card's RNG (GET RANDOM, at most 255 bytes per
// APDU).
func (s *session) GenerateRandom(n int) ([]byte, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if n == 0 {
		return []byte{}, nil
	}
	var out []byte
	err := s.tok.slot.transact(s.tok, true, func(c *cardedge.Card) error {
		var err error
		out, err = c.GetRandom(n)
		return err
	})
	if err != nil {
		return nil, cardError("generate random", err)
	}
	return out, nil
}

// SeedRandom feeds the card's RNG (SEED RANDOM).
func (s *session) SeedRandom(seed []byte) error {
	if err := s.alive(); err != nil {
		return err
	}
	if len(seed) == 0 {
		return nil
	}
	err := s.tok.slot.transact(s.tok, true, func(c *cardedge.Card) error { return c.SeedRandom(seed) })
	if err != nil {
		if isCardAnswer(err) {
			return p11.CKR_RANDOM_SEED_NOT_SUPPORTED
		}
		return cardError("seed random", err)
	}
	return nil
}
