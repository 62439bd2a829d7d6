package reliability

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/hostile"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

// Secrets of the suite. They contain characters that hex and base64 dumps
// cannot, so that the log scan finds them only if they were written.
const (
	testPIN      = "Rel-PIN-7319"
	wrongPIN     = "Wrong-PIN-4406"
	testUser     = "relia"
	testPassword = "TPS-pass-w0rd!8"
	// tpsPIN is the PIN enrollments set: the test TPS's default policy
	// allows 4 to 10 characters.
	tpsPIN = "Tps-PIN-82"
)

// removalRVs are the return values PKCS#11 allows for a call on a token
// whose card went away: the device is gone, the token is not there, or
// the session died with it.
var removalRVs = []p11.Error{p11.CKR_DEVICE_REMOVED, p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED}

// quick is how long a call that fails because the card is gone may take.
const quick = time.Second

// fixture is an enrolled card image and what a test needs to check its
// signatures.
type fixture struct {
	img   *vcard.Image
	certs map[byte]*x509.Certificate // by CKA_ID
}

var (
	fixtures   = map[string]*fixture{}
	fixturesMu sync.Mutex
	fixtureCA  *testca.CA
)

// enrolledFixture builds (once per test binary) an enrolled image with the
// suite's user and PIN and the given keys.
func enrolledFixture(t testing.TB, keys ...provision.KeySpec) *fixture {
	t.Helper()
	var names []string
	for _, k := range keys {
		names = append(names, string(k))
	}
	name := strings.Join(names, ",")
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f := fixtures[name]; f != nil {
		return f
	}
	if fixtureCA == nil {
		ca, err := testca.LoadOrCreate(filepath.Join(suiteDir, "ca"))
		if err != nil {
			t.Fatal(err)
		}
		fixtureCA = ca
	}
	img, err := provision.NewImage(provision.Options{
		State: provision.Enrolled, User: testUser, PIN: []byte(testPIN), PINTries: 5, Keys: keys, CA: fixtureCA,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{img: img, certs: map[byte]*x509.Certificate{}}
	for _, o := range img.Applet.Objects {
		if uint32(o.ID) != uint32(cardedge.CombinedObjectID) {
			continue
		}
		z, err := cardedge.DecodeCombined(o.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range z.Records {
			if r.ID.Letter() != cardedge.LetterCertAttrs {
				continue
			}
			for _, a := range r.Attributes {
				if a.Type == cardedge.CKA_VALUE {
					c, err := x509.ParseCertificate(a.Bytes)
					if err != nil {
						t.Fatal(err)
					}
					f.certs[r.Fixed.ID()] = c
				}
			}
		}
	}
	registerImageSecrets(img)
	fixtures[name] = f
	return f
}

// rsaFixture is the Dogtag layout: two RSA-2048 key pairs (IDs 1 and 2).
func rsaFixture(t testing.TB) *fixture {
	return enrolledFixture(t, provision.RSA2048, provision.RSA2048)
}

// cloneImage deep-copies an image (cards change theirs: PIN tries, objects).
func cloneImage(t testing.TB, img *vcard.Image) *vcard.Image {
	t.Helper()
	b, err := json.Marshal(img)
	if err != nil {
		t.Fatal(err)
	}
	out, err := vcard.ParseImage(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// simCard is a virtual card served on the socket transport behind a
// hostile proxy; hosts reach it at addr.
type simCard struct {
	fx    *fixture
	card  *vcard.Card
	slot  *vcard.Slot
	proxy *hostile.Proxy
	addr  string
	stats *serve.Stats
}

// serveCard serves a fresh card made from img (cloned) until the test
// ends.
func serveCard(t testing.TB, fx *fixture, img *vcard.Image) *simCard {
	t.Helper()
	hostLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveCardOn(t, fx, img, hostLn)
}

// serveCardOn is serveCard with hosts reaching the card at hostLn.
func serveCardOn(t testing.TB, fx *fixture, img *vcard.Image, hostLn net.Listener) *simCard {
	t.Helper()
	if img == nil {
		img = fx.img
	}
	card, err := vcard.New(cloneImage(t, img), vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &simCard{fx: fx, card: card, slot: vcard.NewSlot(card), proxy: &hostile.Proxy{Logf: t.Logf}, stats: &serve.Stats{}}
	cardLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = hostLn.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		serve.Listen(ctx, c.slot, cardLn, serve.Options{Stats: c.stats})
	}()
	go func() {
		defer wg.Done()
		c.proxy.ServeHosts(ctx, hostLn, cardLn.Addr().String())
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

// reinsert puts the card back, disarming any fault first.
func (c *simCard) reinsert() {
	c.proxy.SetFault(nil)
	c.slot.Insert()
}

// arm makes f happen at the k-th command APDU from now (k from 1).
func (c *simCard) arm(k int, f hostile.Fault) {
	c.proxy.SetFault(hostile.At(c.proxy.APDUs()+k, f))
}

// backend is the module's token backend, in this process, over socket
// cards: what libcoolkeypk11.so runs, minus the C ABI.
type backend struct {
	t     testing.TB
	b     p11.Backend
	cards []*simCard
	done  bool
}

// startBackend initializes a backend whose slots are the cards, in order
// (slot IDs from 1), with no PC/SC readers, a private object cache, and a
// trace-level log in the suite's log directory.
func startBackend(t testing.TB, cards ...*simCard) *backend {
	t.Helper()
	var addrs []string
	for _, c := range cards {
		addrs = append(addrs, c.addr)
	}
	t.Setenv(coolkey.SimEnv, strings.Join(addrs, ","))
	t.Setenv(coolkey.PCSCEnv, "off")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	b := &backend{t: t, b: coolkey.NewBackend(), cards: cards}
	log := slog.New(slog.NewTextHandler(suiteLog(t, "backend"), &slog.HandlerOptions{Level: p11.LevelTrace}))
	if err := b.b.Initialize(p11.InitOptions{Logger: log}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.finalize)
	return b
}

func (b *backend) finalize() {
	if !b.done {
		b.done = true
		if err := b.b.Finalize(); err != nil {
			b.t.Errorf("Finalize: %v", err)
		}
	}
}

// slots lists the slots (reading cards not read yet).
func (b *backend) slots() []p11.SlotID {
	b.t.Helper()
	ids, err := b.b.Slots()
	if err != nil {
		b.t.Fatalf("Slots: %v", err)
	}
	return ids
}

// hasToken reports whether the slot shows a token.
func (b *backend) hasToken(id p11.SlotID) bool {
	info, err := b.b.SlotInfo(id)
	return err == nil && info.Flags&p11.CKF_TOKEN_PRESENT != 0
}

// waitToken waits until the slot shows (or stops showing) a token.
func (b *backend) waitToken(id p11.SlotID, present bool, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for b.hasToken(id) != present {
		if time.Now().After(deadline) {
			b.t.Fatalf("slot %d: token present=%v not seen within %v", id, present, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// open opens a session, failing the test on error.
func (b *backend) open(id p11.SlotID) p11.Session {
	b.t.Helper()
	s, err := b.b.OpenSession(id, false)
	if err != nil {
		b.t.Fatalf("OpenSession(%d): %v", id, err)
	}
	return s
}

// loggedIn opens a session and logs in.
func (b *backend) loggedIn(id p11.SlotID) p11.Session {
	b.t.Helper()
	s := b.open(id)
	if ls, _ := s.LoginState(); ls == p11.UserLoggedIn {
		return s
	}
	if err := s.Login(p11.CKU_USER, []byte(testPIN)); err != nil {
		b.t.Fatalf("Login: %v", err)
	}
	return s
}

// privateKey finds the private key with CKA_ID id.
func privateKey(s p11.Session, id byte) (p11.ObjectHandle, error) {
	hs, err := s.FindObjects([]p11.Attribute{
		{Type: p11.CKA_CLASS, Value: p11.ULongValue(uint(p11.CKO_PRIVATE_KEY))},
		{Type: p11.CKA_ID, Value: []byte{id}},
	})
	if err != nil {
		return 0, err
	}
	if len(hs) != 1 {
		return 0, fmt.Errorf("%d private keys with ID %d", len(hs), id)
	}
	return hs[0], nil
}

var sha256RSA = p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}

// signInit starts a SHA256-RSA-PKCS signature with key id.
func signInit(s p11.Session, id byte) (p11.SignOperation, error) {
	h, err := privateKey(s, id)
	if err != nil {
		return nil, err
	}
	return s.SignInit(sha256RSA, h)
}

// sign signs msg with key id (SHA256-RSA-PKCS: the RSA-2048 I/O-buffer
// sequence on the card).
func sign(s p11.Session, id byte, msg []byte) ([]byte, error) {
	op, err := signInit(s, id)
	if err != nil {
		return nil, err
	}
	return op.Sign(msg)
}

// verify checks a SHA256-RSA-PKCS signature against the certificate of key
// id.
func (f *fixture) verify(id byte, msg, sig []byte) error {
	c := f.certs[id]
	if c == nil {
		return fmt.Errorf("no certificate with ID %d", id)
	}
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(c.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig)
}

// signAndVerify signs with key 1 and checks the signature.
func (b *backend) signAndVerify(s p11.Session, fx *fixture) {
	b.t.Helper()
	msg := []byte("reliability " + time.Now().String())
	sig, err := sign(s, 1, msg)
	if err != nil {
		b.t.Fatalf("sign: %v", err)
	}
	if err := fx.verify(1, msg, sig); err != nil {
		b.t.Fatalf("signature does not verify: %v", err)
	}
}

// rvOf returns the CK_RV an error carries (CKR_OK for nil,
// CKR_FUNCTION_FAILED for an error without one, as pkcs11mod maps it).
func rvOf(err error) p11.Error {
	if err == nil {
		return p11.CKR_OK
	}
	var rv p11.Error
	if errors.As(err, &rv) {
		return rv
	}
	return p11.CKR_FUNCTION_FAILED
}

// isRemoval reports whether err is one of removalRVs.
func isRemoval(err error) bool {
	rv := rvOf(err)
	for _, want := range removalRVs {
		if rv == want {
			return true
		}
	}
	return false
}

// timed runs f and fails the test if it takes longer than quick.
func timed(t testing.TB, what string, f func() error) error {
	t.Helper()
	start := time.Now()
	err := f()
	if d := time.Since(start); d > quick {
		t.Errorf("%s took %v (more than %v)", what, d, quick)
	}
	return err
}

// goroutinesSettle waits until at most n goroutines run, and fails the test
// with a dump if they do not within five seconds.
func goroutinesSettle(t testing.TB, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%s: %d goroutines, want at most %d:\n%s", what, runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// suite-wide state: a directory for everything the suite writes (logs the
// secret scan reads, the test CA), set up by TestMain.
var (
	suiteDir   string
	suiteLogMu sync.Mutex
	suiteLogs  []string
)

// suiteLog creates a log file for the secret scan and returns it; it is
// closed when the test ends.
func suiteLog(t testing.TB, kind string) *os.File {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "." + kind + ".log"
	path := filepath.Join(suiteDir, "logs", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	addSuiteLog(path)
	return f
}

// suiteLogPath reserves a log path for a subprocess (COOLKEY_LOG, a TPS
// log, a client's state directory) and registers it for the scan.
func suiteLogPath(t testing.TB, kind string) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "." + kind
	path := filepath.Join(suiteDir, "logs", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	addSuiteLog(path)
	return path
}

func addSuiteLog(path string) {
	suiteLogMu.Lock()
	defer suiteLogMu.Unlock()
	suiteLogs = append(suiteLogs, path)
}
