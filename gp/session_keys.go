package gp

import (
	"fmt"
)

// SessionKeys are the keys of one secure channel session.
type SessionKeys struct {
	ENC  Key // S-ENC: cryptograms (SCP01/02) and C-DECRYPTION
	MAC  Key // S-MAC: C-MAC (and SCP03 cryptograms)
	RMAC Key // S-RMAC (SCP02, SCP03); unused here, derived for completeness
	// DEK wraps key data sent in this session (PUT KEY, the server-side
	// keygen transport key): the static KEK for SCP01 and SCP03, the S-DEK
	// session key for SCP02.
	DEK Key
}

// String redacts the keys.
func (s SessionKeys) String() string {
	return fmt.Sprintf("gp.SessionKeys(ENC %v, MAC %v, RMAC %v, DEK %v)", s.ENC, s.MAC, s.RMAC, s.DEK)
}

// Format makes every verb print the redacted form.
func (s SessionKeys) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// SCP01SessionKeys derives SCP01 session keys: for K in {ENC, MAC},
// S-K = 3DES-ECB(K, cc[4..7] ‖ hc[0..3] ‖ cc[0..3] ‖ hc[4..7]). The KEK is
// used as is. There is no R-MAC key.
func SCP01SessionKeys(static KeySet, hostChallenge, cardChallenge []byte) (SessionKeys, error) {
	if err := checkStatic(static, DES3); err != nil {
		return SessionKeys{}, err
	}
	if len(hostChallenge) != 8 || len(cardChallenge) != 8 {
		return SessionKeys{}, fmt.Errorf("gp: SCP01 challenges must be 8 bytes: %w", ErrLength)
	}
	dd := make([]byte, 0, 16)
	dd = append(dd, cardChallenge[4:8]...)
	dd = append(dd, hostChallenge[0:4]...)
	dd = append(dd, cardChallenge[0:4]...)
	dd = append(dd, hostChallenge[4:8]...)
	return SessionKeys{
		ENC: Key{typ: DES3, b: ecbEncrypt(tdesBlock(static.ENC.b), dd)},
		MAC: Key{typ: DES3, b: ecbEncrypt(tdesBlock(static.MAC.b), dd)},
		DEK: static.KEK,
	}, nil
}

// SCP02 derivation constants (GP 2.1.1 E.4.1).
var (
	scp02ConstCMAC = [2]byte{0x01, 0x01}
	scp02ConstRMAC = [2]byte{0x01, 0x02}
	scp02ConstDEK  = [2]byte{0x01, 0x81}
	scp02ConstENC  = [2]byte{0x01, 0x82}
)

// SCP02SessionKeys derives SCP02 session keys from the 2-byte sequence
// counter: S-K = 3DES-CBC(K, IV 0, constant ‖ counter ‖ 00×12).
func SCP02SessionKeys(static KeySet, sequenceCounter []byte) (SessionKeys, error) {
	if err := checkStatic(static, DES3); err != nil {
		return SessionKeys{}, err
	}
	if len(sequenceCounter) != 2 {
		return SessionKeys{}, fmt.Errorf("gp: SCP02 sequence counter must be 2 bytes: %w", ErrLength)
	}
	derive := func(k Key, c [2]byte) Key {
		dd := make([]byte, 16)
		copy(dd, c[:])
		copy(dd[2:], sequenceCounter)
		return Key{typ: DES3, b: cbcEncrypt(tdesBlock(k.b), nil, dd)}
	}
	return SessionKeys{
		ENC:  derive(static.ENC, scp02ConstENC),
		MAC:  derive(static.MAC, scp02ConstCMAC),
		RMAC: derive(static.MAC, scp02ConstRMAC),
		DEK:  derive(static.KEK, scp02ConstDEK),
	}, nil
}

// SCP03 derivation constants (GP 2.2 Amendment D, table 4-1).
const (
	scp03ConstCardCryptogram = 0x00
	scp03ConstHostCryptogram = 0x01
	scp03ConstCardChallenge  = 0x02
	scp03ConstSENC           = 0x04
	scp03ConstSMAC           = 0x06
	scp03ConstSRMAC          = 0x07
)

