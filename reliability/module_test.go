package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// needTools skips (or fails, in CI) without the named programs.
func needTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" is not installed")
		}
	}
}

// missing skips, or fails when COOLKEY_E2E_REQUIRED=1 (CI wants every
// test to run).
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("COOLKEY_E2E_REQUIRED") == "1" {
		t.Fatalf("%s (COOLKEY_E2E_REQUIRED=1)", what)
	}
	t.Skip(what)
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type buildResult struct {
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*buildResult{}
)

// buildOnce runs a build once per test binary, keyed by name.
func buildOnce(t testing.TB, name string, build func(out string) error) string {
	t.Helper()
	buildsMu.Lock()
	defer buildsMu.Unlock()
	r := builds[name]
	if r == nil {
		out := filepath.Join(suiteDir, "build", name)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		r = &buildResult{path: out, err: build(out)}
		builds[name] = r
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

func run(dir string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// moduleSO returns libcoolkeypk11.so: COOLKEY_MODULE when CMake built it,
// otherwise built here as the build does.
func moduleSO(t testing.TB) string {
	t.Helper()
	if so := os.Getenv("COOLKEY_MODULE"); so != "" {
		if _, err := os.Stat(so); err == nil {
			return so
		}
	}
	root := repoRoot(t)
	return buildOnce(t, "libcoolkeypk11.so", func(out string) error {
		return run(root, "go", "build", "-buildmode=c-shared",
			"-ldflags=-extldflags=-Wl,--version-script="+filepath.Join(root, "exports.map"), "-o", out, ".")
	})
}

// raceArchive returns the module built with the race detector as a
// c-archive. A -race c-shared library cannot be used: ThreadSanitizer's Go
// mapping covers application memory below 0xe000000000 only, and a
// dlopen'd library lives near 0x7f0000000000, so its first allocation
// fails ("ThreadSanitizer failed to allocate ... errno: 12"). Linked
// statically into a non-PIE executable, the module's code and data sit low
// and the race detector works.
func raceArchive(t testing.TB) string {
	t.Helper()
	root := repoRoot(t)
	return buildOnce(t, "libcoolkeypk11-race.a", func(out string) error {
		return run(root, "go", "build", "-race", "-buildmode=c-archive", "-o", out, ".")
	})
}

// compileC compiles testdata/<src>.c; static links it with the race
// archive instead of loading a module with dlopen.
func compileC(t testing.TB, src string, static bool) string {
	t.Helper()
	root := repoRoot(t)
	name := strings.TrimSuffix(src, ".c")
	if static {
		name += "-race"
	}
	var archive string
	if static {
		archive = raceArchive(t)
	}
	return buildOnce(t, name, func(out string) error {
		args := []string{"-std=gnu99", "-O1", "-g", "-Wall", "-Werror", "-I", filepath.Join(root, "include"),
			"-o", out, filepath.Join("testdata", src)}
		if static {
			args = append(args, "-no-pie", "-DSTATIC", archive, "-lpcsclite")
		}
		args = append(args, "-ldl", "-lpthread")
		return run(".", "gcc", args...)
	})
}

// runProgram runs a harness with the module's environment and a timeout,
// returning its output; the error is nil, an *exec.ExitError or a timeout.
func runProgram(t testing.TB, timeout time.Duration, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not end within %v", filepath.Base(name), timeout)
	}
	return stdout.String(), stderr.String(), err
}

// moduleEnv is the environment of a process using the module on socket
// cards only, logging to the suite's log directory at level.
func moduleEnv(t testing.TB, level string, cards ...*simCard) []string {
	t.Helper()
	var addrs []string
	for _, c := range cards {
		addrs = append(addrs, c.addr)
	}
	return []string{
		"COOLKEY_SIM=" + strings.Join(addrs, ","), "COOLKEY_PCSC=off",
		"XDG_CACHE_HOME=" + t.TempDir(),
		"COOLKEY_LOG=" + suiteLogPath(t, "module.log"), "COOLKEY_LOG_LEVEL=" + level,
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
