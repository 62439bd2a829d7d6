package tpssim

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"strings"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/gp"
	"github.com/coolkey-go/coolkey-go/internal/dn"
	"github.com/coolkey-go/coolkey-go/tps"
)

// enroll is operation 1 (TPSEnrollProcessor.enroll): PIN, on-card key
// generation with proof of possession, certificates, z0, issuer info and
// life cycle. Renewal happens here too when the policy says so.
func (s *session) enroll(phoneHome string) error {
	lifeCycle, err := s.lifecycle()
	if err != nil {
		return err
	}
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
	pol := s.srv.policy.With(rec.Policy)
	if known {
		if !transitionAllowed(rec.Status, TokenActive) {
			return fail(statusForState(rec.Status), "token is %v; it cannot be enrolled", rec.Status)
		}
		if rec.Status == TokenActive && !pol[PolicyReEnroll] && !pol[PolicyRenew] {
			return fail(tps.StatusErrDisabledToken, "token is already enrolled and its policy allows neither re-enrollment nor renewal")
		}
	}
	uid, err := s.authenticate()
	if err != nil {
		return err
	}
	if known && rec.Status == TokenActive && rec.UserID != "" && rec.UserID != uid {
		return fail(tps.StatusErrNotTokenOwner, "token belongs to another user")
	}
	if !s.srv.cfg.AllowMultiActiveTokens {
		for _, other := range s.srv.store.ActiveTokensOf(uid) {
			if other != rec.CUID {
				return fail(tps.StatusErrHasActiveToken, "user %q already has an enrolled token", uid)
			}
		}
	}
	renew := known && rec.Status == TokenActive && pol[PolicyRenew]

	upgraded := false
	if !known || pol[PolicyForceFormat] || info.status == nil {
		// Unknown tokens are formatted first (allowUnknownToken), as
		// are tokens whose policy forces it and cards with no applet.
		if err := s.formatCard(info, rec, prof, phoneHome, 5, 12); err != nil {
			return err
		}
		upgraded, renew = true, false
		fresh, err := s.identify() // the new applet's status
		if err != nil {
			return err
		}
		fresh.protocol, fresh.gp211, fresh.detected = info.protocol, info.gp211, info.detected
		info = fresh
	}
	if info.status == nil {
		return fail(tps.StatusErrUpgradeApplet, "the card has no CoolKey applet")
	}

	ch, err := s.appletChannel(info)
	if err != nil {
		return err
	}
	rec.KeyInfo = ch.keyInfo()
	if err := s.setNewPIN(ch, prof); err != nil {
		return err
	}
	oldVersion, hasOld, err := s.readCombinedVersion(ch)
	if err != nil {
		return err
	}
	if err := s.progress(10, tps.TaskProcessProfile); err != nil {
		return err
	}

	var certs []*x509.Certificate
	var recs []CertRecord
	if renew {
		certs, recs, err = s.renewCerts(rec, prof, uid)
	} else {
		certs, recs, err = s.generateKeys(ch, prof, uid)
	}
	if err != nil {
		return err
	}

	ch, err = s.openChannel(info)
	if err != nil {
		return err
	}
	if err := s.progress(92, tps.TaskWriteObjects); err != nil {
		return err
	}
	version := uint16(mrand.IntN(1000))
	if hasOld {
		version = oldVersion + 1
	}
	z0, err := buildCombined(info.cuid, uid, version, prof, certs)
	if err != nil {
		return failErr(tps.StatusErrMACEnrollPDU, err, "building z0")
	}
	if uint32(len(z0)) > info.status.TotalMemory {
		return fail(tps.StatusErrMACEnrollPDU, "z0 of %d bytes does not fit the applet's %d bytes", len(z0), info.status.TotalMemory)
	}
	if err := ch.writeObject(cardedge.CombinedObjectID, z0, cardedge.TPSObjectACL); err != nil {
		return err
	}

	if err := s.progress(98, tps.TaskIssuerInfo); err != nil {
		return err
	}
	if err := ch.setIssuerInfo(phoneHome); err != nil {
		return err
	}
	if err := s.progress(99, tps.TaskSetLifecycle); err != nil {
		return err
	}
	if lifeCycle != 0x0F || upgraded {
		if _, err := ch.mustSend(tps.StatusErrMACLifecyclePDU, "SET LIFECYCLE", cmd(0x84, 0xF0, 0x0F, 0x00, nil)); err != nil {
			return err
		}
	}

	for i := range rec.Certs {
		rec.Certs[i].Revoked = true // replaced (re-enrollment) or renewed
	}
	rec.Certs = append(recs, rec.Certs...)
	rec.Status = TokenActive
	rec.UserID = uid
	rec.TokenType = prof.name
	if err := s.saveToken(rec); err != nil {
		return err
	}

	// Wipe key slots this enrollment does not use. Failure is ignored,
	// as in Dogtag (older applets lack the command).
	var slots []byte
	for _, k := range prof.keys {
		slots = append(slots, k.privSlot, k.pubSlot)
	}
	if _, err := ch.send(cmd(0x84, 0x55, 0x00, 0x00, slots)); err != nil {
		return err
	}
	return s.progress(100, tps.TaskDoneEnrollment)
}

