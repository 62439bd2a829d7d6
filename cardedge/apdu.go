package cardedge

import (
	"errors"
	"fmt"
)

// Command is a short (ISO 7816-4) command APDU.
type Command struct {
	CLA, INS, P1, P2 byte
	// Data is the command data, at most 255 bytes; nil or empty means no Lc.
	Data []byte
	// Le is the expected response length, 1..256 (256 is sent as 00); 0
	// means no Le byte. CoolKey "get" commands carry their expected length
	// here and the applet reads it as P3.
	Le int
}

// ErrMalformedCommand is returned for command APDUs that cannot be encoded or
// parsed as short APDUs.
var ErrMalformedCommand = errors.New("cardedge: malformed command APDU")

// Encode returns the command in wire form.
func (c Command) Encode() ([]byte, error) {
	if len(c.Data) > 255 {
		return nil, fmt.Errorf("%w: %d data bytes", ErrMalformedCommand, len(c.Data))
	}
	if c.Le < 0 || c.Le > 256 {
		return nil, fmt.Errorf("%w: Le %d", ErrMalformedCommand, c.Le)
	}
	b := make([]byte, 0, 6+len(c.Data))
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le)) // 256 wraps to 00, as ISO defines
	}
	return b, nil
}

// ParseCommand decodes a short command APDU (cases 1 to 4). A 5-byte APDU
// is case 2: its last byte is Le (00 meaning 256).
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w: %d bytes", ErrMalformedCommand, len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	switch n := len(b); {
	case n == 4:
	case n == 5:
		c.Le = leValue(b[4])
	case b[4] != 0 && n == 5+int(b[4]):
		c.Data = append([]byte(nil), b[5:]...)
	case b[4] != 0 && n == 6+int(b[4]):
		c.Data = append([]byte(nil), b[5:n-1]...)
		c.Le = leValue(b[n-1])
	default:
		return Command{}, fmt.Errorf("%w: length %d does not match P3 %02X", ErrMalformedCommand, n, b[4])
	}
	return c, nil
}

func leValue(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

func (c Command) String() string {
	return fmt.Sprintf("%02X %02X %02X %02X Lc=%d Le=%d", c.CLA, c.INS, c.P1, c.P2, len(c.Data), c.Le)
}

// Response is a response APDU.
type Response struct {
	Data []byte
	SW   SW
}

// ParseResponse splits a response APDU into data and status word.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: %d-byte response APDU", ErrMalformedResponse, len(b))
	}
	n := len(b) - 2
	return Response{Data: append([]byte(nil), b[:n]...), SW: SW(b[n])<<8 | SW(b[n+1])}, nil
}

// Encode returns the response in wire form (data ‖ SW1 ‖ SW2).
func (r Response) Encode() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, r.SW.SW1(), r.SW.SW2())
}

// TLV is one BER-TLV data object with a primitive value (tags of 1 to 3
// bytes, definite lengths up to 65535). GlobalPlatform GET DATA answers in
// this form, e.g. CPLC is tag 9F7F.
type TLV struct {
	Tag   uint32
	Value []byte
}

// ErrMalformedTLV is returned for bytes that are not a valid BER-TLV.
var ErrMalformedTLV = errors.New("cardedge: malformed TLV")

// Encode returns tag ‖ length ‖ value.
func (t TLV) Encode() ([]byte, error) {
	var b []byte
	switch {
	case t.Tag <= 0xFF:
		if t.Tag&0x1F == 0x1F {
			return nil, fmt.Errorf("%w: tag %X announces more tag bytes", ErrMalformedTLV, t.Tag)
		}
		b = append(b, byte(t.Tag))
	case t.Tag <= 0xFFFF:
		if t.Tag>>8&0x1F != 0x1F || t.Tag&0x80 != 0 {
			return nil, fmt.Errorf("%w: tag %X", ErrMalformedTLV, t.Tag)
		}
		b = append(b, byte(t.Tag>>8), byte(t.Tag))
	case t.Tag <= 0xFFFFFF:
		if t.Tag>>16&0x1F != 0x1F || t.Tag>>8&0x80 == 0 || t.Tag&0x80 != 0 {
			return nil, fmt.Errorf("%w: tag %X", ErrMalformedTLV, t.Tag)
		}
		b = append(b, byte(t.Tag>>16), byte(t.Tag>>8), byte(t.Tag))
	default:
		return nil, fmt.Errorf("%w: tag %X too long", ErrMalformedTLV, t.Tag)
	}
	switch n := len(t.Value); {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xFF:
		b = append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x82, byte(n>>8), byte(n))
	default:
		return nil, fmt.Errorf("%w: value of %d bytes", ErrMalformedTLV, n)
	}
	return append(b, t.Value...), nil
}

// ParseTLV decodes the first TLV in b and returns it with the bytes after it.
// The value aliases b.
func ParseTLV(b []byte) (t TLV, rest []byte, err error) {
	if len(b) < 2 {
		return TLV{}, nil, fmt.Errorf("%w: %d bytes", ErrMalformedTLV, len(b))
	}
	i := 0
	t.Tag = uint32(b[0])
	i++
	if b[0]&0x1F == 0x1F {
		for {
			if i >= len(b) || i >= 3 {
				return TLV{}, nil, fmt.Errorf("%w: tag too long or truncated", ErrMalformedTLV)
			}
			t.Tag = t.Tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return TLV{}, nil, fmt.Errorf("%w: no length", ErrMalformedTLV)
	}
	var n int
	switch l := b[i]; {
	case l < 0x80:
		n = int(l)
		i++
	case l == 0x81 && i+1 < len(b):
		n = int(b[i+1])
		i += 2
	case l == 0x82 && i+2 < len(b):
		n = int(b[i+1])<<8 | int(b[i+2])
		i += 3
	default:
		return TLV{}, nil, fmt.Errorf("%w: length byte %02X", ErrMalformedTLV, l)
	}
	if n > len(b)-i {
		return TLV{}, nil, fmt.Errorf("%w: value of %d bytes, %d left", ErrMalformedTLV, n, len(b)-i)
	}
	t.Value = b[i : i+n : i+n]
	return t, b[i+n:], nil
}
