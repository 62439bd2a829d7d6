package reliability

import (
	"strings"
	"testing"
	"time"
)

// testdata/torture.c misuses the API of the shipped module in every way
// PKCS#11 assigns a return value to — calls before C_Initialize and after
// C_Finalize, NULL pointers, invalid and stale handles, short buffers,
// wrong lengths, operations in the wrong state — and checks each value
// against the standard.
func TestAPIMisuse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module")
	}
	needTools(t, "gcc")
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	bin := compileC(t, "torture.c", false)
	stdout, stderr, err := runProgram(t, 2*time.Minute, moduleEnv(t, "debug", c), bin, moduleSO(t), testPIN)
	checks := 0
	for _, line := range strings.Split(stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "FAIL "):
			t.Error(line)
			checks++
		case strings.HasPrefix(line, "ok "):
			checks++
		}
	}
	if err != nil {
		t.Errorf("torture: %v\n%s", err, stderr)
	}
	if checks < 100 {
		t.Errorf("only %d checks ran:\n%s%s", checks, stdout, stderr)
	}
	t.Logf("FIGURE API misuse checks: %d", checks)
}
