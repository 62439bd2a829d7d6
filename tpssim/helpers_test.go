package tpssim

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/tps"
)

const (
	testUser     = "jdoe"
	testPassword = "correct horse"
)

// newTestServer starts a plain-HTTP test TPS with one user.
func newTestServer(t *testing.T, mod func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	users := NewUsers()
	if err := users.Add(testUser, testPassword); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		StateDir:       t.TempDir(),
		Users:          users,
		PlainHTTP:      true,
		MessageTimeout: 10 * time.Second,
		KeySize:        1024,
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		hs.CloseClientConnections()
		srv.Wait()
	})
	return srv, hs
}

// rawClient speaks the protocol by hand so tests control every byte.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	cw   *tps.ChunkWriter
	resp *http.Response
	r    *tps.MessageReader
}

func dialOp(t *testing.T, hs *httptest.Server) *rawClient {
	t.Helper()
	u, _ := url.Parse(hs.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tps.WriteRequestHeader(conn, u.Host, PathOperation, "test"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	// The server must answer 200 before the client sends any message.
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	if err != nil {
		t.Fatalf("reading the response header before BEGIN_OP: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("response not chunked: %v", resp.TransferEncoding)
	}
	return &rawClient{t: t, conn: conn, cw: tps.NewChunkWriter(conn), resp: resp, r: tps.NewMessageReader(resp.Body, 0)}
}

func (c *rawClient) send(m tps.Message) {
	c.t.Helper()
	if err := c.cw.WriteMessage(m); err != nil {
		c.t.Fatalf("send %v: %v", m.Type(), err)
	}
}

func (c *rawClient) recv() tps.Message {
	c.t.Helper()
	m, err := c.r.Read()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return m
}

// expectEnd reads until END_OP (answering nothing) and checks it.
func (c *rawClient) expectEnd(op tps.Op, result int, st tps.Status) {
	c.t.Helper()
	m := c.recv()
	end, ok := m.(tps.EndOp)
	if !ok {
		c.t.Fatalf("got %v, want END_OP", m)
	}
	if end.Op != op || end.Result != result || end.Status != st {
		c.t.Fatalf("got %v, want operation=%d result=%d message=%v", end, op, result, st)
	}
	if _, err := c.r.Read(); err != io.EOF {
		c.t.Fatalf("after END_OP: %v, want the end of the body", err)
	}
}

// scriptedCard answers TOKEN_PDU_REQUESTs from a table of command
// prefixes, for tests that need the prologue but no real card.
type scriptedCard struct {
	answers []struct {
		prefix []byte
		resp   []byte
	}
	seen [][]byte
}

func (s *scriptedCard) on(prefix, resp []byte) *scriptedCard {
	s.answers = append(s.answers, struct{ prefix, resp []byte }{prefix, resp})
	return s
}

func (s *scriptedCard) answer(apdu []byte) []byte {
	s.seen = append(s.seen, apdu)
	for _, a := range s.answers {
		if bytes.HasPrefix(apdu, a.prefix) {
			return a.resp
		}
	}
	return []byte{0x6D, 0x00}
}

// blankCard is a card manager with CPLC and no CoolKey applet.
func blankCard() *scriptedCard {
	cuid, _ := cardedge.ParseCUID("4090614527C6240B192D")
	cplc := cardedge.CPLCForCUID(cuid)
	cm := []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00}
	fci := append([]byte{0x6F, byte(2 + len(cm)), 0x84, byte(len(cm))}, cm...)
	return new(scriptedCard).
		on([]byte{0x00, 0xA4, 0x04, 0x00, 0x00}, append(fci, 0x90, 0x00)).
		on(append([]byte{0x00, 0xA4, 0x04, 0x00, 0x07}, cm...), []byte{0x90, 0x00}).
		on([]byte{0x80, 0xCA, 0x9F, 0x7F}, append(cplc.Encode(), 0x90, 0x00)).
		on([]byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0x62, 0x76}, []byte{0x6A, 0x82})
}

// run answers requests (card, login, PIN, progress) until END_OP and
// returns it.
func (c *rawClient) run(card *scriptedCard, uid, password, pin string) tps.EndOp {
	c.t.Helper()
	for {
		m := c.recv()
		switch m := m.(type) {
		case tps.TokenPDURequest:
			c.send(tps.TokenPDUResponse{Response: card.answer(m.APDU)})
		case tps.ExtendedLoginRequest:
			c.send(tps.ExtendedLoginResponse{Params: []tps.Param{{Name: "UID", Value: uid}, {Name: "PASSWORD", Value: password}}})
		case tps.LoginRequest:
			c.send(tps.LoginResponse{ScreenName: uid, Password: password})
		case tps.NewPINRequest:
			c.send(tps.NewPINResponse{PIN: pin})
		case tps.StatusUpdateRequest:
			c.send(tps.StatusUpdateResponse{Percent: m.Percent})
		case tps.EndOp:
			return m
		default:
			c.t.Fatalf("unexpected %v", m)
		}
	}
}
