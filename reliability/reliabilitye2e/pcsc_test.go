// Package reliabilitye2e is the part of the reliability suite that needs
// pcscd and vpcd: the card pulled in the middle of a signature as PC/SC
// reports it, a pcscd restart under a loaded module, and three processes
// signing on one card through pcscd's transactions. It takes the vpcd lock
// and restarts pcscd only when build/pcscd.sh started it.
package reliabilitye2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/hostile"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

const (
	pin  = "E2E-PIN-4417"
	user = "reliae2e"
)

// Return values a call may give once the card is gone.
var removalRVs = map[string]bool{"0x32": true, "0xe0": true, "0xb3": true, "0xb0": true}

var (
	dirOnce sync.Once
	workDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

func dir(t *testing.T) string {
	dirOnce.Do(func() {
		var err error
		if workDir, err = os.MkdirTemp("", "coolkey-reliabilitye2e-"); err != nil {
			t.Fatal(err)
		}
	})
	return workDir
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// build runs f once per test binary to make the named artifact.
func build(t *testing.T, name string, f func(out string) error) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	out := filepath.Join(dir(t), name)
	if err := f(out); err != nil {
		t.Fatal(err)
	}
	built[name] = out
	return out
}

func runIn(wd, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = wd
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func module(t *testing.T) string {
	if so := os.Getenv("COOLKEY_MODULE"); so != "" {
		if _, err := os.Stat(so); err == nil {
			return so
		}
	}
	root := e2e.RepoRoot(t)
	return build(t, "libcoolkeypk11.so", func(out string) error {
		return runIn(root, "go", "build", "-buildmode=c-shared",
			"-ldflags=-extldflags=-Wl,--version-script="+filepath.Join(root, "exports.map"), "-o", out, ".")
	})
}

func compile(t *testing.T, src string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		e2e.Skipf(t, "gcc is not installed")
	}
	root := e2e.RepoRoot(t)
	return build(t, strings.TrimSuffix(filepath.Base(src), ".c"), func(out string) error {
		return runIn(".", "gcc", "-std=gnu99", "-O1", "-Wall", "-Werror", "-I", filepath.Join(root, "include"), "-o", out, src, "-ldl", "-lpthread")
	})
}

// card is an enrolled card image and its signing certificate.
type card struct {
	img  *vcard.Image
	cert *x509.Certificate
}

var (
	cardOnce sync.Once
	theCard  *card
	cardErr  error
)

func enrolled(t *testing.T) *card {
	t.Helper()
	cardOnce.Do(func() {
		ca, err := testca.LoadOrCreate(filepath.Join(dir(t), "ca"))
		if err != nil {
			cardErr = err
			return
		}
		img, err := provision.NewImage(provision.Options{State: provision.Enrolled, User: user, PIN: []byte(pin),
			Keys: []provision.KeySpec{provision.RSA2048, provision.RSA2048}, CA: ca})
		if err != nil {
			cardErr = err
			return
		}
		c := &card{img: img}
		for _, o := range img.Applet.Objects {
			if uint32(o.ID) != uint32(cardedge.CombinedObjectID) {
				continue
			}
			z, err := cardedge.DecodeCombined(o.Data)
			if err != nil {
				cardErr = err
				return
			}
			for _, r := range z.Records {
				if r.ID.Letter() == cardedge.LetterCertAttrs && r.Fixed.ID() == 1 {
					for _, a := range r.Attributes {
						if a.Type == cardedge.CKA_VALUE {
							c.cert, cardErr = x509.ParseCertificate(a.Bytes)
						}
					}
				}
			}
		}
		theCard = c
	})
	if cardErr != nil {
		t.Fatal(cardErr)
	}
	return theCard
}

func (c *card) verify(msg, sig []byte) error {
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(c.cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig)
}

// served is the card in vpcd slot 0 behind a hostile proxy.
type served struct {
	slot  *vcard.Slot
	proxy *hostile.Proxy
}

// serveVPCD takes pcscd and the vpcd lock, and serves the card in vpcd
// slot 0 through a proxy, until the test ends.
func serveVPCD(t *testing.T, c *card) *served {
	t.Helper()
	e2e.EnsurePCSCD(t)
	e2e.LockVPCD(t)
	e2e.WaitCard(t, e2e.ReaderName(0), false, 10*time.Second)
	vc, err := vcard.New(c.img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &served{slot: vcard.NewSlot(vc), proxy: &hostile.Proxy{Logf: t.Logf}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.proxy.ServeCard(ctx, ln, e2e.VPCDAddr(0)) }()
	go func() {
		defer wg.Done()
		serve.VPCD(ctx, s.slot, ln.Addr().String(), serve.Options{RetryInterval: 100 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		e2e.WaitCard(t, e2e.ReaderName(0), false, 10*time.Second)
	})
	e2e.WaitCard(t, e2e.ReaderName(0), true, 20*time.Second)
	return s
}

// env is the environment of a module process: PC/SC readers, no socket
// cards, its own cache, a trace log whose contents the test checks.
func env(t *testing.T) (vars []string, log string) {
	log = filepath.Join(t.TempDir(), "module.log")
	t.Cleanup(func() { dumpLog(t, log) })
	return []string{"COOLKEY_SIM=", "COOLKEY_PCSC=", "XDG_CACHE_HOME=" + t.TempDir(),
		"COOLKEY_LOG=" + log, "COOLKEY_LOG_LEVEL=trace"}, log
}

// checkLog fails the test if the module's log holds the PIN.
func checkLog(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("module log: %v", err)
		return
	}
	for _, s := range []string{pin, hex.EncodeToString([]byte(pin)), strings.ToUpper(hex.EncodeToString([]byte(pin)))} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("the module log %s holds the PIN", path)
		}
	}
}

