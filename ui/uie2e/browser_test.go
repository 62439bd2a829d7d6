// Package uie2e drives the Smart Card Manager in headless Chromium
// (through chromedriver's W3C WebDriver protocol): a blank virtual card is
// inserted and shows up, the test TPS's CA is trusted and the card phoned
// home through the forms, then the card is formatted, enrolled (credentials
// and new PIN in the forms generated from the TPS's requests, progress
// shown live), its certificates viewed and exported, its PIN reset, a
// refused operation shown in plain words, the diagnostics read, and the
// card removed. Every page is saved as a screenshot.
//
// The card is served with the socket transport (COOLKEY_SIM), so the test
// needs neither pcscd nor the vpcd lock.
package uie2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/internal/dn"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/ui/internal/webdriver"
)

const (
	cuid      = "40907A0100ABCDEF0123"
	otherCUID = "40907A0100FEDCBA9876"
	user      = "jdoe"
	password  = "LDAP-s3cret-pw"
	firstPIN  = "13579"
	resetPIN  = "24680"
	// ArtifactsEnv names a directory for screenshots; by default they go
	// to the test's temporary directory.
	ArtifactsEnv = "COOLKEY_ARTIFACTS"
)

// chromiumArgs are the flags this machine's Chromium needs.
var chromiumArgs = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--window-size=1280,860", "--force-device-scale-factor=1",
}

func findTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	e2e.Skipf(t, "uie2e: none of %v is installed (build/install-deps.sh installs chromium and chromium-driver)", names)
	return ""
}

// proc is a background coolkey process whose stdout lines are read.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, name string, env []string, cli string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(cli, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 64), stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
		close(p.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderr)
		}
	})
	return p
}

// waitLine returns the rest of the first stdout line starting with prefix.
func (p *proc) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("process exited before printing %q: %s", prefix, p.stderr)
			}
			if rest, found := strings.CutPrefix(l, prefix); found {
				return rest
			}
		case <-deadline:
			t.Fatalf("no %q line in 30s: %s", prefix, p.stderr)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// browser is the test's handle on the page.
type browser struct {
	t     *testing.T
	s     *webdriver.Session
	shots string
	n     int
}

// shot saves the whole page (the viewport where a full-page capture is not
// available).
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := b.s.FullPageScreenshot()
	if err != nil {
		png, err = b.s.Screenshot()
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.n++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// readmeShot saves the Manage Smart Cards page cropped to its content:
// the README's screenshot (docs/ui-cards.png) is a copy of it.
func (b *browser) readmeShot() {
	b.t.Helper()
	var r struct{ Width, Height float64 }
	err := b.s.Execute(`const m = document.querySelector('main').getBoundingClientRect();
		const t = document.querySelector('#cards').getBoundingClientRect();
		return {Width: document.documentElement.clientWidth, Height: Math.ceil(t.bottom + window.scrollY + 28)};`, &r)
	if err != nil {
		b.fail("measuring the page: %v", err)
	}
	png, err := b.s.ClipScreenshot(0, 0, r.Width, r.Height)
	if err != nil {
		b.t.Logf("cropped screenshot: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, "manage-smart-cards.png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// waitFor polls cond until it holds.
func (b *browser) waitFor(what string, timeout time.Duration, cond func() (bool, error)) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			b.fail("waiting %v for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fail saves a screenshot and the page's text, then fails.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	if png, err := b.s.Screenshot(); err == nil {
		os.WriteFile(filepath.Join(b.shots, "failure.png"), png, 0o644)
	}
	var text string
	b.s.Execute("return document.body.innerText", &text)
	b.t.Fatalf(format+"\npage text:\n%s", append(args, text)...)
}

func (b *browser) find(css string) webdriver.Element {
	b.t.Helper()
	e, err := b.s.Find(css)
	if err != nil {
		b.fail("find %s: %v", css, err)
	}
	return e
}

func (b *browser) click(css string) {
	b.t.Helper()
	b.waitVisible(css, 30*time.Second)
	if err := b.find(css).Click(); err != nil {
		b.fail("click %s: %v", css, err)
	}
}

func (b *browser) typeInto(css, text string) {
	b.t.Helper()
	b.waitVisible(css, 30*time.Second)
	e := b.find(css)
	if err := e.Clear(); err != nil {
		b.fail("clear %s: %v", css, err)
	}
	if err := e.SendKeys(text); err != nil {
		b.fail("type into %s: %v", css, err)
	}
}

func (b *browser) text(css string) string {
	b.t.Helper()
	t, err := b.find(css).Text()
	if err != nil {
		b.fail("text of %s: %v", css, err)
	}
	return t
}

func (b *browser) visible(css string) (bool, error) {
	e, err := b.s.Find(css)
	if err != nil {
		return false, err
	}
	return e.Displayed()
}

func (b *browser) waitVisible(css string, timeout time.Duration) {
	b.t.Helper()
	b.waitFor(css+" visible", timeout, func() (bool, error) { return b.visible(css) })
}

func (b *browser) waitText(css, want string, timeout time.Duration) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%s to contain %q", css, want), timeout, func() (bool, error) {
		e, err := b.s.Find(css)
		if err != nil {
			return false, err
		}
		t, err := e.Text()
		return strings.Contains(t, want), err
	})
}

