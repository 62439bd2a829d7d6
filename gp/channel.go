package gp

import (
	"crypto/subtle"
	"fmt"
)

// channel is the secure-messaging state both ends keep after INITIALIZE
// UPDATE: the session keys, the MAC chaining value and (SCP03) the
// encryption counter. The host wraps with it and the card unwraps with it;
// both compute the same MAC, which is what makes a replay fail.
type channel struct {
	proto Protocol
	level SecurityLevel
	keys  SessionKeys
	// chain is the previous command's MAC (SCP01/02, 8 bytes) or the MAC
	// chaining value (SCP03, 16 bytes); nil before EXTERNAL AUTHENTICATE.
	chain   []byte
	counter [16]byte // SCP03 encryption counter
}

// maxPlainData is the largest command data that still fits a short APDU
// once the MAC and the worst-case padding are added.
func (ch *channel) maxPlainData() int {
	switch {
	case !ch.level.encrypts():
		return 255 - 8
	case ch.proto == SCP01:
		return 255 - 8 - 1 - 7 // length byte and up to 7 padding bytes: 239
	case ch.proto == SCP02:
		return 255 - 8 - 8 // 239
	default:
		return 255 - 8 - 16 // 231
	}
}

// mac computes the C-MAC of input (header ‖ data as the protocol defines
// it), advances the chaining value and returns the 8 MAC bytes.
func (ch *channel) mac(input []byte) []byte {
	switch ch.proto {
	case SCP01:
		// The ICV is the previous MAC, not encrypted.
		m := mac3DES(ch.keys.MAC.b, ch.chain, input)
		ch.chain = m
		return m
	case SCP02:
		// i=15: ICV 0 for EXTERNAL AUTHENTICATE, afterwards the previous MAC
		// encrypted with single DES under the first half of S-MAC.
		var icv []byte
		if ch.chain != nil {
			icv = ecbEncrypt(desBlock(ch.keys.MAC.b), ch.chain)
		}
		m := macRetail(ch.keys.MAC.b, icv, input)
		ch.chain = m
		return m
	case SCP03:
		chain := ch.chain
		if chain == nil {
			chain = make([]byte, 16)
		}
		m := aesCMAC(ch.keys.MAC.b, append(append([]byte{}, chain...), input...))
		ch.chain = m
		return m[:8]
	}
	panic("gp: internal error: MAC for " + ch.proto.String())
}

// incrementCounter advances the SCP03 encryption counter. Like Dogtag, it
// counts every wrapped command, with or without data.
func (ch *channel) incrementCounter() {
	for i := len(ch.counter) - 1; i >= 0; i-- {
		ch.counter[i]++
		if ch.counter[i] != 0 {
			return
		}
	}
}

// encrypt applies C-DECRYPTION to non-empty command data.
func (ch *channel) encrypt(data []byte) []byte {
	switch ch.proto {
	case SCP01:
		// Dogtag/OP 2.0.1 quirk: the plaintext is prefixed with its length,
		// and padded only when Lc ‖ data is not already block aligned.
		plain := append([]byte{byte(len(data))}, data...)
		if len(plain)%8 != 0 {
			plain = pad80(plain, 8)
		}
		return cbcEncrypt(tdesBlock(ch.keys.ENC.b), nil, plain)
	case SCP02:
		return cbcEncrypt(tdesBlock(ch.keys.ENC.b), nil, pad80(data, 8))
	case SCP03:
		b := aesBlock(ch.keys.ENC.b)
		iv := ecbEncrypt(b, ch.counter[:])
		return cbcEncrypt(b, iv, pad80(data, 16))
	}
	panic("gp: internal error: encrypt for " + ch.proto.String())
}