// dumpLog shows what the module saw when a test failed, without the APDU
// traces that worked.
func dumpLog(t *testing.T, path string) {
	if !t.Failed() {
		return
	}
	b, _ := os.ReadFile(path)
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "9000\"") && !strings.Contains(line, "resp=9000") {
			keep = append(keep, line)
		}
	}
	t.Logf("module log (%s):\n%s", path, strings.Join(keep, "\n"))
}

// driver is testdata/driver.c running the module.
type driver struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  chan string
	card *card
}

func startDriver(t *testing.T, c *card, vars []string) *driver {
	t.Helper()
	bin := compile(t, "testdata/driver.c")
	cmd := exec.Command(bin, module(t))
	cmd.Env = append(os.Environ(), vars...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, cmd: cmd, in: in, out: make(chan string, 16), card: c}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			d.out <- sc.Text()
		}
		close(d.out)
	}()
	t.Cleanup(func() {
		fmt.Fprintln(in, "quit")
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the module process did not finish within 15 s")
		}
	})
	return d
}

// do sends one command and returns the answer and how long it took; a
// call that does not return within 20 s is a hang.
func (d *driver) do(format string, args ...any) (string, time.Duration) {
	d.t.Helper()
	start := time.Now()
	fmt.Fprintf(d.in, format+"\n", args...)
	select {
	case line, ok := <-d.out:
		if !ok {
			d.t.Fatal("the module process died")
		}
		return line, time.Since(start)
	case <-time.After(20 * time.Second):
		d.t.Fatalf("%q did not return within 20 s", fmt.Sprintf(format, args...))
	}
	return "", 0
}

func (d *driver) must(format string, args ...any) string {
	d.t.Helper()
	line, _ := d.do(format, args...)
	if !strings.HasPrefix(line, "OK") {
		d.t.Fatalf("%s: %s", fmt.Sprintf(format, args...), line)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "OK"))
}

