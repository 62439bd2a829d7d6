package tpssim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/tps"
)

func TestHTTPRules(t *testing.T) {
	_, hs := newTestServer(t, nil)
	resp, err := http.Get(hs.URL + PathOperation)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
	resp, err = http.Post(hs.URL+PathOperation, "text/plain", strings.NewReader("s=41&msg_type=13&operation=5&result=0&message=0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST with Content-Length: status %d, want 400", resp.StatusCode)
	}
}

func TestOpsTheJavaTPSDoesNotImplement(t *testing.T) {
	_, hs := newTestServer(t, nil)
	for _, op := range []tps.Op{tps.OpUnblock, tps.OpRenew, 0, 9} {
		c := dialOp(t, hs)
		c.send(tps.BeginOp{Op: op})
		c.expectEnd(op, tps.ResultError, tps.StatusOK)
	}
}

func TestMalformedOpening(t *testing.T) {
	_, hs := newTestServer(t, nil)

	c := dialOp(t, hs)
	c.send(tps.StatusUpdateResponse{Percent: 1})
	c.expectEnd(0, tps.ResultError, tps.StatusErrSNAC)

	c = dialOp(t, hs)
	c.cw.WriteChunk([]byte("hello, world"))
	c.expectEnd(0, tps.ResultError, tps.StatusErrSNAC)

	c = dialOp(t, hs)
	c.cw.WriteChunk([]byte("s=9999999&"))
	c.expectEnd(0, tps.ResultError, tps.StatusErrSNAC)

	c = dialOp(t, hs)
	c.cw.WriteChunk([]byte("s=15&msg_type=99&x=1"))
	c.expectEnd(0, tps.ResultError, tps.StatusErrSNAC)
}

func TestLoginFailures(t *testing.T) {
	for _, extended := range []bool{false, true} {
		t.Run(fmt.Sprintf("extended=%v", extended), func(t *testing.T) {
			srv, hs := newTestServer(t, nil)
			c := dialOp(t, hs)
			ext := tps.Extensions{{Name: tps.ExtTokenType, Value: "userKey"}, {Name: tps.ExtStatusUpdate, Value: "true"}}
			if extended {
				ext = append(ext, tps.Param{Name: tps.ExtExtendedLoginRequest, Value: "true"})
			}
			c.send(tps.BeginOp{Op: tps.OpFormat, Extensions: ext})
			end := c.run(blankCard(), testUser, "wrong password", "")
			if end.Result != tps.ResultError || end.Status != tps.StatusErrLogin {
				t.Fatalf("END_OP %v, want login failure", end)
			}
			// The card joined the database (unknown tokens are allowed)
			// and the failure is in the activity log, without the
			// password.
			if _, ok := srv.Store().Token("4090614527c6240b192d"); !ok {
				t.Error("card not recorded")
			}
			log, err := os.ReadFile(filepath.Join(srv.cfg.StateDir, activityFile))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(log), "wrong password") {
				t.Error("activity log contains the password")
			}
			var a Activity
			if err := json.Unmarshal([]byte(strings.Split(strings.TrimSpace(string(log)), "\n")[0]), &a); err != nil {
				t.Fatal(err)
			}
			if a.Result != "failure" || a.Status != int(tps.StatusErrLogin) || a.UserID != testUser || a.CUID != "4090614527c6240b192d" {
				t.Errorf("activity %+v", a)
			}
		})
	}
}

func TestWrongMessageDuringAPDUExchange(t *testing.T) {
	_, hs := newTestServer(t, nil)
	c := dialOp(t, hs)
	c.send(tps.BeginOp{Op: tps.OpFormat})
	if _, ok := c.recv().(tps.TokenPDURequest); !ok {
		t.Fatal("want an APDU first")
	}
	c.send(tps.StatusUpdateResponse{Percent: 3})
	c.expectEnd(tps.OpFormat, tps.ResultError, tps.StatusErrCannotPerformOperation)

	c = dialOp(t, hs)
	c.send(tps.BeginOp{Op: tps.OpEnroll})
	c.recv()
	c.cw.WriteChunk([]byte("s=37&msg_type=10&pdu_size=3&pdu_data=%90%00"))
	c.expectEnd(tps.OpEnroll, tps.ResultError, tps.StatusErrCannotPerformOperation)
}

func TestSecureChannelFailureEndsWithStatus17(t *testing.T) {
	_, hs := newTestServer(t, nil)
	c := dialOp(t, hs)
	c.send(tps.BeginOp{Op: tps.OpFormat, Extensions: tps.Extensions{{Name: tps.ExtExtendedLoginRequest, Value: "true"}}})
	card := blankCard().on([]byte{0x80, 0x50}, []byte{0x6A, 0x88})
	end := c.run(card, testUser, testPassword, "")
	if end.Result != tps.ResultError || end.Status != tps.StatusErrSecureChannel {
		t.Fatalf("END_OP %v, want secure channel failure", end)
	}
}

