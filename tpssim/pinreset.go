package tpssim

import "github.com/coolkey-go/coolkey-go/tps"

// resetPIN is operation 3 (TPSPinResetProcessor.resetPin).
func (s *session) resetPIN() error {
	if err := s.progress(10, tps.TaskStartPINReset); err != nil {
		return err
	}
	info, err := s.identify()
	if err != nil {
		return err
	}
	if _, known := s.srv.store.Token(info.cuidHex()); !known {
		return fail(tps.StatusErrUnknownToken, "token is not in the database")
	}
	prof, err := s.lookupProfile()
	if err != nil {
		return err
	}
	rec, _, release, err := s.beginToken(info, prof.name)
	if err != nil {
		return err
	}
	defer release()
	if err := s.progress(15, tps.TaskPINResetResolveProfile); err != nil {
		return err
	}
	uid, err := s.authenticate()
	if err != nil {
		return err
	}
	if rec.Status != TokenActive {
		return fail(tps.StatusErrNotPINResettable, "token is %v, not ACTIVE", rec.Status)
	}
	pol := s.srv.policy.With(rec.Policy)
	if !pol[PolicyPINReset] {
		return fail(tps.StatusErrNotPINResettable, "token policy does not allow PIN reset")
	}
	// Dogtag once skipped this check (pki#3356): only the owner may reset.
	if rec.UserID != uid {
		return fail(tps.StatusErrNotTokenOwner, "token belongs to another user")
	}
	if info.status == nil {
		return fail(tps.StatusErrCannotPerformOperation, "the card has no CoolKey applet")
	}
	ch, err := s.appletChannel(info)
	if err != nil {
		return err
	}
	if err := s.setNewPIN(ch, prof); err != nil {
		return err
	}
	if pol[PolicyResetPINResetToNo] {
		if rec.Policy == nil {
			rec.Policy = Policy{}
		}
		rec.Policy[PolicyPINReset] = false
	}
	rec.KeyInfo = ch.keyInfo()
	if err := s.saveToken(rec); err != nil {
		return err
	}
	return s.progress(100, tps.TaskPINResetComplete)
}
