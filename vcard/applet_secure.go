package vcard

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"encoding/binary"
)

// processSecure handles the 84 class: every instruction but EXTERNAL
// AUTHENTICATE must arrive through an open secure channel, which unwraps it
// (C-MAC, C-DEC) and grants the RA identity for this APDU only.
func (a *applet) processSecure(c Command) ([]byte, error) {
	if c.INS == insExternalAuth {
		if err := a.card.externalAuthenticate(c); err != nil {
			return nil, err
		}
		// Only C-MAC (01) and C-MAC + C-DEC (03) are accepted; the channel
		// the security domain opened stays open regardless.
		if c.P1 != 0x01 && c.P1 != 0x03 {
			return nil, SWConditionsNotSatisfied
		}
		return nil, nil
	}
	plain, err := a.card.unwrap(c)
	if err != nil {
		return nil, err
	}
	a.authID |= raACL
	x := newAPDU(plain)
	switch x.ins {
	case insClearKeySlots:
		return nil, a.clearKeySlots(x)
	case insSetPIN:
		return nil, a.setPIN(x)
	case insStartEnrollment, insStartECCEnrollment:
		return a.startEnrollment(x)
	case insImportKeyEncrypted:
		return nil, a.importKeyEncrypted(x)
	case insReadIOBuf:
		return nil, SWINSNotSupported // compiled out of the applet
	case insSetLifeCycle:
		if x.p3 != 0 {
			return nil, SWWrongLength
		}
		if !a.setCardContentState(x.p1) {
			return nil, swInvalidParameter
		}
		a.card.markDirty()
		return nil, nil
	case insSetIssuerInfo:
		if x.p3 != issuerInfoSize {
			return nil, SWWrongLength
		}
		copy(a.issuerInfo[:], x.window(0, issuerInfoSize))
		a.card.markDirty()
		return nil, nil
	case insCreateObject:
		return nil, a.createObject(x)
	case insWriteObject:
		return nil, a.writeObject(x)
	case insImportKey:
		return nil, a.importKey(x)
	case insComputeCrypt:
		return a.computeCrypt(x)
	case insComputeECCSignature:
		return a.computeECCSignature(x)
	case insCreatePIN:
		return nil, a.createPIN(x)
	case insDeleteObject:
		return nil, a.deleteObject(x)
	case insReadObject:
		return a.readObject(x)
	case insSetBuiltinACL:
		return nil, a.setBuiltinACL(x)
	}
	return nil, SWINSNotSupported
}

func (a *applet) setBuiltinACL(x *apdu) error {
	if int8(x.p3) != 7 {
		return SWWrongLength
	}
	if a.enableACLChange == 0 {
		return swOperationNotAllowed
	}
	a.createObjectACL = uint16(x.short(0))
	a.createKeyACL = uint16(x.short(2))
	a.createPINACL = uint16(x.short(4))
	a.enableACLChange = x.at(6)
	a.card.markDirty()
	return nil
}

// clearKeySlots wipes every initialised key slot not named in the list of
// (private, public) pairs. The applet marks the kept slots in the I/O
// buffer at offset 850 and zeroes the marks again afterwards.
func (a *applet) clearKeySlots(x *apdu) error {
	const marks = 850
	clear(a.iobuf[marks : marks+maxKeys])
	if x.p1 != 0 {
		return swIncorrectP1
	}
	if x.p2 != 0 {
		return swIncorrectP2
	}
	size := int(int8(x.p3))
	if size == 0 || size%2 != 0 {
		return swInvalidParameter
	}
	var keep [maxKeys]bool
	for i := 0; i < size; i += 2 {
		prv, pub := int(int8(x.at(i))), int(int8(x.at(i+1)))
		if prv > maxKeys || pub > maxKeys {
			return swInvalidParameter
		}
		if prv < 0 || prv == maxKeys || pub < 0 || pub == maxKeys {
			return SWUnknown // keyMate[] index out of bounds
		}
		if !a.keysMated(prv, pub) {
			return swInconstantKeyPairing
		}
		keep[prv], keep[pub] = true, true
	}
	for i, k := range a.keys {
		if keep[i] || k == nil || !k.initialized {
			continue
		}
		if !a.authorized(a.keyACL[i].Write) {
			return swUnauthorized
		}
		k.clearKey()
		a.keyMate[i] = noKeyMate
		a.card.markDirty()
	}
	clear(a.iobuf[marks : marks+maxKeys])
	return nil
}

// KeyPair algorithm codes of javacard.security.KeyPair that START
// ENROLLMENT tells apart.
const (
	algECF2M = 4
	algECFp  = 5
)

