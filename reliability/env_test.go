package reliability

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A host that sets COOLKEY_SIM with setenv() just before loading the module
// gets its card: the module reads the environment as the process sees it
// when C_Initialize runs, not the copy a Go c-shared library's runtime took
// of the process's initial environment (in which the variable is absent).
func TestModuleSeesSetenv(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module")
	}
	needTools(t, "gcc")
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	bin := compileC(t, "setenv.c", false)
	// COOLKEY_SIM must be absent from the initial environment: setenv()
	// replaces an existing entry in place, where the Go runtime's copy
	// would see it, but appends a new one elsewhere.
	t.Setenv("COOLKEY_SIM", "")
	os.Unsetenv("COOLKEY_SIM")
	env := []string{"COOLKEY_PCSC=off", "XDG_CACHE_HOME=" + t.TempDir()}
	stdout, stderr, err := runProgram(t, time.Minute, env, bin, moduleSO(t), c.addr)
	if err != nil || !strings.Contains(stdout, "tokens 1") {
		t.Fatalf("the module did not see a variable set with setenv(): %v\n%s%s", err, stdout, stderr)
	}
}
