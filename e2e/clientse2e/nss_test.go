package clientse2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coolkey-go/coolkey-go/internal/e2e"

	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

const (
	// thunderbirdLibDir holds the NSS that Thunderbird ships (newer than
	// the system's; it signs with the hashed mechanisms).
	thunderbirdLibDir = "/usr/lib/thunderbird"
	spyModule         = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so"
)

// nssLib is one NSS build the NSS tools run with.
type nssLib struct {
	name string
	env  []string // LD_LIBRARY_PATH for Thunderbird's
}

func nssLibs(t testing.TB) []nssLib {
	libs := []nssLib{{name: "system NSS"}}
	if _, err := os.Stat(filepath.Join(thunderbirdLibDir, "libsmime3.so")); err == nil {
		libs = append(libs, nssLib{name: "Thunderbird's NSS", env: []string{"LD_LIBRARY_PATH=" + thunderbirdLibDir}})
	} else if e2e.Required() {
		t.Fatalf("Thunderbird's NSS is not installed in %s", thunderbirdLibDir)
	}
	return libs
}

// cmsRoundTrip signs with cmsutil (the CMS code Thunderbird uses for
// S/MIME) and the card's signing key, verifies with OpenSSL, then decrypts
// with cmsutil a message OpenSSL encrypted to the card's encryption
// certificate.
func cmsRoundTrip(t *testing.T, c *card, tr *transport, lib nssLib) {
	mod := module(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	nssProfile(t, db, mod, tr, c.caPEM())
	env := append(append([]string(nil), tr.env...), lib.env...)
	pwfile := writeFile(t, filepath.Join(dir, "pin"), []byte(testPIN+"\n"))
	nick := testUser + ":signing key for " + testUser

	msg := writeFile(t, filepath.Join(dir, "msg.txt"), []byte("CMS through "+lib.name+"\r\n"))
	p7s := filepath.Join(dir, "msg.p7s")
	mustRun(t, env, "cmsutil", "-S", "-d", "sql:"+db, "-N", nick, "-f", pwfile, "-H", "SHA256", "-G", "-P",
		"-u", "4", "-i", msg, "-o", p7s)
	signer := filepath.Join(dir, "signer.pem")
	out := filepath.Join(dir, "verified.txt")
	res := mustRun(t, nil, "openssl", "cms", "-verify", "-inform", "DER", "-in", p7s, "-CAfile", c.caPEM(),
		"-purpose", "smimesign", "-binary", "-signer", signer, "-out", out)
	if !strings.Contains(res, "Verification successful") {
		t.Errorf("openssl cms -verify: %s", res)
	}
	if got := readCert(t, signer); !got.Equal(c.certs[1]) {
		t.Errorf("signed by %v, want the card's signing certificate", got.Subject)
	}
	if string(mustRead(t, out)) != string(mustRead(t, msg)) {
		t.Errorf("signed content %q, want %q", mustRead(t, out), mustRead(t, msg))
	}

	enc := filepath.Join(dir, "msg.p7m")
	secret := writeFile(t, filepath.Join(dir, "secret.txt"), []byte("for the card's eyes only, via "+lib.name+"\r\n"))
	mustRun(t, nil, "openssl", "cms", "-encrypt", "-binary", "-aes-256-cbc", "-outform", "DER",
		"-in", secret, "-out", enc, c.certPEM(t, 2))
	dec := filepath.Join(dir, "decrypted.txt")
	mustRun(t, env, "cmsutil", "-D", "-d", "sql:"+db, "-f", pwfile, "-i", enc, "-o", dec)
	if string(mustRead(t, dec)) != string(mustRead(t, secret)) {
		t.Errorf("decrypted %q, want %q", mustRead(t, dec), mustRead(t, secret))
	}
}

// cmsutil with the system NSS and with Thunderbird's, an RSA card through
// pcscd and vpcd.
func TestCmsutilRSA(t *testing.T) {
	needTools(t, "cmsutil", "certutil", "modutil", "openssl")
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveVPCD(t, c)
	for _, lib := range nssLibs(t) {
		t.Run(lib.name, func(t *testing.T) { cmsRoundTrip(t, c, tr, lib) })
	}
}

var spyMech = regexp.MustCompile(`(?m)^\d+: C_SignInit\n(?:.*\n){0,6}?\[in\] pMechanism->type = (\S+)`)

var (
	v2Once sync.Once
	v2Path string
	v2Err  error
)

// moduleV2 builds the module without C_GetInterface and
// C_GetInterfaceList, for OpenSC 0.23's pkcs11-spy: when a module refuses
// NSS's first C_GetInterface call (flags CKF_INTERFACE_FORK_SAFE, which a
// Go module cannot honour), the spy dereferences the NULL interface it got
// back and crashes. Without the 3.0 entry points the spy speaks 2.40 to the
// module; the mechanisms and objects are the same.
func moduleV2(t testing.TB) string {
	t.Helper()
	root := e2e.RepoRoot(t)
	v2Once.Do(func() {
		dir, err := os.MkdirTemp("", "coolkey-clients-e2e-v2-")
		if err != nil {
			v2Err = err
			return
		}
		script := filepath.Join(dir, "v2.map")
		if err := os.WriteFile(script, []byte("{\n global: C_*;\n local: C_GetInterface; C_GetInterfaceList; *;\n};\n"), 0o644); err != nil {
			v2Err = err
			return
		}
		v2Path = filepath.Join(dir, "libcoolkeypk11.so")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags=-extldflags=-Wl,--version-script="+script, "-o", v2Path, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			v2Err = fmt.Errorf("building the module without C_GetInterface: %v\n%s", err, out)
		}
	})
	if v2Err != nil {
		t.Fatal(v2Err)
	}
	return v2Path
}