// setNewPIN asks for the new PIN and sets it: CREATE PIN (which fails
// harmlessly when PIN 0 exists) then SET PIN, which resets and unblocks.
func (s *session) setNewPIN(ch *channel, prof *profile) error {
	pin, err := s.newPIN(prof.pinMin, prof.pinMax)
	if err != nil {
		return err
	}
	defer clear(pin)
	if _, err := ch.send(cmd(0x84, 0x40, 0x00, prof.pinRetries, []byte(prof.initialPIN))); err != nil {
		return err
	}
	_, err = ch.mustSend(tps.StatusErrMACResetPINPDU, "SET PIN", cmd(0x84, 0x04, 0x00, 0x00, pin))
	return err
}

// readCombinedVersion lists the card's objects and, when there is a z0,
// reads its header for the object version.
func (s *session) readCombinedVersion(ch *channel) (uint16, bool, error) {
	var z0 *cardedge.ObjectInfo
	listed := 0
	for seq := byte(0); ; seq = 1 {
		resp, err := s.transmit([]byte{0xB0, 0x58, seq, 0x00, cardedge.ObjectInfoSize})
		if err != nil {
			return 0, false, err
		}
		if resp.SW != cardedge.SWSuccess {
			break
		}
		oi, err := cardedge.ParseObjectInfo(resp.Data)
		if err != nil {
			return 0, false, failErr(tps.StatusErrCannotPerformOperation, err, "LIST OBJECTS")
		}
		if oi.ID == cardedge.CombinedObjectID {
			z0 = &oi
		}
		if listed++; listed > maxListedObjects {
			return 0, false, fail(tps.StatusErrCannotPerformOperation, "card lists more than %d objects", maxListedObjects)
		}
	}
	if z0 == nil || z0.Size < cardedge.CombinedHeaderSize {
		return 0, false, nil
	}
	head, err := ch.readObject(cardedge.CombinedObjectID, 0, cardedge.CombinedHeaderSize)
	if err != nil {
		return 0, false, err
	}
	h, err := cardedge.ParseCombinedHeader(head)
	if err != nil {
		return 0, false, nil // unusable z0: start a new version series
	}
	return h.ObjectVersion, true, nil
}

// maxListedObjects bounds LIST OBJECTS: the applet's heap cannot hold
// more, and a client answering 90 00 forever must not hold us forever.
const maxListedObjects = 256

// maxObjectChunk is the most object data one secured READ or WRITE
// OBJECT carries (0xD0, as Dogtag).
const maxObjectChunk = 0xD0

