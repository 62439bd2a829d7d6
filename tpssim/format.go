package tpssim

import (
	"bytes"
	"encoding/binary"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/tps"
)

// GlobalPlatform LOAD block size (channel.blocksize).
const loadBlockSize = 224

// beginToken finds or creates the token record for the identified card
// and reserves the card for this operation. The returned release must be
// called when the operation ends.
func (s *session) beginToken(info *cardInfo, tokenType string) (rec *TokenRecord, known bool, release func(), err error) {
	cuid := info.cuidHex()
	if !s.srv.store.Acquire(cuid) {
		return nil, false, nil, fail(tps.StatusErrCannotPerformOperation, "another operation on this card is in progress")
	}
	release = func() { s.srv.store.Release(cuid) }
	rec, known = s.srv.store.Token(cuid)
	if !known {
		now := s.srv.cfg.Now()
		rec = &TokenRecord{CUID: cuid, Status: TokenUnformatted, TokenType: tokenType, Created: now, Modified: now}
	}
	return rec, known, release, nil
}

func (s *session) saveToken(rec *TokenRecord) error {
	rec.Modified = s.srv.cfg.Now()
	if err := s.srv.store.Put(rec); err != nil {
		return failErr(tps.StatusErrUpdateTokenDBFailed, err, "saving the token record")
	}
	return nil
}

// format is operation 5 (TPSProcessor.format).
func (s *session) format(phoneHome string) error {
	info, err := s.identify()
	if err != nil {
		return err
	}
	prof, err := s.lookupProfile()
	if err != nil {
		return err
	}
	rec, known, release, err := s.beginToken(info, prof.name)
	if err != nil {
		return err
	}
	defer release()
	if !known {
		// allowUnknownToken: the card joins the database unformatted.
		if err := s.saveToken(rec); err != nil {
			return err
		}
	}
	if _, err := s.authenticate(); err != nil {
		return err
	}
	if !transitionAllowed(rec.Status, TokenFormatted) {
		return fail(statusForState(rec.Status), "token is %v; it cannot be formatted", rec.Status)
	}
	if err := s.formatCard(info, rec, prof, phoneHome, 10, 90); err != nil {
		return err
	}
	if err := s.progress(100, tps.TaskDone); err != nil {
		return err
	}
	// checkAndUpgradeSymKeys with key changeover disabled: the TPS opens
	// one more channel to prove the card's keys.
	ch, err := s.appletChannel(info)
	if err != nil {
		return err
	}
	rec.KeyInfo = ch.keyInfo()
	return s.saveToken(rec)
}

// formatCard reinstalls the applet, writes the issuer info and resets the
// token record to FORMATTED, revoking its certificates. LOAD progress
// runs from start to end percent.
func (s *session) formatCard(info *cardInfo, rec *TokenRecord, prof *profile, phoneHome string, start, end int) error {
	if _, err := s.buildID(); err != nil { // GET VERSION, as the TPS does before upgrading
		return err
	}
	if err := s.installApplet(info, prof, start, end); err != nil {
		return err
	}
	if err := s.writeIssuerInfo(info, phoneHome); err != nil {
		return err
	}
	for i := range rec.Certs {
		if !rec.Certs[i].Revoked {
			rec.Certs[i].Revoked = true
			s.log.Info("certificate revoked by format", "serial", rec.Certs[i].Serial)
		}
	}
	rec.Status = TokenFormatted
	rec.UserID = ""
	rec.AppletID = appletID(&cardedge.Status{AppletMajor: installedApplet.Major, AppletMinor: installedApplet.Minor}, binary.BigEndian.AppendUint32(nil, installedApplet.BuildID))
	return s.saveToken(rec)
}

