// Package smtpsink is a tiny SMTP server for tests: it accepts every
// message sent to it over plain SMTP (RFC 5321, no authentication, no
// STARTTLS) on a local address and hands each one to the test, so a mail
// client's real send path can be checked end to end.
package smtpsink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Limits on what a client may send; larger input ends the session.
const (
	MaxLine       = 4096     // one command or message line, CRLF included
	MaxMessage    = 16 << 20 // one message
	MaxRecipients = 100
)

// Message is one message as received.
type Message struct {
	From string   // MAIL FROM address, without brackets
	To   []string // RCPT TO addresses
	Data []byte   // the message, CRLF line ends, dot-unstuffed
}

// Sink is a running SMTP server.
type Sink struct {
	ln       net.Listener
	Messages chan Message
	wg       sync.WaitGroup
	// Timeout bounds a session's idle time between lines.
	timeout time.Duration
}

// Listen starts a sink on addr (e.g. "127.0.0.1:0"). Received messages
// arrive on Messages, which has room for 16; a session whose message
// cannot be delivered within its timeout is answered with a temporary
// error.
func Listen(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln, Messages: make(chan Message, 16), timeout: 30 * time.Second}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the sink listens on.
func (s *Sink) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// Close stops accepting and waits for open sessions to end.
func (s *Sink) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Sink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			sess := &Session{rw: c, deliver: s.deliver, deadline: func() {
				c.SetDeadline(time.Now().Add(s.timeout))
			}}
			sess.Serve()
		}()
	}
}

func (s *Sink) deliver(m Message) error {
	select {
	case s.Messages <- m:
		return nil
	case <-time.After(s.timeout):
		return errors.New("no one is reading messages")
	}
}

// Session is one SMTP conversation over rw. It is exported so it can be
// driven over any stream (tests and fuzzing use in-memory ones).
type Session struct {
	rw       io.ReadWriter
	deliver  func(Message) error
	deadline func() // called before each read; may be nil

	r    *bufio.Reader
	w    *bufio.Writer
	helo bool
	from *string
	to   []string
}

// NewSession returns a session that calls deliver for each message.
func NewSession(rw io.ReadWriter, deliver func(Message) error) *Session {
	return &Session{rw: rw, deliver: deliver}
}

// errLineTooLong ends a session whose client sends an overlong line.
var errLineTooLong = errors.New("smtpsink: line too long")

// readLine reads one CRLF- (or LF-) terminated line, without the line end.
func (s *Session) readLine() (string, error) {
	if s.deadline != nil {
		s.deadline()
	}
	var line []byte
	for {
		frag, err := s.r.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > MaxLine {
			return "", errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return string(line), nil
}

func (s *Session) reply(code int, text string) error {
	fmt.Fprintf(s.w, "%d %s\r\n", code, text)
	return s.w.Flush()
}

// Serve runs the conversation until QUIT, a read error or a protocol
// violation that leaves the stream unusable.
func (s *Session) Serve() error {
	s.r = bufio.NewReaderSize(s.rw, MaxLine)
	s.w = bufio.NewWriter(s.rw)
	if err := s.reply(220, "smtpsink ESMTP ready"); err != nil {
		return err
	}
	for {
		line, err := s.readLine()
		if err != nil {
			if err == errLineTooLong {
				s.reply(500, "line too long")
			}
			return err
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "HELO":
			s.helo, s.from, s.to = true, nil, nil
			err = s.reply(250, "smtpsink")
		case "EHLO":
			s.helo, s.from, s.to = true, nil, nil
			fmt.Fprintf(s.w, "250-smtpsink\r\n250-8BITMIME\r\n250-SIZE %d\r\n", MaxMessage)
			err = s.reply(250, "SMTPUTF8")
		case "MAIL":
			addr, ok := pathArg(arg, "FROM:")
			switch {
			case !s.helo:
				err = s.reply(503, "send HELO or EHLO first")
			case s.from != nil:
				err = s.reply(503, "nested MAIL command")
			case !ok:
				err = s.reply(501, "syntax: MAIL FROM:<address>")
			default:
				s.from = &addr
				err = s.reply(250, "sender ok")
			}
		case "RCPT":
			addr, ok := pathArg(arg, "TO:")
			switch {
			case s.from == nil:
				err = s.reply(503, "need MAIL first")
			case !ok || addr == "":
				err = s.reply(501, "syntax: RCPT TO:<address>")
			case len(s.to) >= MaxRecipients:
				err = s.reply(452, "too many recipients")
			default:
				s.to = append(s.to, addr)
				err = s.reply(250, "recipient ok")
			}
		case "DATA":
			if s.from == nil || len(s.to) == 0 {
				err = s.reply(503, "need MAIL and RCPT first")
				break
			}
			if err = s.reply(354, "end with <CRLF>.<CRLF>"); err != nil {
				return err
			}
			var data []byte
			if data, err = s.readData(); err != nil {
				if err == errTooBig || err == errLineTooLong {
					s.reply(552, "message too large")
				}
				return err
			}
			m := Message{From: *s.from, To: s.to, Data: data}
			s.from, s.to = nil, nil
			if derr := s.deliver(m); derr != nil {
				err = s.reply(451, "cannot take the message now")
			} else {
				err = s.reply(250, "message accepted")
			}
		case "RSET":
			s.from, s.to = nil, nil
			err = s.reply(250, "reset")
		case "NOOP":
			err = s.reply(250, "ok")
		case "QUIT":
			s.reply(221, "bye")
			return nil
		default:
			err = s.reply(502, "command not implemented")
		}
		if err != nil {
			return err
		}
	}
}

var errTooBig = errors.New("smtpsink: message too large")

// readData reads message lines up to the lone dot, undoing dot-stuffing.
func (s *Session) readData() ([]byte, error) {
	var buf bytes.Buffer
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, err
		}
		if line == "." {
			return buf.Bytes(), nil
		}
		line = strings.TrimPrefix(line, ".")
		if buf.Len()+len(line)+2 > MaxMessage {
			return nil, errTooBig
		}
		buf.WriteString(line)
		buf.WriteString("\r\n")
	}
}

// pathArg parses "FROM:<addr> [params]" (or TO:), accepting a space after
// the colon and a bare address as clients do. The null path <> is allowed
// (for MAIL) and gives "".
func pathArg(arg, keyword string) (string, bool) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(keyword):])
	if strings.HasPrefix(rest, "<") {
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return "", false
		}
		addr := rest[1:end]
		if strings.ContainsAny(addr, "<> \t") {
			return "", false
		}
		return addr, true
	}
	addr, _, _ := strings.Cut(rest, " ")
	if addr == "" || strings.ContainsAny(addr, "<>") {
		return "", false
	}
	return addr, true
}