// readObject reads n bytes of an object over the channel. SCP01 READ
// OBJECT carries an Le byte after the MAC, as Dogtag sends it.
func (c *channel) readObject(id cardedge.ObjectID, offset uint32, n int) ([]byte, error) {
	var out []byte
	for n > 0 {
		k := min(n, maxObjectChunk)
		data := binary.BigEndian.AppendUint32(nil, uint32(id))
		data = binary.BigEndian.AppendUint32(data, offset)
		data = append(data, byte(k))
		apdu := cmd(0x84, 0x56, 0x00, 0x00, data)
		if c.info.protocol == gp.SCP01 {
			apdu = append(apdu, 0x00)
		}
		resp, err := c.mustSend(tps.StatusErrCannotPerformOperation, "READ OBJECT", apdu)
		if err != nil {
			return nil, err
		}
		if len(resp.Data) != k {
			return nil, fail(tps.StatusErrCannotPerformOperation, "READ OBJECT returned %d bytes, want %d", len(resp.Data), k)
		}
		out = append(out, resp.Data...)
		offset += uint32(k)
		n -= k
	}
	return out, nil
}

// writeObject creates (replacing) an object and writes data into it.
func (c *channel) writeObject(id cardedge.ObjectID, data []byte, acl cardedge.ACL) error {
	create := binary.BigEndian.AppendUint32(nil, uint32(id))
	create = binary.BigEndian.AppendUint32(create, uint32(len(data)))
	create = binary.BigEndian.AppendUint16(create, acl.Read)
	create = binary.BigEndian.AppendUint16(create, acl.Write)
	create = binary.BigEndian.AppendUint16(create, acl.Delete)
	if _, err := c.mustSend(tps.StatusErrMACEnrollPDU, "CREATE OBJECT", cmd(0x84, 0x5A, 0x00, 0x00, create)); err != nil {
		return err
	}
	for off := 0; off < len(data); off += maxObjectChunk {
		piece := data[off:min(len(data), off+maxObjectChunk)]
		w := binary.BigEndian.AppendUint32(nil, uint32(id))
		w = binary.BigEndian.AppendUint32(w, uint32(off))
		w = append(w, byte(len(piece)))
		w = append(w, piece...)
		if _, err := c.mustSend(tps.StatusErrMACEnrollPDU, "WRITE OBJECT", cmd(0x84, 0x54, 0x00, 0x00, w)); err != nil {
			return err
		}
	}
	return nil
}

// generateKeys runs START ENROLLMENT for each key of the profile, checks
// each proof of possession and has the CA certify the keys.
func (s *session) generateKeys(ch *channel, prof *profile, uid string) ([]*x509.Certificate, []CertRecord, error) {
	var certs []*x509.Certificate
	var recs []CertRecord
	span := (90 - 15) / len(prof.keys)
	for i, k := range prof.keys {
		start := 15 + i*span
		if err := s.progress(start, tps.TaskKeyGeneration); err != nil {
			return nil, nil, err
		}
		challenge, err := s.srv.tks.randomData(16)
		if err != nil {
			return nil, nil, failErr(tps.StatusErrSNAC, err, "random challenge")
		}
		wrapped, err := ch.host.WrapChallenge(challenge)
		if err != nil {
			return nil, nil, failErr(tps.StatusErrSecureChannel, err, "wrapping the challenge")
		}
		block, err := wrapped.Encode()
		if err != nil {
			return nil, nil, failErr(tps.StatusErrSecureChannel, err, "wrapping the challenge")
		}
		data := []byte{0x80, byte(s.srv.cfg.KeySize >> 8), byte(s.srv.cfg.KeySize), 0x00}
		data = append(data, block...)
		p1 := byte(0<<4) | k.privSlot // keyUser 0: the key is PIN 0's
		p2 := byte(0<<4) | k.pubSlot  // keyUsage 0
		apdu := cmd(0x84, 0x0C, p1, p2, data)
		if ch.info.protocol == gp.SCP01 {
			apdu = append(apdu, 0x00)
		}
		resp, err := ch.mustSend(tps.StatusErrMACEnrollPDU, "GENERATE KEY", apdu)
		if err != nil {
			return nil, nil, err
		}
		if len(resp.Data) != 2 {
			return nil, nil, fail(tps.StatusErrMACEnrollPDU, "GENERATE KEY answered %d bytes, want 2", len(resp.Data))
		}
		size := int(binary.BigEndian.Uint16(resp.Data))
		if size < 8 || size > 2*1024 {
			return nil, nil, fail(tps.StatusErrMACEnrollPDU, "key generation result of %d bytes", size)
		}
		out, err := ch.readObject(cardedge.ObjectID(0xFFFFFFFF), 0, size)
		if err != nil {
			return nil, nil, err
		}
		pub, err := verifyKeyGenResult(out, challenge, s.srv.cfg.KeySize)
		if err != nil {
			return nil, nil, failErr(tps.StatusErrMACEnrollPDU, err, "%s key from the card", k.name)
		}
		cert, err := s.srv.ca.issueTokenCert(uid, pub, k.usage)
		if err != nil {
			return nil, nil, failErr(tps.StatusErrCAResponse, err, "issuing the %s certificate", k.name)
		}
		certs = append(certs, cert)
		recs = append(recs, certRecord(cert, k.name))
		if err := s.progress(start+span, tps.TaskEnrollCert); err != nil {
			return nil, nil, err
		}
	}
	return certs, recs, nil
}

