// Package tpsscript plays a Dogtag TPS against a CoolKey card, APDU by APDU
// as tps.md §2 describes, with package gp's host side of the secure
// channel: format (DELETE, INSTALL [for load], LOAD, INSTALL [for install],
// SET ISSUER INFO), key changeover (PUT KEY), CREATE PIN and SET PIN,
// on-card key generation with the proof of possession checked, z0 in the
// Dogtag layout, CLEAR KEY SLOTS and SET LIFECYCLE.
//
// It is a test driver, not a TPS: no token database, no HTTP, no policy.
// The virtual card's tests use it in-process and through pcscd, and it
// answers with the card's status words so that tests can check them.
package tpsscript

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/coolkey-go/coolkey-go/gp"
	"github.com/coolkey-go/coolkey-go/internal/loadfile"
)

// Transmitter sends one command APDU and returns the response APDU;
// cardedge.Transport and *vcard.Card satisfy it.
type Transmitter interface {
	Transmit(cmd []byte) ([]byte, error)
}

// AIDs a TPS uses.
var (
	CoolKeyAID        = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00}
	CoolKeyPackageAID = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00}
	// CardManagerAID is GP 2.1.1's issuer security domain, which Dogtag
	// names in INSTALL [for load] (CFG_DEF_CARDMGR_211_INSTANCE_AID).
	CardManagerAID = []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00}
)

// CoolKeyLoadFile is the synthetic load file of the CoolKey applet at the
// version the virtual card implements (1.4, build 5875566E), about the size
// of the real applet so that a format takes a realistic number of blocks.
var CoolKeyLoadFile = loadfile.File{
	PackageAID: CoolKeyPackageAID,
	AppletAID:  CoolKeyAID,
	Major:      1,
	Minor:      4,
	BuildID:    0x5875566E,
	FillerSize: 3000,
}

// SWError is a status word other than 90 00 where the script needed
// success.
type SWError struct {
	Op string
	SW uint16
}

func (e *SWError) Error() string { return fmt.Sprintf("tpsscript: %s: SW %04X", e.Op, e.SW) }

// SW returns the status word of a *SWError or a *gp.StatusError in err's
// chain, and false when there is none.
func SW(err error) (uint16, bool) {
	var se *SWError
	if errors.As(err, &se) {
		return se.SW, true
	}
	return gp.StatusWord(err)
}

// Script is one scripted TPS session with one card. It is not safe for
// concurrent use.
type Script struct {
	Card Transmitter
	// Keys is the card's current static key set; ChangeKeys replaces it.
	Keys gp.KeySet
	// GP211 makes the script send GlobalPlatform 2.1.1 forms, as Dogtag
	// does with SCP02 and SCP03 cards: DELETE with P2 80, Le on DELETE,
	// INSTALL and PUT KEY, the security domain named in INSTALL [for
	// load]. Otherwise it sends the GP 2.0.1 forms of SCP01 cards,
	// including the Le byte after GENERATE KEY and READ OBJECT.
	GP211 bool
	// CardManager is the security domain AID to select; nil means
	// CardManagerAID.
	CardManager []byte
	// Trace, when set, receives one line per APDU: header, length and
	// status word, never data (it holds PINs and keys).
	Trace func(string)
	// Rand supplies host and enrollment challenges; nil means crypto/rand.
	Rand io.Reader

	ch *gp.HostSession
}

// Response is a card's answer.
type Response struct {
	Data []byte
	SW   uint16
}

// Transmit sends a raw APDU.
func (s *Script) Transmit(apdu []byte) (Response, error) {
	raw, err := s.Card.Transmit(apdu)
	if err != nil {
		return Response{}, err
	}
	if len(raw) < 2 {
		return Response{}, fmt.Errorf("tpsscript: response of %d bytes", len(raw))
	}
	r := Response{Data: raw[:len(raw)-2], SW: binary.BigEndian.Uint16(raw[len(raw)-2:])}
	if s.Trace != nil {
		s.Trace(fmt.Sprintf("%02X %02X %02X %02X (%d bytes) -> %d bytes %04X", apdu[0], apdu[1], apdu[2], apdu[3], len(apdu), len(r.Data), r.SW))
	}
	return r, nil
}

