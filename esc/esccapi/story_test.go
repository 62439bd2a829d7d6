package esccapi

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module root, two levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

const builtVersion = "capi-test"

// library returns libcoolkeypk11.so: $COOLKEY_MODULE (the CMake build)
// when set, else built here the way CMake builds it.
func library(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("COOLKEY_MODULE"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	root := repoRoot(t)
	so := filepath.Join(t.TempDir(), "libcoolkeypk11.so")
	cmd := exec.Command("go", "build", "-buildmode=c-shared",
		"-ldflags=-X main.version="+builtVersion+" -extldflags=-Wl,--version-script="+filepath.Join(root, "exports.map"),
		"-o", so, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building libcoolkeypk11.so: %v\n%s", err, out)
	}
	return so
}

// compileC builds a C program against include/ and the library, strictly:
// a warning in the header or the program fails the test.
func compileC(t *testing.T, so, src string, extra ...string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".c"))
	args := append([]string{"-std=c89", "-pedantic", "-Wall", "-Wextra", "-Werror",
		"-I", filepath.Join(repoRoot(t), "include"), "-o", exe, src, so,
		"-Wl,-rpath," + filepath.Dir(so), "-pthread"}, extra...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return exe
}

// TestCStory runs testdata/story.c: a C program that uses the library as
// a GUI would, through a full format, enroll and PIN reset against the
// test TPS, with every callback answered from C, plus the misuses the API
// must survive.
func TestCStory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the shared library")
	}
	needTools(t, "gcc", "go")
	so := library(t)
	exe := compileC(t, so, "testdata/story.c")
	w := newWorld(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, w.tpsURL, w.caFile, testUser, testPassword, w.reader)
	cmd.Env = w.env(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := stdout.String()
	if err != nil || !strings.Contains(out, "PASS: 0 failure(s)") {
		t.Errorf("story: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	} else {
		t.Logf("story:\n%s", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("the library wrote to stderr:\n%s", stderr.String())
	}
	if os.Getenv("COOLKEY_MODULE") == "" && !strings.Contains(out, "# version "+builtVersion+"\n") {
		t.Errorf("coolkey_esc_version is not the version the build set (%s)", builtVersion)
	}
	// Secrets never reach the output, the library's messages included.
	for _, secret := range []string{testPassword, "13579", "24680"} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains the secret %q", secret)
		}
	}
}

// TestHeaderCompilesAsCPlusPlus: the header is usable from C++ (extern "C",
// no C-only constructs).
func TestHeaderCompilesAsCPlusPlus(t *testing.T) {
	needTools(t, "g++")
	src := filepath.Join(t.TempDir(), "use.cc")
	os.WriteFile(src, []byte(`#include "coolkey-esc.h"
static int login(void *, const char *, coolkey_esc_answers *a) { return coolkey_esc_answer(a, "UID", "x"); }
int main() {
	coolkey_esc_callbacks cb = {login, 0, 0, 0};
	coolkey_esc_handle h;
	coolkey_esc_op op;
	if (coolkey_esc_open(&h) != COOLKEY_ESC_OK) return 1;
	return coolkey_esc_start(h, COOLKEY_ESC_OP_ENROLL, 0, 0, 0, &cb, 0, &op);
}
`), 0o644)
	cmd := exec.Command("g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", filepath.Join(repoRoot(t), "include"), src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestHeaderMatchesExports compares the prototypes of coolkey-esc.h with
// the declarations cgo generates for the Go exports (and capi.c's C
// functions, which the compiler already checks against the header): same
// functions, same parameter and return types, except that cgo cannot say
// const and user data is passed as an integer (see capi.go).
func TestHeaderMatchesExports(t *testing.T) {
	needTools(t, "go", "gcc")
	dir := t.TempDir()
	cmd := exec.Command("go", "tool", "cgo", "-objdir", dir, "-exportheader", filepath.Join(dir, "export.h"),
		"--", "-I", filepath.Join(repoRoot(t), "include"), "capi.go")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go tool cgo: %v\n%s", err, out)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "export.h"))
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := os.ReadFile(filepath.Join(repoRoot(t), "include", "coolkey-esc.h"))
	if err != nil {
		t.Fatal(err)
	}
	public := headerPrototypes(t, string(hdr))
	exported := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^extern (.+?)\b(coolkey_esc_\w+)\((.*)\);$`).FindAllStringSubmatch(string(gen), -1) {
		exported[m[2]] = signature(m[1], m[3])
	}
	// Implemented in capi.c, which includes the header itself.
	inC := []string{"coolkey_esc_free", "coolkey_esc_strerror"}
	for name, sig := range public {
		if slices.Contains(inC, name) {
			continue
		}
		got, ok := exported[name]
		if !ok {
			t.Errorf("%s is declared in coolkey-esc.h but not exported by package esccapi", name)
			continue
		}
		want := strings.ReplaceAll(sig, "void*user_data", "uintptr_t") // see capi.go
		if got != want {
			t.Errorf("%s: header says %s, the export is %s", name, want, got)
		}
	}
	for name := range exported {
		if _, ok := public[name]; !ok {
			t.Errorf("%s is exported but not declared in coolkey-esc.h", name)
		}
	}
	if len(public) < 17 {
		t.Errorf("found %d prototypes in coolkey-esc.h: the parser is broken", len(public))
	}
}

// headerPrototypes returns the functions declared in coolkey-esc.h with
// their normalised signatures.
func headerPrototypes(t *testing.T, src string) map[string]string {
	t.Helper()
	src = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(src, "")
	src = regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(src, "")
	src = strings.Join(strings.Fields(src), " ")
	proto := regexp.MustCompile(`^(.*?)\b(coolkey_esc_\w+)\((.*)\)$`)
	out := map[string]string{}
	for _, decl := range strings.Split(src, ";") {
		m := proto.FindStringSubmatch(strings.TrimSpace(decl))
		if m == nil || strings.Contains(m[1], "typedef") || strings.ContainsAny(m[1], "{}()") {
			continue
		}
		out[m[2]] = signature(m[1], m[3])
	}
	return out
}

// signature normalises a return type and parameter list: const and
// parameter names dropped (user_data kept, to be mapped), spaces removed.
func signature(ret, params string) string {
	norm := func(s string) string {
		s = regexp.MustCompile(`\bconst\b`).ReplaceAllString(s, "")
		return strings.Join(strings.Fields(s), "")
	}
	var ps []string
	for _, p := range strings.Split(params, ",") {
		p = strings.TrimSpace(p)
		if p == "void" || p == "" {
			ps = append(ps, "void")
			continue
		}
		name := regexp.MustCompile(`\w+$`).FindString(p)
		typ := strings.TrimSpace(strings.TrimSuffix(p, name))
		if name == "user_data" {
			typ += " user_data"
		}
		ps = append(ps, norm(typ))
	}
	return norm(ret) + "(" + strings.Join(ps, ",") + ")"
}
