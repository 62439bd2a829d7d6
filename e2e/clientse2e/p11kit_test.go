package clientse2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// p11kitPackageDir is where p11-kit reads the module files packages
// install (pkg-config p11-kit-1 p11_module_configs), CMake's default for
// coolkey.module.
const p11kitPackageDir = "/usr/share/p11-kit/modules"

// installed is a `cmake --install` of the tree into a temporary prefix.
type installed struct {
	prefix     string
	module     string // <prefix>/lib/pkcs11/libcoolkeypk11.so
	moduleFile string // the installed coolkey.module
	cli        string
}

// cmakeInstall configures, builds and installs the tree with CMake into a
// temporary prefix, with coolkey.module going to <prefix>/share/p11-kit/
// modules (COOLKEY_P11KIT_MODULE_DIR) instead of the system's directory.
func cmakeInstall(t testing.TB) installed {
	t.Helper()
	needTools(t, "cmake")
	root := e2e.RepoRoot(t)
	dir := t.TempDir()
	in := installed{prefix: filepath.Join(dir, "prefix")}
	modDir := filepath.Join(in.prefix, "share", "p11-kit", "modules")
	build := filepath.Join(dir, "build")
	for _, args := range [][]string{
		{"-S", root, "-B", build, "-DCMAKE_INSTALL_PREFIX=" + in.prefix, "-DCOOLKEY_P11KIT_MODULE_DIR=" + modDir},
		{"--build", build},
		{"--install", build},
	} {
		res := e2e.RunEnv(t, 5*time.Minute, nil, "cmake", args...)
		if res.Err != nil {
			t.Fatalf("cmake %s: %v\n%s%s", strings.Join(args, " "), res.Err, clip(res.Stdout), clip(res.Stderr))
		}
	}
	in.moduleFile = filepath.Join(modDir, "coolkey.module")
	in.cli = filepath.Join(in.prefix, "bin", "coolkey")
	// The module directory is CMake's libdir: lib or lib64 by platform.
	found, _ := filepath.Glob(filepath.Join(in.prefix, "lib*", "pkcs11", "libcoolkeypk11.so"))
	if len(found) != 1 {
		t.Fatalf("cmake --install put no single module under %s/lib*/pkcs11: %v", in.prefix, found)
	}
	in.module = found[0]
	return in
}

// p11kitSandbox runs programs in a private mount namespace in which the
// installed module directory is mounted over p11-kit's package directory,
// so p11-kit (and GnuTLS through it) finds the module through the
// installed coolkey.module exactly as after a system-wide install, without
// touching the system. The other modules registered there are hidden.
type p11kitSandbox struct{ modules string }

func newP11KitSandbox(t testing.TB, modules string) p11kitSandbox {
	t.Helper()
	needTools(t, "unshare", "p11-kit")
	if _, err := os.Stat(p11kitPackageDir); err != nil {
		e2e.Skipf(t, "no %s: %v", p11kitPackageDir, err)
	}
	s := p11kitSandbox{modules: modules}
	if res := s.run(t, nil, "", "true"); res.Err != nil {
		e2e.Skipf(t, "cannot make a private mount namespace (unshare --mount needs root or CAP_SYS_ADMIN): %v %s", res.Err, res.Stderr)
	}
	return s
}

// run runs name with args inside the sandbox, with extra environment and
// stdin, and logs it (PINs redacted).
func (s p11kitSandbox) run(t testing.TB, env []string, stdin, name string, args ...string) e2e.Result {
	t.Helper()
	argv := append([]string{"--mount", "--propagation", "private", "--", "sh", "-c",
		`mount --bind "$1" "$2" && shift 2 && exec "$@"`, "sh", s.modules, p11kitPackageDir, name}, args...)
	return runShown(t, env, stdin, "[p11-kit sandbox] "+name, args, "unshare", argv...)
}

func (s p11kitSandbox) mustRun(t testing.TB, env []string, stdin, name string, args ...string) string {
	t.Helper()
	res := s.run(t, env, stdin, name, args...)
	if res.Err != nil {
		t.Fatalf("%s: %v", name, res.Err)
	}
	return res.Stdout + res.Stderr
}