func (s *Script) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Script) cardManager() []byte {
	if s.CardManager == nil {
		return CardManagerAID
	}
	return s.CardManager
}

// apdu builds a short command APDU with an optional Le.
func apdu(cla, ins, p1, p2 byte, data []byte, le ...byte) []byte {
	b := []byte{cla, ins, p1, p2}
	if len(data) > 0 {
		b = append(b, byte(len(data)))
		b = append(b, data...)
	}
	return append(b, le...)
}

// Select selects an application by AID; a SELECT ends any secure channel.
func (s *Script) Select(aid []byte) error {
	s.ch = nil
	r, err := s.Transmit(apdu(0x00, 0xA4, 0x04, 0x00, aid, 0x00))
	if err != nil {
		return err
	}
	if r.SW != 0x9000 {
		return &SWError{Op: fmt.Sprintf("SELECT %X", aid), SW: r.SW}
	}
	return nil
}

// SelectCardManager selects the issuer security domain.
func (s *Script) SelectCardManager() error { return s.Select(s.cardManager()) }

// SelectApplet selects the CoolKey applet.
func (s *Script) SelectApplet() error { return s.Select(CoolKeyAID) }

// OpenChannel runs INITIALIZE UPDATE (P1 = keyVersion, 00 for the card's
// current set) and EXTERNAL AUTHENTICATE at security level 03 with Keys,
// undiversified. A card that lacks the key version answers 6A88
// (*gp.StatusError, gp.ErrKeyVersion); keys that do not match the card's
// fail the card cryptogram check (gp.ErrCardCryptogram).
func (s *Script) OpenChannel(keyVersion byte) error {
	s.ch = nil
	h, err := gp.NewHostSession(gp.HostConfig{Keys: s.Keys, KeyVersion: keyVersion, Rand: s.rand()})
	if err != nil {
		return err
	}
	iu, err := h.InitializeUpdate()
	if err != nil {
		return err
	}
	raw, err := s.Card.Transmit(iu)
	if err != nil {
		return err
	}
	if s.Trace != nil && len(raw) >= 2 {
		s.Trace(fmt.Sprintf("80 50 %02X 00 (INITIALIZE UPDATE) -> %X", keyVersion, raw[len(raw)-2:]))
	}
	ea, err := h.ExternalAuthenticate(raw)
	if err != nil {
		return err
	}
	r, err := s.Transmit(ea)
	if err != nil {
		return err
	}
	if r.SW != 0x9000 {
		return &SWError{Op: "EXTERNAL AUTHENTICATE", SW: r.SW}
	}
	s.ch = h
	return nil
}

// Channel returns the open secure channel, nil when there is none.
func (s *Script) Channel() *gp.HostSession { return s.ch }

// Secure wraps a plain command (CLA 80 or 84) for the open channel and
// sends it.
func (s *Script) Secure(plain []byte) (Response, error) {
	if s.ch == nil {
		return Response{}, gp.ErrNotAuthenticated
	}
	w, err := s.ch.Wrap(plain)
	if err != nil {
		return Response{}, err
	}
	r, err := s.Transmit(w)
	if err != nil {
		return Response{}, err
	}
	if r.SW == 0x6982 {
		s.ch = nil // the card closed the channel
	}
	return r, nil
}

// mustSecure is Secure requiring 90 00.
func (s *Script) mustSecure(op string, plain []byte) ([]byte, error) {
	r, err := s.Secure(plain)
	if err != nil {
		return nil, fmt.Errorf("tpsscript: %s: %w", op, err)
	}
	if r.SW != 0x9000 {
		return nil, &SWError{Op: op, SW: r.SW}
	}
	return r.Data, nil
}