// installApplet deletes the CoolKey applet and package and loads and
// installs them again through the card manager (TPSProcessor.upgradeApplet).
func (s *session) installApplet(info *cardInfo, prof *profile, start, end int) error {
	if err := s.detectProtocol(info); err != nil {
		return err
	}
	r, err := s.transmit(selectAID(info.cardManager))
	if err != nil {
		return err
	}
	if r.SW != cardedge.SWSuccess {
		return fail(tps.StatusErrUpgradeApplet, "cannot select the card manager (SW %v)", r.SW)
	}
	ch, err := s.openChannel(info)
	if err != nil {
		return err
	}
	rec := func(aid []byte) []byte { return append([]byte{0x4F, byte(len(aid))}, aid...) }
	for _, aid := range [][]byte{aidCoolKey, aidCoolKeyPackage} {
		// The result is not checked: on a blank card there is nothing
		// to delete.
		if info.gp211 {
			_, err = ch.send(cmd(0x84, 0xE4, 0x00, 0x80, rec(aid), 0x00))
		} else {
			_, err = ch.send(cmd(0x84, 0xE4, 0x00, 0x00, rec(aid)))
		}
		if err != nil {
			return err
		}
	}

	file, err := installedApplet.Encode()
	if err != nil {
		return failErr(tps.StatusErrUpgradeApplet, err, "load file")
	}
	var sd []byte
	if info.gp211 {
		sd = aidCardManager211
		if len(info.cardManager) < len(sd) || !bytes.Equal(info.cardManager, sd[:len(info.cardManager)]) {
			sd = info.cardManager
		}
	}
	var il []byte
	il = append(il, byte(len(aidCoolKeyPackage)))
	il = append(il, aidCoolKeyPackage...)
	il = append(il, byte(len(sd)))
	il = append(il, sd...)
	il = append(il, 0x00, 0x06, 0xEF, 0x04, 0xC6, 0x02)
	il = binary.BigEndian.AppendUint16(il, uint16(len(file)+24+len(sd)))
	il = append(il, 0x00)
	installLoad := cmd(0x84, 0xE6, 0x02, 0x00, il)
	if info.gp211 {
		installLoad = append(installLoad, 0x00)
	}
	if _, err := ch.mustSend(tps.StatusErrUpgradeApplet, "INSTALL [for load]", installLoad); err != nil {
		return err
	}

	// C4 ‖ BER length ‖ file, in blocks with room for the encryption
	// padding.
	blob := []byte{0xC4}
	switch n := len(file); {
	case n < 128:
		blob = append(blob, byte(n))
	case n < 256:
		blob = append(blob, 0x81, byte(n))
	default:
		blob = append(blob, 0x82, byte(n>>8), byte(n))
	}
	blob = append(blob, file...)
	chunk := loadBlockSize - 16
	blocks := (len(blob) + chunk - 1) / chunk
	for i := 0; i < blocks; i++ {
		piece := blob[i*chunk : min(len(blob), (i+1)*chunk)]
		p1 := byte(0x00)
		if i == blocks-1 {
			p1 = 0x80
		}
		if _, err := ch.mustSend(tps.StatusErrUpgradeApplet, "LOAD", cmd(0x84, 0xE8, p1, byte(i), piece)); err != nil {
			return err
		}
		if err := s.progress(start+(end-start)*i/blocks, tps.TaskAppletBlock); err != nil {
			return err
		}
	}

	var inst []byte
	inst = append(inst, byte(len(aidCoolKeyPackage)))
	inst = append(inst, aidCoolKeyPackage...)
	inst = append(inst, byte(len(aidCoolKey)))
	inst = append(inst, aidCoolKey...)
	inst = append(inst, byte(len(aidCoolKey)))
	inst = append(inst, aidCoolKey...)
	inst = append(inst, 0x01, 0x00) // privileges
	params := []byte{0xEF, 0x04, 0xC8, 0x02, byte(prof.instanceSize >> 8), byte(prof.instanceSize),
		0xC9, 0x04, 0x00, 0x02, byte(prof.appletMemory >> 8), byte(prof.appletMemory)}
	inst = append(inst, byte(len(params)))
	inst = append(inst, params...)
	inst = append(inst, 0x00)
	install := cmd(0x84, 0xE6, 0x0C, 0x00, inst)
	if info.gp211 {
		install = append(install, 0x00)
	}
	if _, err := ch.mustSend(tps.StatusErrUpgradeApplet, "INSTALL [for install]", install); err != nil {
		return err
	}
	r, err = s.transmit(selectAID(aidCoolKey))
	if err != nil {
		return err
	}
	if r.SW != cardedge.SWSuccess {
		return fail(tps.StatusErrUpgradeApplet, "the new applet cannot be selected (SW %v)", r.SW)
	}
	return nil
}

// writeIssuerInfo opens a channel through the applet and writes the
// phone-home URL, NUL-padded to 224 bytes.
func (s *session) writeIssuerInfo(info *cardInfo, phoneHome string) error {
	if len(phoneHome) >= cardedge.IssuerInfoSize {
		return fail(tps.StatusErrMisconfiguration, "phone-home URL longer than %d bytes", cardedge.IssuerInfoSize-1)
	}
	ch, err := s.appletChannel(info)
	if err != nil {
		return err
	}
	return ch.setIssuerInfo(phoneHome)
}

func (c *channel) setIssuerInfo(url string) error {
	data := make([]byte, cardedge.IssuerInfoSize)
	copy(data, url)
	_, err := c.mustSend(tps.StatusErrUpgradeApplet, "SET ISSUER INFO", cmd(0x84, 0xF4, 0x00, 0x00, data))
	return err
}
