package tps

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode: no input makes Decode panic, and whatever decodes and
// re-encodes decodes to the same message.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"s=41&msg_type=13&operation=5&result=0&message=0",
		"s=37&msg_type=10&pdu_size=2&pdu_data=%90%00",
		"s=26&msg_type=12&new_pin=a+b%41",
		"s=42&msg_type=17&UID=jdoe&PASSWORD=s3cr3t%21",
		"s=118&msg_type=2&operation=1&extensions=tokenType%3DuserKey%26clientVersion%3Dcoolkey-go+1.0%7Erc*%26statusUpdate%3Dtrue",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		_ = m.(interface{ String() string }).String()
		enc, err := Encode(m)
		if err != nil {
			return // decoding is more lenient than encoding, by design
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(m)) for %v: %v", m.Type(), err)
		}
		if diff := cmp.Diff(m, back); diff != "" {
			t.Fatalf("round trip of %v (-first +second):\n%s", m.Type(), diff)
		}
	})
}

// FuzzMessageReader: framing arbitrary bytes never panics or returns more
// than the limit.
func FuzzMessageReader(f *testing.F) {
	f.Add([]byte("s=41&msg_type=13&operation=5&result=0&message=0s=30&msg_type=15&current_state=10"), 100)
	f.Add([]byte("s=9999&"), 0)
	f.Add([]byte("s=&"), 5)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max > 1<<20 || max < -1 {
			return
		}
		r := NewMessageReader(bytes.NewReader(b), max)
		limit := max
		if limit <= 0 {
			limit = DefaultMaxMessageSize
		}
		for i := 0; i < 1000; i++ {
			raw, err := r.ReadRaw()
			if err != nil {
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
					var fe *FrameError
					if !errors.As(err, &fe) {
						t.Fatalf("unexpected error type %T: %v", err, err)
					}
				}
				return
			}
			if len(raw) > limit+len("s=&")+len("99999999") {
				t.Fatalf("message of %d bytes over limit %d", len(raw), limit)
			}
		}
	})
}

// FuzzParseServiceInfo: no document makes the parser panic, and what it
// accepts survives Marshal and a second parse.
func FuzzParseServiceInfo(f *testing.F) {
	f.Add([]byte(dogtagPhoneHome))
	f.Add([]byte(`<ServiceInfo><IssuerName>x</IssuerName><Services><Operation>u</Operation></Services></ServiceInfo>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		si, err := ParseServiceInfo(b)
		if err != nil {
			return
		}
		if !utf8.ValidString(si.IssuerName) {
			return
		}
		for _, p := range si.Services {
			if !utf8.ValidString(p.Value) {
				return
			}
		}
		out, err := si.Marshal()
		if err != nil {
			return // element names Marshal will not write
		}
		back, err := ParseServiceInfo(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if diff := cmp.Diff(si, back); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
