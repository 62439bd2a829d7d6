package tpssim

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/gp"
	"github.com/coolkey-go/coolkey-go/tps"
)

var (
	aidCoolKey        = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00}
	aidCoolKeyPackage = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00}
	// aidCardManager211 is the security domain named in GP 2.1.1 INSTALL
	// [for load] (TPSEngine.CFG_DEF_CARDMGR_211_INSTANCE_AID).
	aidCardManager211 = []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00}
	// cardManagerAIDs is applet.aid.cardmgr_instance's default list.
	cardManagerAIDs = [][]byte{
		{0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00},
		{0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00},
		{0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00},
	}
)

// cardInfo is what the prologue learns (TPSProcessor.getAppletInfo).
type cardInfo struct {
	cardManager []byte
	cplc        cardedge.CPLC
	cuid        cardedge.CUID
	// status is GET STATUS; nil when the card has no CoolKey applet.
	status *cardedge.Status
	// protocol and gp211 come from the card recognition data.
	protocol gp.Protocol
	gp211    bool
	detected bool
}

func (c *cardInfo) cuidHex() string { return hex.EncodeToString(c.cuid[:]) }

// appletID is the version string the token record keeps, e.g.
// "1.4.5875566e".
func appletID(st *cardedge.Status, buildID []byte) string {
	if st == nil || buildID == nil {
		return ""
	}
	return fmt.Sprintf("%x.%x.%s", st.AppletMajor, st.AppletMinor, hex.EncodeToString(buildID))
}

// cmd builds a short APDU: header, data (Lc when non-empty) and an optional
// Le.
func cmd(cla, ins, p1, p2 byte, data []byte, le ...byte) []byte {
	b := []byte{cla, ins, p1, p2}
	if len(data) > 0 {
		b = append(b, byte(len(data)))
		b = append(b, data...)
	}
	return append(b, le...)
}

func selectAID(aid []byte) []byte { return cmd(0x00, 0xA4, 0x04, 0x00, aid, 0x00) }

// selectDefaultCardManager asks for the default application's AID with an
// empty SELECT, checks it against the accepted card managers and selects
// it (TPSProcessor.selectDefaultCardManager).
func (s *session) selectDefaultCardManager() ([]byte, error) {
	resp, err := s.transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x00})
	if err != nil {
		return nil, err
	}
	if resp.SW.SW1() == 0x6C {
		resp, err = s.transmit([]byte{0x00, 0xA4, 0x04, 0x00, resp.SW.SW2()})
		if err != nil {
			return nil, err
		}
	}
	if resp.SW != cardedge.SWSuccess {
		return nil, fail(tps.StatusErrCannotEstablishComm, "card refused to select its card manager (SW %v)", resp.SW)
	}
	aid := fciAID(resp.Data)
	if aid == nil {
		// A bare 90 00 (tpsclient): assume the first configured AID.
		aid = cardManagerAIDs[0]
	}
	for _, ok := range cardManagerAIDs {
		if bytes.Equal(aid, ok) {
			r, err := s.transmit(selectAID(aid))
			if err != nil {
				return nil, err
			}
			if r.SW == cardedge.SWSuccess {
				return aid, nil
			}
		}
	}
	return nil, fail(tps.StatusErrCannotEstablishComm, "card manager %X is not one of the accepted AIDs", aid)
}

// fciAID returns the AID under tag 84 in an FCI template (6F), or nil.
func fciAID(fci []byte) []byte {
	t, _, err := cardedge.ParseTLV(fci)
	if err != nil || t.Tag != 0x6F {
		return nil
	}
	for rest := t.Value; len(rest) > 0; {
		var in cardedge.TLV
		in, rest, err = cardedge.ParseTLV(rest)
		if err != nil {
			return nil
		}
		if in.Tag == 0x84 && len(in.Value) >= 5 && len(in.Value) <= 16 {
			return in.Value
		}
	}
	return nil
}

// getData is GET DATA on the card manager with the 6Cxx retry.
func (s *session) getData(p1, p2, le byte) (cardedge.Response, error) {
	resp, err := s.transmit([]byte{0x80, 0xCA, p1, p2, le})
	if err != nil {
		return resp, err
	}
	if resp.SW.SW1() == 0x6C {
		return s.transmit([]byte{0x80, 0xCA, p1, p2, resp.SW.SW2()})
	}
	return resp, nil
}