// row is the selector of the card's row in the Active Smart Cards table.
func row(reader string) string { return fmt.Sprintf(`#cards tbody tr[data-reader=%q]`, reader) }

func (b *browser) waitStatus(reader, status string, timeout time.Duration) {
	b.t.Helper()
	b.waitFor("card status "+status, timeout, func() (bool, error) {
		e, err := b.s.Find(row(reader))
		if err != nil {
			return false, err
		}
		st, err := e.Attribute("data-status")
		return st == status, err
	})
}

// login fills the credentials form generated from EXTENDED_LOGIN_REQUEST.
func (b *browser) login(pw string) {
	b.t.Helper()
	b.waitVisible(`#op-form[data-kind="login"] input[data-param="UID"]`, time.Minute)
	if got := b.text("#op-form h3"); got != "LDAP Authentication" {
		b.fail("login form titled %q, want the TPS's title", got)
	}
	b.typeInto(`#op-form input[data-param="UID"]`, user)
	b.typeInto(`#op-form input[data-param="PASSWORD"]`, pw)
	if typ, _ := b.find(`#op-form input[data-param="PASSWORD"]`).Attribute("type"); typ != "password" {
		b.fail("the password field is of type %q", typ)
	}
}

func (b *browser) newPIN(pin string) {
	b.t.Helper()
	b.waitVisible(`#op-form[data-kind="pin"] #op-pin`, 2*time.Minute)
	b.typeInto("#op-pin", pin)
	b.typeInto("#op-pin2", pin)
}

// runOp opens an operation on the card and starts it.
func (b *browser) openOp(reader, action string) {
	b.t.Helper()
	b.click(fmt.Sprintf(`%s button[data-action=%q]`, row(reader), action))
	b.waitVisible("#op-start", 10*time.Second)
}

func (b *browser) waitDone(timeout time.Duration) (ok bool, headline string) {
	b.t.Helper()
	b.waitVisible("#op-close", timeout)
	h := b.find("#op-headline")
	cls, _ := h.Attribute("class")
	t, _ := h.Text()
	return strings.Contains(cls, "ok"), t
}