// decrypt reverses encrypt. It reports malformed input (wrong length,
// padding or length byte) as an error.
func (ch *channel) decrypt(enc []byte) ([]byte, error) {
	switch ch.proto {
	case SCP01:
		if len(enc) == 0 || len(enc)%8 != 0 {
			return nil, ErrLength
		}
		plain := cbcDecrypt(tdesBlock(ch.keys.ENC.b), nil, enc)
		n := int(plain[0])
		end := 1 + n
		if end > len(plain) {
			return nil, ErrBadPadding
		}
		if end%8 == 0 {
			if end != len(plain) {
				return nil, ErrBadPadding
			}
		} else if rest, ok := unpad80(plain[end:]); !ok || len(rest) != 0 || len(plain)-end > 7 {
			return nil, ErrBadPadding
		}
		return plain[1:end], nil
	case SCP02, SCP03:
		bs := 8
		b := tdesBlock(ch.keys.ENC.b)
		var iv []byte
		if ch.proto == SCP03 {
			bs = 16
			b = aesBlock(ch.keys.ENC.b)
			iv = ecbEncrypt(b, ch.counter[:])
		}
		if len(enc) == 0 || len(enc)%bs != 0 {
			return nil, ErrLength
		}
		plain := cbcDecrypt(b, iv, enc)
		data, ok := unpad80(plain)
		// Padding is 1..bs bytes; anything longer hides a block of zeros.
		if !ok || len(plain)-len(data) > bs {
			return nil, ErrBadPadding
		}
		return data, nil
	}
	panic("gp: internal error: decrypt for " + ch.proto.String())
}

// wrap secures a command. encrypt is false for EXTERNAL AUTHENTICATE, which
// is MACed but never encrypted, and counts only after it.
func (ch *channel) wrap(c Command, encrypt bool, afterAuth bool) ([]byte, error) {
	if afterAuth && len(c.Data) > ch.maxPlainData() {
		return nil, fmt.Errorf("gp: %d bytes of command data do not fit a wrapped short APDU (max %d): %w",
			len(c.Data), ch.maxPlainData(), ErrLength)
	}
	cla := c.CLA | claSecureMessaging
	body := c.Data
	var m []byte
	switch ch.proto {
	case SCP01, SCP02:
		// MAC over the plaintext, with Lc counting the MAC; then encrypt.
		m = ch.mac(append(c.header(cla, len(c.Data)+8), c.Data...))
		if encrypt && len(c.Data) > 0 {
			body = ch.encrypt(c.Data)
		}
	case SCP03:
		// Encrypt, then MAC over the ciphertext.
		if afterAuth {
			ch.incrementCounter()
		}
		if encrypt && len(c.Data) > 0 {
			body = ch.encrypt(c.Data)
		}
		m = ch.mac(append(c.header(cla, len(body)+8), body...))
	}
	w := Command{CLA: cla, INS: c.INS, P1: c.P1, P2: c.P2, HasLe: c.HasLe, Le: c.Le}
	w.Data = append(append(make([]byte, 0, len(body)+8), body...), m...)
	return w.Encode()
}

// unwrap verifies and strips a wrapped command, returning the plain command
// (CLA unchanged). Any error means the channel must be closed.
func (ch *channel) unwrap(w Command, decrypt bool, afterAuth bool) (Command, error) {
	if w.CLA&claSecureMessaging == 0 {
		return Command{}, statusError(SWSecurityNotSatisfied, fmt.Errorf("class %02X without secure messaging: %w", w.CLA, ErrBadMAC))
	}
	if len(w.Data) < 8 {
		return Command{}, statusError(SWWrongLength, fmt.Errorf("wrapped command data of %d bytes has no C-MAC: %w", len(w.Data), ErrLength))
	}
	body := w.Data[:len(w.Data)-8]
	got := w.Data[len(w.Data)-8:]
	plain := Command{CLA: w.CLA, INS: w.INS, P1: w.P1, P2: w.P2, HasLe: w.HasLe, Le: w.Le}
	fail := func(err error) (Command, error) {
		if err == ErrLength {
			return Command{}, statusError(SWWrongLength, fmt.Errorf("encrypted command data of %d bytes: %w", len(body), err))
		}
		return Command{}, statusError(SWSecurityNotSatisfied, err)
	}
	switch ch.proto {
	case SCP01, SCP02:
		data := body
		if decrypt && len(body) > 0 {
			var err error
			if data, err = ch.decrypt(body); err != nil {
				return fail(err)
			}
		}
		want := ch.mac(append(w.header(w.CLA, len(data)+8), data...))
		if subtle.ConstantTimeCompare(want, got) != 1 {
			return fail(ErrBadMAC)
		}
		plain.Data = data
	case SCP03:
		if afterAuth {
			ch.incrementCounter()
		}
		want := ch.mac(append(w.header(w.CLA, len(body)+8), body...))
		if subtle.ConstantTimeCompare(want, got) != 1 {
			return fail(ErrBadMAC)
		}
		data := body
		if decrypt && len(body) > 0 {
			var err error
			if data, err = ch.decrypt(body); err != nil {
				return fail(err)
			}
		}
		plain.Data = data
	}
	plain.Data = append([]byte(nil), plain.Data...)
	return plain, nil
}