// renewCerts reissues the token's current certificates for the same keys
// (RENEW=YES on an enrolled token): nothing is generated on the card.
func (s *session) renewCerts(rec *TokenRecord, prof *profile, uid string) ([]*x509.Certificate, []CertRecord, error) {
	var certs []*x509.Certificate
	var recs []CertRecord
	for _, k := range prof.keys {
		var old *x509.Certificate
		for _, c := range rec.Certs {
			if c.KeyType == k.name && !c.Revoked {
				if parsed, err := x509.ParseCertificate(c.DER); err == nil {
					old = parsed
					break
				}
			}
		}
		pub, ok := oldPublicKey(old)
		if !ok {
			return nil, nil, fail(tps.StatusErrRecoveryFailed, "no %s certificate to renew", k.name)
		}
		cert, err := s.srv.ca.issueTokenCert(uid, pub, k.usage)
		if err != nil {
			return nil, nil, failErr(tps.StatusErrRecoveryFailed, err, "renewing the %s certificate", k.name)
		}
		certs = append(certs, cert)
		recs = append(recs, certRecord(cert, k.name))
	}
	return certs, recs, nil
}

func oldPublicKey(c *x509.Certificate) (*rsa.PublicKey, bool) {
	if c == nil {
		return nil, false
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	return pub, ok
}

func certRecord(c *x509.Certificate, keyType string) CertRecord {
	return CertRecord{
		Serial:    hex.EncodeToString(c.SerialNumber.Bytes()),
		KeyType:   keyType,
		Subject:   dn.Subject(c),
		NotBefore: c.NotBefore,
		NotAfter:  c.NotAfter,
		DER:       c.Raw,
	}
}

// verifyKeyGenResult parses the START ENROLLMENT output read from the I/O
// buffer and checks the proof of possession, which Dogtag does not:
//
//	u16 blob length ‖ blob ‖ u16 proof length ‖ proof
//	blob = 00 (plain) ‖ 01 (RSA public) ‖ u16 key bits ‖ u16 n length ‖ n ‖ u16 e length ‖ e
//	proof = RSA PKCS#1 v1.5 signature with SHA-1 over blob ‖ challenge
func verifyKeyGenResult(b, challenge []byte, keyBits int) (*rsa.PublicKey, error) {
	next := func(what string) ([]byte, error) {
		if len(b) < 2 {
			return nil, fmt.Errorf("truncated before the %s length", what)
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("%s of %d bytes overruns the %d left", what, n, len(b)-2)
		}
		v := b[2 : 2+n]
		b = b[2+n:]
		return v, nil
	}
	blob, err := next("public key blob")
	if err != nil {
		return nil, err
	}
	proof, err := next("proof")
	if err != nil {
		return nil, err
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the proof", len(b))
	}
	if len(blob) < 4 || blob[0] != 0x00 || blob[1] != 0x01 {
		return nil, errors.New("public key blob is not a plain RSA public key")
	}
	bits := int(binary.BigEndian.Uint16(blob[2:4]))
	rest := blob[4:]
	b = rest
	mod, err := next("modulus")
	if err != nil {
		return nil, err
	}
	exp, err := next("exponent")
	if err != nil {
		return nil, err
	}
	if len(b) != 0 {
		return nil, errors.New("bytes after the exponent in the public key blob")
	}
	if bits != keyBits {
		return nil, fmt.Errorf("card generated a %d-bit key, %d requested", bits, keyBits)
	}
	n := new(big.Int).SetBytes(mod)
	if n.BitLen() != keyBits {
		return nil, fmt.Errorf("modulus has %d bits, want %d", n.BitLen(), keyBits)
	}
	if len(exp) == 0 || len(exp) > 4 {
		return nil, fmt.Errorf("public exponent of %d bytes", len(exp))
	}
	e := new(big.Int).SetBytes(exp)
	if e.Int64() < 3 || e.Int64()%2 == 0 || e.Int64() > 1<<31-1 {
		return nil, errors.New("unacceptable public exponent")
	}
	pub := &rsa.PublicKey{N: n, E: int(e.Int64())}
	h := sha1.New()
	h.Write(blob)
	h.Write(challenge)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, h.Sum(nil), proof); err != nil {
		return nil, fmt.Errorf("proof of possession does not verify: %w", err)
	}
	return pub, nil
}

