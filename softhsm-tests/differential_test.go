package softhsmtests

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestABITranscript runs testdata/abi.c (every NULL/short combination of
// the length protocol, template edge cases, FindObjects chunks, sessions,
// login, operations, threads) against both modules.
func TestABITranscript(t *testing.T) {
	e := setup(t)
	direct, _ := e.differential(t, nil, e.abi, "MODULE", "common")
	if direct.Exit != 0 {
		t.Fatalf("abi against SoftHSM exited %d:\n%s", direct.Exit, direct.Output)
	}
	if n := strings.Count(direct.Output, "\n"); n < 250 {
		t.Errorf("transcript has only %d lines:\n%s", n, direct.Output)
	}
}

// TestABIOurs checks what SoftHSM 2.6 cannot be compared on: the PKCS#11
// 3.0 interface, NSS's C_Initialize arguments, strict mechanism parameters,
// pkcs11mod's session counts, cancellation, and C_WaitForSlotEvent woken
// by C_Finalize from another thread.
func TestABIOurs(t *testing.T) {
	e := setup(t)
	got := e.newToken(t).run(t, e.passthrough, []string{"PASSTHROUGH_SYNTHETIC_EVENTS=1"}, e.abi, "MODULE", "ours")
	want, err := os.ReadFile("testdata/abi-ours.golden")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result{string(want), 0}, got); diff != "" {
		t.Errorf("abi ours (-want +got):\n%s", diff)
	}
}

func TestPkcs11ToolListings(t *testing.T) {
	e := setup(t)
	for _, args := range [][]string{
		{"--show-info"},
		{"--list-slots"},
		{"--list-token-slots"},
		{"--list-mechanisms"},
		{"--list-objects"},
		{"--login", "--pin", userPIN, "--list-objects"},
		{"--login", "--pin", userPIN, "--list-objects", "--type", "privkey"},
		{"--login", "--pin", "0000", "--list-objects"},
		{"--list-objects", "--type", "cert", "--id", "01"},
		{"--read-object", "--type", "cert", "--id", "01"},
		{"--login", "--pin", userPIN, "--read-object", "--type", "pubkey", "--id", "02"},
		{"--generate-random", "0"},
		// The child's C_Initialize: pkcs11mod notices the fork and starts
		// afresh; SoftHSM underneath says CKR_CRYPTOKI_ALREADY_INITIALIZED,
		// as it does when loaded directly. Nothing hangs.
		{"--test-fork"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			e.differential(t, nil, append([]string{"pkcs11-tool", "--module", "MODULE"}, args...)...)
		})
	}
}

// TestPkcs11ToolTest runs pkcs11-tool's own test suite. Against SoftHSM
// 2.6.1 it stops at OAEP with a label (CKR_ARGUMENTS_BAD from SoftHSM), so
// it exits 1 both ways; what matters is that both ways agree.
func TestPkcs11ToolTest(t *testing.T) {
	e := setup(t)
	direct, _ := e.differential(t, nil, "pkcs11-tool", "--module", "MODULE", "--login", "--pin", userPIN, "--test")
	for _, want := range []string{"Digests:", "all 4 digest functions seem to work", "Verify (currently only for RSA)", "RSA-PKCS: OK"} {
		if !strings.Contains(direct.Output, want) {
			t.Errorf("pkcs11-tool --test output lacks %q:\n%s", want, direct.Output)
		}
	}
}

