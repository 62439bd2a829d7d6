package softhsmtests

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	softhsmLib = "/usr/lib/softhsm/libsofthsm2.so"
	userPIN    = "1234"
	soPIN      = "12345678"
	tokenLabel = "test"
)

// env is what every test shares: the two modules under comparison, the abi
// program and a template token directory that each run copies.
type env struct {
	direct      string // SoftHSM itself
	passthrough string // pkcs11mod over SoftHSM
	abi         string // testdata/abi.c, compiled
	tokens      string // initialised token directory to copy
}

var (
	setupOnce sync.Once
	setupEnv  *env
	setupErr  string
)

// setup builds the pass-through module and the abi program and makes the
// template token, once. Tests that cannot run skip (or fail in CI).
func setup(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("differential SoftHSM tests are not short")
	}
	for _, tool := range []string{"softhsm2-util", "pkcs11-tool", "gcc", "nm"} {
		requireTool(t, tool)
	}
	if _, err := os.Stat(softhsmLib); err != nil {
		missing(t, softhsmLib+" (package softhsm2) is not installed")
	}
	setupOnce.Do(func() {
		e, err := makeEnv()
		if err != "" {
			setupErr = err
			return
		}
		setupEnv = e
	})
	if setupErr != "" {
		t.Fatal(setupErr)
	}
	return setupEnv
}

// missing skips, or fails when the CI asked for every test to run.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("COOLKEY_E2E_REQUIRED") == "1" {
		t.Fatalf("%s (COOLKEY_E2E_REQUIRED=1)", what)
	}
	t.Skip(what)
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		missing(t, name+" is not installed")
	}
}

// setupDir outlives the tests that share it; TestMain removes it.
var setupDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if setupDir != "" {
		os.RemoveAll(setupDir)
	}
	os.Exit(code)
}

func makeEnv() (*env, string) {
	dir, err := os.MkdirTemp("", "softhsm-tests")
	if err != nil {
		return nil, err.Error()
	}
	setupDir = dir
	root, _ := filepath.Abs("..")
	e := &env{
		direct:      softhsmLib,
		passthrough: filepath.Join(dir, "passthrough.so"),
		abi:         filepath.Join(dir, "abi"),
		tokens:      filepath.Join(dir, "tokens"),
	}
	build := exec.Command("go", "build", "-buildmode=c-shared",
		"-ldflags=-extldflags=-Wl,--version-script="+filepath.Join(root, "exports.map"),
		"-o", e.passthrough, "./softhsm-tests/passthrough")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, "building the pass-through module: " + err.Error() + "\n" + string(out)
	}
	cc := exec.Command("gcc", "-std=gnu99", "-Wall", "-Werror", "-I", filepath.Join(root, "include"),
		"-o", e.abi, "testdata/abi.c", "-ldl", "-lpthread")
	if out, err := cc.CombinedOutput(); err != nil {
		return nil, "compiling testdata/abi.c: " + err.Error() + "\n" + string(out)
	}
	if msg := makeToken(dir, e.tokens); msg != "" {
		return nil, msg
	}
	return e, ""
}

// makeToken initialises the template token: an RSA-2048 key pair with a
// self-signed certificate (CKA_ID 01, label "rsa") and an EC P-256 key pair
// (CKA_ID 02, label "ec").
func makeToken(dir, tokens string) string {
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return err.Error()
	}
	conf := writeConf(dir, tokens)
	run := func(args ...string) string {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			return strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out)
		}
		return ""
	}
	if msg := run("softhsm2-util", "--init-token", "--free", "--label", tokenLabel, "--so-pin", soPIN, "--pin", userPIN); msg != "" {
		return msg
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err.Error()
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "softhsm-tests", Organization: []string{"coolkey-go"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err.Error()
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	files := map[string][]byte{"key.der": keyDER, "pub.der": pubDER, "cert.der": certDER}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err.Error()
		}
	}
	tool := []string{"pkcs11-tool", "--module", softhsmLib, "--login", "--pin", userPIN}
	for _, obj := range []struct{ file, typ string }{{"key.der", "privkey"}, {"pub.der", "pubkey"}, {"cert.der", "cert"}} {
		args := append(tool[:len(tool):len(tool)], "--write-object", filepath.Join(dir, obj.file), "--type", obj.typ, "--id", "01", "--label", "rsa")
		if msg := run(args...); msg != "" {
			return msg
		}
	}
	args := append(tool[:len(tool):len(tool)], "--keypairgen", "--key-type", "EC:prime256v1", "--id", "02", "--label", "ec")
	if msg := run(args...); msg != "" {
		return msg
	}
	return ""
}

func writeConf(dir, tokens string) string {
	conf := filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600)
	return conf
}

// token is a private copy of the template token for one run.
type token struct {
	dir  string
	conf string
}

func (e *env) newToken(t *testing.T) token {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if out, err := exec.Command("cp", "-a", e.tokens, tokens).CombinedOutput(); err != nil {
		t.Fatalf("copying the token: %v\n%s", err, out)
	}
	return token{dir: dir, conf: writeConf(dir, tokens)}
}

// result is what a client did: its combined output, normalised, and how it
// exited.
type result struct {
	Output string
	Exit   int
}

// run runs a client with the token's configuration. MODULE in args is
// replaced by module; the module's path in the output becomes MODULE.
func (tok token) run(t *testing.T, module string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i] = strings.ReplaceAll(a, "MODULE", module)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = tok.dir
	cmd.Env = append(append(os.Environ(), "SOFTHSM2_CONF="+tok.conf), extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", strings.Join(argv, " "), err)
		}
		code = ee.ExitCode()
	}
	s := strings.ReplaceAll(out.String(), module, "MODULE")
	s = strings.ReplaceAll(s, tok.dir, "DIR")
	return result{Output: s, Exit: code}
}

// differential runs the same client against SoftHSM and the pass-through,
// each on a fresh copy of the token, and fails on any difference. prepare,
// if set, runs in each token directory first. It returns the two results
// for further checks.
func (e *env) differential(t *testing.T, prepare func(token), args ...string) (direct, through result) {
	t.Helper()
	a, b := e.newToken(t), e.newToken(t)
	if prepare != nil {
		prepare(a)
		prepare(b)
	}
	direct = a.run(t, e.direct, nil, args...)
	through = b.run(t, e.passthrough, nil, args...)
	if diff := cmp.Diff(direct, through); diff != "" {
		t.Errorf("%s: SoftHSM directly (-) and through pkcs11mod (+) differ:\n%s", strings.Join(args, " "), diff)
	}
	return direct, through
}
