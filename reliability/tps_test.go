package reliability

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/tpssim"
	"github.com/coolkey-go/coolkey-go/vcard/hostile"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// cli returns the coolkey command: COOLKEY_CLI when CMake built it,
// otherwise built here.
func cli(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("COOLKEY_CLI"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	root := repoRoot(t)
	return buildOnce(t, "coolkey", func(out string) error {
		return run(root, "go", "build", "-o", out, "./cmd/coolkey")
	})
}

// blankCard serves a card as it leaves the factory: no CoolKey applet.
func blankCard(t testing.TB) *simCard {
	t.Helper()
	img, err := provision.NewImage(provision.Options{State: provision.Blank})
	if err != nil {
		t.Fatal(err)
	}
	registerImageSecrets(img)
	return serveCard(t, &fixture{img: img}, img)
}

// testTPS is a test TPS served over HTTPS from this process.
type testTPS struct {
	url    string // operation URL
	caFile string // the CA its certificates chain to
}

// startTPS serves a test TPS with the suite's user, sharing state (CA,
// token database) with every other TPS the test starts in stateDir; mod
// adjusts its configuration.
func startTPS(t *testing.T, stateDir string, mod func(*tpssim.Config)) *testTPS {
	return startTPSTLS(t, stateDir, mod, nil)
}

// startTPSTLS is startTPS with the TLS configuration and the CA to trust
// chosen by tlsFor (nil: the server's own, for its listening address).
func startTPSTLS(t *testing.T, stateDir string, mod func(*tpssim.Config), tlsFor func(*tpssim.Server) (*tls.Config, []byte)) *testTPS {
	t.Helper()
	users := tpssim.NewUsers()
	if err := users.Add(testUser, testPassword); err != nil {
		t.Fatal(err)
	}
	cfg := tpssim.Config{
		StateDir: stateDir, Users: users, KeySize: 1024, MessageTimeout: 20 * time.Second,
		Policy: mustPolicy(t, "RE_ENROLL=YES;FORCE_FORMAT=NO"),
		Logger: slog.New(slog.NewTextHandler(suiteLog(t, "tps"), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := tpssim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	caPEM := srv.CACertPEM()
	if tlsFor == nil {
		go func() { defer close(done); srv.Serve(ln) }()
	} else {
		var tc *tls.Config
		tc, caPEM = tlsFor(srv)
		hs := &http.Server{Handler: srv.Handler(), TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
			ErrorLog: log.New(io.Discard, "", 0)}
		go func() { defer close(done); hs.Serve(tls.NewListener(ln, tc)) }()
		t.Cleanup(func() { hs.Close() })
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ln.Close()
		<-done
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &testTPS{url: "https://" + ln.Addr().String() + tpssim.PathOperation, caFile: caFile}
}

// expiredTLS is a CA of its own and a server certificate for 127.0.0.1
// from it that expired a year ago.
func expiredTLS(t *testing.T) func(*tpssim.Server) (*tls.Config, []byte) {
	return func(*tpssim.Server) (*tls.Config, []byte) {
		caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		now := time.Now()
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "reliability expired-test CA"},
			NotBefore: now.AddDate(-3, 0, 0), NotAfter: now.AddDate(3, 0, 0), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign}
		caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		ca, _ := x509.ParseCertificate(caDER)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
			NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(-1, 0, 0), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		conf := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der, caDER}, PrivateKey: key}}}
		return conf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	}
}

// wrongHostTLS is the server's own CA with a server certificate for
// another host name.
func wrongHostTLS(t *testing.T) func(*tpssim.Server) (*tls.Config, []byte) {
	return func(srv *tpssim.Server) (*tls.Config, []byte) {
		tc, err := srv.TLSConfig([]string{"tps.invalid"})
		if err != nil {
			t.Fatal(err)
		}
		return tc, srv.CACertPEM()
	}
}

