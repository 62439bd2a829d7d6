// Package esce2e runs the enrollment story through pcscd and vpcd with the
// built coolkey command: a blank virtual card and the test TPS (HTTPS), then
// format, enroll and PIN reset, with the C++ CoolKey module, OpenSC and our
// own module checking the result; and the failures a user meets (wrong
// password, a TPS that drops the connection, an untrusted certificate),
// each with its exit code, followed by a run that works.
package esce2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/vcard"
)

const (
	cppModule    = "/usr/lib/pkcs11/libcoolkeypk11.so"
	openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
	cuid         = "40907A0100ABCDEF0123"
	user         = "jdoe"
	password     = "LDAP-s3cret"
	cmdTimeout   = 3 * time.Minute
)

// story is one test's world: the CLI, a card on vpcd slot 0, a test TPS
// process, and a user's home directory for the client's configuration.
type story struct {
	t      *testing.T
	cli    string
	dir    string
	reader string
	tpsURL string
	caFile string
	home   string
}

func newStory(t *testing.T, policy string) *story {
	t.Helper()
	for _, tool := range []string{"pkcs11-tool", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			e2e.Skipf(t, "%s is not installed", tool)
		}
	}
	cli := e2e.BuildCLI(t)
	e2e.EnsurePCSCD(t)
	e2e.LockVPCD(t)
	s := &story{t: t, cli: cli, dir: t.TempDir()}
	s.home = filepath.Join(s.dir, "home")
	os.MkdirAll(s.home, 0o700)

	img := filepath.Join(s.dir, "card.json")
	if r := e2e.Run(t, time.Minute, cli, "sim", "card", "new", "--image", img, "--state", "blank", "--cuid", cuid); r.Err != nil {
		t.Fatalf("sim card new: %v %s", r.Err, r.Stderr)
	}
	served := e2e.ServeVPCD(t, img, 0, vcard.Options{})
	s.reader = served.Reader
	s.tpsURL, s.caFile = startTPS(t, cli, filepath.Join(s.dir, "tps"), policy)
	return s
}

// startTPS runs `coolkey sim tps serve` and returns its operation URL and
// CA file.
func startTPS(t *testing.T, cli, state, policy string) (string, string) {
	t.Helper()
	cmd := exec.Command(cli, "sim", "tps", "serve", "--listen", "127.0.0.1:0", "--state", state,
		"--user", user+":"+password, "--policy", policy)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("test TPS log:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the test TPS exited: %s", stderr.String())
			}
			if u, found := strings.CutPrefix(l, "TPS listening on "); found {
				go func() {
					for range lines {
					}
				}()
				return u, filepath.Join(state, "ca.pem")
			}
		case <-deadline:
			t.Fatal("the test TPS did not start")
		}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// coolkey runs the CLI as the story's user (PC/SC readers only).
func (s *story) coolkey(env []string, args ...string) e2e.Result {
	s.t.Helper()
	vars := append([]string{"HOME=" + s.home, "XDG_CONFIG_HOME=", "XDG_STATE_HOME=", "COOLKEY_SIM=", "COOLKEY_PCSC="}, env...)
	return e2e.RunEnv(s.t, cmdTimeout, vars, s.cli, args...)
}

