package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tpssim"
	"github.com/coolkey-go/coolkey-go/vcard"
)

const (
	readerName = "Virtual Reader 0"
	cuidHex    = "4090614527c6240b192d"
	tpsUser    = "jdoe"
	tpsPass    = "Corr3ct-Horse-pw"
)

// slotSource is one reader holding an in-process virtual card; its
// monitor posts what Insert/Remove on the slot do.
type slotSource struct{ slot *vcard.Slot }

func (s slotSource) Readers() ([]cardedge.ReaderStatus, error) {
	present, _ := s.slot.State()
	return []cardedge.ReaderStatus{{Name: readerName, CardPresent: present}}, nil
}

func (s slotSource) Connect(reader string) (cardedge.Transport, error) {
	if reader != readerName {
		return nil, cardedge.ErrNoReader
	}
	return vcard.NewTransport(s.slot)
}

func (s slotSource) NewMonitor() (cardedge.Monitor, error) {
	l := cardedge.NewEventLatch()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			select {
			case <-s.slot.Changed():
				if present, _ := s.slot.State(); present {
					l.Post(readerName, cardedge.CardInserted)
				} else {
					l.Post(readerName, cardedge.CardRemoved)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return &latchMonitor{l, cancel}, nil
}

type latchMonitor struct {
	*cardedge.EventLatch
	cancel context.CancelFunc
}

func (m *latchMonitor) Close() error { m.cancel(); m.EventLatch.Close(); return nil }

// world is a test TPS (HTTPS, in-process), a virtual card that phones home
// to it, and a user's client.
type world struct {
	t      *testing.T
	tps    *tpssim.Server
	hs     *httptest.Server
	slot   *vcard.Slot
	client *esc.Client
}

// newWorld: the card is formatted (the TPS knows it) and carries the
// phone-home URL; enrolled, when asked, through the TPS itself.
func newWorld(t *testing.T, policy string) *world {
	t.Helper()
	users := tpssim.NewUsers()
	users.Add(tpsUser, tpsPass)
	pol, err := tpssim.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tpssim.NewServer(tpssim.Config{StateDir: t.TempDir(), Users: users, Policy: pol, KeySize: 1024, MessageTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	tc, err := srv.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	hs.TLS = tc
	// A test makes a TLS handshake fail on purpose.
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	t.Cleanup(func() { hs.Close(); srv.Wait() })

	cuid, _ := cardedge.ParseCUID(cuidHex)
	img := vcard.BlankImage(cardedge.CPLCForCUID(cuid).Encode()[3:])
	vcard.InstallApplet(img, 0)
	img.Applet.IssuerInfo = hs.URL + "/tps/phoneHome"
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := srv.Store().Put(&tpssim.TokenRecord{CUID: cuidHex, Status: tpssim.TokenFormatted, Created: now, Modified: now}); err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	dir := t.TempDir()
	client, err := esc.NewClient(slotSource{slot}, esc.Paths{
		ConfigDir: filepath.Join(dir, "cfg"), StateDir: filepath.Join(dir, "state"), RuntimeDir: filepath.Join(dir, "run"),
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	client.Trust.NoSystemRoots = true
	if _, err := esc.AddTrust(client.Paths.BundleFile(), srv.CACertPEM()); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, tps: srv, hs: hs, slot: slot, client: client}
}

// testUI runs a Server for the client.
type testUI struct {
	t    *testing.T
	s    *Server
	base string
	hc   *http.Client
}

func startUI(t *testing.T, c *esc.Client, opts Options) *testUI {
	t.Helper()
	ln, err := ListenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Client = c
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := New(ln, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	hc := &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &testUI{t: t, s: s, base: s.BaseURL(), hc: hc}
}

// request builds a request that passes every check; mod changes it.
func (u *testUI) request(method, path string, body any, mod func(*http.Request)) *http.Response {
	u.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			u.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u.base+path, rd)
	if err != nil {
		u.t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: u.s.g.cookie, Value: u.s.g.token})
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(csrfHeader, u.s.g.csrf)
		req.Header.Set("Origin", u.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if mod != nil {
		mod(req)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	return resp
}

func (u *testUI) call(method, path string, body, out any) int {
	u.t.Helper()
	resp := u.request(method, path, body, nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			u.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if out == nil && resp.StatusCode >= 300 {
		u.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// stream is an open event stream; raw keeps every byte received.
type stream struct {
	ops, cards chan sseEvent // "op" and "cards" events, apart so that waiting for one kind skips none of the other
	mu         sync.Mutex
	raw        bytes.Buffer
}

type sseEvent struct {
	name string
	data string
}

func (s *stream) Raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

func (u *testUI) events() *stream {
	u.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.base+"/api/events", nil)
	req.AddCookie(&http.Cookie{Name: u.s.g.cookie, Value: u.s.g.token})
	ctx, cancel := context.WithCancel(context.Background())
	u.t.Cleanup(cancel)
	req = req.WithContext(ctx)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		u.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{ops: make(chan sseEvent, 1024), cards: make(chan sseEvent, 1024)}
	go func() {
		defer resp.Body.Close()
		defer close(s.ops)
		defer close(s.cards)
		br := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			s.mu.Lock()
			s.raw.WriteString(line)
			s.mu.Unlock()
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			case line == "" && ev.name == "op":
				s.ops <- ev
				ev = sseEvent{}
			case line == "" && ev.name == "cards":
				s.cards <- ev
				ev = sseEvent{}
			}
		}
	}()
	return s
}

// waitOp returns the first operation event that satisfies cond.
func (s *stream) waitOp(t *testing.T, what string, cond func(opView) bool) opView {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev, ok := <-s.ops:
			if !ok {
				t.Fatalf("event stream ended waiting for %s", what)
			}
			var v opView
			if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
				t.Fatal(err)
			}
			if cond(v) {
				return v
			}
		case <-timeout:
			t.Fatalf("no operation event for %s", what)
		}
	}
}

// waitCards returns the first card list that satisfies cond.
func (s *stream) waitCards(t *testing.T, what string, cond func([]cardView) bool) []cardView {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.cards:
			if !ok {
				t.Fatalf("event stream ended waiting for %s", what)
			}
			var v []cardView
			if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
				t.Fatal(err)
			}
			if cond(v) {
				return v
			}
		case <-timeout:
			t.Fatalf("no card list for %s", what)
		}
	}
}

// emptySource has no readers.
type emptySource struct{}

func (emptySource) Readers() ([]cardedge.ReaderStatus, error) { return nil, nil }
func (emptySource) Connect(string) (cardedge.Transport, error) {
	return nil, cardedge.ErrNoReader
}
func (emptySource) NewMonitor() (cardedge.Monitor, error) { return nil, errors.New("no monitor") }