// buildCombined writes the token's z0 in the Dogtag layout: for each key,
// its certificate, public key and private key records.
func buildCombined(cuid cardedge.CUID, uid string, version uint16, prof *profile, certs []*x509.Certificate) ([]byte, error) {
	if len(certs) != len(prof.keys) {
		return nil, errors.New("one certificate per key wanted")
	}
	c := &cardedge.Combined{ObjectVersion: version, CUID: cuid, TokenName: uid}
	for i, k := range prof.keys {
		id := byte(k.certID)
		label := strings.ReplaceAll(k.label, "$userid$", uid)
		certFixed, err := cardedge.NewFixedAttributes(cardedge.CKO_CERTIFICATE, id, cardedge.CKA_TOKEN)
		if err != nil {
			return nil, err
		}
		pubFixed, err := cardedge.NewFixedAttributes(cardedge.CKO_PUBLIC_KEY, id, k.pubBool...)
		if err != nil {
			return nil, err
		}
		privFixed, err := cardedge.NewFixedAttributes(cardedge.CKO_PRIVATE_KEY, id, k.privBool...)
		if err != nil {
			return nil, err
		}
		c.Records = append(c.Records,
			cardedge.Record{
				ID:    cardedge.NewObjectID('c', k.certID),
				Fixed: certFixed,
				Attributes: []cardedge.Attribute{
					cardedge.StringAttr(cardedge.CKA_LABEL, label),
					cardedge.BytesAttr(cardedge.CKA_VALUE, certs[i].Raw),
				},
			},
			cardedge.Record{ID: cardedge.NewObjectID('k', int(k.pubSlot)), Fixed: pubFixed},
			cardedge.Record{
				ID:         cardedge.NewObjectID('k', int(k.privSlot)),
				Fixed:      privFixed,
				Attributes: []cardedge.Attribute{cardedge.UlongAttr(cardedge.CKA_KEY_TYPE, 0)}, // CKK_RSA
			},
		)
	}
	return c.Encode()
}
