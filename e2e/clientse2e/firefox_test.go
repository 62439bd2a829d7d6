package clientse2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/e2e/marionette"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

const (
	firefoxBin = "firefox-esr"
	// moduleName is what the module is called in the NSS module database,
	// as a user would name it in the Security Devices dialog.
	moduleName = "CoolKey (coolkey-go)"
	// pageTimeout bounds one page load, PIN prompt included.
	pageTimeout = 60 * time.Second
)

// nssProfile makes a fresh NSS database (a Firefox or Thunderbird profile
// directory is one) with the module registered through modutil, as the
// Security Devices dialog would, and the test CA trusted for TLS and
// e-mail.
func nssProfile(t testing.TB, dir, mod string, tr *transport, caPEM string) {
	t.Helper()
	nssProfileWith(t, dir, mod, tr, caPEM)
}

// nssProfileWith is nssProfile registering libfile (e.g. pkcs11-spy in
// front of the module) under the module's name.
func nssProfileWith(t testing.TB, dir, mod string, tr *transport, caPEM string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db := "sql:" + dir
	mustRun(t, nil, "certutil", "-N", "-d", db, "--empty-password")
	// modutil loads the module at once, so it needs the module's
	// environment; -force skips the "close the browser" question.
	mustRun(t, tr.env, "modutil", "-dbdir", db, "-add", moduleName, "-libfile", mod, "-force")
	mustRun(t, nil, "certutil", "-A", "-d", db, "-n", "coolkey-go test CA", "-t", "CT,C,CT", "-i", caPEM)
	if pk := string(mustRead(t, filepath.Join(dir, "pkcs11.txt"))); !strings.Contains(pk, "library="+mod) {
		t.Fatalf("modutil did not register the module:\n%s", pk)
	}
}