// owner nibble decoding shared by START ENROLLMENT and IMPORT KEY ENCRYPTED:
// F means anyone, 0–8 one PIN identity.
func keyUseACL(owner int) (uint16, error) {
	switch {
	case owner == 0xF:
		return anyoneACL, nil
	case owner > maxPINs:
		return 0, swIncorrectP1
	}
	return 1 << owner, nil
}

// startEnrollment generates a key pair on the card (START ENROLLMENT, and
// its ECC variant) and leaves the public key and a proof of possession in
// the I/O buffer: SHA-1 over (public key blob ‖ challenge), signed with the
// new private key. The challenge arrives wrapped under the card's KEK.
func (a *applet) startEnrollment(x *apdu) ([]byte, error) {
	prv, pub := int(x.p1&0x0F), int(x.p2&0x0F)
	owner := int(x.p1 >> 4)
	alg := x.at(0)
	bits := int(binary.BigEndian.Uint16(x.window(1, 2)))
	if x.p1 == 0 && x.p2 == 0 {
		prv, pub, owner = 0, 1, 0xF // the old-style call
	}
	useACL, err := keyUseACL(owner)
	if err != nil {
		return nil, err
	}
	if !a.keyWritable(prv) {
		return nil, swUnauthorized
	}
	if !a.keyWritable(pub) {
		return nil, swUnauthorized
	}
	isECC := alg == algECF2M || alg == algECFp
	if !isECC && x.p3 != 23 {
		return nil, SWWrongLength
	}
	challenge, err := a.card.decryptChallenge(x.window(4, max(0, x.p3-4)))
	if err != nil || len(challenge) != 16 {
		return nil, swBadWrappedKey
	}
	if !a.keysMated(prv, pub) {
		return nil, swInconstantKeyPairing
	}
	pubType, prvType := KeyRSAPublic, KeyRSACRTPrivate
	if isECC {
		if alg == algECF2M {
			return nil, SWUnknown // no F2m curves on the card
		}
		pubType, prvType = KeyECFpPublic, KeyECFpPrivate
	}
	pubKey, err := a.getKey(pub, pubType, bits)
	if err != nil {
		return nil, err
	}
	prvKey, err := a.getKey(prv, prvType, bits)
	if err != nil {
		return nil, err
	}
	a.setMates(prv, pub)
	a.keyACL[prv] = KeyACL{Read: nobodyACL, Write: raACL, Use: useACL}
	a.keyACL[pub] = KeyACL{Read: anyoneACL, Write: raACL, Use: anyoneACL}
	pubKey.clearKey()
	if err := a.card.generateKeyPair(prvKey, pubKey, bits); err != nil {
		return nil, err
	}
	a.card.markDirty()

	var blob, proof []byte
	if isECC {
		// 00 0A size(2) len(2) W; then DER signature over the SHA-1
		// digest, then the digest itself.
		w := pointBytes(pubKey.ecPub)
		blob = binary.BigEndian.AppendUint16([]byte{0, 0x0A}, uint16(bits))
		blob = binary.BigEndian.AppendUint16(blob, uint16(len(w)))
		blob = append(blob, w...)
		digest := sha1.Sum(append(append([]byte(nil), blob...), challenge...))
		sig, err := ecdsaSignPadded(prvKey, digest[:], a.card.rand())
		if err != nil {
			return nil, SWUnknown
		}
		proof = append(sig, digest[:]...)
		out := binary.BigEndian.AppendUint16(nil, uint16(len(blob)))
		out = append(out, blob...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(sig)))
		out = append(out, proof...)
		return a.fillIOBuffer(out)
	}
	// 00 01 size(2) modLen(2) modulus expLen(2) exponent, then a PKCS#1
	// v1.5 SHA-1 signature the applet pads by hand (handSign).
	mod := pubKey.rsaPub.N.Bytes()
	exp := bigEndianExponent(pubKey.rsaPub.E)
	blob = binary.BigEndian.AppendUint16([]byte{0, 0x01}, uint16(bits))
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(mod)))
	blob = append(blob, mod...)
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(exp)))
	blob = append(blob, exp...)
	digest := sha1.Sum(append(append([]byte(nil), blob...), challenge...))
	modSize := bits / 8
	block := pkcs1SHA1Block(digest[:], modSize)
	sig, err := rawRSA(prvKey, block)
	if err != nil {
		return nil, SWUnknown
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(blob)))
	out = append(out, blob...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(sig)))
	out = append(out, sig...)
	return a.fillIOBuffer(out)
}

// fillIOBuffer puts START ENROLLMENT's output in the I/O buffer and answers
// with its length.
func (a *applet) fillIOBuffer(out []byte) ([]byte, error) {
	if len(out) > ioBufCapacity {
		return nil, SWUnknown
	}
	copy(a.iobuf[:], out)
	a.iobufSize = int16(len(out))
	return binary.BigEndian.AppendUint16(nil, uint16(len(out))), nil
}