// Which mechanism each NSS signs with, seen through OpenSC's pkcs11-spy
// between cmsutil and the module: the system NSS (3.87) hashes itself and
// asks for CKM_RSA_PKCS over a DigestInfo; Thunderbird's (3.12x) asks the
// token for CKM_SHA256_RSA_PKCS over the signed attributes.
func TestCmsutilMechanisms(t *testing.T) {
	needTools(t, "cmsutil", "certutil", "modutil", "openssl")
	if _, err := os.Stat(spyModule); err != nil {
		e2e.Skipf(t, "pkcs11-spy is not installed: %v", err)
	}
	mod := moduleV2(t)
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveSocket(t, c)
	want := map[string]string{"system NSS": "CKM_RSA_PKCS", "Thunderbird's NSS": "CKM_SHA256_RSA_PKCS"}
	for _, lib := range nssLibs(t) {
		t.Run(lib.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "spy.log")
			spy := &transport{name: tr.name, env: append(append([]string(nil), tr.env...), "PKCS11SPY="+mod, "PKCS11SPY_OUTPUT="+log)}
			db := filepath.Join(dir, "db")
			// Registered as the spy, which loads our module.
			nssProfileWith(t, db, spyModule, spy, c.caPEM())
			pwfile := writeFile(t, filepath.Join(dir, "pin"), []byte(testPIN+"\n"))
			msg := writeFile(t, filepath.Join(dir, "msg.txt"), []byte("which mechanism?\r\n"))
			p7s := filepath.Join(dir, "msg.p7s")
			os.Remove(log)
			mustRun(t, append(spy.env, lib.env...), "cmsutil", "-S", "-d", "sql:"+db, "-N", testUser+":signing key for "+testUser,
				"-f", pwfile, "-H", "SHA256", "-u", "4", "-i", msg, "-o", p7s)
			trace := string(mustRead(t, log))
			var mechs []string
			for _, m := range spyMech.FindAllStringSubmatch(trace, -1) {
				mechs = append(mechs, m[1])
			}
			updates := strings.Count(trace, ": C_SignUpdate\n")
			t.Logf("%s: C_SignInit mechanisms %v, %d C_SignUpdate calls", lib.name, mechs, updates)
			if len(mechs) != 1 || mechs[0] != want[lib.name] {
				t.Errorf("%s signed with %v, want %s", lib.name, mechs, want[lib.name])
			}
			res := mustRun(t, nil, "openssl", "cms", "-verify", "-inform", "DER", "-in", p7s, "-CAfile", c.caPEM(),
				"-purpose", "smimesign", "-binary", "-out", filepath.Join(dir, "out"))
			if !strings.Contains(res, "Verification successful") {
				t.Errorf("openssl cms -verify: %s", res)
			}
		})
	}
}
