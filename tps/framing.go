package tps

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxMessageSize is the Java TPS's default limit on a message body
// (tps.connection.maxMessageSize).
const DefaultMaxMessageSize = 9999

// MaxClientChunk is the largest chunk the ESC would send; the Java TPS
// accepts more, but a client that stays under it works with either.
const MaxClientChunk = 4096

// FrameError reports a byte stream that does not hold "s=<N>&<N bytes>".
type FrameError struct{ Reason string }

func (e *FrameError) Error() string { return "tps: bad message framing: " + e.Reason }

// MessageReader reads messages from a de-chunked HTTP body, framing each by
// its "s=<N>&" prefix as the Java TPS does, so chunk boundaries do not
// matter.
type MessageReader struct {
	br        *bufio.Reader
	max       int
	maxDigits int
}

// NewMessageReader reads from r, refusing bodies over maxSize bytes
// (DefaultMaxMessageSize when maxSize ≤ 0).
func NewMessageReader(r io.Reader, maxSize int) *MessageReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &MessageReader{br: br, max: maxSize, maxDigits: len(strconv.Itoa(maxSize))}
}

// ReadRaw returns the next message's bytes, "s=<N>&" included. At a clean
// end of stream (between messages) it returns io.EOF; inside a message,
// io.ErrUnexpectedEOF.
func (r *MessageReader) ReadRaw() ([]byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return nil, err
	}
	if c != 's' {
		return nil, &FrameError{Reason: "message does not start with \"s=\""}
	}
	if c, err = r.br.ReadByte(); err != nil {
		return nil, unexpected(err)
	}
	if c != '=' {
		return nil, &FrameError{Reason: "message does not start with \"s=\""}
	}
	n, digits := 0, 0
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		if c == '&' {
			break
		}
		if c < '0' || c > '9' {
			return nil, &FrameError{Reason: "length is not a decimal number"}
		}
		if digits++; digits > r.maxDigits {
			return nil, &FrameError{Reason: "length too long"}
		}
		n = n*10 + int(c-'0')
	}
	if digits == 0 {
		return nil, &FrameError{Reason: "empty length"}
	}
	if n > r.max {
		return nil, &FrameError{Reason: fmt.Sprintf("message of %d bytes exceeds the limit of %d", n, r.max)}
	}
	head := "s=" + strconv.Itoa(n) + "&"
	buf := make([]byte, len(head)+n)
	copy(buf, head)
	if _, err := io.ReadFull(r.br, buf[len(head):]); err != nil {
		return nil, unexpected(err)
	}
	return buf, nil
}

// Read returns the next message, decoded.
func (r *MessageReader) Read() (Message, error) {
	raw, err := r.ReadRaw()
	if err != nil {
		return nil, err
	}
	return Decode(raw)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ChunkWriter writes each message as one HTTP/1.1 chunk and flushes it
// before returning, which is what lets a peer that splits at chunk
// boundaries (the ESC) and one that reads the "s=" length (the TPS) both
// see whole messages, and what makes the exchange full duplex.
type ChunkWriter struct {
	bw *bufio.Writer
}

// NewChunkWriter writes chunks to w.
func NewChunkWriter(w io.Writer) *ChunkWriter {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriter(w)
	}
	return &ChunkWriter{bw: bw}
}

// WriteMessage encodes m and sends it as one chunk.
func (c *ChunkWriter) WriteMessage(m Message) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	return c.WriteChunk(b)
}

// WriteChunk sends b as one chunk. An empty b would end the body, so it is
// refused.
func (c *ChunkWriter) WriteChunk(b []byte) error {
	if len(b) == 0 {
		return errors.New("tps: empty chunk")
	}
	fmt.Fprintf(c.bw, "%x\r\n", len(b))
	c.bw.Write(b)
	c.bw.WriteString("\r\n")
	return c.bw.Flush()
}

// Close writes the terminating zero-length chunk. It does not close the
// underlying writer.
func (c *ChunkWriter) Close() error {
	c.bw.WriteString("0\r\n\r\n")
	return c.bw.Flush()
}

// WriteRequestHeader writes the header of the client's POST, as the ESC
// sends it. The body follows as chunks.
func WriteRequestHeader(w io.Writer, host, path, userAgent string) error {
	for _, v := range []string{host, path, userAgent} {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] == 0x7f {
				return errors.New("tps: control character in request header value")
			}
		}
	}
	if host == "" || path == "" || path[0] != '/' {
		return errors.New("tps: request needs a host and an absolute path")
	}
	_, err := fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n",
		path, host, userAgent)
	return err
}
