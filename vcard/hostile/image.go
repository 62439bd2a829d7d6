package hostile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// A Z0Fault rewrites the bytes of a combined object z0.
type Z0Fault func(z0 []byte) ([]byte, error)

// WithZ0 returns a copy of img whose z0 is rewritten by f, with the applet
// heap grown (up to the applet's maximum) to hold it. img is not changed.
func WithZ0(img *vcard.Image, f Z0Fault) (*vcard.Image, error) {
	b, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	out, err := vcard.ParseImage(b)
	if err != nil {
		return nil, err
	}
	if out.Applet == nil {
		return nil, errors.New("hostile: the image has no applet")
	}
	for i := range out.Applet.Objects {
		o := &out.Applet.Objects[i]
		if uint32(o.ID) != uint32(cardedge.CombinedObjectID) {
			continue
		}
		z0, err := f(o.Data)
		if err != nil {
			return nil, err
		}
		if len(z0) > cardedge.MaxObjectSize {
			return nil, fmt.Errorf("hostile: a %d-byte z0 does not fit an applet object", len(z0))
		}
		out.Applet.HeapSize = min(out.Applet.HeapSize+max(0, len(z0)-len(o.Data)), cardedge.MaxObjectSize)
		o.Data = z0
		return out, nil
	}
	return nil, errors.New("hostile: the image has no z0")
}

// header returns z0's header with the object version moved on, so that no
// cache entry of the original can stand in for the rewritten object.
func header(z0 []byte) (cardedge.CombinedHeader, error) {
	h, err := cardedge.ParseCombinedHeader(z0)
	if err != nil {
		return h, err
	}
	h.ObjectVersion++
	return h, nil
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func withData(h cardedge.CombinedHeader, stored []byte) []byte {
	h.DataOffset = cardedge.CombinedHeaderSize
	h.DataSize = uint16(len(stored))
	out := append(h.Encode(), stored...)
	if len(out) < cardedge.MinCombinedSize {
		out = append(out, make([]byte, cardedge.MinCombinedSize-len(out))...)
	}
	return out
}

// Z0Bomb replaces the data with a zlib stream that inflates to inflated
// bytes: a block header claiming 0xFFFF records, then zeros. 30 MiB
// compress to about 30 KiB, which still fits an applet object.
func Z0Bomb(inflated int) Z0Fault {
	return func(z0 []byte) ([]byte, error) {
		h, err := header(z0)
		if err != nil {
			return nil, err
		}
		block := make([]byte, inflated)
		copy(block, []byte{0x00, 0x05, 0xFF, 0xFF, 0x00})
		h.Compression = cardedge.CompressionZlib
		return withData(h, deflate(block)), nil
	}
}

// Z0Truncate cuts the object after keep bytes while the header still claims
// the whole data: the host must not read past the object or trust the
// header's size.
func Z0Truncate(keep int) Z0Fault {
	return func(z0 []byte) ([]byte, error) {
		h, err := header(z0)
		if err != nil {
			return nil, err
		}
		out := append(h.Encode(), z0[cardedge.CombinedHeaderSize:]...)
		return out[:min(max(keep, cardedge.CombinedHeaderSize), len(out))], nil
	}
}

// Z0CutStream keeps the header honest about the size but ends the zlib
// stream after keep of its bytes (no checksum, unfinished blocks).
func Z0CutStream(keep int) Z0Fault {
	return func(z0 []byte) ([]byte, error) {
		h, err := header(z0)
		if err != nil {
			return nil, err
		}
		stored := z0[h.DataOffset:min(h.Size(), len(z0))]
		return withData(h, stored[:min(keep, len(stored))]), nil
	}
}

// Z0Oversize claims 0xFFFF bytes of data in the header, far more than the
// object holds, and the largest data offset.
func Z0Oversize() Z0Fault {
	return func(z0 []byte) ([]byte, error) {
		h, err := header(z0)
		if err != nil {
			return nil, err
		}
		h.DataSize = 0xFFFF
		h.DataOffset = 0xFFFF
		return append(h.Encode(), z0[cardedge.CombinedHeaderSize:]...), nil
	}
}

// Z0Garbage replaces the data with a valid zlib stream of n pseudo-random
// bytes (seeded, so a failure can be replayed): records that parse as
// nonsense.
func Z0Garbage(n int, seed uint64) Z0Fault {
	return func(z0 []byte) ([]byte, error) {
		h, err := header(z0)
		if err != nil {
			return nil, err
		}
		r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
		block := make([]byte, n)
		for i := range block {
			block[i] = byte(r.Uint32())
		}
		// A plausible block header, so that the records themselves
		// are what the host has to survive.
		copy(block, []byte{0x00, 0x05, 0x00, 0x10, 0x00})
		h.Compression = cardedge.CompressionZlib
		return withData(h, deflate(block)), nil
	}
}

// Z0LyingRecords keeps the token name but replaces the records with one
// whose attribute claims to be 0xFFFF bytes long, past the end of the
// block, and a record count of 0xFFFF.
func Z0LyingRecords() Z0Fault {
	return func(z0 []byte) ([]byte, error) {
		h, err := header(z0)
		if err != nil {
			return nil, err
		}
		block := []byte{0x00, 0x05, 0xFF, 0xFF, 0x00}
		block = binary.BigEndian.AppendUint32(block, 0x6B300000) // k0
		block = binary.BigEndian.AppendUint32(block, 0)
		block = binary.BigEndian.AppendUint16(block, 1)
		block = binary.BigEndian.AppendUint32(block, 0x00000003) // CKA_LABEL
		block = append(block, 0x00)                              // string
		block = binary.BigEndian.AppendUint16(block, 0xFFFF)
		block = append(block, "short"...)
		h.Compression = cardedge.CompressionZlib
		return withData(h, deflate(block)), nil
	}
}
