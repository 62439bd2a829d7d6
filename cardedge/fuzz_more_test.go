package cardedge

import "testing"

// FuzzParseStatus: GET STATUS is a card's answer; the host parses it when it
// identifies a card.
func FuzzParseStatus(f *testing.F) {
	f.Add(make([]byte, StatusSize))
	f.Add([]byte{1, 1, 1, 4, 0, 0, 0x10, 0, 0, 0, 0x08, 0, 0, 1, 0, 0})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseStatus(b); err == nil && len(b) != StatusSize {
			t.Fatalf("a %d-byte status parsed", len(b))
		}
	})
}

// FuzzParseBuiltinACL: GET BUILTIN ACL is a card's answer.
func FuzzParseBuiltinACL(f *testing.F) {
	f.Add(make([]byte, BuiltinACLSize))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseBuiltinACL(b); err == nil && len(b) != BuiltinACLSize {
			t.Fatalf("a %d-byte ACL parsed", len(b))
		}
	})
}