func (s *story) mustCoolkey(env []string, args ...string) string {
	s.t.Helper()
	r := s.coolkey(env, args...)
	if r.Err != nil {
		s.t.Fatalf("coolkey %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func (s *story) status() map[string]any {
	s.t.Helper()
	out := s.mustCoolkey(nil, "status", "--json", "--reader", s.reader)
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		s.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return v[0]
}

func creds(pin string) []string {
	return []string{"COOLKEY_PASSWORD=" + password, "COOLKEY_NEW_PIN=" + pin}
}

// TestFormatEnrollResetPIN is the story of the "done when".
func TestFormatEnrollResetPIN(t *testing.T) {
	s := newStory(t, "PIN_RESET=YES")
	if st := s.status(); st["status"] != "NO_APPLET" || st["cuid"] != strings.ToLower(cuid) {
		t.Fatalf("blank card: %v", st)
	}
	s.mustCoolkey(nil, "trust", "add", s.caFile)
	s.mustCoolkey(creds(""), "format", "--reader", s.reader, "--tps", s.tpsURL, "--uid", user, "--yes")
	if st := s.status(); st["status"] != "UNINITIALIZED" {
		t.Fatalf("after format: %v", st)
	}
	// No --tps from here on: the card now carries the phone-home URL.
	out := s.mustCoolkey(creds("13579"), "enroll", "--reader", s.reader, "--uid", user)
	if !strings.Contains(out, "enrolled (2 certificates)") {
		t.Errorf("enroll said %q", out)
	}
	st := s.status()
	if st["status"] != "ENROLLED" || len(st["certificates"].([]any)) != 2 {
		t.Fatalf("after enroll: %v", st)
	}

	mods := map[string]string{"C++ CoolKey": cppModule, "OpenSC": openscModule, "coolkey-go": e2e.BuildModule(t)}
	for name, mod := range mods {
		if _, err := os.Stat(mod); err != nil {
			t.Errorf("%s module missing: %v", name, err)
			continue
		}
		if n := countCerts(t, mod); n != 2 {
			t.Errorf("%s lists %d certificates, want 2", name, n)
		}
		if err := signAndVerify(t, mod, "13579"); err != nil {
			t.Errorf("%s: sign with the new PIN: %v", name, err)
		}
	}

	s.mustCoolkey(creds("24680"), "reset-pin", "--reader", s.reader, "--uid", user)
	for name, mod := range mods {
		if err := signAndVerify(t, mod, "13579"); err == nil {
			t.Errorf("%s: the old PIN still works after reset-pin", name)
		}
		if err := signAndVerify(t, mod, "24680"); err != nil {
			t.Errorf("%s: sign with the reset PIN: %v", name, err)
		}
	}
}

// TestFailuresThenSuccess: a wrong password (3), a TPS that drops the
// connection mid-enroll (4), an untrusted certificate (5), each with a
// clear message; then a correct run.
func TestFailuresThenSuccess(t *testing.T) {
	s := newStory(t, "")
	s.mustCoolkey(nil, "trust", "add", s.caFile)
	s.mustCoolkey(creds(""), "format", "--reader", s.reader, "--tps", s.tpsURL, "--uid", user, "--yes")

	r := s.coolkey([]string{"COOLKEY_PASSWORD=wrong", "COOLKEY_NEW_PIN=1234"}, "enroll", "--reader", s.reader, "--uid", user)
	if r.ExitCode != 3 || !strings.Contains(r.Stderr, "credentials are not valid") {
		t.Errorf("wrong password: exit %d: %s", r.ExitCode, r.Stderr)
	}

	proxy := cuttingProxy(t, strings.TrimPrefix(strings.TrimSuffix(s.tpsURL, "/tps/tps"), "https://"), 6000)
	r = s.coolkey(creds("1234"), "enroll", "--reader", s.reader, "--uid", user, "--tps", "https://"+proxy+"/tps/tps")
	if r.ExitCode != 4 || !strings.Contains(r.Stderr, "closed the connection") {
		t.Errorf("connection dropped mid-enroll: exit %d: %s", r.ExitCode, r.Stderr)
	}

	stranger := filepath.Join(s.dir, "stranger")
	os.MkdirAll(stranger, 0o700)
	r = e2e.RunEnv(t, cmdTimeout, append([]string{"HOME=" + stranger, "XDG_CONFIG_HOME=", "XDG_STATE_HOME=", "COOLKEY_SIM=", "COOLKEY_PCSC="}, creds("1234")...),
		s.cli, "enroll", "--reader", s.reader, "--uid", user, "--tps", s.tpsURL)
	if r.ExitCode != 5 || !strings.Contains(r.Stderr, "not trusted") {
		t.Errorf("untrusted certificate: exit %d: %s", r.ExitCode, r.Stderr)
	}

	s.mustCoolkey(creds("1234"), "enroll", "--reader", s.reader, "--uid", user)
	if st := s.status(); st["status"] != "ENROLLED" {
		t.Fatalf("after the good run: %v", st)
	}
	if err := signAndVerify(t, openscModule, "1234"); err != nil {
		t.Errorf("sign after recovery: %v", err)
	}
}

// cuttingProxy forwards TCP to target and closes both sides once the
// server has sent more than limit bytes: a TPS that goes away in the
// middle of an operation.
func cuttingProxy(t *testing.T, target string, limit int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				var sent atomic.Int64
				buf := make([]byte, 512)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
						if sent.Add(int64(n)) > limit {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func pkcs11Tool(t *testing.T, mod string, args ...string) e2e.Result {
	t.Helper()
	return e2e.Run(t, cmdTimeout, "pkcs11-tool", append([]string{"--module", mod, "--slot-index", "0"}, args...)...)
}

// sha256DigestInfoPrefix is the DER DigestInfo header for SHA-256.
var sha256DigestInfoPrefix = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

var certLine = regexp.MustCompile(`(?m)^Certificate Object`)

// countCerts lists the token's certificate objects.
func countCerts(t *testing.T, mod string) int {
	t.Helper()
	r := pkcs11Tool(t, mod, "--list-objects", "--type", "cert")
	if r.Err != nil {
		t.Logf("pkcs11-tool --list-objects: %v\n%s", r.Err, r.Stderr)
		return -1
	}
	return len(certLine.FindAllString(r.Stdout, -1))
}

// signAndVerify signs with the signing key (CKA_ID 01) and checks the
// signature against the signing certificate with openssl. The hash is
// done here and CKM_RSA_PKCS signs the DigestInfo: the C++ module accepts
// CKM_SHA256_RSA_PKCS but signs the unhashed input (judges.md).
func signAndVerify(t *testing.T, mod, pin string) error {
	t.Helper()
	dir := t.TempDir()
	msg := []byte("signed through " + mod)
	data := filepath.Join(dir, "data")
	os.WriteFile(data, msg, 0o600)
	sum := sha256.Sum256(msg)
	digestInfo := filepath.Join(dir, "digestinfo")
	os.WriteFile(digestInfo, append(append([]byte(nil), sha256DigestInfoPrefix...), sum[:]...), 0o600)
	sig := filepath.Join(dir, "sig")
	r := pkcs11Tool(t, mod, "--login", "--pin", pin, "--sign", "--id", "01", "--mechanism", "RSA-PKCS", "--input-file", digestInfo, "--output-file", sig)
	if r.Err != nil {
		return fmt.Errorf("%v: %s", r.Err, strings.ReplaceAll(r.Stderr, pin, "<pin>"))
	}
	certDER := filepath.Join(dir, "cert.der")
	r = pkcs11Tool(t, mod, "--read-object", "--type", "cert", "--id", "01", "--output-file", certDER)
	if r.Err != nil {
		return fmt.Errorf("reading the certificate: %v %s", r.Err, r.Stderr)
	}
	der, _ := os.ReadFile(certDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
	pub := filepath.Join(dir, "pub.pem")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600)
	r = e2e.Run(t, time.Minute, "openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, data)
	if r.Err != nil {
		return fmt.Errorf("openssl verify: %v %s %s", r.Err, r.Stdout, r.Stderr)
	}
	return nil
}

func TestMain(m *testing.M) { e2e.Main(m) }