// withLe appends Le 00 in GP 2.1.1 mode.
func (s *Script) withLe(cmd []byte) []byte {
	if s.GP211 {
		return append(cmd, 0x00)
	}
	return cmd
}

// Delete sends DELETE for an AID (P2 80 in GP 2.1.1 mode, deleting what
// depends on it; 00 otherwise) and returns the status word.
func (s *Script) Delete(aid []byte) (uint16, error) {
	p2 := byte(0x00)
	if s.GP211 {
		p2 = 0x80
	}
	r, err := s.Secure(s.withLe(apdu(0x84, 0xE4, 0x00, p2, append([]byte{0x4F, byte(len(aid))}, aid...))))
	return r.SW, err
}

// FormatOptions tune Format; the zero value formats as Dogtag's defaults.
type FormatOptions struct {
	// LoadFile is the applet to load; zero means CoolKeyLoadFile.
	LoadFile loadfile.File
	// IssuerInfo is written with SET ISSUER INFO after the install
	// (the phone-home URL); empty skips that step.
	IssuerInfo string
	// InstanceSize and AppletMemory are the install parameters C8 (the
	// instance's memory quota) and the applet's object heap (defaults
	// 18000 and 5000).
	InstanceSize, AppletMemory int
	// BlockSize is channel.blocksize (224); LOAD blocks carry that minus
	// 16 bytes, or minus 8 in GP 2.1.1 mode.
	BlockSize int
}

// FormatResult reports what the card answered along the way.
type FormatResult struct {
	// DeleteInstanceSW and DeletePackageSW answer the two DELETEs,
	// which a TPS does not check (a blank card has nothing to delete).
	DeleteInstanceSW, DeletePackageSW uint16
	LoadBlocks                        int
}

