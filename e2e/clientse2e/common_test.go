// Package clientse2e runs the real client programs — Firefox ESR,
// Thunderbird, NSS's cmsutil, p11-kit and GnuTLS, OpenSSL's libp11 engine,
// pkcs11-tool — against the built libcoolkeypk11.so on virtual CoolKey
// cards, registered the way users register it (modutil, a p11-kit module
// file, PKCS#11 URIs). Every client has at least one run through pcscd and
// its vpcd reader; the others use the socket transport (COOLKEY_SIM).
package clientse2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

const (
	testPIN     = "123456"
	testUser    = "alice"
	toolTimeout = 90 * time.Second
	vpcdSlot    = 0
	// socketOnlyEnv, set to 1, serves every card on the socket transport,
	// for running the suite while someone else holds the vpcd readers.
	socketOnlyEnv = "COOLKEY_E2E_SOCKET_ONLY"
)

// TestMain removes the modules the tests built.
func TestMain(m *testing.M) {
	e2e.Main(m, func() {
		if v2Path != "" {
			os.RemoveAll(filepath.Dir(v2Path))
		}
	})
}

// module returns the module under test: $COOLKEY_MODULE (CMake's build),
// or one built once per test binary.
func module(t testing.TB) string { return e2e.BuildModule(t) }

func needTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			e2e.Skipf(t, "%s is not installed (build/install-deps.sh)", tool)
		}
	}
}

// card is an enrolled virtual card image and what the tests need to know
// about it.
type card struct {
	path   string
	caDir  string // holds ca.pem and ca.key
	ca     *testca.CA
	certs  map[byte]*x509.Certificate // by CKA_ID: 1 signing, 2 encryption
	noPIN  bool
	keys   []provision.KeySpec
	subj   string // the certificates' subject, as OpenSSL prints it
	dir    string
	serial string
}

// newCard provisions an enrolled card for alice (PIN 123456 unless noPIN)
// with the given keys, signing key first, then the encryption key.
func newCard(t testing.TB, noPIN bool, keys ...provision.KeySpec) *card {
	t.Helper()
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	ca, err := testca.LoadOrCreate(caDir)
	if err != nil {
		t.Fatal(err)
	}
	o := provision.Options{State: provision.Enrolled, User: testUser, Keys: keys, CA: ca}
	if noPIN {
		o.NoPIN = true
	} else {
		o.PIN = []byte(testPIN)
	}
	img, err := provision.NewImage(o)
	if err != nil {
		t.Fatal(err)
	}
	c := &card{path: filepath.Join(dir, "card.json"), caDir: caDir, ca: ca, certs: map[byte]*x509.Certificate{},
		noPIN: noPIN, keys: keys, dir: dir}
	if err := vcard.WriteImage(c.path, img); err != nil {
		t.Fatal(err)
	}
	for _, o := range img.Applet.Objects {
		if uint32(o.ID) != uint32(cardedge.CombinedObjectID) {
			continue
		}
		z, err := cardedge.DecodeCombined(o.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range z.Records {
			if r.ID.Letter() != 'c' {
				continue
			}
			for _, a := range r.Attributes {
				if a.Type == cardedge.CKA_VALUE {
					cert, err := x509.ParseCertificate(a.Bytes)
					if err != nil {
						t.Fatal(err)
					}
					c.certs[r.Fixed.ID()] = cert
				}
			}
		}
	}
	if c.certs[1] == nil {
		t.Fatal("the card has no certificate 1")
	}
	return c
}

// certPEM writes certificate id as PEM and returns its path.
func (c *card) certPEM(t testing.TB, id byte) string {
	t.Helper()
	p := filepath.Join(c.dir, fmt.Sprintf("cert%d.pem", id))
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.certs[id].Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// caPEM is the path of the test CA certificate.
func (c *card) caPEM() string { return filepath.Join(c.caDir, testca.CertFile) }

// remove takes the card out of its reader and, on vpcd, waits until PC/SC
// sees the reader empty.
func (tr *transport) remove(t testing.TB) {
	t.Helper()
	tr.slot.Remove()
	if tr.name == "vpcd" {
		e2e.WaitCard(t, tr.reader, false, 10*time.Second)
	}
}

// insert puts the card back.
func (tr *transport) insert(t testing.TB) {
	t.Helper()
	tr.slot.Insert()
	if tr.name == "vpcd" {
		e2e.WaitCard(t, tr.reader, true, 20*time.Second)
	}
}

// transport is how the module reaches the card in one run: the
// environment the client needs.
type transport struct {
	name string   // "vpcd" or "socket"
	env  []string // module environment
	// slot holds the card: Remove and Insert it to simulate the user.
	slot *vcard.Slot
	// reader is the slot description the module gives the card's reader.
	reader string
}

// serveVPCD serves the card in vpcd slot 0 through pcscd. It takes the
// machine-wide vpcd lock for the rest of the test.
func serveVPCD(t testing.TB, c *card) *transport {
	t.Helper()
	if os.Getenv(socketOnlyEnv) == "1" {
		t.Logf("%s=1: the card is served on the socket transport instead of vpcd", socketOnlyEnv)
		return serveSocket(t, c)
	}
	e2e.EnsurePCSCD(t)
	e2e.LockVPCD(t)
	s := e2e.ServeVPCD(t, c.path, vpcdSlot, vcard.Options{})
	return &transport{name: "vpcd", env: baseEnv(t, "COOLKEY_SIM="), slot: s.Slot, reader: s.Reader}
}

// serveSocket serves the card on the socket transport; the module sees it
// through COOLKEY_SIM and is kept away from PC/SC.
func serveSocket(t testing.TB, c *card) *transport {
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
	slot := vcard.NewSlot(vc)
	go func() { done <- serve.Listen(ctx, slot, ln, serve.Options{}) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	addr := ln.Addr().String()
	return &transport{name: "socket", env: baseEnv(t, "COOLKEY_SIM="+addr, "COOLKEY_PCSC=off"),
		slot: slot, reader: "CoolKey virtual card " + addr}
}

// baseEnv is the module environment every client run gets: a private
// object cache, and the module log when COOLKEY_E2E_LOGDIR asks for it.
func baseEnv(t testing.TB, extra ...string) []string {
	v := []string{"XDG_CACHE_HOME=" + filepath.Join(t.TempDir(), "cache")}
	if dir := os.Getenv("COOLKEY_E2E_LOGDIR"); dir != "" {
		v = append(v, "COOLKEY_LOG="+filepath.Join(dir, "module.log"), "COOLKEY_LOG_LEVEL=debug")
	}
	return append(v, extra...)
}

// run runs a program with extra environment and logs it with PINs
// redacted.
func run(t testing.TB, env []string, name string, args ...string) e2e.Result {
	t.Helper()
	start := time.Now()
	res := e2e.RunEnv(t, toolTimeout, env, name, args...)
	t.Logf("%s %s (%v):\n%s%s", name, strings.Join(redact(args), " "), time.Since(start).Round(time.Millisecond),
		clip(res.Stdout), clip(res.Stderr))
	return res
}

// runStdin is run with text on the program's standard input.
func runStdin(t testing.TB, env []string, stdin, name string, args ...string) e2e.Result {
	t.Helper()
	return runLogged(t, env, stdin, "", name, args...)
}

// runLogged runs name with args, extra environment and standard input,
// bounded by toolTimeout, and logs it (with the given prefix, PINs
// redacted). logArgs, when set, are what the log shows instead of args.
func runLogged(t testing.TB, env []string, stdin, prefix, name string, args ...string) e2e.Result {
	t.Helper()
	return runShown(t, env, stdin, prefix+name, args, name, args...)
}

func runShown(t testing.TB, env []string, stdin, shownName string, shownArgs []string, name string, args ...string) e2e.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := e2e.Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitCode()
	}
	if ctx.Err() != nil {
		res.Err = fmt.Errorf("%s timed out after %v", shownName, toolTimeout)
	}
	t.Logf("%s %s (%v):\n%s%s", shownName, strings.Join(redact(shownArgs), " "), time.Since(start).Round(time.Millisecond),
		clip(res.Stdout), clip(res.Stderr))
	return res
}

func mustRun(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	res := run(t, env, name, args...)
	if res.Err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(redact(args), " "), res.Err)
	}
	return res.Stdout + res.Stderr
}