// identify runs the common prologue (tps.md §2.1 steps 1–5): card manager,
// CPLC and CUID, then the CoolKey applet's status.
func (s *session) identify() (*cardInfo, error) {
	cm, err := s.selectDefaultCardManager()
	if err != nil {
		return nil, err
	}
	resp, err := s.getData(0x9F, 0x7F, 0x2D)
	if err != nil {
		return nil, err
	}
	if resp.SW != cardedge.SWSuccess {
		return nil, fail(tps.StatusErrSecureChannel, "card has no CPLC data (SW %v)", resp.SW)
	}
	if len(resp.Data) != cardedge.CPLCResponseSize {
		return nil, fail(tps.StatusErrSecureChannel, "CPLC data is %d bytes, want %d", len(resp.Data), cardedge.CPLCResponseSize)
	}
	cplc, err := cardedge.ParseCPLC(resp.Data)
	if err != nil {
		return nil, failErr(tps.StatusErrSecureChannel, err, "CPLC data")
	}
	info := &cardInfo{cardManager: cm, cplc: cplc, cuid: cplc.CUID()}
	s.cuid = info.cuidHex()
	s.log = s.log.With("cuid", s.cuid)

	// Failure to select the applet is fine: the card may be blank.
	if _, err := s.transmit(selectAID(aidCoolKey)); err != nil {
		return nil, err
	}
	resp, err = s.transmit([]byte{0xB0, 0x3C, 0x00, 0x00, 0x10})
	if err != nil {
		return nil, err
	}
	if resp.SW == cardedge.SWSuccess && len(resp.Data) == cardedge.StatusSize {
		st, err := cardedge.ParseStatus(resp.Data)
		if err == nil {
			info.status = &st
		}
	}
	return info, nil
}

// buildID is GET VERSION (the applet's build ID), nil without an applet
// (TPSProcessor.getAppletVersion).
func (s *session) buildID() ([]byte, error) {
	if _, err := s.transmit(selectAID(aidCoolKey)); err != nil {
		return nil, err
	}
	resp, err := s.transmit([]byte{0xB0, 0x70, 0x00, 0x00, 0x04})
	if err != nil {
		return nil, err
	}
	if resp.SW != cardedge.SWSuccess {
		return nil, nil
	}
	if len(resp.Data) != 4 {
		return nil, fail(tps.StatusErrCannotPerformOperation, "applet build ID is %d bytes, want 4", len(resp.Data))
	}
	return resp.Data, nil
}

// lifecycle is GET LIFECYCLE (1-byte form, as the TPS sends it); 0xF0
// when the applet does not answer.
func (s *session) lifecycle() (byte, error) {
	if _, err := s.transmit(selectAID(aidCoolKey)); err != nil {
		return 0, err
	}
	resp, err := s.transmit([]byte{0xB0, 0xF2, 0x00, 0x00, 0x01})
	if err != nil {
		return 0, err
	}
	if resp.SW != cardedge.SWSuccess || len(resp.Data) != 1 {
		return 0xF0, nil
	}
	return resp.Data[0], nil
}

// detectProtocol reads the card recognition data and key information
// template and picks the secure channel protocol; anything unreadable
// means GP 2.0.1 with SCP01, as in Dogtag.
func (s *session) detectProtocol(info *cardInfo) error {
	if info.detected {
		return nil
	}
	info.detected = true
	info.protocol, info.gp211 = gp.SCP01, false
	r, err := s.transmit(selectAID(info.cardManager))
	if err != nil {
		return err
	}
	if r.SW != cardedge.SWSuccess {
		return nil
	}
	crd, err := s.getData(0x00, 0x66, 0x2D)
	if err != nil {
		return err
	}
	if crd.SW != cardedge.SWSuccess {
		return nil
	}
	kit, err := s.getData(0x00, 0xE0, 0x2D)
	if err != nil {
		return err
	}
	if kit.SW != cardedge.SWSuccess {
		return nil
	}
	scp, impl, ok := parseCardRecognition(crd.Data)
	if !ok {
		return nil
	}
	switch scp {
	case 0x02:
		if impl != 0x15 {
			return fail(tps.StatusErrSecureChannel, "card uses SCP02 i=%02X; only i=15 is supported", impl)
		}
		info.protocol, info.gp211 = gp.SCP02, true
	case 0x03:
		info.protocol, info.gp211 = gp.SCP03, true
	}
	s.log.Debug("secure channel protocol", "scp", info.protocol, "i", fmt.Sprintf("%02X", impl))
	return nil
}

