package vcard

// pinFor returns the PIN P1 names, or 9C10.
func (a *applet) pinFor(p1 byte) (int, *pin, error) {
	n := int(int8(p1))
	if n < 0 || n >= maxPINs || a.pins[n] == nil {
		return 0, nil, swIncorrectP1
	}
	return n, a.pins[n], nil
}

func (a *applet) verifyPIN(x *apdu) ([]byte, error) {
	n, p, err := a.pinFor(x.p1)
	if err != nil {
		return nil, err
	}
	if x.p2 != 0 {
		return nil, swIncorrectP2
	}
	if x.p3 != len(x.data) {
		return nil, SWWrongLength
	}
	if p.triesLeft == 0 {
		return nil, swIdentityBlocked
	}
	// A value outside the length policy fails without spending a try.
	if !validPINLength(int(int8(x.p3))) || !a.checkPIN(p, x.data) {
		a.logoutAllIdentity(n)
		a.card.wrongPINDelay()
		return nil, swAuthFailed
	}
	a.loginIdentity(n)
	return append([]byte(nil), a.nonce[:]...), nil
}

// checkPIN runs OwnerPIN.check and records the try counter change.
func (a *applet) checkPIN(p *pin, candidate []byte) bool {
	before := p.triesLeft
	ok := p.check(candidate)
	if p.triesLeft != before {
		a.card.markDirty()
	}
	if ok && p.hash.kdf == kdfLegacy {
		if err := p.update(candidate, a.card.rand()); err == nil {
			a.card.markDirty()
		}
	}
	return ok
}

func (a *applet) createPIN(x *apdu) error {
	if !a.authorized(a.createPINACL) {
		return swUnauthorized
	}
	n := int(int8(x.p1))
	if n < 0 || n >= maxPINs || a.pins[n] != nil {
		return swIncorrectP1
	}
	avail := int(int8(x.p3))
	if avail < 1 || !validPINLength(avail) {
		return swInvalidParameter
	}
	tries := int8(x.p2)
	if tries < 1 {
		// OwnerPIN's constructor rejects a try limit below 1 with an
		// exception the applet does not catch.
		return SWUnknown
	}
	p, err := newPIN(x.window(0, avail), byte(tries), a.card.rand())
	if err != nil {
		return err
	}
	a.pins[n] = p
	a.card.markDirty()
	return nil
}

func (a *applet) changePIN(x *apdu) error {
	n, p, err := a.pinFor(x.p1)
	if err != nil {
		return err
	}
	if x.p2 != 0 {
		return swIncorrectP2
	}
	avail := x.p3
	if avail != len(x.data) {
		return SWWrongLength
	}
	if avail < 4 {
		return swInvalidParameter
	}
	oldLen := int(int8(x.at(0)))
	if avail < 1+oldLen+1 || !validPINLength(oldLen) {
		return swInvalidParameter
	}
	newLen := int(int8(x.at(1 + oldLen)))
	if avail < 1+oldLen+1+newLen || !validPINLength(newLen) {
		return swInvalidParameter
	}
	if p.triesLeft == 0 {
		return swIdentityBlocked
	}
	if !a.checkPIN(p, x.window(1, oldLen)) {
		a.logoutAllIdentity(n)
		a.card.wrongPINDelay()
		return swAuthFailed
	}
	if err := p.update(x.window(2+oldLen, newLen), a.card.rand()); err != nil {
		return err
	}
	a.card.markDirty()
	return a.logoutAllIdentity(n)
}

func (a *applet) getPINTries(x *apdu) ([]byte, error) {
	_, p, err := a.pinFor(x.p1)
	if err != nil {
		return nil, err
	}
	if x.p2 != 0 {
		return nil, swIncorrectP2
	}
	if x.p3 != 1 {
		return nil, SWWrongLength
	}
	return []byte{p.triesLeft}, nil
}

func (a *applet) listPINs(x *apdu) ([]byte, error) {
	if x.p1 != 0 {
		return nil, swIncorrectP1
	}
	if x.p2 != 0 {
		return nil, swIncorrectP2
	}
	if x.p3 != 2 {
		return nil, SWWrongLength
	}
	var mask uint16
	for i, p := range a.pins {
		if p != nil {
			mask |= 1 << i
		}
	}
	return []byte{byte(mask >> 8), byte(mask)}, nil
}

// setPIN is the secure-channel SET PIN (resetPIN): a new value, all tries
// restored, everyone logged out of that PIN.
func (a *applet) setPIN(x *apdu) error {
	n := int(int8(x.p1))
	if n < 0 || n >= maxPINs {
		return swIncorrectP1
	}
	if x.p2 != 0 {
		return swIncorrectP2
	}
	pinLen := int(int8(x.p3))
	if pinLen < 0 {
		return SWWrongLength
	}
	p := a.pins[n]
	if p == nil {
		return swIncorrectP1
	}
	if !validPINLength(pinLen) {
		return swInvalidParameter
	}
	p.triesLeft = p.maxTries
	if err := p.update(x.window(0, pinLen), a.card.rand()); err != nil {
		return err
	}
	a.card.markDirty()
	return a.logoutAllIdentity(n)
}

// loginIdentity draws the nonce if nobody holds one, then records one more
// login of PIN n.
func (a *applet) loginIdentity(n int) {
	if a.nonce == [nonceSize]byte{} {
		if err := a.card.random(a.nonce[:]); err != nil {
			// crypto/rand does not fail on Linux; keep the card usable.
			a.nonce = [nonceSize]byte{1}
		}
	}
	a.nonceIDs |= 1 << n
	a.loginCount[n]++
}

// logoutOne is LOGOUT: one login of identity n ends; when none is left the
// identity is dropped, and when no identity is left the nonce is cleared.
// An identity outside 0–7, or one without a PIN, makes the applet throw an
// uncaught exception (6F00) — after it has dropped the identity bit.
func (a *applet) logoutOne(n int8) error {
	if n < 0 || int(n) >= maxPINs {
		return SWUnknown
	}
	if a.loginCount[n] != 0 {
		a.loginCount[n]--
	}
	if a.loginCount[n] != 0 {
		return nil
	}
	a.nonceIDs &^= 1 << n
	if a.pins[n] == nil {
		return SWUnknown
	}
	if a.nonceIDs == 0 {
		a.nonce = [nonceSize]byte{}
	}
	return nil
}

// logoutAllIdentity logs every process out of identity n (a wrong PIN, a
// changed PIN).
func (a *applet) logoutAllIdentity(n int) error {
	a.loginCount[n] = 0
	return a.logoutOne(int8(n))
}

func (a *applet) logoutAll() {
	for i, p := range a.pins {
		if p != nil {
			a.logoutAllIdentity(i)
		}
	}
}