// sha1DigestInfo is the DER prefix of a SHA-1 DigestInfo.
var sha1DigestInfo = []byte{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14}

// pkcs1SHA1Block is 00 01 FF… 00 ‖ DigestInfo(SHA-1, digest), size bytes.
func pkcs1SHA1Block(digest []byte, size int) []byte {
	b := make([]byte, size)
	b[1] = 1
	tail := append(append([]byte{0}, sha1DigestInfo...), digest...)
	for i := 2; i < size-len(tail); i++ {
		b[i] = 0xFF
	}
	copy(b[size-len(tail):], tail)
	return b
}

func bigEndianExponent(e int) []byte {
	var b []byte
	for v := e; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	return b
}

// Offsets in IMPORT KEY ENCRYPTED's data.
const (
	wrapKeyOffsetType = 4
	wrapKeyOffsetSize = 5
	wrapKeyOffsetData = 6
)

// importKeyEncrypted imports a key blob that the host encrypted with a
// 2-key 3DES transport key (CBC, IV in the command), the transport key
// itself wrapped under the card's KEK.
func (a *applet) importKeyEncrypted(x *apdu) error {
	prv, pub := int(x.p1&0x0F), int(x.p2&0x0F)
	owner := int(x.p1 >> 4)
	id := x.u32(0)
	useACL, err := keyUseACL(owner)
	if err != nil {
		return err
	}
	if !a.keyWritable(prv) || !a.keyWritable(pub) {
		return swUnauthorized
	}
	avail := x.p3
	if avail <= wrapKeyOffsetData {
		return SWWrongLength
	}
	desLen := int(x.at(wrapKeyOffsetSize))
	if desLen != 16 {
		return swKeySizeError
	}
	checkOff := wrapKeyOffsetData + desLen
	if avail <= checkOff {
		return SWWrongLength
	}
	ivOff := checkOff + 1 + int(x.at(checkOff))
	if avail <= ivOff {
		return SWWrongLength
	}
	ivLen := int(x.at(ivOff))
	if avail < ivOff+1+ivLen || ivLen != 8 {
		return SWWrongLength
	}
	transport, err := a.card.unwrapTransportKey(x.window(wrapKeyOffsetType, ivOff-wrapKeyOffsetType))
	if err != nil || len(transport) != 16 {
		return swBadWrappedKey
	}
	iv := x.window(ivOff+1, ivLen)
	buf, obj, err := a.keyBuffer(id)
	if err != nil {
		return err
	}
	if obj != nil && !a.authorized(obj.acl.Write) {
		return swUnauthorized // the blob is wiped afterwards
	}
	defer func() {
		clear(buf)
		if obj != nil {
			a.card.markDirty()
		}
	}()
	if len(buf) < 4 {
		return SWUnknown
	}
	blobType := buf[1]
	var ecPoint []byte
	if blobType == blobECPKCS8Pair {
		pointOff := ivOff + ivLen + 1
		ecPoint = x.window(pointOff+1, int(x.at(pointOff)))
	}
	switch buf[0] {
	case 0x01: // encrypted
		data := buf[4:]
		if len(data)%des.BlockSize != 0 {
			return SWUnknown
		}
		block, err := des.NewTripleDESCipher(append(append([]byte(nil), transport...), transport[:8]...))
		if err != nil {
			return SWUnknown
		}
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(data, data)
	default:
		// The applet tests the I/O buffer here, not the blob (a slip in
		// CardEdge.importKeyEncrypted we keep).
		if a.iobuf[0] != 0x00 {
			return swInvalidParameter
		}
	}
	switch blobType {
	case byte(KeyRSAPrivate), byte(KeyRSACRTPrivate), blobRSAPKCS8Pair, blobECPKCS8Pair:
		if !a.keysMated(prv, pub) {
			return swInconstantKeyPairing
		}
		a.setMates(prv, pub)
	}
	if (blobType == blobRSAPKCS8Pair || blobType == blobECPKCS8Pair) && buf[4] != 0x30 {
		return swBadWrappedPrivKey
	}
	// The applet passes the wrapped key's length byte (always 16) as the
	// "alg" argument, which selects the EC Fp key types for EC blobs.
	if err := a.importKeyBlob(prv, pub, buf, x.at(wrapKeyOffsetSize), ecPoint); err != nil {
		return err
	}
	a.keyACL[prv] = KeyACL{Read: nobodyACL, Write: raACL, Use: useACL}
	if blobType == blobRSAPKCS8Pair || blobType == blobECPKCS8Pair {
		a.keyACL[pub] = KeyACL{Read: anyoneACL, Write: raACL, Use: anyoneACL}
	}
	a.card.markDirty()
	return nil
}
