package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// ModuleEnv names a libcoolkeypk11.so already built (CMake's, under CTest);
// BuildModule uses it instead of building its own.
const ModuleEnv = "COOLKEY_MODULE"

// builds are the temporary directories BuildCLI and BuildModule made, which
// Main removes.
var builds struct {
	sync.Mutex
	dirs []string
}

// Main runs a package's tests, then the package's own cleanups, and removes
// what BuildCLI and BuildModule built. Use it as TestMain:
// func TestMain(m *testing.M) { e2e.Main(m) }.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	builds.Lock()
	for _, d := range builds.dirs {
		os.RemoveAll(d)
	}
	builds.Unlock()
	os.Exit(code)
}

// buildOnce runs `go build args... -o <tmp>/name target` in the repository
// once per test binary.
type buildOnce struct {
	once sync.Once
	path string
	err  error
}

func (b *buildOnce) build(t testing.TB, name, target string, args ...string) string {
	t.Helper()
	root := RepoRoot(t)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "coolkey-e2e-")
		if err != nil {
			b.err = err
			return
		}
		builds.Lock()
		builds.dirs = append(builds.dirs, dir)
		builds.Unlock()
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", append(append([]string{"build"}, args...), "-o", b.path, target)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", target, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

var cliBuild, moduleBuild buildOnce

// BuildCLI builds the coolkey command once per test binary and returns its
// path.
func BuildCLI(t testing.TB) string {
	t.Helper()
	return cliBuild.build(t, "coolkey", "./cmd/coolkey")
}

// BuildModule returns the PKCS#11 module under test: $COOLKEY_MODULE when
// set (relative to the repository's top) (CTest passes CMake's build, so the suites test what is shipped and
// do not each link their own), otherwise one built once per test binary
// with the project's export map.
func BuildModule(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(ModuleEnv); p != "" {
		// Tests run in their package's directory; a relative path is meant
		// from the repository's top.
		abs := p
		if !filepath.IsAbs(p) {
			abs = filepath.Join(RepoRoot(t), p)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("%s: %v", ModuleEnv, err)
		}
		return abs
	}
	exports := filepath.Join(RepoRoot(t), "exports.map")
	return moduleBuild.build(t, "libcoolkeypk11.so", ".",
		"-buildmode=c-shared", "-ldflags=-extldflags=-Wl,--version-script="+exports)
}