// After `cmake --install`, p11-kit lists the module from the installed
// coolkey.module, and GnuTLS uses the card through p11-kit with RFC 7512
// PKCS#11 URIs: p11tool lists the certificates and signs, gnutls-cli
// authenticates to a TLS 1.3 and a TLS 1.2 server (card through pcscd and
// vpcd).
func TestP11KitGnuTLS(t *testing.T) {
	needTools(t, "p11tool", "gnutls-cli", "openssl")
	in := cmakeInstall(t)
	if b := string(mustRead(t, in.moduleFile)); !strings.Contains(b, "module: "+in.module+"\n") {
		t.Fatalf("installed coolkey.module does not name the installed module %s:\n%s", in.module, b)
	}
	sb := newP11KitSandbox(t, filepath.Dir(in.moduleFile))
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveVPCD(t, c)

	out := sb.mustRun(t, tr.env, "", "p11-kit", "list-modules")
	for _, want := range []string{"coolkey: " + in.module, "library-manufacturer: coolkey-go", "token: " + testUser, "login-required"} {
		if !strings.Contains(out, want) {
			t.Errorf("p11-kit list-modules lacks %q", want)
		}
	}

	out = sb.mustRun(t, tr.env, "", "p11tool", "--list-all-certs", "pkcs11:token="+testUser)
	for _, want := range []string{"id=%01;object=signing%20key%20for%20" + testUser + ";type=cert",
		"id=%02;object=encryption%20key%20for%20" + testUser + ";type=cert"} {
		if !strings.Contains(out, want) {
			t.Errorf("p11tool --list-all-certs lacks %q", want)
		}
	}

	key := "pkcs11:token=" + testUser + ";id=%01;type=private"
	res := sb.run(t, append(tr.env, "GNUTLS_PIN="+testPIN), "", "p11tool", "--login", "--batch", "--test-sign", key)
	if res.Err != nil || !strings.Contains(res.Stdout+res.Stderr, "Verifying against public key in the token... ok") {
		t.Errorf("p11tool --test-sign: %v", res.Err)
	}

	files := issueServer(t, c.ca, t.TempDir())
	cert := "pkcs11:token=" + testUser + ";id=%01;type=cert"
	for _, tc := range []struct {
		version, priority, wantAlg string
	}{
		{"-tls1_3", "NORMAL", "rsa_pss_rsae_sha256 (0x0804)"},
		{"-tls1_2", "NORMAL:-VERS-ALL:+VERS-TLS1.2", ""},
	} {
		srv := startSServer(t, files, c.caPEM(), tc.version)
		// The PIN is in the key's URI (pin-value, RFC 7512).
		out := sb.mustRun(t, tr.env, "GET / HTTP/1.0\r\n\r\n", "gnutls-cli", "--x509cafile", c.caPEM(),
			"--x509keyfile", key+"?pin-value="+testPIN, "--x509certfile", cert, "--priority", tc.priority,
			"-p", srv.Port, "localhost")
		subject, alg := srv.Handshake()
		version, certPEM := parseStatusPage(out)
		t.Logf("server: client certificate %q, CertificateVerify %s, %s", subject, alg, version)
		if !strings.Contains(subject, "CN = "+testUser) {
			t.Errorf("%s: server logged client certificate %q", tc.version, subject)
		}
		if tc.wantAlg != "" && alg != tc.wantAlg {
			t.Errorf("%s: CertificateVerify with %q, want %q", tc.version, alg, tc.wantAlg)
		}
		if der, _ := pemDecode([]byte(certPEM)); !bytes.Equal(der, c.certs[1].Raw) {
			t.Errorf("%s: the server saw another client certificate", tc.version)
		}
		if want := map[string]string{"-tls1_3": "TLSv1.3", "-tls1_2": "TLSv1.2"}[tc.version]; version != want {
			t.Errorf("protocol %q, want %q", version, want)
		}
	}
}
