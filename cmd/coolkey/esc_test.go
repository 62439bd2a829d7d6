package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/tpssim"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

const testCUID = "4090614527c6240b192d"

// escWorld is a test TPS over HTTPS and a virtual card served on a
// socket, reached by the CLI through COOLKEY_SIM.
type escWorld struct {
	t       *testing.T
	srv     *tpssim.Server
	tpsURL  string
	caFile  string
	home    string
	simAddr string
	env     map[string]string
}

func newESCWorld(t *testing.T, policy string, withApplet bool) *escWorld {
	t.Helper()
	users := tpssim.NewUsers()
	users.Add("jdoe", "secret")
	pol, err := tpssim.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	srv, err := tpssim.NewServer(tpssim.Config{StateDir: state, Users: users, Policy: pol, KeySize: 1024, MessageTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	tc, err := srv.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	hs.TLS = tc
	hs.StartTLS()

	cuid, _ := cardedge.ParseCUID(testCUID)
	img := vcard.BlankImage(cardedge.CPLCForCUID(cuid).Encode()[3:])
	if withApplet {
		vcard.InstallApplet(img, 0)
	}
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { serve.Listen(ctx, vcard.NewSlot(card), ln, serve.Options{}); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		hs.Close()
		srv.Wait()
	})
	home := t.TempDir()
	w := &escWorld{t: t, srv: srv, tpsURL: hs.URL + "/tps/tps", caFile: filepath.Join(state, "ca.pem"), home: home, simAddr: ln.Addr().String()}
	w.env = map[string]string{"HOME": home, "COOLKEY_PCSC": "off", "COOLKEY_SIM": w.simAddr}
	return w
}

// knowFormatted records the card as formatted in the TPS's database.
func (w *escWorld) knowFormatted() {
	now := time.Now()
	if err := w.srv.Store().Put(&tpssim.TokenRecord{CUID: testCUID, Status: tpssim.TokenFormatted, Created: now, Modified: now}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *escWorld) run(extraEnv map[string]string, args ...string) (string, string, int) {
	w.t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if v, ok := extraEnv[k]; ok {
			return v
		}
		return w.env[k]
	}}
	code := run(env, args)
	return out.String(), errb.String(), code
}

