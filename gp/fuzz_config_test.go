package gp

import (
	"strings"
	"testing"
)

// FuzzParseKey: keys come from configuration files and flags. Whatever the
// text, ParseKey returns a key or an error, and the error never repeats
// the text (it may be most of a secret key).
func FuzzParseKey(f *testing.F) {
	f.Add(uint8(1), "404142434445464748494A4B4C4D4E4F")
	f.Add(uint8(2), "40:41:42:43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51 52 53 54 55 56 57")
	f.Add(uint8(1), "zz")
	f.Fuzz(func(t *testing.T, typ uint8, s string) {
		k, err := ParseKey(KeyType(typ), s)
		if err != nil {
			if len(s) >= 6 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error repeats the key text: %v", err)
			}
			return
		}
		if k.Type() != KeyType(typ) {
			t.Fatalf("type %v, want %v", k.Type(), KeyType(typ))
		}
	})
}

// FuzzParseDiversification: the diversification name from a configuration
// parses back to itself.
func FuzzParseDiversification(f *testing.F) {
	f.Add("none")
	f.Add("visa2")
	f.Add("kdf3")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDiversification(s)
		if err == nil && d.String() != s {
			t.Fatalf("%q parsed as %v", s, d)
		}
	})
}
