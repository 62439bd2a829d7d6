// Package modulee2e drives the built libcoolkeypk11.so with real clients —
// pkcs11-tool, OpenSSL, NSS's certutil and modutil — on virtual cards served
// through pcscd's vpcd reader and through the socket transport
// (COOLKEY_SIM), and compares it with the C++ CoolKey module on the same
// card, APDU counts included.
package modulee2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/framing"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

const (
	cppModule    = "/usr/lib/pkcs11/libcoolkeypk11.so"
	cppCacheDir  = "/var/cache/coolkey"
	testPIN      = "123456"
	testUser     = "alice"
	testCUID     = "40907A01004212345678"
	vpcdReader   = "Virtual PCD 00 00"
	toolTimeout  = 90 * time.Second
	cardWaitTime = 20 * time.Second
)

func TestMain(m *testing.M) { e2e.Main(m) }

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			e2e.Skipf(t, "%s is not installed", tool)
		}
	}
}

// card is an enrolled card image on disk.
type card struct {
	path  string
	ca    *testca.CA
	certs map[byte][]byte // DER certificates by CKA_ID
	z0    int             // size of z0 as the header gives it
}

// enrolled makes a Dogtag-layout card like the one judges.md measured
// (user alice, that CUID, PIN 123456) with the given keys.
func enrolled(t *testing.T, keys ...provision.KeySpec) *card {
	t.Helper()
	dir := t.TempDir()
	ca, err := testca.LoadOrCreate(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	cuid, _ := cardedge.ParseCUID(testCUID)
	img, err := provision.NewImage(provision.Options{
		State: provision.Enrolled, CUID: cuid, User: testUser, PIN: []byte(testPIN), Keys: keys, CA: ca,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &card{path: filepath.Join(dir, "card.json"), ca: ca, certs: map[byte][]byte{}}
	if err := vcard.WriteImage(c.path, img); err != nil {
		t.Fatal(err)
	}
	for _, o := range img.Applet.Objects {
		if uint32(o.ID) != uint32(cardedge.CombinedObjectID) {
			continue
		}
		h, err := cardedge.ParseCombinedHeader(o.Data)
		if err != nil {
			t.Fatal(err)
		}
		c.z0 = h.Size()
		z, err := cardedge.DecodeCombined(o.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range z.Records {
			if r.ID.Letter() == 'c' {
				for _, a := range r.Attributes {
					if a.Type == cardedge.CKA_VALUE {
						c.certs[r.Fixed.ID()] = a.Bytes
					}
				}
			}
		}
	}
	return c
}

// apduProxy sits between the card and pcscd's vpcd driver and counts the
// command APDUs vpcd sends (frames longer than one control byte): the
// card-side count of whatever module drives the reader.
type apduProxy struct {
	ln    net.Listener
	count atomic.Int64
}

func startProxy(t *testing.T, target string) *apduProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &apduProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			cardConn, err := ln.Accept()
			if err != nil {
				return
			}
			vpcd, err := net.Dial("tcp", target)
			if err != nil {
				cardConn.Close()
				continue
			}
			framing.TuneConn(cardConn)
			framing.TuneConn(vpcd)
			done := make(chan struct{}, 2)
			pipe := func(from, to net.Conn, count bool) {
				defer func() { done <- struct{}{} }()
				for {
					f, err := framing.ReadFrame(from)
					if err != nil {
						return
					}
					framing.QuickAck(from)
					if count && len(f) > 1 {
						p.count.Add(1)
					}
					if framing.WriteFrame(to, f) != nil {
						return
					}
				}
			}
			go pipe(vpcd, cardConn, true)
			go pipe(cardConn, vpcd, false)
			go func() {
				<-done
				cardConn.Close()
				vpcd.Close()
			}()
		}
	}()
	return p
}

// serveVPCD serves the card in vpcd's first slot through a counting proxy
// and waits until PC/SC sees it. The caller holds the vpcd lock.
func serveVPCD(t *testing.T, c *card) *apduProxy {
	t.Helper()
	e2e.WaitCard(t, vpcdReader, false, 10*time.Second)
	store := vcard.FileStore{Path: c.path}
	img, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	vc, err := vcard.New(img, vcard.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, e2e.VPCDAddr(0))
	slot := vcard.NewSlot(vc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.VPCD(ctx, slot, proxy.ln.Addr().String(), serve.Options{Logf: t.Logf}) }()
	t.Cleanup(func() {
		cancel()
		<-done
		e2e.WaitCard(t, vpcdReader, false, 10*time.Second)
	})
	e2e.WaitCard(t, vpcdReader, true, cardWaitTime)
	return proxy
}

// serveSocket serves the card on the socket transport and returns its
// address for COOLKEY_SIM.
func serveSocket(t *testing.T, c *card) string {
	t.Helper()
	store := vcard.FileStore{Path: c.path}
	img, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	vc, err := vcard.New(img, vcard.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Listen(ctx, vcard.NewSlot(vc), ln, serve.Options{Logf: t.Logf}) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// env is the environment of one client run of our module.
type env struct {
	t        *testing.T
	cacheDir string // XDG_CACHE_HOME
	count    string // COOLKEY_APDU_COUNT_FILE
	extra    []string
}

func newEnv(t *testing.T, extra ...string) *env {
	dir := t.TempDir()
	return &env{t: t, cacheDir: filepath.Join(dir, "xdg"), count: filepath.Join(dir, "apdus"), extra: extra}
}

func (e *env) vars() []string {
	v := []string{"XDG_CACHE_HOME=" + e.cacheDir, "COOLKEY_APDU_COUNT_FILE=" + e.count, "COOLKEY_SIM="}
	if dir := os.Getenv("COOLKEY_E2E_LOGDIR"); dir != "" {
		v = append(v, "COOLKEY_LOG="+filepath.Join(dir, "module.log"), "COOLKEY_LOG_LEVEL=trace")
	}
	return append(v, e.extra...)
}

// apdus reads the count the module wrote, resetting it.
func (e *env) apdus() int {
	e.t.Helper()
	b, err := os.ReadFile(e.count)
	if err != nil {
		e.t.Fatalf("APDU count: %v", err)
	}
	os.Remove(e.count)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// run runs a client with our module's environment (vars) and logs it with
// PINs redacted.
func run(t *testing.T, vars []string, name string, args ...string) e2e.Result {
	t.Helper()
	res := e2e.RunEnv(t, toolTimeout, vars, name, args...)
	t.Logf("%s %s:\n%s%s", name, strings.Join(redact(args), " "), res.Stdout, res.Stderr)
	return res
}

func mustRun(t *testing.T, vars []string, name string, args ...string) string {
	t.Helper()
	res := run(t, vars, name, args...)
	if res.Err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(redact(args), " "), res.Err)
	}
	return res.Stdout
}

func redact(args []string) []string {
	out := append([]string(nil), args...)
	pinValue := regexp.MustCompile(`pin-value=[^;]*`)
	for i := range out {
		if i > 0 && (out[i-1] == "--pin" || out[i-1] == "--so-pin") {
			out[i] = "***"
		}
		out[i] = pinValue.ReplaceAllString(out[i], "pin-value=***")
	}
	return out
}

// slotFields parses pkcs11-tool -L: for each slot description, its
// "name : value" lines.
func slotFields(out string) map[string]map[string]string {
	slots := map[string]map[string]string{}
	var cur map[string]string
	head := regexp.MustCompile(`^Slot \d+ \(0x[0-9a-f]+\): (.*)$`)
	kv := regexp.MustCompile(`^\s+([a-z /]+?)\s*: (.*)$`)
	for _, l := range strings.Split(out, "\n") {
		if m := head.FindStringSubmatch(l); m != nil {
			cur = map[string]string{}
			slots[strings.TrimSpace(m[1])] = cur
			continue
		}
		if m := kv.FindStringSubmatch(l); m != nil && cur != nil {
			cur[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return slots
}

// object is one object of pkcs11-tool -O output.
type object struct{ kind, label, id string }

func objects(out string) []object {
	var objs []object
	for _, l := range strings.Split(out, "\n") {
		switch {
		case !strings.HasPrefix(l, " ") && strings.Contains(l, " Object"):
			objs = append(objs, object{kind: l[:strings.Index(l, " Object")]})
		case len(objs) > 0 && strings.HasPrefix(l, "  label:"):
			objs[len(objs)-1].label = strings.TrimSpace(strings.TrimPrefix(l, "  label:"))
		case len(objs) > 0 && strings.HasPrefix(l, "  ID:"):
			objs[len(objs)-1].id = strings.TrimSpace(strings.TrimPrefix(l, "  ID:"))
		}
	}
	return objs
}

func clearCppCache(t *testing.T) {
	t.Helper()
	ents, _ := os.ReadDir(cppCacheDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "coolkeypk11s") {
			if err := os.Remove(filepath.Join(cppCacheDir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// vpcdSetup prepares a test on the vpcd reader: tools, pcscd, the lock.
func vpcdSetup(t *testing.T) string {
	t.Helper()
	needTools(t, "pkcs11-tool", "openssl")
	mod := e2e.BuildModule(t)
	e2e.EnsurePCSCD(t)
	e2e.LockVPCD(t)
	return mod
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// certPub writes the public key of a certificate as PEM for openssl.
func certPub(t *testing.T, dir string, der []byte, name string) string {
	t.Helper()
	cert := writeFile(t, dir, name+".der", der)
	pub := filepath.Join(dir, name+".pem")
	mustRun(t, nil, "openssl", "x509", "-inform", "der", "-in", cert, "-pubkey", "-noout", "-out", pub)
	return pub
}

func isExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}
