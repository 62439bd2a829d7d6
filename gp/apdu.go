package gp

import (
	"bytes"
	"fmt"
)

// Command is a short (ISO 7816-4) command APDU. Secure channels here never
// carry extended-length APDUs: Dogtag's TPS and the CoolKey applet use short
// ones only.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte // at most 255 bytes
	HasLe            bool   // whether an Le byte is present
	Le               byte   // 00 means 256
}

// Class bits: 04 marks secure messaging (GP "84" commands).
const claSecureMessaging = 0x04

// ParseCommand decodes a short command APDU (ISO cases 1–4). It rejects
// extended-length encodings and trailing bytes.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("gp: command APDU of %d bytes: %w", len(b), ErrLength)
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2
		c.HasLe, c.Le = true, body[0]
	default:
		lc := int(body[0])
		if lc == 0 {
			return Command{}, fmt.Errorf("gp: extended-length APDUs are not supported: %w", ErrLength)
		}
		switch len(body) {
		case 1 + lc: // case 3
		case 2 + lc: // case 4
			c.HasLe, c.Le = true, body[1+lc]
		default:
			return Command{}, fmt.Errorf("gp: Lc %d does not match %d body bytes: %w", lc, len(body), ErrLength)
		}
		c.Data = bytes.Clone(body[1 : 1+lc])
	}
	return c, nil
}

// Encode returns the APDU bytes. It fails if the data exceeds 255 bytes.
func (c Command) Encode() ([]byte, error) {
	if len(c.Data) > 255 {
		return nil, fmt.Errorf("gp: command data of %d bytes does not fit a short APDU: %w", len(c.Data), ErrLength)
	}
	out := make([]byte, 0, 6+len(c.Data))
	out = append(out, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		out = append(out, byte(len(c.Data)))
		out = append(out, c.Data...)
	}
	if c.HasLe {
		out = append(out, c.Le)
	}
	return out, nil
}

// header returns CLA INS P1 P2 Lc for MAC input, with the given Lc.
func (c Command) header(cla byte, lc int) []byte {
	return []byte{cla, c.INS, c.P1, c.P2, byte(lc)}
}

// splitResponse separates a response APDU into data and status word.
func splitResponse(resp []byte) ([]byte, uint16, error) {
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("gp: response APDU of %d bytes: %w", len(resp), ErrLength)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1]), nil
}
