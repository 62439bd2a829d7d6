package esc

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/tps"
)

// fakeSource is a ReaderSource over fixed transports.
type fakeSource struct {
	readers    []cardedge.ReaderStatus
	transports map[string]cardedge.Transport
}

func (f *fakeSource) Readers() ([]cardedge.ReaderStatus, error) { return f.readers, nil }

func (f *fakeSource) Connect(reader string) (cardedge.Transport, error) {
	t, ok := f.transports[reader]
	if !ok {
		return nil, cardedge.ErrNoCard
	}
	return t, nil
}

func (f *fakeSource) NewMonitor() (cardedge.Monitor, error) {
	return nil, errors.New("no monitor")
}

// testClient returns a client whose files live in a temporary directory.
func testClient(t *testing.T, src cardedge.ReaderSource) *Client {
	t.Helper()
	dir := t.TempDir()
	paths := Paths{
		ConfigDir:  filepath.Join(dir, "config"),
		StateDir:   filepath.Join(dir, "state"),
		RuntimeDir: filepath.Join(dir, "run"),
	}
	c, err := NewClient(src, paths, "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Trust.NoSystemRoots = true
	return c
}

// tpsScript is the server side of one operation in a scripted TPS.
type tpsScript func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter)

// scriptedTPS serves one script per operation request; with tlsOn the
// server uses httptest's TLS certificate.
func scriptedTPS(t *testing.T, tlsOn bool, script tpsScript) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tps/tps" {
			// Without this, net/http waits for the end of the chunked
			// body before answering, and a full-duplex client never
			// sends it.
			w.Header().Set("Connection", "close")
			http.NotFound(w, r)
			return
		}
		conn, bufrw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		bufrw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		bufrw.Flush()
		cw := tps.NewChunkWriter(bufrw.Writer)
		script(t, tps.NewMessageReader(bufio.NewReader(httputil.NewChunkedReader(bufrw.Reader)), 0), cw)
		cw.Close()
	})
	var s *httptest.Server
	if tlsOn {
		s = httptest.NewTLSServer(h)
	} else {
		s = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func serverCAFile(t *testing.T, s *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	c := s.Certificate()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustRead(t *testing.T, r *tps.MessageReader) tps.Message {
	t.Helper()
	m, err := r.Read()
	if err != nil {
		t.Errorf("server read: %v", err)
		return nil
	}
	return m
}

func mustWrite(t *testing.T, w *tps.ChunkWriter, m tps.Message) {
	t.Helper()
	if err := w.WriteMessage(m); err != nil {
		t.Errorf("server write: %v", err)
	}
}

// fixedPrompter answers from fields and records what was asked.
type fixedPrompter struct {
	uid, password, pin string
	err                error
	logins             []LoginPrompt
	pinAsked           [][2]int
}

func (p *fixedPrompter) Login(ctx context.Context, lp LoginPrompt) (map[string]string, error) {
	p.logins = append(p.logins, lp)
	if p.err != nil {
		return nil, p.err
	}
	return map[string]string{"UID": p.uid, "PASSWORD": p.password}, nil
}

func (p *fixedPrompter) NewPIN(ctx context.Context, lo, hi int) (string, error) {
	p.pinAsked = append(p.pinAsked, [2]int{lo, hi})
	if p.err != nil {
		return "", p.err
	}
	return p.pin, nil
}

var _ = x509.ParseCertificate

func randomBig() *big.Int {
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return n.Add(n, big.NewInt(1))
}
