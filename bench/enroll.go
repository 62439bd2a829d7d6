package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/tps"
	"github.com/coolkey-go/coolkey-go/tpssim"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

const (
	tpsPassword = "bench-password"
	enrollPIN   = "246810"
)

// pduClock times, from the TPS's side, each relayed APDU: from the moment
// a TOKEN_PDU_REQUEST has gone out to the moment its TOKEN_PDU_RESPONSE is
// in. That is the client's whole relay (parse, PC/SC, vpcd, the card,
// encode) without the TPS's own work. It reads tpssim's debug records
// ("sent"/"received" with the message) and passes warnings on.
type pduClock struct {
	mu    *sync.Mutex
	state *pduState
	warn  func(string, ...any)
}

type pduState struct {
	sent time.Time
	rtts []time.Duration
}

func newPDUClock(warn func(string, ...any)) *pduClock {
	return &pduClock{mu: &sync.Mutex{}, state: &pduState{}, warn: warn}
}

func (c *pduClock) Enabled(context.Context, slog.Level) bool { return true }
func (c *pduClock) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *pduClock) WithGroup(string) slog.Handler            { return c }

func (c *pduClock) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		c.warn("test TPS: %s", r.Message)
	}
	var msg any
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "msg" {
			msg = a.Value.Any()
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	switch msg.(type) {
	case tps.TokenPDURequest, *tps.TokenPDURequest:
		if r.Message == "sent" {
			c.state.sent = r.Time
		}
	case tps.TokenPDUResponse, *tps.TokenPDUResponse:
		if r.Message == "received" && !c.state.sent.IsZero() {
			c.state.rtts = append(c.state.rtts, r.Time.Sub(c.state.sent))
			c.state.sent = time.Time{}
		}
	}
	return nil
}

// take returns the round trips so far and forgets them.
func (c *pduClock) take() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.state.rtts
	c.state.rtts = nil
	return r
}

// testTPS is the test TPS served by this process over HTTPS.
type testTPS struct {
	srv    *tpssim.Server
	url    string
	caFile string
	clock  *pduClock
	done   chan error
}

func startTPS(dir string, warn func(string, ...any)) (*testTPS, error) {
	users := tpssim.NewUsers()
	if err := users.Add(benchUser, tpsPassword); err != nil {
		return nil, err
	}
	clock := newPDUClock(warn)
	srv, err := tpssim.NewServer(tpssim.Config{
		StateDir:               dir,
		Users:                  users,
		AllowMultiActiveTokens: true, // every round enrolls a new card for the same user
		Logger:                 slog.New(clock),
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &testTPS{srv: srv, url: "https://" + ln.Addr().String() + tpssim.PathOperation, caFile: filepath.Join(dir, "ca.pem"), clock: clock, done: make(chan error, 1)}
	go func() { t.done <- srv.Serve(ln) }()
	return t, nil
}

func (t *testTPS) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := t.srv.Shutdown(ctx)
	if serr := <-t.done; err == nil {
		err = serr
	}
	return err
}

// enrollResult is one `coolkey enroll` of a formatted card.
type enrollResult struct {
	wall     time.Duration
	relayed  int             // TOKEN_PDU_REQUESTs answered
	cardAPDU uint64          // APDUs the card received during the run
	rtt      time.Duration   // sum of the relay round trips seen by the TPS
	cardTime time.Duration   // time the card spent answering
	rtts     []time.Duration // each relayed APDU's round trip
}

// runEnroll serves a new formatted card and enrolls it with the CLI.
func runEnroll(cli, dir string, tpsrv *testTPS, logf func(string, ...any)) (*enrollResult, error) {
	img, err := provision.NewImage(provision.Options{State: provision.Formatted})
	if err != nil {
		return nil, err
	}
	card, err := serveCard(img, nil, logf)
	if err != nil {
		return nil, err
	}
	defer card.stop()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	tpsrv.clock.take()
	env := []string{
		"HOME=" + home, "XDG_CONFIG_HOME=", "XDG_STATE_HOME=", "XDG_CACHE_HOME=" + filepath.Join(dir, "xdg"),
		"COOLKEY_SIM=", "COOLKEY_PCSC=",
		"COOLKEY_PASSWORD=" + tpsPassword, "COOLKEY_NEW_PIN=" + enrollPIN,
	}
	r, err := runCounted(card, env, cli, "enroll", "--reader", readerName, "--tps", tpsrv.url,
		"--ca", tpsrv.caFile, "--uid", benchUser, "--yes")
	if err != nil {
		return nil, fmt.Errorf("coolkey enroll: %w", err)
	}
	if !strings.Contains(r.stdout, "enrolled") {
		return nil, fmt.Errorf("coolkey enroll did not say it enrolled the card: %q", r.stdout)
	}
	res := &enrollResult{wall: r.wall, cardAPDU: r.apdus("start", "end"), rtts: tpsrv.clock.take()}
	res.relayed = len(res.rtts)
	res.cardTime = r.marks["end"].CardTime - r.marks["start"].CardTime
	for _, d := range res.rtts {
		res.rtt += d
	}
	if res.relayed == 0 {
		return nil, fmt.Errorf("coolkey enroll relayed no APDU (output: %s)", r.stdout)
	}
	return res, nil
}