func TestUnknownTokenType(t *testing.T) {
	_, hs := newTestServer(t, nil)
	c := dialOp(t, hs)
	c.send(tps.BeginOp{Op: tps.OpFormat, Extensions: tps.Extensions{{Name: tps.ExtTokenType, Value: "noSuchType"}}})
	end := c.run(blankCard(), testUser, testPassword, "")
	if end.Status != tps.StatusErrMappingResolverFailed {
		t.Fatalf("END_OP %v, want 22", end)
	}
}

func TestPINResetOfUnknownToken(t *testing.T) {
	_, hs := newTestServer(t, nil)
	c := dialOp(t, hs)
	c.send(tps.BeginOp{Op: tps.OpResetPIN, Extensions: tps.Extensions{{Name: tps.ExtStatusUpdate, Value: "true"}}})
	end := c.run(blankCard(), testUser, testPassword, "1234")
	if end.Status != tps.StatusErrUnknownToken {
		t.Fatalf("END_OP %v, want 16", end)
	}
}

// A client that goes quiet must not hold the server: the per-message
// timeout ends the operation and frees the connection.
func TestSilentClientTimesOut(t *testing.T) {
	srv, hs := newTestServer(t, func(c *Config) { c.MessageTimeout = 300 * time.Millisecond })
	c := dialOp(t, hs)
	c.send(tps.BeginOp{Op: tps.OpFormat})
	c.recv() // the first APDU; never answered
	c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.r.Read(); err == nil {
		t.Fatal("the server sent more instead of giving up")
	}
	waitFor(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(srv.cfg.StateDir, activityFile))
		return strings.Contains(string(b), `"result":"failure"`)
	})
}

// A client that disconnects mid-operation is logged; the server goes on
// serving.
func TestClientDisconnect(t *testing.T) {
	_, hs := newTestServer(t, nil)
	c := dialOp(t, hs)
	c.send(tps.BeginOp{Op: tps.OpEnroll})
	c.recv()
	c.conn.Close()
	c2 := dialOp(t, hs)
	c2.send(tps.BeginOp{Op: tps.OpRenew})
	c2.expectEnd(tps.OpRenew, tps.ResultError, tps.StatusOK)
}

// Every message the server sends must be exactly one chunk.
func TestServerWritesOneMessagePerChunk(t *testing.T) {
	_, hs := newTestServer(t, nil)
	u, _ := url.Parse(hs.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	tps.WriteRequestHeader(conn, u.Host, PathOperation, "test")
	cw := tps.NewChunkWriter(conn)
	cw.WriteMessage(tps.BeginOp{Op: tps.OpFormat, Extensions: tps.Extensions{{Name: tps.ExtStatusUpdate, Value: "true"}}})
	br := bufio.NewReader(conn)
	// Skip the header.
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	card := blankCard()
	for i := 0; ; i++ {
		var n int
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%x", &n); err != nil {
			t.Fatalf("chunk header %q", line)
		}
		if n == 0 {
			break
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			t.Fatal(err)
		}
		m, err := tps.Decode(chunk[:n])
		if err != nil {
			t.Fatalf("chunk %d is not exactly one message: %v (%q)", i, err, chunk[:n])
		}
		switch m := m.(type) {
		case tps.TokenPDURequest:
			cw.WriteMessage(tps.TokenPDUResponse{Response: card.answer(m.APDU)})
		case tps.LoginRequest:
			cw.WriteMessage(tps.LoginResponse{ScreenName: testUser, Password: "nope"})
		case tps.EndOp:
		default:
			t.Fatalf("unexpected %v", m)
		}
	}
}

func TestPhoneHome(t *testing.T) {
	_, hs := newTestServer(t, nil)
	resp, err := http.Get(hs.URL + PathPhoneHome + "?cuid=4090614527c6240b192d")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	b, _ := io.ReadAll(resp.Body)
	si, err := tps.ParseServiceInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := si.Service(tps.ServiceOperation), hs.URL+PathOperation; got != want {
		t.Errorf("Operation = %q, want %q", got, want)
	}
	if si.Service(tps.ServiceTokenType) != "userKey" || si.IssuerName == "" {
		t.Errorf("ServiceInfo %+v", si)
	}
	resp, err = http.Post(hs.URL+PathPhoneHome, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST phone home: %d", resp.StatusCode)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Serve speaks HTTPS with a certificate from the state directory's CA,
// HTTP/1.1 only, and Shutdown stops it.
func TestServeHTTPS(t *testing.T) {
	users := NewUsers()
	users.Add(testUser, testPassword)
	state := t.TempDir()
	srv, err := NewServer(Config{StateDir: state, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertPEM()) {
		t.Fatal("CA PEM")
	}
	if b, err := os.ReadFile(filepath.Join(state, "ca.pem")); err != nil || !bytes.Equal(b, srv.CACertPEM()) {
		t.Errorf("ca.pem in the state directory: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + ln.Addr().String() + PathPhoneHome)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 1 {
		t.Errorf("status %d over %s", resp.StatusCode, resp.Proto)
	}
	// A chunked POST to a wrong path is answered at once, not after the
	// body (which a full-duplex client never ends).
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tps.WriteRequestHeader(conn, ln.Addr().String(), "/wrong", "test")
	tps.NewChunkWriter(conn).WriteMessage(tps.BeginOp{Op: tps.OpEnroll})
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("wrong path: %v %v", r, err)
	}
	conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