func (w *escWorld) statusJSON() []map[string]any {
	w.t.Helper()
	out, errs, code := w.run(nil, "status", "--json")
	if code != 0 {
		w.t.Fatalf("status: exit %d: %s", code, errs)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		w.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return v
}

func TestStatusJSON(t *testing.T) {
	w := newESCWorld(t, "", false)
	cards := w.statusJSON()
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	c := cards[0]
	for _, k := range []string{"reader", "cuid", "status", "atr", "certificates"} {
		if _, ok := c[k]; !ok {
			t.Errorf("no %q in %v", k, c)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{20}$`).MatchString(c["cuid"].(string)) || c["cuid"] != testCUID {
		t.Errorf("cuid %v", c["cuid"])
	}
	if c["status"] != "NO_APPLET" || c["reader"] != "CoolKey virtual card "+w.simAddr {
		t.Errorf("card %v", c)
	}
}

func TestEnrollAndResetPINThroughTheCLI(t *testing.T) {
	w := newESCWorld(t, "PIN_RESET=YES", true)
	w.knowFormatted()

	// Untrusted TPS certificate: exit 5, and a hint.
	_, errs, code := w.run(map[string]string{"COOLKEY_PASSWORD": "secret", "COOLKEY_NEW_PIN": "1234"}, "enroll", "--tps", w.tpsURL, "--uid", "jdoe")
	if code != 5 || !strings.Contains(errs, "coolkey trust add") {
		t.Fatalf("untrusted: exit %d: %s", code, errs)
	}
	if _, errs, code := w.run(nil, "trust", "add", w.caFile); code != 0 {
		t.Fatalf("trust add: %s", errs)
	}

	// Wrong password: exit 3 and the TPS's reason.
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("wrong\n"), 0o600)
	_, errs, code = w.run(map[string]string{"COOLKEY_NEW_PIN": "1234"}, "enroll", "--tps", w.tpsURL, "--uid", "jdoe", "--password-file", pwFile)
	if code != 3 || !strings.Contains(errs, "credentials are not valid") {
		t.Fatalf("wrong password: exit %d: %s", code, errs)
	}

	os.WriteFile(pwFile, []byte("secret\n"), 0o600)
	out, errs, code := w.run(map[string]string{"COOLKEY_NEW_PIN": "1234"}, "enroll", "--tps", w.tpsURL, "--uid", "jdoe", "--password-file", pwFile)
	if code != 0 {
		t.Fatalf("enroll: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "enrolled (2 certificates)") || !strings.Contains(errs, "progress: 100% Enrollment complete") {
		t.Errorf("enroll output %q / %q", out, errs)
	}
	cards := w.statusJSON()
	if cards[0]["status"] != "ENROLLED" || len(cards[0]["certificates"].([]any)) != 2 {
		t.Fatalf("after enroll: %v", cards[0])
	}

	// The card now carries the phone-home URL: reset-pin finds the TPS
	// by itself.
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte("86420\n"), 0o600)
	_, errs, code = w.run(map[string]string{"COOLKEY_PASSWORD": "secret"}, "reset-pin", "--uid", "jdoe", "--new-pin-file", pinFile)
	if code != 0 || !strings.Contains(errs, "phone home (card)") {
		t.Fatalf("reset-pin: exit %d: %s", code, errs)
	}

	// Nothing secret in the diagnostics log.
	log, _ := os.ReadFile(filepath.Join(w.home, ".local", "state", "coolkey", "esc.log"))
	for _, s := range []string{"secret", "1234", "86420", "wrong"} {
		if bytes.Contains(log, []byte(s)) {
			t.Errorf("diagnostics log contains %q", s)
		}
	}
	out, _, code = w.run(nil, "diagnose")
	if code != 0 || !strings.Contains(out, "op-success op=reset-pin") || !strings.Contains(out, "ENROLLED") {
		t.Errorf("diagnose: %s", out)
	}
}

func TestOperationInputErrors(t *testing.T) {
	w := newESCWorld(t, "", true)
	w.run(nil, "trust", "add", w.caFile)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"format", "--tps", w.tpsURL}, nil, 2, "--yes"},
		{[]string{"reset-pin", "--tps", w.tpsURL}, nil, 2, "only an enrolled card"},
		{[]string{"enroll", "--tps", w.tpsURL, "--reader", "nope"}, nil, 2, "no reader named"},
		{[]string{"enroll", "--tps", "ftp://x"}, nil, 2, "--tps"},
		{[]string{"enroll"}, nil, 2, "phone-home --url"},
		{[]string{"enroll", "--tps", w.tpsURL}, map[string]string{"COOLKEY_NEW_PIN": "12&4"}, 2, "cannot carry"},
		{[]string{"enroll", "--tps", "https://127.0.0.1:1/tps/tps", "--uid", "jdoe"}, map[string]string{"COOLKEY_PASSWORD": "secret"}, 4, "cannot connect"},
		{[]string{"enroll", "--bogus"}, nil, 2, "flag provided but not defined"},
	} {
		_, errs, code := w.run(tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	// The DANGEROUS flag says so.
	_, errs, _ := w.run(map[string]string{"COOLKEY_PASSWORD": "x"}, "enroll", "--tps", "https://127.0.0.1:1/tps/tps", "--insecure-skip-tls-verify")
	if !strings.Contains(errs, "WARNING") {
		t.Errorf("no warning: %s", errs)
	}
}

func TestPhoneHomeCommand(t *testing.T) {
	w := newESCWorld(t, "", true)
	w.run(nil, "trust", "add", w.caFile)
	_, errs, code := w.run(nil, "phone-home")
	if code != 2 || !strings.Contains(errs, "--url") {
		t.Fatalf("no URL: exit %d %s", code, errs)
	}
	phURL := strings.TrimSuffix(w.tpsURL, "/tps/tps") + "/tps/phoneHome"
	out, errs, code := w.run(nil, "phone-home", "--url", phURL)
	if code != 0 || !strings.Contains(out, "Operation:  "+w.tpsURL) {
		t.Fatalf("phone-home: exit %d %s %s", code, out, errs)
	}
	// Remembered: status shows the TPS, and enroll needs no --tps.
	cards := w.statusJSON()
	if cards[0]["tpsURL"] != w.tpsURL || cards[0]["issuer"] != "coolkey-go test TPS" {
		t.Errorf("status after phone home: %v", cards[0])
	}
	w.knowFormatted()
	_, errs, code = w.run(map[string]string{"COOLKEY_PASSWORD": "secret", "COOLKEY_NEW_PIN": "1234"}, "enroll", "--uid", "jdoe")
	if code != 0 || !strings.Contains(errs, "URL given by the user") {
		t.Fatalf("enroll after phone-home --url: exit %d: %s", code, errs)
	}
}