// firefox starts Firefox ESR headless on a fresh profile that has the
// module and the test CA, with client certificates chosen automatically.
func firefox(t testing.TB, c *card, tr *transport) *marionette.App {
	t.Helper()
	needTools(t, firefoxBin, "certutil", "modutil", "openssl")
	mod := module(t)
	profile := newProfileDir(t)
	nssProfile(t, profile, mod, tr, c.caPEM())
	prefs, err := marionette.ProfilePrefs(map[string]any{
		"security.default_personal_cert": "Select Automatically",
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(profile, "user.js"), []byte(prefs))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	app, err := marionette.Launch(ctx, marionette.LaunchOptions{
		Binary:  firefoxBin,
		Profile: profile,
		Env:     tr.env,
		Caps:    marionette.Capabilities{PageLoadStrategy: "none", UnhandledPromptBehavior: "ignore"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		app.Close()
		if t.Failed() || testing.Verbose() {
			t.Logf("%s output:\n%s", firefoxBin, appOutput(app.Output()))
		}
	})
	return app
}

// loadWithPIN navigates to url, with the PKCS#11 PIN prompt armed to be
// answered once with pin (none if pin is empty), and returns the page
// source once the server's status page (or an error page) has arrived,
// and the texts of the password prompts Firefox showed.
//
// With pageLoadStrategy "none" the previous document stays until the new
// one arrives, so the page counts only when it contains marker (s_server's
// page shows its command line, with its port), or when an error page for
// url shows.
func loadWithPIN(t testing.TB, app *marionette.App, url, marker, pin string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pageTimeout)
	defer cancel()
	answers := 1
	if pin == "" {
		answers = 0
	}
	if err := app.ArmPasswordPrompt(ctx, pin, answers); err != nil {
		t.Fatalf("arming the PIN prompt: %v", err)
	}
	if err := app.Navigate(ctx, url); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
	for {
		// A prompt still open was not answered: a second PIN prompt, or
		// one for a card that has no PIN.
		if text, err := app.AlertText(ctx); err == nil {
			t.Fatalf("Firefox shows a prompt it should not: %q", text)
		} else if !marionette.IsCode(err, "no such alert") {
			t.Fatalf("waiting for %s: %v", url, err)
		}
		// While a document is being replaced, reading it can fail
		// ("documentElement is null"): an answer from the browser, not a
		// broken connection, so it is read again.
		src, err := app.PageSource(ctx)
		var merr *marionette.Error
		if err != nil && !errors.As(err, &merr) {
			t.Fatalf("page source: %v", err)
		}
		done := strings.Contains(src, marker)
		if !done && (strings.Contains(src, "errorCode") || strings.Contains(src, "neterror")) {
			u, _ := app.CurrentURL(ctx)
			done = u == url
		}
		if done {
			prompts, err := app.PasswordPrompts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range prompts {
				t.Logf("Firefox password prompt: %q", p)
			}
			return src, prompts
		}
		select {
		case <-ctx.Done():
			u, _ := app.CurrentURL(context.Background())
			t.Fatalf("%s did not load in %v (at %s; last error %v); page so far:\n%s", url, pageTimeout, u, err, clip(src))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tlsCase is one TLS client authentication run.
type tlsCase struct {
	version string   // s_server protocol flag
	extra   []string // more s_server options
	wantAlg string   // the CertificateVerify algorithm the card must make
}

// checkClientAuth loads the server's page in Firefox and checks both ends:
// the server verified the card's signing certificate with the expected
// signature algorithm, and the page Firefox got echoes that certificate.
func checkClientAuth(t *testing.T, app *marionette.App, c *card, files serverFiles, tc tlsCase, pin string) int {
	t.Helper()
	srv := startSServer(t, files, c.caPEM(), tc.version, tc.extra...)
	page, prompts := loadWithPIN(t, app, srv.URL, "-accept "+srv.Addr, pin)
	for _, p := range prompts {
		if !strings.Contains(p, "("+testUser+")") {
			t.Errorf("unexpected password prompt %q (want the PIN prompt of token %q)", p, testUser)
		}
	}
	subject, alg := srv.Handshake()
	version, certPEM := parseStatusPage(page)
	t.Logf("server: client certificate %q, CertificateVerify %s, %s", subject, alg, version)
	if certPEM == "" {
		t.Fatalf("Firefox got no status page with a client certificate:\n%s\nserver:\n%s", clip(page), clip(srv.Output()))
	}
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		t.Fatalf("bad certificate on the page:\n%s", certPEM)
	}
	got, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(c.certs[1]) {
		t.Errorf("Firefox authenticated with %v (serial %x), want the card's signing certificate (serial %x)",
			got.Subject, got.SerialNumber, c.certs[1].SerialNumber)
	}
	if !strings.Contains(subject, "CN = "+testUser) || !strings.Contains(subject, "Token Key User") {
		t.Errorf("server logged client certificate subject %q", subject)
	}
	if alg != tc.wantAlg {
		t.Errorf("CertificateVerify with %q, want %q", alg, tc.wantAlg)
	}
	want := map[string]string{"-tls1_3": "TLSv1.3", "-tls1_2": "TLSv1.2"}[tc.version]
	if version != want {
		t.Errorf("protocol %q, want %q", version, want)
	}
	return len(prompts)
}

// Firefox ESR authenticates to TLS 1.3 and TLS 1.2 servers with the card's
// RSA key, through pcscd and vpcd, the PIN typed into Firefox's own prompt.
// TLS 1.3 needs RSA-PSS from the module (the C++ module cannot); the TLS 1.2
// server allows only PKCS#1 v1.5 signatures, so both RSA paths run.
func TestFirefoxRSA(t *testing.T) {
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveVPCD(t, c)
	app := firefox(t, c, tr)
	files := issueServer(t, c.ca, t.TempDir())
	prompts := checkClientAuth(t, app, c, files, tlsCase{version: "-tls1_3", wantAlg: "rsa_pss_rsae_sha256 (0x0804)"}, testPIN)
	if prompts != 1 {
		t.Errorf("%d PIN prompts for the first connection, want 1", prompts)
	}
	// The token stays logged in: no second prompt.
	prompts = checkClientAuth(t, app, c, files, tlsCase{version: "-tls1_2",
		extra: []string{"-client_sigalgs", "RSA+SHA256:RSA+SHA384"}, wantAlg: "rsa_pkcs1_sha256 (0x0401)"}, testPIN)
	if prompts != 0 {
		t.Errorf("%d PIN prompts on the second connection, want 0", prompts)
	}
}

// The same with an EC P-256 card (ECDSA), on the socket transport.
func TestFirefoxEC(t *testing.T) {
	c := newCard(t, false, provision.KeySpec("ec256"), provision.KeySpec("ec256"))
	tr := serveSocket(t, c)
	app := firefox(t, c, tr)
	files := issueServer(t, c.ca, t.TempDir())
	if n := checkClientAuth(t, app, c, files, tlsCase{version: "-tls1_3", wantAlg: "ecdsa_secp256r1_sha256 (0x0403)"}, testPIN); n != 1 {
		t.Errorf("%d PIN prompts, want 1", n)
	}
	checkClientAuth(t, app, c, files, tlsCase{version: "-tls1_2", wantAlg: "ecdsa_secp256r1_sha256 (0x0403)"}, testPIN)
}

// A card provisioned without a PIN: Firefox uses it without any prompt.
func TestFirefoxNoPIN(t *testing.T) {
	c := newCard(t, true, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveSocket(t, c)
	app := firefox(t, c, tr)
	files := issueServer(t, c.ca, t.TempDir())
	checkClientAuth(t, app, c, files, tlsCase{version: "-tls1_3", wantAlg: "rsa_pss_rsae_sha256 (0x0804)"}, "")
}

var _ = e2e.Required