var pinValue = regexp.MustCompile(`pin-value=[^;&]*`)

func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 {
			switch out[i-1] {
			case "--pin", "--so-pin", "-passin":
				out[i] = "***"
			}
		}
		out[i] = pinValue.ReplaceAllString(out[i], "pin-value=***")
	}
	return out
}

// clip keeps test logs readable when a tool prints a lot.
func clip(s string) string {
	const max = 6000
	if len(s) <= max {
		return s
	}
	return s[:max/2] + "\n[...]\n" + s[len(s)-max/2:]
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pemDecode returns the DER of the first PEM block in b, or nil.
func pemDecode(b []byte) ([]byte, []byte) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, b
	}
	return blk.Bytes, rest
}

// profilePrefix names the directories of the browser profiles this package
// makes, so that processes left by a killed run can be told apart from
// everyone else's.
const profilePrefix = "coolkey-clientse2e-profile-"

// newProfileDir makes an empty profile directory, after killing Firefox
// and Thunderbird processes of an earlier run of this package that lost
// their test (orphans, reparented to init, still using one of our
// profiles); they would otherwise linger, holding resources.
func newProfileDir(t testing.TB) string {
	t.Helper()
	killOrphans(t)
	dir, err := os.MkdirTemp("", profilePrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func killOrphans(t testing.TB) {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(string(filepath.Separator)+profilePrefix)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(p, "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state, ppid, ...
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != "1" {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		t.Logf("killing process %d left by an earlier run: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte(" ")))
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// appOutput is what Firefox or Thunderbird printed, without the GTK noise
// a headless run produces.
func appOutput(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" || strings.Contains(l, "Gtk-CRITICAL") || strings.Contains(l, "WARNING: gtk_") {
			continue
		}
		keep = append(keep, l)
	}
	return clip(strings.Join(keep, "\n"))
}
