package tps

import (
	"errors"
	"strings"
)

const upperHex = "0123456789ABCDEF"

// formEncode is Java's URLEncoder (UTF-8) and the ESC's URLEncode: ASCII
// letters and digits and ".-*_" stay raw, space becomes '+', every other
// byte is %XX. The Dogtag server decodes with URLDecoder, which undoes this
// exactly; Go's url.QueryEscape differs on '~' and '*', which is why this
// is written out.
func formEncode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c) || c == '.' || c == '-' || c == '*' || c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String()
}

var errBadEscape = errors.New("malformed %-escape")

// formDecode undoes form encoding: %XX (either case), '+' for space, any
// other byte as itself. A '%' not followed by two hex digits is an error
// (URLDecoder throws there too).
func formDecode(s string) (string, error) {
	b, err := percentDecode(s)
	return string(b), err
}

// percentDecode is formDecode returning bytes; it is also the decoder for
// pdu_data, where the ESC sends letters and digits raw and the Java TPS
// sends everything as %XX.
func percentDecode(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return nil, errBadEscape
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, errBadEscape
			}
			out = append(out, hi<<4|lo)
			i += 2
		case '+':
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// hexEncodeAll writes every byte as %XX, the form the Java TPS uses for
// pdu_data and one every decoder accepts.
func hexEncodeAll(b []byte) string {
	out := make([]byte, 0, 3*len(b))
	for _, c := range b {
		out = append(out, '%', upperHex[c>>4], upperHex[c&15])
	}
	return string(out)
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
