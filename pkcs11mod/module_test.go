package pkcs11mod

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestModuleExports builds the c-shared modules of this repository the way
// the build does and checks that their dynamic symbol table is exactly the
// PKCS#11 API, every C_* function of include/pkcs11f.h, plus for
// libcoolkeypk11.so the enrollment helper's C API, every coolkey_esc_*
// function of include/coolkey-esc.h; nothing else (no _cgo_* stubs, no
// miekg/pkcs11 helpers, no internal C helpers).
func TestModuleExports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds shared libraries")
	}
	for _, tool := range []string{"gcc", "nm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	want := apiFunctions(t)
	if len(want) != 92 {
		t.Fatalf("include/pkcs11f.h declares %d functions, want 92", len(want))
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	escAPI := escFunctions(t)
	if len(escAPI) == 0 {
		t.Fatal("include/coolkey-esc.h declares no coolkey_esc_* functions")
	}
	modules := []struct {
		name, pkg string
		want      []string
	}{
		{"libcoolkeypk11.so", ".", slices.Sorted(slices.Values(append(slices.Clone(want), escAPI...)))},
		{"passthrough.so", "./softhsm-tests/passthrough", want},
	}
	for _, m := range modules {
		t.Run(m.name, func(t *testing.T) {
			if m.pkg == "." {
				if _, err := os.Stat(filepath.Join(root, "coolkey")); err != nil {
					t.Skip("package coolkey (the token backend) does not exist yet")
				}
			}
			so := buildModule(t, root, m.pkg)
			out, err := exec.Command("nm", "-D", "--defined-only", so).Output()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				f := strings.Fields(line)
				got = append(got, f[len(f)-1])
			}
			slices.Sort(got)
			if want := m.want; !slices.Equal(got, want) {
				for _, s := range got {
					if !slices.Contains(want, s) {
						t.Errorf("unexpected export %s", s)
					}
				}
				for _, s := range want {
					if !slices.Contains(got, s) {
						t.Errorf("missing export %s", s)
					}
				}
			}
		})
	}
}

// apiFunctions lists the functions declared in include/pkcs11f.h, sorted.
func apiFunctions(t *testing.T) []string {
	src, err := os.ReadFile(filepath.Join(includeDir, "pkcs11f.h"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^CK_CRYPTOKI_FUNCTION\((C_\w+),`).FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	return names
}

// escFunctions lists the functions include/coolkey-esc.h declares (its
// prototypes start a line: return type, then the name), sorted.
func escFunctions(t *testing.T) []string {
	src, err := os.ReadFile(filepath.Join(includeDir, "coolkey-esc.h"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^(?:const )?\w+ \*?(coolkey_esc_\w+)\(`).FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// buildModule builds the c-shared module in package pkg of the repository
// at root with the repository's version script, into a temporary directory,
// and returns its path.
func buildModule(t testing.TB, root, pkg string) string {
	t.Helper()
	so := filepath.Join(t.TempDir(), "module.so")
	cmd := exec.Command("go", "build", "-buildmode=c-shared",
		"-ldflags=-extldflags=-Wl,--version-script="+filepath.Join(root, "exports.map"),
		"-o", so, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, stderr.String())
	}
	return so
}

// TestForkedChildProcess forks a process that initialized the module: the
// child sees CKR_CRYPTOKI_NOT_INITIALIZED until its own C_Initialize, which
// the fork count (pthread_atfork, functions.c) tells without a getpid per
// call; the parent is unaffected.
func TestForkedChildProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a shared library")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "coolkey")); err != nil {
		t.Skip("package coolkey (the token backend) does not exist yet")
	}
	so := buildModule(t, root, ".")
	bin := filepath.Join(t.TempDir(), "forkcheck")
	if out, err := exec.Command("gcc", "-Wall", "-I"+filepath.Join(root, "include"), "-o", bin,
		filepath.Join("testdata", "forkcheck.c"), "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, so)
	// No readers: the module initializes without pcscd or cards.
	cmd.Env = append(os.Environ(), "COOLKEY_PCSC=off", "COOLKEY_SIM=", "COOLKEY_CACHE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("forkcheck: %v\n%s", err, out)
	}
}