// parseCardRecognition finds the secure channel protocol OID in GP card
// recognition data: 66 { 73 { 06 <GP>, 60 {06 …}, 63 {06 …}, 64 {06 <SCP
// OID, last two bytes scp and i>}, … } }.
func parseCardRecognition(b []byte) (scp, impl byte, ok bool) {
	outer, _, err := cardedge.ParseTLV(b)
	if err != nil || outer.Tag != 0x66 {
		return 0, 0, false
	}
	inner, _, err := cardedge.ParseTLV(outer.Value)
	if err != nil || inner.Tag != 0x73 {
		return 0, 0, false
	}
	for rest := inner.Value; len(rest) > 0; {
		var t cardedge.TLV
		t, rest, err = cardedge.ParseTLV(rest)
		if err != nil {
			return 0, 0, false
		}
		if t.Tag != 0x64 {
			continue
		}
		oid, _, err := cardedge.ParseTLV(t.Value)
		if err != nil || oid.Tag != 0x06 || len(oid.Value) < 3 {
			return 0, 0, false
		}
		n := len(oid.Value)
		return oid.Value[n-2], oid.Value[n-1], true
	}
	return 0, 0, false
}

// channel is an open secure channel to the selected application.
type channel struct {
	s    *session
	host *gp.HostSession
	info *cardInfo
}

// appletChannel selects the CoolKey applet and opens a secure channel to it,
// detecting the protocol first when that has not been done (it selects the
// card manager, so it cannot come between the selection and the channel).
func (s *session) appletChannel(info *cardInfo) (*channel, error) {
	if err := s.detectProtocol(info); err != nil {
		return nil, err
	}
	if _, err := s.transmit(selectAID(aidCoolKey)); err != nil {
		return nil, err
	}
	return s.openChannel(info)
}

// openChannel runs INITIALIZE UPDATE and EXTERNAL AUTHENTICATE with the
// currently selected application (card manager, or the applet, which
// hands them to its security domain).
//
// The protocol must be known by then (detectProtocol, which selects the
// card manager, so it runs before the application is selected).
func (s *session) openChannel(info *cardInfo) (*channel, error) {
	if !info.detected {
		return nil, fail(tps.StatusErrSNAC, "internal error: secure channel protocol not detected")
	}
	host, err := s.srv.tks.hostSession(info.protocol)
	if err != nil {
		return nil, failErr(tps.StatusErrSecureChannel, err, "secure channel")
	}
	iu, err := host.InitializeUpdate()
	if err != nil {
		return nil, failErr(tps.StatusErrSecureChannel, err, "INITIALIZE UPDATE")
	}
	resp, err := s.transmit(iu)
	if err != nil {
		return nil, err
	}
	if resp.SW != cardedge.SWSuccess {
		return nil, fail(tps.StatusErrSecureChannel, "INITIALIZE UPDATE refused (SW %v)", resp.SW)
	}
	if n := len(resp.Data); n != 28 && n != 29 && n != 32 {
		return nil, fail(tps.StatusErrSecureChannel, "INITIALIZE UPDATE answer is %d bytes", n)
	}
	ea, err := host.ExternalAuthenticate(resp.Encode())
	if err != nil {
		return nil, failErr(tps.StatusErrSecureChannel, err, "card cryptogram")
	}
	resp, err = s.transmit(ea)
	if err != nil {
		return nil, err
	}
	if resp.SW != cardedge.SWSuccess {
		return nil, fail(tps.StatusErrSecureChannel, "EXTERNAL AUTHENTICATE refused (SW %v)", resp.SW)
	}
	return &channel{s: s, host: host, info: info}, nil
}

// keyInfo returns the key information the card reported, e.g. "0101".
func (c *channel) keyInfo() string { return hex.EncodeToString(c.host.CardResponse().KeyInfo()) }

// send wraps a plain command (CLA 84 or 80) and relays it.
func (c *channel) send(plain []byte) (cardedge.Response, error) {
	wrapped, err := c.host.Wrap(plain)
	if err != nil {
		return cardedge.Response{}, failErr(tps.StatusErrSecureChannel, err, "wrapping a command")
	}
	return c.s.transmit(wrapped)
}

// mustSend is send, failing the operation with st unless the card answers
// 90 00.
func (c *channel) mustSend(st tps.Status, what string, plain []byte) (cardedge.Response, error) {
	resp, err := c.send(plain)
	if err != nil {
		return resp, err
	}
	if resp.SW != cardedge.SWSuccess {
		return resp, fail(st, "%s refused by the card (SW %v)", what, resp.SW)
	}
	return resp, nil
}