func TestPkcs11ToolSignAndDecrypt(t *testing.T) {
	e := setup(t)
	data := bytes.Repeat([]byte("to be signed "), 10)
	pubDER, err := os.ReadFile(filepath.Join(setupDir, "pub.der"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub.(*rsa.PublicKey), []byte("the secret"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := func(tok token) {
		os.WriteFile(filepath.Join(tok.dir, "data"), data, 0o600)
		os.WriteFile(filepath.Join(tok.dir, "ct"), ct, 0o600)
	}
	tool := []string{"pkcs11-tool", "--module", "MODULE", "--login", "--pin", userPIN}
	// Deterministic: compare the output bytes.
	for _, tc := range []struct {
		name string
		args []string
		want string // expected output file contents, if known
	}{
		{"RSA-PKCS", []string{"--sign", "--id", "01", "-m", "RSA-PKCS", "-i", "data", "-o", "out"}, ""},
		{"SHA256-RSA-PKCS", []string{"--sign", "--id", "01", "-m", "SHA256-RSA-PKCS", "-i", "data", "-o", "out"}, ""},
		{"SHA512-RSA-PKCS", []string{"--sign", "--id", "01", "-m", "SHA512-RSA-PKCS", "-i", "data", "-o", "out"}, ""},
		{"decrypt RSA-PKCS", []string{"--decrypt", "--id", "01", "-m", "RSA-PKCS", "-i", "ct", "-o", "out"}, "the secret"},
		{"SHA-256 digest", []string{"--hash", "-m", "SHA256", "-i", "data", "-o", "out"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := e.newToken(t), e.newToken(t)
			inputs(a)
			inputs(b)
			args := append(tool[:len(tool):len(tool)], tc.args...)
			ra := a.run(t, e.direct, nil, args...)
			rb := b.run(t, e.passthrough, nil, args...)
			if diff := cmp.Diff(ra, rb); diff != "" {
				t.Errorf("output differs (-direct +pkcs11mod):\n%s", diff)
			}
			outA, errA := os.ReadFile(filepath.Join(a.dir, "out"))
			outB, errB := os.ReadFile(filepath.Join(b.dir, "out"))
			if errA != nil || errB != nil || len(outA) == 0 {
				t.Fatalf("no output: %v %v\n%s", errA, errB, ra.Output)
			}
			if !bytes.Equal(outA, outB) {
				t.Errorf("results differ:\n direct %x\n pkcs11mod %x", outA, outB)
			}
			if tc.want != "" && string(outB) != tc.want {
				t.Errorf("result %q, want %q", outB, tc.want)
			}
		})
	}
	// Randomised signatures: sign through pkcs11mod, verify with SoftHSM
	// directly, and the other way round.
	for _, tc := range []struct {
		name, id string
		mech     []string
	}{
		{"ECDSA", "02", []string{"-m", "ECDSA"}},
		// SoftHSM 2.6.1 has no CKM_ECDSA_SHA*.
		{"SHA384-RSA-PKCS-PSS", "01", []string{"-m", "SHA384-RSA-PKCS-PSS", "--mgf", "MGF1-SHA384", "--salt-len", "48"}},
		{"SHA256-RSA-PKCS-PSS", "01", []string{"-m", "SHA256-RSA-PKCS-PSS", "--mgf", "MGF1-SHA256", "--salt-len", "32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][2]string{{e.passthrough, e.direct}, {e.direct, e.passthrough}} {
				tok := e.newToken(t)
				inputs(tok)
				sign := append(append(tool[:len(tool):len(tool)], "--sign", "--id", tc.id, "-i", "data", "-o", "sig"), tc.mech...)
				if r := tok.run(t, order[0], nil, sign...); r.Exit != 0 {
					t.Fatalf("sign: %s", r.Output)
				}
				verify := append(append(tool[:len(tool):len(tool)], "--verify", "--id", tc.id, "-i", "data", "--signature-file", "sig"), tc.mech...)
				if r := tok.run(t, order[1], nil, verify...); r.Exit != 0 || !strings.Contains(r.Output, "Signature is valid") {
					t.Errorf("verify: exit %d\n%s", r.Exit, r.Output)
				}
			}
		})
	}
}

// TestPkcs11ToolThreads runs pkcs11-tool's thread test (C_Initialize and
// more from several threads at once) against pkcs11mod only: SoftHSM 2.6.1
// itself crashes on it when two threads race in C_Initialize, so there is
// nothing to compare with. pkcs11mod serialises initialization; exactly one
// C_Initialize wins and every thread ends cleanly.
func TestPkcs11ToolThreads(t *testing.T) {
	e := setup(t)
	tok := e.newToken(t)
	args := []string{"pkcs11-tool", "--module", "MODULE", "--use-locking", "-L"}
	for range 4 {
		args = append(args, "--test-threads", "ILGISLGISLGI")
	}
	// pkcs11-tool sleeps 30 s when its threads outlive the main one, so one
	// run it is.
	{
		r := tok.run(t, e.passthrough, nil, args...)
		if r.Exit != 0 {
			t.Fatalf("exit %d:\n%s", r.Exit, r.Output)
		}
		inits := regexp.MustCompile(`C_Initialize +returned (CKR_\w+)`).FindAllStringSubmatch(r.Output, -1)
		main := regexp.MustCompile(`Main C_Initialize\(CKF_OS_LOCKING_OK\) rv:(CKR_\w+)`).FindStringSubmatch(r.Output)
		ok := 0
		for _, m := range append(inits, main) {
			if m == nil {
				continue
			}
			switch m[1] {
			case "CKR_OK":
				ok++
			case "CKR_CRYPTOKI_ALREADY_INITIALIZED":
			default:
				t.Errorf("C_Initialize returned %s", m[1])
			}
		}
		if ok != 1 || len(inits) != 4 {
			t.Errorf("%d of %d thread C_Initialize calls (and main's) succeeded, want exactly one:\n%s", ok, len(inits), r.Output)
		}
		if got := strings.Count(r.Output, "returning rv = 0"); got != 4 {
			t.Errorf("%d of 4 threads ended with rv 0:\n%s", got, r.Output)
		}
	}
}

// TestNSS registers each module in a fresh NSS database and lists it,
// its certificates and its keys as Firefox's NSS would see them: with the
// system NSS and, when installed, with Firefox ESR's own newer NSS. NSS
// uses C_GetInterface (pkcs11mod's 3.0 interface) where it is exported and
// C_GetFunctionList otherwise (SoftHSM 2.6), so this also compares the two
// tables.
func TestNSS(t *testing.T) {
	e := setup(t)
	for _, tool := range []string{"certutil", "modutil"} {
		requireTool(t, tool)
	}
	nssLibs := map[string]string{"system": ""}
	if _, err := os.Stat("/usr/lib/firefox-esr/libnss3.so"); err == nil {
		nssLibs["firefox-esr"] = "/usr/lib/firefox-esr"
	}
	steps := [][]string{
		{"certutil", "-N", "-d", "sql:db", "--empty-password"},
		{"modutil", "-dbdir", "sql:db", "-add", "token", "-libfile", "MODULE", "-force"},
		{"modutil", "-dbdir", "sql:db", "-list", "token"},
		{"certutil", "-L", "-d", "sql:db", "-h", "all"},
		{"certutil", "-L", "-d", "sql:db", "-h", tokenLabel, "-n", tokenLabel + ":rsa", "-f", "pin"},
		{"certutil", "-K", "-d", "sql:db", "-h", tokenLabel, "-f", "pin"},
		{"certutil", "-K", "-d", "sql:db", "-h", "all", "-f", "pin"},
	}
	for name, libdir := range nssLibs {
		t.Run(name, func(t *testing.T) {
			var env []string
			if libdir != "" {
				env = []string{"LD_LIBRARY_PATH=" + libdir}
			}
			a, b := e.newToken(t), e.newToken(t)
			for _, tok := range []token{a, b} {
				os.WriteFile(filepath.Join(tok.dir, "pin"), []byte(userPIN+"\n"), 0o600)
				os.Mkdir(filepath.Join(tok.dir, "db"), 0o700)
			}
			for _, step := range steps {
				ra := a.run(t, e.direct, env, step...)
				rb := b.run(t, e.passthrough, env, step...)
				if diff := cmp.Diff(ra, rb); diff != "" {
					t.Errorf("%s: SoftHSM directly (-) and through pkcs11mod (+) differ:\n%s", strings.Join(step, " "), diff)
				}
				if ra.Exit != 0 {
					t.Errorf("%s: exit %d\n%s", strings.Join(step, " "), ra.Exit, ra.Output)
				}
			}
			if r := b.run(t, e.passthrough, env, "certutil", "-K", "-d", "sql:db", "-h", tokenLabel, "-f", "pin"); !strings.Contains(r.Output, "rsa") || !strings.Contains(r.Output, "ec") {
				t.Errorf("NSS does not see the keys through pkcs11mod:\n%s", r.Output)
			}
		})
	}
}

// TestP11Tool lists the token through GnuTLS's p11-kit based tool.
func TestP11Tool(t *testing.T) {
	e := setup(t)
	requireTool(t, "p11tool")
	env := []string{"GNUTLS_PIN=" + userPIN}
	for _, args := range [][]string{
		{"p11tool", "--provider", "MODULE", "--list-tokens"},
		{"p11tool", "--provider", "MODULE", "--list-all"},
		{"p11tool", "--provider", "MODULE", "--login", "--list-all"},
		{"p11tool", "--provider", "MODULE", "--list-all-certs"},
		{"p11tool", "--provider", "MODULE", "--login", "--list-privkeys"},
	} {
		t.Run(strings.Join(args[3:], " "), func(t *testing.T) {
			a, b := e.newToken(t), e.newToken(t)
			ra := a.run(t, e.direct, env, args...)
			rb := b.run(t, e.passthrough, env, args...)
			if diff := cmp.Diff(ra, rb); diff != "" {
				t.Errorf("SoftHSM directly (-) and through pkcs11mod (+) differ:\n%s", diff)
			}
		})
	}
}

// TestLogging checks that the module logs only when asked, to the file
// asked for, and never a PIN.
func TestLogging(t *testing.T) {
	e := setup(t)
	tok := e.newToken(t)
	const pin = "Pin-Secret-4711"
	logFile := filepath.Join(tok.dir, "module.log")
	args := []string{"pkcs11-tool", "--module", "MODULE", "--login", "--pin", pin, "--list-objects"}

	quiet := tok.run(t, e.passthrough, nil, args...)
	direct := tok.run(t, e.direct, nil, args...)
	if quiet != direct {
		t.Errorf("without logging the module's output differs from SoftHSM's:\n%s\n---\n%s", quiet.Output, direct.Output)
	}
	if _, err := os.Stat(logFile); err == nil {
		t.Fatal("a log file appeared without PASSTHROUGH_LOG")
	}

	logged := tok.run(t, e.passthrough, []string{"PASSTHROUGH_LOG=" + logFile, "PASSTHROUGH_LOG_LEVEL=trace"}, args...)
	if logged != direct {
		t.Errorf("logging changed the client's output:\n%s", logged.Output)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"msg=initialized", "msg=C_Login", "rv=CKR_PIN_INCORRECT", "msg=finalized"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(string(log), pin) {
		t.Errorf("the PIN is in the log:\n%s", log)
	}
	if fi, _ := os.Stat(logFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600", fi.Mode().Perm())
	}
}
