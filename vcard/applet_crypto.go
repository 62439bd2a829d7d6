package vcard

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
)

// COMPUTE CRYPT operations (P2), directions, modes and data locations.
const (
	opInit    = 1
	opProcess = 2
	opFinal   = 3
	opOneStep = 4

	dirSign    = 1
	dirVerify  = 2
	dirEncrypt = 3
	dirDecrypt = 4

	modeRSANoPad = 0
	modeRSAPKCS1 = 1

	locAPDU   = 1
	locObject = 2
)

// Offsets in the I/O buffer where the applet's sign self-check leaves its
// scratch values (VFY_OFF, VFY_MD_0, VFY_MD_1).
const (
	vfyOff = 558
	vfyMD0 = 1014
	vfyMD1 = 1034
)

// keyForUse checks P1 names a key slot holding a key the caller may use.
func (a *applet) keyForUse(p1 byte) (int, *key, error) {
	n := int(int8(p1))
	if n < 0 || n >= maxKeys || a.keys[n] == nil {
		return 0, nil, swIncorrectP1
	}
	if !a.authorized(a.keyACL[n].Use) {
		return 0, nil, swUnauthorized
	}
	return n, a.keys[n], nil
}

func (a *applet) computeCrypt(x *apdu) ([]byte, error) {
	n, _, err := a.keyForUse(x.p1)
	if err != nil {
		return nil, err
	}
	switch x.p2 {
	case opInit:
		return nil, a.cryptInit(x, n)
	case opProcess, opFinal:
		return a.cryptProcessFinal(x, n)
	case opOneStep:
		if err := a.cryptInit(x, n); err != nil {
			return nil, err
		}
		return a.cryptProcessFinal(x, n)
	}
	return nil, swIncorrectP2
}

func (a *applet) cryptInit(x *apdu, n int) error {
	left := x.p3
	if left < 3 {
		return SWWrongLength
	}
	mode, dir, loc := x.at(0), x.at(1), x.at(2)
	var avail int
	var size int16
	switch loc {
	case locAPDU:
		avail = left - 3
		size = x.short(3)
	case locObject:
		avail = int(a.iobufSize)
		size = int16(binary.BigEndian.Uint16(a.iobuf[0:2]))
	default:
		return swLocationInvalid
	}
	if avail < 2 {
		return SWWrongLength
	}
	if avail < 2+int(size) {
		return swDataChunkSizeError
	}
	k := a.keys[n]
	a.ciphDirs[n] = dir
	switch dir {
	case dirSign, dirVerify:
		return swDirectionUnsupported
	case dirEncrypt, dirDecrypt:
	default:
		return swDirectionInvalid
	}
	if !k.isRSA() {
		return swKeyTypeInvalid
	}
	if x.p2 != opOneStep && size != 0 {
		return swDataChunkSizeError
	}
	if k.bits > maxRSABits {
		return swKeySizeError
	}
	switch mode {
	case modeRSANoPad:
	case modeRSAPKCS1:
		return swCiphModeUnsupported
	default:
		return swCiphModeInvalid
	}
	if !k.initialized {
		return SWUnknown // Cipher.init on an uninitialised key
	}
	a.cipherKey[n] = n
	return nil
}

func (a *applet) cryptProcessFinal(x *apdu, n int) ([]byte, error) {
	switch a.ciphDirs[n] {
	case dirSign, dirVerify:
		return nil, swDirectionUnsupported
	case dirEncrypt, dirDecrypt:
		return a.enDeCryptProcessFinal(x, n)
	}
	return nil, swDirectionInvalid
}

func (a *applet) enDeCryptProcessFinal(x *apdu, n int) ([]byte, error) {
	k := a.keys[n]
	dir := a.ciphDirs[n]
	if a.cipherKey[n] == noKeyMate {
		return nil, swIncorrectP1
	}
	base, left := 0, x.p3
	if x.p2 == opOneStep {
		base += 2
		left -= 2
	}
	if left < 1 {
		return nil, SWWrongLength
	}
	loc := x.at(base)
	var src []byte
	var avail, dstAvail int
	switch loc {
	case locAPDU:
		avail = left - 1
		src = x.window(base+1, max(avail, 0))
		dstAvail = 255
	case locObject:
		avail = int(a.iobufSize)
		src = a.iobuf[:max(0, min(avail, ioBufCapacity))]
		dstAvail = 258
	default:
		return nil, swLocationInvalid
	}
	if avail < 2 {
		return nil, SWWrongLength
	}
	size := int16(binary.BigEndian.Uint16(src[0:2]))
	if avail < 2+int(size) || size < 0 {
		return nil, swDataChunkSizeError
	}
	doubleCheck := false
	switch k.typ {
	case KeyRSACRTPrivate:
		doubleCheck = dir == dirEncrypt
	case KeyRSAPublic, KeyRSAPrivate:
	default:
		return nil, swKeyTypeInvalid
	}
	if x.p2 == opProcess {
		return nil, swKeyTypeUnsupported
	}
	if k.bits > maxRSABits {
		return nil, swKeySizeError
	}
	dstLen := (k.bits + 7) / 8
	if int(size) != dstLen {
		return nil, swDataChunkSizeError
	}
	if 2+dstLen > dstAvail {
		return nil, swOutBufTooSmall
	}
	if 2+int(size) > len(src) {
		return nil, SWUnknown // the size points past the transient array
	}
	in := bytes.Clone(src[2 : 2+int(size)])
	cipherKey := a.keys[a.cipherKey[n]]
	if cipherKey == nil {
		return nil, SWUnknown
	}
	out, err := rawRSA(cipherKey, in)
	if err != nil {
		return nil, SWUnknown
	}
	if doubleCheck {
		if err := a.signSelfCheck(n, in, out); err != nil {
			return nil, err
		}
	}
	result := binary.BigEndian.AppendUint16(nil, uint16(len(out)))
	result = append(result, out...)
	if loc == locObject {
		copy(a.iobuf[:], result)
		a.iobufSize = int16(len(result))
		return nil, nil
	}
	if len(result) > dstAvail {
		return nil, swOutBufTooSmall
	}
	return result, nil
}