func TestSmartCardManagerInBrowser(t *testing.T) {
	driverPath := findTool(t, "chromedriver")
	chromium := findTool(t, "chromium", "chromium-browser")
	begin := time.Now()
	cli := e2e.BuildCLI(t)
	dir := t.TempDir()
	shots := t.TempDir()
	if a := os.Getenv(ArtifactsEnv); a != "" {
		shots = filepath.Join(a, "ui")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", shots)

	// A blank card, served on a socket, not yet inserted.
	img := filepath.Join(dir, "card.json")
	if r := e2e.Run(t, time.Minute, cli, "sim", "card", "new", "--image", img, "--state", "blank", "--cuid", cuid); r.Err != nil {
		t.Fatalf("sim card new: %v %s", r.Err, r.Stderr)
	}
	cardAddr := freeAddr(t)
	control := filepath.Join(dir, "card.ctl")
	start(t, "card", nil, cli, "sim", "card", "serve", "--image", img, "--listen", cardAddr, "--control", control, "--removed")
	reader := "CoolKey virtual card " + cardAddr
	// A second reader, for a formatted card that joins later: operations
	// must touch only the card they were started on.
	img2 := filepath.Join(dir, "card2.json")
	if r := e2e.Run(t, time.Minute, cli, "sim", "card", "new", "--image", img2, "--state", "formatted", "--cuid", otherCUID); r.Err != nil {
		t.Fatalf("sim card new: %v %s", r.Err, r.Stderr)
	}
	card2Addr := freeAddr(t)
	control2 := filepath.Join(dir, "card2.ctl")
	start(t, "card 2", nil, cli, "sim", "card", "serve", "--image", img2, "--listen", card2Addr, "--control", control2, "--removed")
	reader2 := "CoolKey virtual card " + card2Addr
	ctlAt := func(control, cmd string) {
		t.Helper()
		var r e2e.Result
		for i := 0; i < 50; i++ { // the control socket appears shortly after start
			if r = e2e.Run(t, 10*time.Second, cli, "sim", "card", "ctl", "--control", control, cmd); r.Err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("sim card ctl %s: %v %s", cmd, r.Err, r.Stderr)
	}
	ctl := func(cmd string) { t.Helper(); ctlAt(control, cmd) }
	ctl("status")
	ctlAt(control2, "status")

	tps := start(t, "test TPS", nil, cli, "sim", "tps", "serve", "--listen", "127.0.0.1:0", "--state", filepath.Join(dir, "tps"),
		"--user", user+":"+password, "--policy", "PIN_RESET=YES")
	tpsURL := tps.waitLine(t, "TPS listening on ")
	phoneHomeURL := strings.TrimSuffix(tpsURL, "/tps/tps") + "/tps/phoneHome"
	caFile := filepath.Join(dir, "tps", "ca.pem")

	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	uiEnv := []string{"HOME=" + home, "XDG_CONFIG_HOME=", "XDG_STATE_HOME=", "XDG_RUNTIME_DIR=", "COOLKEY_PCSC=off", "COOLKEY_SIM=" + cardAddr + "," + card2Addr}
	uiProc := start(t, "coolkey ui", uiEnv, cli, "ui", "--listen", "127.0.0.1:0")
	pageURL := strings.TrimSpace(uiProc.waitLine(t, "Smart Card Manager: "))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	drv, err := webdriver.StartDriver(ctx, driverPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		drv.Stop()
		if t.Failed() {
			t.Logf("chromedriver log:\n%s", drv.Log())
		}
	})
	sess, err := drv.NewSession(map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args":   append(append([]string{}, chromiumArgs...), "--user-data-dir="+t.TempDir()),
		},
	})
	if err != nil {
		t.Fatalf("starting Chromium: %v\n%s", err, drv.Log())
	}
	t.Cleanup(func() { sess.Delete() })
	b := &browser{t: t, s: sess, shots: shots}
	t.Logf("set-up %v", time.Since(begin).Round(time.Millisecond))

	// The page: token in, token out of the address bar, live, no card.
	if err := sess.Navigate(pageURL); err != nil {
		t.Fatal(err)
	}
	if u, _ := sess.URL(); strings.Contains(u, "/t/") {
		t.Errorf("the token stayed in the address bar: %s", u)
	}
	b.waitText("#conn", "Live", 15*time.Second)
	b.waitVisible("#no-cards", 10*time.Second)
	b.shot("no-card")

	// Insertion shows up by itself.
	ctl("insert")
	b.waitStatus(reader, "NO_APPLET", 20*time.Second)
	if got := b.text(row(reader) + " td:nth-child(2)"); got != strings.ToLower(cuid) {
		t.Errorf("CUID column %q", got)
	}
	b.shot("card-inserted")

	// Trust the TPS's CA through the page.
	b.click(`nav a[data-nav="trust"]`)
	b.waitVisible("#trust-file", 10*time.Second)
	if err := b.find("#trust-file").SendKeys(caFile); err != nil {
		t.Fatal(err)
	}
	b.click("#trust-add")
	b.waitText("#trust-message", "Added", 10*time.Second)
	b.waitText("#trust-list", "coolkey-go Test CA", 10*time.Second)
	b.shot("trusted-cas")

	// The blank card carries no phone-home URL: give it one.
	b.click(`nav a[data-nav="cards"]`)
	b.click(row(reader) + ` button[data-action="phonehome"]`)
	b.waitVisible("#ph-url", 10*time.Second)
	b.waitText("#ph-info", "(none)", 10*time.Second)
	b.typeInto("#ph-url", phoneHomeURL)
	b.click("#ph-set")
	b.waitText("#ph-message", "Phone home succeeded", 30*time.Second)
	b.waitText("#ph-cached", tpsURL, 5*time.Second)
	b.shot("phone-home")
	b.click(`nav a[data-nav="cards"]`)
	b.waitText(row(reader), "coolkey-go test TPS", 10*time.Second)

	// Format.
	b.openOp(reader, "format")
	b.waitText("#op-warning", "erases every key", 5*time.Second)
	b.shot("format-confirm")
	b.click("#op-start")
	b.login(password)
	b.click("#op-submit")
	if ok, h := b.waitDone(2 * time.Minute); !ok || !strings.Contains(h, "formatted") {
		b.fail("format: %q", h)
	}
	b.shot("format-done")
	b.click("#op-close")
	b.waitStatus(reader, "UNINITIALIZED", 20*time.Second)

	// Enroll, watching the TPS's progress.
	b.openOp(reader, "enroll")
	b.click("#op-start")
	b.login(password)
	b.shot("enroll-login")
	b.click("#op-submit")
	b.newPIN(firstPIN)
	b.shot("enroll-new-pin")
	b.click("#op-submit")
	b.waitText("#op-tasks", "PROGRESS_KEY_GENERATION", 2*time.Minute)
	b.shot("enroll-progress")
	if ok, h := b.waitDone(5 * time.Minute); !ok || !strings.Contains(h, "enrolled") {
		b.fail("enroll: %q", h)
	}
	tasks := b.text("#op-tasks")
	for _, want := range []string{"Generating keys on the card", "Obtaining certificates", "Writing certificates to the card", "PROGRESS_DONE_ENROLLMENT"} {
		if !strings.Contains(tasks, want) {
			t.Errorf("progress list lacks %q:\n%s", want, tasks)
		}
	}
	b.shot("enroll-done")
	b.click("#op-close")
	b.waitStatus(reader, "ENROLLED", 20*time.Second)
	b.waitText(row(reader)+" td:nth-child(5)", "1.", 5*time.Second) // applet version
	b.waitText(row(reader)+" td:nth-child(6)", "2", 5*time.Second)  // certificates
	ctlAt(control2, "insert")
	b.waitStatus(reader2, "UNINITIALIZED", 20*time.Second)
	b.shot("cards-enrolled")
	b.readmeShot()

	// The watcher's link (coolkey watch --open) opens the enrollment of
	// a given card.
	if err := sess.Navigate(pageURL + "?" + url.Values{"enroll": {reader2}}.Encode()); err != nil {
		t.Fatal(err)
	}
	b.waitVisible("#op-start", 15*time.Second)
	if sub := b.text("#op-subtitle"); !strings.Contains(sub, reader2) || !strings.Contains(sub, strings.ToLower(otherCUID)) {
		b.fail("the enrollment link opened %q", sub)
	}
	if op, _ := b.find("#op-panel").Attribute("data-op"); op != "enroll" {
		b.fail("the link opened %q", op)
	}
	b.shot("enroll-link")
	b.click("#op-intro-cancel")
	if u, _ := sess.URL(); strings.Contains(u, "enroll=") || strings.Contains(u, "/t/") {
		t.Errorf("after the link the address is %s", u)
	}

	// Certificates, and their PEM export.
	b.click(row(reader) + ` button[data-action="certs"]`)
	b.waitFor("two certificates", 10*time.Second, func() (bool, error) {
		els, err := sess.FindAll("#certs-list article.cert")
		return len(els) == 2, err
	})
	b.shot("certificates")
	shown := b.text("#certs-list article.cert")
	var pemText string
	if err := sess.ExecuteAsync(`const done = arguments[arguments.length-1];
		fetch(document.querySelector('#certs-list a[data-action="pem"]').href).then(r => r.text()).then(done, e => done('error: ' + e));`, &pemText); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(pemText))
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("PEM export: %q", pemText)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Raw)
	if fp := fmt.Sprintf("% X", sum[:]); !strings.Contains(shown, strings.ReplaceAll(fp, " ", ":")) {
		t.Errorf("the page's fingerprint does not match the exported certificate's %s:\n%s", fp, shown)
	}
	if !strings.Contains(shown, dn.Subject(cert)) || !strings.Contains(shown, user) {
		t.Errorf("certificate view lacks the subject %s:\n%s", dn.Subject(cert), shown)
	}
	checkPIN(t, cardAddr, firstPIN, true)

	// Reset the PIN.
	b.click(`nav a[data-nav="cards"]`)
	b.openOp(reader, "reset-pin")
	b.click("#op-start")
	b.login(password)
	b.click("#op-submit")
	b.newPIN(resetPIN)
	b.click("#op-submit")
	if ok, h := b.waitDone(2 * time.Minute); !ok || !strings.Contains(h, "PIN is changed") {
		b.fail("reset PIN: %q", h)
	}
	b.shot("reset-pin-done")
	b.click("#op-close")
	checkPIN(t, cardAddr, firstPIN, false)
	checkPIN(t, cardAddr, resetPIN, true)

	// A refusal (END_OP with ERROR_LOGIN) in plain words.
	b.waitStatus(reader, "ENROLLED", 20*time.Second)
	b.openOp(reader, "reset-pin")
	b.click("#op-start")
	b.login("not-the-password")
	b.click("#op-submit")
	if ok, h := b.waitDone(2 * time.Minute); ok || !strings.Contains(h, "The server refused: the credentials are not valid") {
		b.fail("wrong password: %q", h)
	}
	if d := b.text("#op-detail"); !strings.Contains(d, "ERROR_LOGIN") {
		t.Errorf("detail %q", d)
	}
	b.shot("refused")
	b.click("#op-close")

	// Diagnostics: the view and the log.
	b.click(`nav a[data-nav="diagnostics"]`)
	b.waitText("#diag-log", "op-success", 10*time.Second)
	b.waitText("#diag-cards", phoneHomeURL, 10*time.Second)
	b.shot("diagnostics")
	logText := b.text("#diag-log")
	for _, secret := range []string{password, firstPIN, resetPIN} {
		if strings.Contains(logText, secret) {
			t.Errorf("the diagnostics log shows a secret")
		}
	}

	// Nothing the user typed is in the page any more.
	var html string
	if err := sess.Execute(`return document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join('|')`, &html); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{password, firstPIN, resetPIN} {
		if strings.Contains(html, secret) {
			t.Errorf("the page still holds a secret the user typed")
		}
	}

	// Removal shows up by itself; the other card stays as it was.
	b.click(`nav a[data-nav="cards"]`)
	ctl("remove")
	b.waitFor("the card's row to go", 20*time.Second, func() (bool, error) {
		els, err := sess.FindAll(row(reader))
		return len(els) == 0, err
	})
	b.waitStatus(reader2, "UNINITIALIZED", 5*time.Second)
	if got := b.text(row(reader2) + " td:nth-child(3)"); got != "—" {
		t.Errorf("the other card's issuer is %q; nothing phoned home for it", got)
	}
	b.shot("card-removed")
	ctlAt(control2, "remove")
	b.waitVisible("#no-cards", 20*time.Second)
	b.shot("no-card-left")
	t.Logf("browser story %v", time.Since(begin).Round(time.Millisecond))
}

// checkPIN verifies a PIN on the card directly (socket transport).
func checkPIN(t *testing.T, addr, pin string, want bool) {
	t.Helper()
	tr, err := netcard.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	card := cardedge.NewCard(tr)
	err = card.Transact(func() error {
		if err := card.SelectApplet(); err != nil {
			return err
		}
		return card.VerifyPIN(cardedge.UserPIN, []byte(pin))
	})
	if (err == nil) != want {
		t.Errorf("PIN #%d works: %v, want %v (%v)", len(pin), err == nil, want, err)
	}
}
