package tps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestMessageReaderIgnoresChunkBoundaries(t *testing.T) {
	msgs := []Message{
		StatusUpdateRequest{Percent: 10, Task: TaskProcessProfile},
		TokenPDURequest{APDU: []byte{0x00, 0xA4, 0x04, 0x00, 0x00}},
		EndOp{Op: OpEnroll},
	}
	var stream []byte
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	// Deliver the stream one byte per read: framing must come from "s=".
	r := NewMessageReader(&oneByteReader{data: stream}, 0)
	for i, want := range msgs {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.Type() != want.Type() {
			t.Errorf("message %d: got %v want %v", i, got.Type(), want.Type())
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
}

func TestMessageReaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		max    int
		frame  bool // want a *FrameError
		wantIs error
	}{
		{"not s=", "x=3&abc", 0, true, nil},
		{"s without =", "s:3&abc", 0, true, nil},
		{"non-digit length", "s=1a&", 0, true, nil},
		{"empty length", "s=&abc", 0, true, nil},
		{"too many digits", "s=00001&a", 0, true, nil},
		{"over the limit", "s=10000&", 0, true, nil},
		{"over a custom limit", "s=20&", 10, true, nil},
		{"eof in length", "s=12", 0, false, io.ErrUnexpectedEOF},
		{"eof in body", "s=12&msg_type=", 0, false, io.ErrUnexpectedEOF},
		{"eof after s", "s", 0, false, io.ErrUnexpectedEOF},
		{"clean eof", "", 0, false, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMessageReader(strings.NewReader(tt.in), tt.max).ReadRaw()
			var fe *FrameError
			if tt.frame != errors.As(err, &fe) {
				t.Fatalf("err = %v, want FrameError=%v", err, tt.frame)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
		})
	}
}

// The chunk writer must put exactly one message in each chunk, and a
// standard chunked reader must get the messages back.
func TestChunkWriterOneMessagePerChunk(t *testing.T) {
	var buf bytes.Buffer
	cw := NewChunkWriter(&buf)
	msgs := []Message{
		BeginOp{Op: OpFormat, Extensions: Extensions{{ExtTokenType, "userKey"}}},
		TokenPDUResponse{Response: bytes.Repeat([]byte{0xAB}, 255+2)},
		StatusUpdateResponse{Percent: 50},
	}
	for _, m := range msgs {
		if err := cw.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}

	// Walk the raw chunks.
	br := bufio.NewReader(bytes.NewReader(buf.Bytes()))
	for i, m := range msgs {
		want, _ := Encode(m)
		var n int
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscanf(strings.TrimSuffix(line, "\r\n"), "%x", &n); err != nil {
			t.Fatalf("chunk %d header %q: %v", i, line, err)
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(chunk[:n], want) || string(chunk[n:]) != "\r\n" {
			t.Errorf("chunk %d = %q, want exactly %q", i, chunk, want)
		}
	}
	if rest, _ := io.ReadAll(br); string(rest) != "0\r\n\r\n" {
		t.Errorf("after the messages: %q, want the last chunk", rest)
	}

	// And the standard library's de-chunker plus our reader agree.
	r := NewMessageReader(httputil.NewChunkedReader(bytes.NewReader(buf.Bytes())), 0)
	for i := range msgs {
		if _, err := r.Read(); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}

func TestWriteRequestHeaderRefusesInjection(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteRequestHeader(&buf, "tps.example:443", "/tps/tps", "coolkey-go"); err != nil {
		t.Fatal(err)
	}
	want := "POST /tps/tps HTTP/1.1\r\nHost: tps.example:443\r\nUser-Agent: coolkey-go\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
	if buf.String() != want {
		t.Errorf("header = %q", buf.String())
	}
	for _, bad := range [][3]string{
		{"h\r\nX-Evil: 1", "/tps/tps", "a"},
		{"h", "/tps\n", "a"},
		{"h", "tps", "a"},
		{"", "/tps/tps", "a"},
	} {
		if err := WriteRequestHeader(io.Discard, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("WriteRequestHeader(%q) accepted", bad)
		}
	}
}

type oneByteReader struct{ data []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}