// signSelfCheck runs the output back through the mate public key and
// compares SHA-1 digests of input and round trip; the Cipher object stays
// initialised with the public key afterwards, as on the card.
func (a *applet) signSelfCheck(n int, in, out []byte) error {
	mate := int(a.keyMate[n])
	if mate < 0 || mate >= maxKeys || a.keys[mate] == nil || !a.keys[mate].initialized {
		return SWUnknown
	}
	a.cipherKey[n] = mate
	md0 := sha1.Sum(in)
	copy(a.iobuf[vfyMD0:], md0[:])
	back, err := rawRSA(a.keys[mate], out)
	if err != nil {
		return SWUnknown
	}
	if len(back) != len(in) {
		return swInternalError
	}
	copy(a.iobuf[vfyOff:], back)
	md1 := sha1.Sum(back)
	copy(a.iobuf[vfyMD1:], md1[:])
	if md0 != md1 {
		return swSignatureInvalid
	}
	return nil
}

// eccSource reads location ‖ len(2) ‖ data from the APDU or the I/O buffer.
func (a *applet) eccSource(x *apdu, left int) (loc byte, in []byte, err error) {
	if left < 1 {
		return 0, nil, SWWrongLength
	}
	loc = x.at(0)
	var src []byte
	var avail int
	switch loc {
	case locAPDU:
		avail = left - 1
		src = x.window(1, max(avail, 2))
	case locObject:
		avail = int(a.iobufSize)
		src = a.iobuf[:]
	default:
		return 0, nil, swLocationInvalid
	}
	size := int16(binary.BigEndian.Uint16(src[0:2]))
	if avail < 2+int(size) || size < 0 {
		return 0, nil, swDataChunkSizeError
	}
	if 2+int(size) > len(src) {
		return 0, nil, SWUnknown
	}
	return loc, bytes.Clone(src[2 : 2+int(size)]), nil
}

func (a *applet) eccResult(loc byte, out []byte) []byte {
	result := binary.BigEndian.AppendUint16(nil, uint16(len(out)))
	result = append(result, out...)
	if loc == locObject {
		copy(a.iobuf[:], result)
		a.iobufSize = int16(len(result))
		return nil
	}
	return result
}

func (a *applet) computeECCSignature(x *apdu) ([]byte, error) {
	_, k, err := a.keyForUse(x.p1)
	if err != nil {
		return nil, err
	}
	if x.p2 != opOneStep {
		return nil, swIncorrectP2
	}
	loc, hash, err := a.eccSource(x, x.p3)
	if err != nil {
		return nil, err
	}
	if k.typ != KeyECFpPrivate {
		return nil, SWUnknown // ClassCastException on the card
	}
	if !k.initialized {
		return nil, SWUnknown
	}
	sig, err := ecdsaSignPadded(k, hash, a.card.rand())
	if err != nil {
		if sw, ok := err.(SW); ok {
			return nil, sw
		}
		return nil, SWUnknown
	}
	return a.eccResult(loc, sig), nil
}

func (a *applet) computeECCKeyAgreement(x *apdu) ([]byte, error) {
	_, k, err := a.keyForUse(x.p1)
	if err != nil {
		return nil, err
	}
	if x.p2 != opOneStep {
		return nil, swIncorrectP2
	}
	if x.p3 < 3 {
		return nil, SWWrongLength
	}
	loc := x.at(0)
	if loc == locObject && a.iobufSize < 2 || loc == locAPDU && x.p3-1 < 2 {
		return nil, SWWrongLength
	}
	loc, peer, err := a.eccSource(x, x.p3)
	if err != nil {
		return nil, err
	}
	if k.typ != KeyECFpPrivate || !k.initialized {
		return nil, SWUnknown
	}
	secret, err := ecdhSecret(k, peer)
	if err != nil {
		if sw, ok := err.(SW); ok {
			return nil, sw
		}
		return nil, SWUnknown
	}
	return a.eccResult(loc, secret), nil
}