// Format reinstalls the CoolKey applet as TPSProcessor.upgradeApplet does
// and writes the issuer info: select the card manager, open a channel,
// delete the instance and the package, INSTALL [for load], LOAD the file
// behind a C4 tag in numbered blocks, INSTALL [for install and make
// selectable] with the CoolKey install parameters, select the new applet,
// open a channel through it and SET ISSUER INFO.
func (s *Script) Format(o FormatOptions) (FormatResult, error) {
	var res FormatResult
	if o.LoadFile.PackageAID == nil {
		o.LoadFile = CoolKeyLoadFile
	}
	if o.InstanceSize == 0 {
		o.InstanceSize = 18000
	}
	if o.AppletMemory == 0 {
		o.AppletMemory = 5000
	}
	if o.BlockSize == 0 {
		o.BlockSize = 224
	}
	if err := s.SelectCardManager(); err != nil {
		return res, err
	}
	if err := s.OpenChannel(0); err != nil {
		return res, err
	}
	var err error
	if res.DeleteInstanceSW, err = s.Delete(o.LoadFile.AppletAID); err != nil {
		return res, err
	}
	if res.DeletePackageSW, err = s.Delete(o.LoadFile.PackageAID); err != nil {
		return res, err
	}

	file, err := o.LoadFile.Encode()
	if err != nil {
		return res, err
	}
	var sd []byte
	if s.GP211 {
		sd = s.cardManager()
	}
	var il []byte
	il = append(append(il, byte(len(o.LoadFile.PackageAID))), o.LoadFile.PackageAID...)
	il = append(append(il, byte(len(sd))), sd...)
	il = append(il, 0x00, 0x06, 0xEF, 0x04, 0xC6, 0x02)
	il = binary.BigEndian.AppendUint16(il, uint16(len(file)+24+len(sd)))
	il = append(il, 0x00)
	if _, err := s.mustSecure("INSTALL [for load]", s.withLe(apdu(0x84, 0xE6, 0x02, 0x00, il))); err != nil {
		return res, err
	}

	blob := []byte{0xC4}
	switch n := len(file); {
	case n < 0x80:
		blob = append(blob, byte(n))
	case n < 0x100:
		blob = append(blob, 0x81, byte(n))
	default:
		blob = append(blob, 0x82, byte(n>>8), byte(n))
	}
	blob = append(blob, file...)
	chunk := o.BlockSize - 16
	if s.GP211 {
		chunk = o.BlockSize - 8
	}
	for i := 0; i*chunk < len(blob); i++ {
		piece := blob[i*chunk : min(len(blob), (i+1)*chunk)]
		p1 := byte(0x00)
		if (i+1)*chunk >= len(blob) {
			p1 = 0x80
		}
		if _, err := s.mustSecure(fmt.Sprintf("LOAD block %d", i), apdu(0x84, 0xE8, p1, byte(i), piece)); err != nil {
			return res, err
		}
		res.LoadBlocks++
	}

	var inst []byte
	inst = append(append(inst, byte(len(o.LoadFile.PackageAID))), o.LoadFile.PackageAID...)
	inst = append(append(inst, byte(len(o.LoadFile.AppletAID))), o.LoadFile.AppletAID...)
	inst = append(append(inst, byte(len(o.LoadFile.AppletAID))), o.LoadFile.AppletAID...)
	inst = append(inst, 0x01, 0x00) // privileges
	params := []byte{0xEF, 0x04, 0xC8, 0x02, byte(o.InstanceSize >> 8), byte(o.InstanceSize),
		0xC9, 0x04, 0x00, 0x02, byte(o.AppletMemory >> 8), byte(o.AppletMemory)}
	inst = append(append(inst, byte(len(params))), params...)
	inst = append(inst, 0x00)
	if _, err := s.mustSecure("INSTALL [for install]", s.withLe(apdu(0x84, 0xE6, 0x0C, 0x00, inst))); err != nil {
		return res, err
	}
	if err := s.Select(o.LoadFile.AppletAID); err != nil {
		return res, err
	}
	if o.IssuerInfo != "" {
		if err := s.OpenChannel(0); err != nil {
			return res, err
		}
		if err := s.SetIssuerInfo(o.IssuerInfo); err != nil {
			return res, err
		}
	}
	return res, nil
}

// SetIssuerInfo writes the 224-byte issuer info, NUL-padded.
func (s *Script) SetIssuerInfo(info string) error {
	if len(info) > 224 {
		return fmt.Errorf("tpsscript: issuer info of %d bytes", len(info))
	}
	data := make([]byte, 224)
	copy(data, info)
	_, err := s.mustSecure("SET ISSUER INFO", apdu(0x84, 0xF4, 0x00, 0x00, data))
	return err
}

// ChangeKeys replaces the card's current key set with newSet (PUT KEY, key
// changeover as checkAndUpgradeSymKeys does it): select the card manager,
// open a channel with the current keys, send the new ones wrapped under
// the session DEK and check the key check values the card returns. Keys
// becomes newSet.
func (s *Script) ChangeKeys(newSet gp.KeySet) error {
	if err := s.SelectCardManager(); err != nil {
		return err
	}
	if err := s.OpenChannel(0); err != nil {
		return err
	}
	put, err := s.ch.PutKey(newSet)
	if err != nil {
		return err
	}
	plain, err := put.Encode()
	if err != nil {
		return err
	}
	resp, err := s.mustSecure("PUT KEY", plain)
	if err != nil {
		return err
	}
	want := []byte{newSet.Version}
	for _, k := range []gp.Key{newSet.ENC, newSet.MAC, newSet.KEK} {
		kcv := k.KCV()
		want = append(want, kcv[:]...)
	}
	if !bytes.Equal(resp, want) {
		return fmt.Errorf("tpsscript: PUT KEY answered % X, want version and key check values % X", resp, want)
	}
	s.Keys = newSet
	return nil
}

