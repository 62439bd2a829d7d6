package pkcs11mod

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzProduce drives the length protocol with arbitrary call sequences and
// checks its promises: the operation runs at most once, never for a length
// query that a sufficient hint answers, a short buffer is always reported
// with a length larger than it, and what is delivered is the result.
//
// Input: hint, result length, then one byte per call (0xFF: NULL buffer,
// else the buffer's capacity).
func FuzzProduce(f *testing.F) {
	f.Add([]byte{10, 10, 0xFF, 9, 10})
	f.Add([]byte{0, 10, 0xFF, 0xFF, 3, 10})
	f.Add([]byte{4, 10, 0xFF, 4, 5, 0xFF, 10})
	f.Add([]byte{16, 10, 0xFF, 10, 16})
	f.Add([]byte{0, 0, 0xFF, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		hint, result := int(in[0]), bytes.Repeat([]byte{0xA5}, int(in[1]))
		var pending pendingOutput
		runs := 0
		run := func() ([]byte, error) { runs++; return result, nil }
		for _, c := range in[2:] {
			null := c == 0xFF
			capacity := uint(c)
			size := capacity
			var buf []byte
			if !null {
				buf = make([]byte, capacity)
			}
			before := runs
			done, err := produce(&pending, stageSingle, outBuf{buf: buf, null: null, size: &size}, hint, run)
			if runs > 1 {
				t.Fatalf("operation ran %d times", runs)
			}
			if null && hint >= len(result) && hint > 0 && runs > before {
				t.Fatalf("a length query with a sufficient hint (%d) ran the operation", hint)
			}
			switch {
			case err == CKR_BUFFER_TOO_SMALL:
				if null || size <= capacity {
					t.Fatalf("CKR_BUFFER_TOO_SMALL with capacity %d, size %d", capacity, size)
				}
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			case done:
				if !bytes.Equal(buf[:size], result) {
					t.Fatalf("delivered %x, want %x", buf[:size], result)
				}
				return // the operation is over
			case null:
				if hint >= len(result) && size < uint(len(result)) {
					t.Fatalf("length query answered %d for a %d-byte result", size, len(result))
				}
			default:
				t.Fatalf("a non-NULL buffer neither filled nor too small")
			}
		}
	})
}

// FuzzPadCopy checks fixed-width fields: always full, blank-padded, a
// prefix of the input, and valid UTF-8 when the input is.
func FuzzPadCopy(f *testing.F) {
	for _, s := range []string{"", "SoftHSM", "Öffentlicher Schlüssel für 😀 Karte", "\xff\xfe", "€€€€€€€€€€€€"} {
		f.Add(s, uint8(32))
	}
	f.Fuzz(func(t *testing.T, s string, n uint8) {
		dst := make([]byte, n)
		padCopy(dst, s)
		content := bytes.TrimRight(dst, " ")
		if !bytes.HasPrefix([]byte(s), content) {
			t.Fatalf("field %q is not a prefix of %q", dst, s)
		}
		if len(bytes.Trim(dst[len(content):], " ")) != 0 {
			t.Fatalf("padding of %q is not blanks", dst)
		}
		if utf8.ValidString(s) && !utf8.Valid(dst) {
			t.Fatalf("field %q is not valid UTF-8", dst)
		}
	})
}