// waitSlot waits until vpcd slot 0 shows a token and returns its slot ID.
func (d *driver) waitSlot(within time.Duration) string {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		line, _ := d.do("slots %s", e2e.ReaderName(0))
		if strings.HasPrefix(line, "OK ") {
			return strings.TrimPrefix(line, "OK ")
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("no token in %s within %v (%s)", e2e.ReaderName(0), within, line)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// session opens a session on slot, logs in, signs and checks the
// signature; it returns the session.
func (d *driver) session(slot string) string {
	d.t.Helper()
	s := d.must("open %s", slot)
	d.must("login %s %s", s, pin)
	d.checkSign(s)
	return s
}

func (d *driver) checkSign(s string) {
	d.t.Helper()
	f := strings.Fields(d.must("sign %s", s))
	msg, _ := hex.DecodeString(f[0])
	sig, _ := hex.DecodeString(f[1])
	if err := d.card.verify(msg, sig); err != nil {
		d.t.Fatalf("signature does not verify: %v", err)
	}
}

func rvOf(line string) string { return strings.TrimPrefix(line, "RV ") }

// The card leaves after each APDU of an RSA-2048 signature, as pcscd and
// the vpcd reader report it (the card's connection to the reader drops):
// C_Sign fails with a removal code within a second, the session is dead,
// and after the card is back the same module process logs in and signs,
// with no session left over.
func TestRemovalThroughPCSC(t *testing.T) {
	c := enrolled(t)
	s := serveVPCD(t, c)
	vars, log := env(t)
	d := startDriver(t, c, vars)
	slot := d.waitSlot(10 * time.Second)
	sess := d.session(slot)
	points := 0
	for k := 1; ; k++ {
		before := s.proxy.APDUs()
		s.proxy.SetFault(hostile.At(before+k, hostile.Remove(s.slot, k%2 == 1)))
		line, took := d.do("sign %s", sess)
		s.proxy.SetFault(nil)
		if s.proxy.APDUs() < before+k {
			if !strings.HasPrefix(line, "OK") {
				t.Fatalf("sign without a fault: %s", line)
			}
			break
		}
		points++
		if !removalRVs[rvOf(line)] {
			t.Errorf("removal after APDU %d of C_Sign: %s, want a removal code", k, line)
		}
		if took > time.Second {
			t.Errorf("removal after APDU %d: C_Sign took %v", k, took)
		}
		if line, _ := d.do("state %s", sess); !removalRVs[rvOf(line)] {
			t.Errorf("removal after APDU %d: C_GetSessionInfo: %s", k, line)
		}
		s.slot.Insert()
		slot = d.waitSlot(10 * time.Second)
		if n := d.must("token %s", slot); n != "0 0" {
			t.Errorf("removal after APDU %d: sessions after reinsertion: %s, want 0 0", k, n)
		}
		sess = d.session(slot)
		if k > 12 {
			t.Fatal("the signature never ended")
		}
	}
	if points < 5 {
		t.Errorf("only %d removal points", points)
	}
	t.Logf("FIGURE removal points through PC/SC (RSA-2048 sign): %d", points)
	checkLog(t, log)
}

// pcscd is stopped and started again (only a pcscd that build/pcscd.sh
// started, and only while this test holds the vpcd lock) under a module
// process that has a logged-in session: calls fail while it is down,
// nothing hangs, and once pcscd and the card are back the same process
// finds the token again, logs in and signs.
func TestPCSCDRestart(t *testing.T) {
	c := enrolled(t)
	s := serveVPCD(t, c)
	root := e2e.RepoRoot(t)
	script := filepath.Join(root, "build", "pcscd.sh")
	st := e2e.Run(t, 10*time.Second, script, "status")
	if !strings.Contains(st.Stdout, "started by build/pcscd.sh") {
		e2e.Skipf(t, "pcscd was not started by build/pcscd.sh (%s); not restarting someone else's", strings.TrimSpace(st.Stdout))
	}
	vars, log := env(t)
	d := startDriver(t, c, vars)
	slot := d.waitSlot(10 * time.Second)
	sess := d.session(slot)

	if r := e2e.Run(t, 30*time.Second, script, "stop"); r.Err != nil {
		t.Fatalf("pcscd.sh stop: %v %s", r.Err, r.Stderr)
	}
	restarted := false
	defer func() {
		if !restarted {
			e2e.Run(t, 30*time.Second, script, "start")
		}
	}()
	line, took := d.do("sign %s", sess)
	if strings.HasPrefix(line, "OK") {
		t.Errorf("C_Sign with pcscd down succeeded")
	}
	if took > 5*time.Second {
		t.Errorf("C_Sign with pcscd down took %v", took)
	}
	if line, _ := d.do("slots %s", e2e.ReaderName(0)); strings.HasPrefix(line, "OK") {
		t.Errorf("a token with pcscd down: %s", line)
	}
	if r := e2e.Run(t, 30*time.Second, script, "start"); r.Err != nil {
		t.Fatalf("pcscd.sh start: %v %s", r.Err, r.Stderr)
	}
	restarted = true
	e2e.WaitCard(t, e2e.ReaderName(0), true, 30*time.Second)
	slot = d.waitSlot(20 * time.Second)
	if line, _ := d.do("state %s", sess); strings.HasPrefix(line, "OK") {
		t.Logf("the old session survived the restart: %s", line)
		d.checkSign(sess)
	}
	d.session(slot)
	_ = s
	checkLog(t, log)
}

// Three processes, two threads each, sign on one card through pcscd for
// five seconds: pcscd's transactions serialise them and every signature
// verifies.
func TestThreeProcessesThroughPCSC(t *testing.T) {
	c := enrolled(t)
	serveVPCD(t, c)
	bin := compile(t, "../testdata/hammer.c")
	mod := module(t)
	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	logs := make([]string, 3)
	for i := range outs {
		vars, log := env(t)
		logs[i] = log
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e2e.RunEnv(t, 3*time.Minute, vars, bin, mod, "2", "5", pin)
			outs[i], errs[i] = r.Stdout, r.Err
			if r.Err != nil {
				errs[i] = fmt.Errorf("%v: %s", r.Err, r.Stderr)
			}
		}()
	}
	wg.Wait()
	total := 0
	for i, out := range outs {
		if errs[i] != nil {
			t.Errorf("process %d: %v", i, errs[i])
		}
		sigs := 0
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 4 && f[0] == "SIG":
				msg, _ := hex.DecodeString(f[2])
				sig, _ := hex.DecodeString(f[3])
				if err := c.verify(msg, sig); err != nil {
					t.Errorf("process %d: a signature does not verify", i)
				}
				sigs++
			case len(f) == 4 && f[0] == "ERR":
				t.Errorf("process %d: %s", i, line)
			case len(f) == 2 && f[0] == "SESSIONS" && f[1] != "1":
				t.Errorf("process %d: %s left open", i, line)
			}
		}
		if sigs == 0 {
			t.Errorf("process %d signed nothing", i)
		}
		total += sigs
		checkLog(t, logs[i])
	}
	t.Logf("FIGURE three processes × 2 threads × 5 s through pcscd: %s signatures verified", strconv.Itoa(total))
}
