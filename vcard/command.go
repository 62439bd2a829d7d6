package vcard

import "fmt"

// Command is a short command APDU as the card receives it.
type Command struct {
	CLA, INS, P1, P2 byte
	// Data is the command data (Lc bytes); empty for cases 1 and 2.
	Data []byte
	// Le is the expected response length for cases 2 and 4 (1..256, 00 on
	// the wire meaning 256), or 0 when the APDU has no Le byte.
	Le int
}

// ParseCommand decodes a short command APDU (ISO 7816-3 cases 1–4).
// Extended-length APDUs are rejected: neither the applet nor the card
// manager accepts them.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("vcard: command APDU of %d bytes", len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	n := len(b)
	switch {
	case n == 4:
	case n == 5:
		c.Le = expectedLength(b[4])
	case b[4] == 0:
		return Command{}, fmt.Errorf("vcard: extended-length command APDU (%d bytes)", n)
	case n == 5+int(b[4]):
		c.Data = b[5:n]
	case n == 6+int(b[4]):
		c.Data = b[5 : n-1]
		c.Le = expectedLength(b[n-1])
	default:
		return Command{}, fmt.Errorf("vcard: command APDU of %d bytes with P3 %02X", n, b[4])
	}
	return c, nil
}

func expectedLength(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

// Bytes encodes the command in wire form.
func (c Command) Bytes() []byte {
	b := append(make([]byte, 0, 6+len(c.Data)), c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le))
	}
	return b
}

// P3 is the fifth header byte as a Java Card applet reads it from the APDU
// buffer (ISO7816.OFFSET_LC): Lc when the command has data, otherwise Le,
// and 0 for a 4-byte command. CoolKey's "get" instructions check their
// expected length through it.
func (c Command) P3() byte {
	if len(c.Data) > 0 {
		return byte(len(c.Data))
	}
	return byte(c.Le) // 256 wraps to 00, as on the wire
}

func (c Command) String() string {
	return fmt.Sprintf("%02X %02X %02X %02X Lc=%d Le=%d", c.CLA, c.INS, c.P1, c.P2, len(c.Data), c.Le)
}

// response encodes data ‖ SW.
func response(data []byte, sw SW) []byte {
	r := make([]byte, len(data)+2)
	copy(r, data)
	r[len(data)] = byte(sw >> 8)
	r[len(data)+1] = byte(sw)
	return r
}
