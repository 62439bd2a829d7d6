package smtpsink

import (
	"bytes"
	"io"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// Go's own SMTP client sends a message with a dot-stuffed line; the sink
// hands over the original.
func TestNetSMTPClient(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := "Subject: hi\r\n\r\n.leading dot\r\nline\r\n"
	if err := smtp.SendMail(s.Addr().String(), nil, "a@example.org", []string{"b@example.org", "c@example.org"}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-s.Messages:
		if m.From != "a@example.org" || strings.Join(m.To, ",") != "b@example.org,c@example.org" {
			t.Errorf("envelope %q -> %q", m.From, m.To)
		}
		if string(m.Data) != body {
			t.Errorf("data %q, want %q", m.Data, body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}

// conn is an in-memory stream: the client's script in, the replies out.
type conn struct {
	in  io.Reader
	out bytes.Buffer
}

func (c *conn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *conn) Write(p []byte) (int, error) { return c.out.Write(p) }

func session(script string) (replies []string, msgs []Message, err error) {
	c := &conn{in: strings.NewReader(script)}
	err = NewSession(c, func(m Message) error { msgs = append(msgs, m); return nil }).Serve()
	for _, l := range strings.Split(strings.TrimSuffix(c.out.String(), "\r\n"), "\r\n") {
		replies = append(replies, l[:3])
	}
	return replies, msgs, err
}

func TestSessionReplies(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         string // reply codes after the greeting, space-separated
		msgs         int
	}{
		{"happy", "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n", "250 250 250 354 250 221", 1},
		{"ehlo and bare addresses", "EHLO x\r\nMAIL FROM: a@b SIZE=10\r\nRCPT TO: c@d\r\nDATA\r\n.\r\nQUIT\r\n", "250 250 250 250 250 250 354 250 221", 1},
		{"null sender", "HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\nQUIT\r\n", "250 250 250 354 250 221", 1},
		{"order", "MAIL FROM:<a@b>\r\nHELO x\r\nRCPT TO:<c@d>\r\nDATA\r\nQUIT\r\n", "503 250 503 503 221", 0},
		{"nested mail", "HELO x\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nQUIT\r\n", "250 250 503 221", 0},
		{"bad paths", "HELO x\r\nMAIL FROM:<a@b\r\nMAIL TO:<a@b>\r\nMAIL FROM:<a@b>\r\nRCPT TO:<>\r\nQUIT\r\n", "250 501 501 250 501 221", 0},
		{"rset", "HELO x\r\nMAIL FROM:<a@b>\r\nRSET\r\nRCPT TO:<c@d>\r\nNOOP\r\nVRFY x\r\nQUIT\r\n", "250 250 250 503 250 502 221", 0},
		{"eof in data", "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nunfinished\r\n", "250 250 250 354", 0},
		{"long line", "HELO " + strings.Repeat("x", MaxLine) + "\r\n", "500", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replies, msgs, _ := session(tc.script)
			if replies[0] != "220" {
				t.Fatalf("greeting %v", replies)
			}
			got := replies[1:]
			// EHLO answers in four lines, each counted.
			if strings.Join(got, " ") != tc.want {
				t.Errorf("replies %v, want %s", got, tc.want)
			}
			if len(msgs) != tc.msgs {
				t.Errorf("%d messages, want %d", len(msgs), tc.msgs)
			}
		})
	}
}

func TestMessageTooLarge(t *testing.T) {
	line := strings.Repeat("y", 1000) + "\r\n"
	script := "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + strings.Repeat(line, MaxMessage/len(line)+1) + ".\r\n"
	replies, msgs, err := session(script)
	if err != errTooBig || len(msgs) != 0 || replies[len(replies)-1] != "552" {
		t.Errorf("err %v, %d messages, replies %v", err, len(msgs), replies[len(replies)-3:])
	}
}

func FuzzSession(f *testing.F) {
	f.Add("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n..x\r\n.\r\nQUIT\r\n")
	f.Add("EHLO x\nMAIL FROM: <>\nRCPT TO:c@d\nDATA\n.\n")
	f.Fuzz(func(t *testing.T, script string) {
		_, msgs, _ := session(script)
		for _, m := range msgs {
			if len(m.Data) > MaxMessage || len(m.To) == 0 || len(m.To) > MaxRecipients {
				t.Fatalf("message beyond limits: %d bytes, %d recipients", len(m.Data), len(m.To))
			}
			// Lines are handed over with CRLF ends and nothing else.
			if len(m.Data) > 0 && !bytes.HasSuffix(m.Data, []byte("\r\n")) {
				t.Fatalf("data does not end in CRLF: %q", m.Data)
			}
			if n := bytes.Count(m.Data, []byte("\n")); n != bytes.Count(m.Data, []byte("\r\n")) {
				t.Fatalf("bare LF in %q", m.Data)
			}
		}
	})
}