// CreatePIN sends CREATE PIN (84 40) and returns its status word, which a
// TPS ignores (the PIN may exist).
func (s *Script) CreatePIN(number, maxTries byte, value []byte) (uint16, error) {
	r, err := s.Secure(apdu(0x84, 0x40, number, maxTries, value))
	return r.SW, err
}

// SetPIN resets, unblocks and sets PIN number (84 04).
func (s *Script) SetPIN(number byte, value []byte) error {
	_, err := s.mustSecure("SET PIN", apdu(0x84, 0x04, number, 0x00, value))
	return err
}

// GenerateKeyPair runs START ENROLLMENT for an RSA key pair in slots prv and
// pub, owned by PIN 0, with a fresh 16-byte challenge wrapped under the
// card's static KEK; reads the result from the I/O buffer and checks the
// proof of possession. It returns the new public key.
func (s *Script) GenerateKeyPair(prv, pub byte, bits int) (*rsa.PublicKey, error) {
	if s.ch == nil {
		return nil, gp.ErrNotAuthenticated
	}
	challenge := make([]byte, gp.EnrollmentChallengeLen)
	if _, err := io.ReadFull(s.rand(), challenge); err != nil {
		return nil, err
	}
	blk, err := s.ch.WrapChallenge(challenge)
	if err != nil {
		return nil, err
	}
	wrapped, err := blk.Encode()
	if err != nil {
		return nil, err
	}
	data := append([]byte{0x80, byte(bits >> 8), byte(bits), 0x00}, wrapped...)
	cmd := apdu(0x84, 0x0C, prv&0x0F, pub&0x0F, data)
	if !s.GP211 {
		cmd = append(cmd, 0x00) // SCP01's Le after the MAC
	}
	resp, err := s.mustSecure("GENERATE KEY", cmd)
	if err != nil {
		return nil, err
	}
	if len(resp) != 2 {
		return nil, fmt.Errorf("tpsscript: GENERATE KEY answered %d bytes, want 2", len(resp))
	}
	out, err := s.ReadObject(0xFFFFFFFF, int(binary.BigEndian.Uint16(resp)))
	if err != nil {
		return nil, err
	}
	return ParseKeyGenResult(out, challenge, bits)
}

// maxPiece is the largest READ/WRITE OBJECT piece a TPS moves (0xD0).
const maxPiece = 0xD0

// ReadObject reads size bytes of an object (FFFFFFFF: the I/O buffer)
// under the secure channel, in pieces of at most D0 bytes.
func (s *Script) ReadObject(id uint32, size int) ([]byte, error) {
	var out []byte
	for off := 0; off < size; {
		n := min(maxPiece, size-off)
		d := binary.BigEndian.AppendUint32(nil, id)
		d = binary.BigEndian.AppendUint32(d, uint32(off))
		d = append(d, byte(n))
		cmd := apdu(0x84, 0x56, 0x00, 0x00, d)
		if !s.GP211 {
			cmd = append(cmd, 0x00)
		}
		piece, err := s.mustSecure("READ OBJECT", cmd)
		if err != nil {
			return nil, err
		}
		if len(piece) != n {
			return nil, fmt.Errorf("tpsscript: READ OBJECT answered %d bytes, want %d", len(piece), n)
		}
		out = append(out, piece...)
		off += n
	}
	return out, nil
}