func mustPolicy(t *testing.T, s string) tpssim.Policy {
	t.Helper()
	p, err := tpssim.ParsePolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// client runs the coolkey command as a user whose home (configuration,
// trust store, diagnostics log) is scanned for secrets when the suite
// ends.
type client struct {
	t    *testing.T
	bin  string
	home string
	card *simCard
}

func newClient(t *testing.T, card *simCard) *client {
	home := suiteLogPath(t, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return &client{t: t, bin: cli(t), home: home, card: card}
}

func (c *client) reader() string { return "CoolKey virtual card " + c.card.addr }

// run runs coolkey with the TPS credentials in its environment and returns
// its exit code and output.
func (c *client) run(timeout time.Duration, args ...string) (int, string, string) {
	c.t.Helper()
	env := []string{"HOME=" + c.home, "XDG_CONFIG_HOME=", "XDG_STATE_HOME=", "XDG_RUNTIME_DIR=" + c.home,
		"COOLKEY_SIM=" + c.card.addr, "COOLKEY_PCSC=off",
		"COOLKEY_PASSWORD=" + testPassword, "COOLKEY_NEW_PIN=" + tpsPIN}
	stdout, stderr, err := runProgram(c.t, timeout, env, c.bin, args...)
	code := 0
	if err != nil {
		if code = exitCode(err); code < 0 {
			c.t.Fatalf("coolkey %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
		c.t.Errorf("coolkey %s crashed:\n%s", strings.Join(args, " "), stderr)
	}
	return code, stdout, stderr
}

// enroll runs `coolkey enroll` against the TPS.
func (c *client) enroll(tps *testTPS, extra ...string) (int, string) {
	c.t.Helper()
	args := append([]string{"enroll", "--reader", c.reader(), "--tps", tps.url, "--ca", tps.caFile, "--uid", testUser, "--yes"}, extra...)
	code, _, stderr := c.run(3*time.Minute, args...)
	return code, stderr
}

// status returns the card's status as `coolkey status --json` reports it,
// failing the test if the card cannot be read: a failed operation must
// leave the card usable.
func (c *client) status() string {
	c.t.Helper()
	code, stdout, stderr := c.run(time.Minute, "status", "--json", "--reader", c.reader())
	if code != 0 {
		c.t.Fatalf("the card is not usable: status exit %d: %s", code, stderr)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || len(v) != 1 {
		c.t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	s, _ := v[0]["status"].(string)
	return s
}

// signsWithNewPIN checks, through the token backend, that the enrolled
// card logs in with the PIN the TPS set and signs with a key that matches
// its certificate.
func signsWithNewPIN(t *testing.T, card *simCard) {
	t.Helper()
	// The keys the card generated and the keys the TPS put: none may be
	// in a log.
	registerImageSecrets(card.card.Image())
	b := startBackend(t, card)
	b.slots()
	s := b.open(1)
	if err := s.Login(p11.CKU_USER, []byte(tpsPIN)); err != nil {
		t.Fatalf("login with the PIN the TPS set: %v", err)
	}
	defer func() { s.Logout(); s.Close(); b.finalize() }()
	certs, err := s.FindObjects([]p11.Attribute{{Type: p11.CKA_CLASS, Value: p11.ULongValue(uint(p11.CKO_CERTIFICATE))}})
	if err != nil || len(certs) == 0 {
		t.Fatalf("certificates on the enrolled card: %v %v", certs, err)
	}
	fx := &fixture{certs: map[byte]*x509.Certificate{}}
	for _, h := range certs {
		res, err := s.GetAttributes(h, []p11.AttributeType{p11.CKA_VALUE, p11.CKA_ID})
		if err != nil || res[0].Err != nil || len(res[1].Value) != 1 {
			t.Fatalf("certificate attributes: %v %v", res, err)
		}
		c, err := x509.ParseCertificate(res[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		fx.certs[res[1].Value[0]] = c
	}
	b.signAndVerify(s, fx)
}

// A hostile TPS — garbage, an oversize message, a client's message, a
// 1-byte APDU, broken chunking, a dropped connection, a stall past the
// client's timeout, each in the middle of an enrollment — makes `coolkey
// enroll` fail with exit code 4 (connection failure) and a message, never
// a crash; the card stays usable after each, and the same enrollment
// against a working TPS then succeeds and the card signs with the new PIN.
func TestHostileTPS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and enrolls cards")
	}
	card := blankCard(t)
	c := newClient(t, card)
	state := t.TempDir()
	faults := []struct {
		kind  tpssim.FaultKind
		after int
		codes []int
	}{
		{tpssim.FaultGarbage, 3, []int{4}},
		{tpssim.FaultOversize, 8, []int{4}},
		{tpssim.FaultWrongMessage, 12, []int{4}},
		{tpssim.FaultBadAPDU, 20, []int{4, 6}},
		{tpssim.FaultBadChunk, 25, []int{4}},
		{tpssim.FaultClose, 30, []int{4}},
		{tpssim.FaultStall, 16, []int{4}},
	}
	for _, f := range faults {
		tps := startTPS(t, state, func(cfg *tpssim.Config) {
			cfg.Fault = &tpssim.Fault{Kind: f.kind, After: f.after, Stall: 6 * time.Second}
		})
		start := time.Now()
		code, stderr := c.enroll(tps, "--timeout", "2s")
		if !contains(f.codes, code) {
			t.Errorf("%v after %d messages: exit %d, want %v: %s", f.kind, f.after, code, f.codes, stderr)
		}
		if d := time.Since(start); f.kind == tpssim.FaultStall && d > 30*time.Second {
			t.Errorf("%v: the client took %v to give up", f.kind, d)
		}
		if !strings.Contains(stderr, "coolkey") && !strings.Contains(stderr, "TPS") {
			t.Errorf("%v: no message: %q", f.kind, stderr)
		}
		c.status()
	}
	good := startTPS(t, state, nil)
	if code, stderr := c.enroll(good); code != 0 {
		t.Fatalf("enroll after the hostile TPSs: exit %d: %s", code, stderr)
	}
	if st := c.status(); st != "ENROLLED" {
		t.Fatalf("status after enrolling: %s", st)
	}
	signsWithNewPIN(t, card)
	t.Logf("FIGURE hostile TPS faults: %d, then a good enrollment", len(faults))
}

// Bad TPS certificates — expired, for another host name, from a CA the
// client does not trust — end `coolkey enroll` with exit code 5 before
// anything reaches the card; the card stays usable.
func TestBadTPSCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	card := blankCard(t)
	c := newClient(t, card)
	wrongHost := startTPSTLS(t, t.TempDir(), nil, wrongHostTLS(t))
	stranger := startTPS(t, t.TempDir(), nil)
	expired := startTPSTLS(t, t.TempDir(), nil, expiredTLS(t))
	cases := []struct {
		name string
		tps  *testTPS
	}{
		{"expired", expired},
		{"wrong host", wrongHost},
		{"untrusted", &testTPS{url: stranger.url, caFile: wrongHost.caFile}},
	}
	for _, tc := range cases {
		name, tps := tc.name, tc.tps
		before := card.proxy.APDUs()
		code, stderr := c.enroll(tps)
		if code != 5 {
			t.Errorf("%s certificate: exit %d, want 5: %s", name, code, stderr)
		}
		// Reading the card's identity first is all the client does: no
		// INITIALIZE UPDATE, nothing the TPS sent.
		if n := card.proxy.APDUs() - before; n > 10 || card.proxy.Count(0x80, 0x50) > 0 {
			t.Errorf("%s certificate: %d APDUs reached the card, %d INITIALIZE UPDATE", name, n, card.proxy.Count(0x80, 0x50))
		}
		c.status()
	}
}

// The card leaves in the middle of an enrollment (after the k-th APDU the
// client sends, at five points spread over the whole operation, counted on
// a clean enrollment of a blank card: applet installation, secure channel,
// key generation, certificate writing): `coolkey enroll`
// fails with exit code 6 (card failure) at once; after the card is back it
// can be read, and enrolling again succeeds and signs with the new PIN.
func TestRemovalDuringEnrollment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and enrolls cards")
	}
	// A clean enrollment of a blank card, to count its APDUs (the user
	// may hold both cards).
	state := t.TempDir()
	tps := startTPS(t, state, func(cfg *tpssim.Config) { cfg.AllowMultiActiveTokens = true })
	probe := blankCard(t)
	pc := newClient(t, probe)
	before := probe.proxy.APDUs()
	if code, stderr := pc.enroll(tps); code != 0 {
		t.Fatalf("clean enrollment: exit %d: %s", code, stderr)
	}
	total := probe.proxy.APDUs() - before
	if total < 20 {
		t.Fatalf("a whole enrollment took %d APDUs", total)
	}

	points := 0
	var last *simCard
	for i := 1; i <= 8; i++ {
		k := total * i / 9
		card := blankCard(t)
		c := newClient(t, card)
		card.arm(k, hostile.Remove(card.slot, i%2 == 0))
		start := time.Now()
		code, stderr := c.enroll(tps)
		card.proxy.SetFault(nil)
		if present, _ := card.slot.State(); present {
			t.Fatalf("APDU %d of %d: the fault did not fire (exit %d: %s)", k, total, code, stderr)
		}
		points++
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("removal after APDU %d: the client took %v", k, d)
		}
		card.reinsert()
		st := c.status()
		// After the TPS's last APDU the enrollment is done; the client
		// only reads the card again to report on it.
		if code != 6 && !(code == 0 && st == "ENROLLED") {
			t.Errorf("removal after APDU %d of %d: exit %d (card %s), want 6: %s", k, total, code, st, stderr)
		}
		if code, stderr := c.enroll(tps); code != 0 {
			t.Fatalf("enrolling again after a removal after APDU %d (card %s): exit %d: %s", k, st, code, stderr)
		}
		if after := c.status(); after != "ENROLLED" {
			t.Fatalf("after the retry (removal after APDU %d): %s", k, after)
		}
		t.Logf("removal after APDU %d of %d: card %s, enrolled by the retry", k, total, st)
		last = card
	}
	signsWithNewPIN(t, last)
	logPoints(t, fmt.Sprintf("TPS enrollment (of %d APDUs)", total), points)
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
