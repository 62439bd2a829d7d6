package framing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	payloads := [][]byte{{GetATR}, {}, bytes.Repeat([]byte{0xAB}, 300), make([]byte, MaxPayload)}
	for _, p := range payloads {
		if err := WriteFrame(&buf, p); err != nil {
			t.Fatal(err)
		}
	}
	wire := append([]byte(nil), buf.Bytes()...)
	if !bytes.Equal(wire[:3], []byte{0, 1, GetATR}) || !bytes.Equal(wire[3:5], []byte{0, 0}) || !bytes.Equal(wire[5:7], []byte{0x01, 0x2C}) {
		t.Errorf("wire starts %X", wire[:7])
	}
	for i, want := range payloads {
		got, err := ReadFrame(&buf)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, %v", i, len(got), err)
		}
	}
	if _, err := ReadFrame(&buf); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 5, 1, 2})); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated payload: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0})); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated length: %v", err)
	}
	if err := WriteFrame(io.Discard, make([]byte, MaxPayload+1)); !errors.Is(err, ErrFrame) {
		t.Errorf("oversized payload: %v", err)
	}
	// DecodeFrame walks the same bytes.
	rest := wire
	for i, want := range payloads {
		var got []byte
		var err error
		got, rest, err = DecodeFrame(rest)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("DecodeFrame %d: %v", i, err)
		}
	}
	if _, r, err := DecodeFrame([]byte{0, 3, 1}); err != io.ErrUnexpectedEOF || len(r) != 3 {
		t.Errorf("DecodeFrame truncated: %v", err)
	}
}

// countingWriter records how many Write calls a frame takes.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n++; return len(p), nil }

func TestWriteFrameIsOneWrite(t *testing.T) {
	var w countingWriter
	WriteFrame(&w, []byte{0xB0, 0x71, 0, 0})
	if w.n != 1 {
		t.Errorf("%d writes for one frame", w.n)
	}
}

func TestState(t *testing.T) {
	for _, s := range []State{{}, {Present: true, Counter: 0xDEADBEEF}} {
		got, err := ParseState(s.Encode())
		if err != nil || got != s {
			t.Errorf("round trip %+v → %+v %v", s, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1, 0, 0, 0}, {2, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0}} {
		if _, err := ParseState(bad); !errors.Is(err, ErrFrame) {
			t.Errorf("ParseState(%X): %v", bad, err)
		}
	}
}

func TestTuneConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := TuneConn(c); err != nil {
		t.Errorf("TuneConn: %v", err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := TuneConn(a); err != nil {
		t.Errorf("TuneConn on a pipe: %v", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 1, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		var n int
		for {
			p, err := ReadFrame(r)
			if err != nil {
				break
			}
			n += 2 + len(p)
		}
		// DecodeFrame agrees with ReadFrame on how much is whole frames.
		rest := b
		var m int
		for {
			p, r2, err := DecodeFrame(rest)
			if err != nil {
				break
			}
			m += 2 + len(p)
			rest = r2
		}
		if n != m {
			t.Fatalf("ReadFrame consumed %d, DecodeFrame %d", n, m)
		}
	})
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseState(b)
		if err == nil && !bytes.Equal(s.Encode(), b) {
			t.Fatalf("state round trip %X", b)
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz; COOLKEY_WRITE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("COOLKEY_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set COOLKEY_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	var stream []byte
	for _, p := range [][]byte{{PowerOn}, {GetATR}, {0xB0, 0x71, 0, 0}, {}, State{Present: true, Counter: 3}.Encode()} {
		stream, _ = AppendFrame(stream, p)
	}
	seeds := map[string][][]byte{
		"FuzzReadFrame":  {stream, stream[:len(stream)-1], {0xFF, 0xFF, 1}},
		"FuzzParseState": {State{Present: true, Counter: 1}.Encode(), {0, 0, 0, 0, 0}},
	}
	for target, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		os.MkdirAll(dir, 0o755)
		for i, s := range list {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