// WriteObject creates object id with the TPS's ACL (anyone reads, the RA
// writes and deletes) and writes data to it in pieces of at most D0
// bytes. An existing object of that ID is deleted first.
func (s *Script) WriteObject(id uint32, data []byte) error {
	idb := binary.BigEndian.AppendUint32(nil, id)
	r, err := s.Secure(apdu(0x84, 0x52, 0x00, 0x00, idb))
	if err != nil {
		return err
	}
	if r.SW != 0x9000 && r.SW != 0x9C07 { // 9C07: there was none
		return &SWError{Op: "DELETE OBJECT", SW: r.SW}
	}
	create := binary.BigEndian.AppendUint32(bytes.Clone(idb), uint32(len(data)))
	create = append(create, 0xFF, 0xFF, 0x40, 0x00, 0x40, 0x00)
	if _, err := s.mustSecure("CREATE OBJECT", apdu(0x84, 0x5A, 0x00, 0x00, create)); err != nil {
		return err
	}
	for off := 0; off < len(data); off += maxPiece {
		piece := data[off:min(len(data), off+maxPiece)]
		w := binary.BigEndian.AppendUint32(bytes.Clone(idb), uint32(off))
		w = append(w, byte(len(piece)))
		w = append(w, piece...)
		if _, err := s.mustSecure("WRITE OBJECT", apdu(0x84, 0x54, 0x00, 0x00, w)); err != nil {
			return err
		}
	}
	return nil
}

// ClearKeySlots keeps the listed (private, public) slot pairs and wipes
// every other key slot.
func (s *Script) ClearKeySlots(pairs ...[2]byte) error {
	var d []byte
	for _, p := range pairs {
		d = append(d, p[0], p[1])
	}
	_, err := s.mustSecure("CLEAR KEY SLOTS", apdu(0x84, 0x55, 0x00, 0x00, d))
	return err
}

// SetLifeCycle sets the applet's life cycle state (0F: personalised).
func (s *Script) SetLifeCycle(state byte) error {
	_, err := s.mustSecure("SET LIFECYCLE", apdu(0x84, 0xF0, state, 0x00, nil))
	return err
}

// ParseKeyGenResult parses what START ENROLLMENT leaves in the I/O buffer
// and checks the proof of possession:
//
//	u16 blob length ‖ blob ‖ u16 proof length ‖ proof
//	blob  = 00 01 ‖ u16 bits ‖ u16 n length ‖ n ‖ u16 e length ‖ e
//	proof = RSA PKCS#1 v1.5 SHA-1 signature over blob ‖ challenge
func ParseKeyGenResult(b, challenge []byte, bits int) (*rsa.PublicKey, error) {
	blob, rest, ok1 := lv16(b)
	proof, rest, ok2 := lv16(rest)
	if !ok1 || !ok2 || len(rest) != 0 {
		return nil, errors.New("tpsscript: key generation result is not blob ‖ proof")
	}
	if len(blob) < 4 || blob[0] != 0x00 || blob[1] != 0x01 {
		return nil, errors.New("tpsscript: public key blob is not a plain RSA key")
	}
	if got := int(binary.BigEndian.Uint16(blob[2:4])); got != bits {
		return nil, fmt.Errorf("tpsscript: card generated %d bits, asked for %d", got, bits)
	}
	mod, rest, ok1 := lv16(blob[4:])
	exp, rest, ok2 := lv16(rest)
	if !ok1 || !ok2 || len(rest) != 0 {
		return nil, errors.New("tpsscript: malformed public key blob")
	}
	n := new(big.Int).SetBytes(mod)
	if n.BitLen() != bits {
		return nil, fmt.Errorf("tpsscript: modulus of %d bits", n.BitLen())
	}
	if len(exp) == 0 || len(exp) > 4 {
		return nil, fmt.Errorf("tpsscript: public exponent of %d bytes", len(exp))
	}
	e := new(big.Int).SetBytes(exp).Int64()
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return nil, errors.New("tpsscript: unacceptable public exponent")
	}
	pub := &rsa.PublicKey{N: n, E: int(e)}
	h := sha1.Sum(append(bytes.Clone(blob), challenge...))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], proof); err != nil {
		return nil, fmt.Errorf("tpsscript: proof of possession: %w", err)
	}
	return pub, nil
}

// lv16 splits off a value behind a big-endian u16 length.
func lv16(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}