// kdfCounter is the NIST SP 800-108 KDF in counter mode with AES-CMAC and a
// one-byte counter between two fixed blocks: for i = 1..,
// AES-CMAC(key, a ‖ i ‖ b), concatenated and cut to n bytes.
func kdfCounter(key, a, b []byte, n int) []byte {
	var out []byte
	for i := byte(1); len(out) < n; i++ {
		in := make([]byte, 0, len(a)+1+len(b))
		in = append(in, a...)
		in = append(in, i)
		in = append(in, b...)
		out = append(out, aesCMAC(key, in)...)
	}
	return out[:n]
}

// scp03KDF is the SCP03 data derivation: kdfCounter with a = 00×11 ‖
// constant ‖ 00 ‖ L (u16, bits) and b = context.
func scp03KDF(key []byte, constant byte, bits int, context []byte) []byte {
	a := make([]byte, 15)
	a[11] = constant // a[12] is the 00 separator
	a[13], a[14] = byte(bits>>8), byte(bits)
	return kdfCounter(key, a, context, bits/8)
}

// SCP03SessionKeys derives SCP03 session keys with context = host challenge ‖
// card challenge. Session keys have the length of the static keys. The KEK
// is used as is.
func SCP03SessionKeys(static KeySet, hostChallenge, cardChallenge []byte) (SessionKeys, error) {
	if err := checkStatic(static, AES); err != nil {
		return SessionKeys{}, err
	}
	if len(hostChallenge) != 8 || len(cardChallenge) != 8 {
		return SessionKeys{}, fmt.Errorf("gp: SCP03 challenges must be 8 bytes (S8 mode): %w", ErrLength)
	}
	ctx := append(append([]byte{}, hostChallenge...), cardChallenge...)
	return scp03SessionKeysContext(static, ctx), nil
}

func scp03SessionKeysContext(static KeySet, ctx []byte) SessionKeys {
	derive := func(k Key, c byte) Key {
		return Key{typ: AES, b: scp03KDF(k.b, c, len(k.b)*8, ctx)}
	}
	return SessionKeys{
		ENC:  derive(static.ENC, scp03ConstSENC),
		MAC:  derive(static.MAC, scp03ConstSMAC),
		RMAC: derive(static.MAC, scp03ConstSRMAC),
		DEK:  static.KEK,
	}
}

func checkStatic(static KeySet, t KeyType) error {
	if err := static.Validate(); err != nil {
		return err
	}
	if static.Type() != t {
		return fmt.Errorf("gp: this protocol needs %v keys, the key set has %v keys", t, static.Type())
	}
	return nil
}

// cryptograms returns the card and host cryptograms of a session.
//
//	SCP01: card = MAC3DES(S-ENC, hc ‖ cc), host = MAC3DES(S-ENC, cc ‖ hc)
//	SCP02: card = MAC3DES(S-ENC, hc ‖ seq ‖ cc), host = MAC3DES(S-ENC, seq ‖ cc ‖ hc)
//	SCP03: card = KDF(S-MAC, 00, 64, hc ‖ cc), host = KDF(S-MAC, 01, 64, hc ‖ cc)
func cryptograms(p Protocol, sk SessionKeys, hc []byte, r InitializeUpdateResponse) (card, host []byte) {
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	switch p {
	case SCP01:
		return mac3DES(sk.ENC.b, nil, cat(hc, r.CardChallenge)), mac3DES(sk.ENC.b, nil, cat(r.CardChallenge, hc))
	case SCP02:
		return mac3DES(sk.ENC.b, nil, cat(hc, r.SequenceCounter, r.CardChallenge)),
			mac3DES(sk.ENC.b, nil, cat(r.SequenceCounter, r.CardChallenge, hc))
	case SCP03:
		ctx := cat(hc, r.CardChallenge)
		return scp03KDF(sk.MAC.b, scp03ConstCardCryptogram, 64, ctx), scp03KDF(sk.MAC.b, scp03ConstHostCryptogram, 64, ctx)
	}
	panic("gp: internal error: cryptograms for " + p.String())
}

// sessionKeys derives the session keys for protocol p from the static keys,
// the host challenge and the card's INITIALIZE UPDATE answer.
func sessionKeys(p Protocol, static KeySet, hc []byte, r InitializeUpdateResponse) (SessionKeys, error) {
	switch p {
	case SCP01:
		return SCP01SessionKeys(static, hc, r.CardChallenge)
	case SCP02:
		return SCP02SessionKeys(static, r.SequenceCounter)
	case SCP03:
		return SCP03SessionKeys(static, hc, r.CardChallenge)
	}
	return SessionKeys{}, fmt.Errorf("gp: unsupported protocol %v", p)
}
