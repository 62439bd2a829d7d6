// Package loadfile defines the synthetic applet load file the test TPS
// installs with GlobalPlatform LOAD, in place of the CoolKey applet's real
// .ijc file (which is not ours to ship). A virtual card that receives it
// can tell exactly which applet, and which version, it was asked to load.
//
// Layout (all integers big-endian):
//
//	"CKGO-LF1"                       magic, 8 bytes
//	len(package AID) ‖ package AID
//	len(applet AID)  ‖ applet AID
//	major ‖ minor ‖ build ID (4)     the applet version GET STATUS and
//	                                 GET BUILD ID will report
//	u16 n ‖ n filler bytes           stands in for the applet's code, so
//	                                 that loading takes several LOAD blocks
//	SHA-256 of everything above      32 bytes
//
// The TPS sends it, like any load file, behind a C4 tag and a BER length,
// cut into LOAD blocks.
package loadfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

const magic = "CKGO-LF1"

// MaxSize bounds the files Parse accepts.
const MaxSize = 64 << 10

// File is a synthetic load file.
type File struct {
	PackageAID []byte
	AppletAID  []byte
	Major      byte
	Minor      byte
	BuildID    uint32
	// FillerSize is the size of the stand-in code.
	FillerSize int
}

// ErrMalformed is returned by Parse for anything that is not a load file
// made by Encode.
var ErrMalformed = errors.New("loadfile: not a coolkey-go synthetic load file")

// Encode returns the file's bytes. The filler is deterministic, so the
// same File always encodes to the same bytes.
func (f File) Encode() ([]byte, error) {
	if len(f.PackageAID) < 5 || len(f.PackageAID) > 16 || len(f.AppletAID) < 5 || len(f.AppletAID) > 16 {
		return nil, fmt.Errorf("loadfile: AIDs must be 5 to 16 bytes")
	}
	if f.FillerSize < 0 || f.FillerSize > MaxSize-128 {
		return nil, fmt.Errorf("loadfile: filler size %d out of range", f.FillerSize)
	}
	var b bytes.Buffer
	b.WriteString(magic)
	b.WriteByte(byte(len(f.PackageAID)))
	b.Write(f.PackageAID)
	b.WriteByte(byte(len(f.AppletAID)))
	b.Write(f.AppletAID)
	b.WriteByte(f.Major)
	b.WriteByte(f.Minor)
	binary.Write(&b, binary.BigEndian, f.BuildID)
	binary.Write(&b, binary.BigEndian, uint16(f.FillerSize))
	// Filler: a SHA-256 chain seeded by the header, so it looks like
	// code (no long runs a compressor or a lazy card could shortcut).
	seed := sha256.Sum256(b.Bytes())
	for n := 0; n < f.FillerSize; {
		take := min(len(seed), f.FillerSize-n)
		b.Write(seed[:take])
		n += take
		seed = sha256.Sum256(seed[:])
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

// Parse checks and decodes a load file.
func Parse(b []byte) (File, error) {
	if len(b) > MaxSize || len(b) < len(magic)+1+5+1+5+6+2+32 || string(b[:len(magic)]) != magic {
		return File{}, ErrMalformed
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return File{}, fmt.Errorf("%w: checksum mismatch", ErrMalformed)
	}
	p := body[len(magic):]
	var f File
	var ok bool
	if f.PackageAID, p, ok = lv(p); !ok {
		return File{}, ErrMalformed
	}
	if f.AppletAID, p, ok = lv(p); !ok {
		return File{}, ErrMalformed
	}
	if len(p) < 8 {
		return File{}, ErrMalformed
	}
	f.Major, f.Minor = p[0], p[1]
	f.BuildID = binary.BigEndian.Uint32(p[2:6])
	f.FillerSize = int(binary.BigEndian.Uint16(p[6:8]))
	if len(p[8:]) != f.FillerSize {
		return File{}, fmt.Errorf("%w: filler length", ErrMalformed)
	}
	return f, nil
}

func lv(p []byte) (v, rest []byte, ok bool) {
	if len(p) < 1 || len(p) < 1+int(p[0]) || p[0] < 5 || p[0] > 16 {
		return nil, nil, false
	}
	n := int(p[0])
	return append([]byte(nil), p[1:1+n]...), p[1+n:], true
}
