package loadfile

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	f := File{
		PackageAID: []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00},
		AppletAID:  []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00},
		Major:      1, Minor: 4, BuildID: 0x5875566E,
		FillerSize: 3000,
	}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := f.Encode()
	if !bytes.Equal(b, b2) {
		t.Error("encoding is not deterministic")
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, i := range []int{0, 9, len(b) / 2, len(b) - 1} {
		bad := append([]byte(nil), b...)
		bad[i] ^= 1
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("flipped byte %d: err = %v", i, err)
		}
	}
	if _, err := Parse(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	good, _ := File{PackageAID: []byte{1, 2, 3, 4, 5}, AppletAID: []byte{1, 2, 3, 4, 5, 6}, FillerSize: 40}.Encode()
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		lf, err := Parse(b)
		if err != nil {
			return
		}
		again, err := lf.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a file that does not re-encode to itself: %v", err)
		}
	})
}
