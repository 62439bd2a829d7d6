package reliability

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	hammerTime    = flag.Duration("hammer", 20*time.Second, "how long the hammer threads run against the race-detector build (a minute or more by hand)")
	hammerThreads = flag.Int("hammer-threads", 16, "hammer threads")
)

// hammerResult is what a hammer run printed.
type hammerResult struct {
	ops      map[string]int
	sigs     int
	sessions int
}

// checkHammer parses a hammer transcript, verifies every signature against
// the fixture's certificates, and fails the test on any error line.
func checkHammer(t *testing.T, fx *fixture, stdout string) hammerResult {
	t.Helper()
	res := hammerResult{ops: map[string]int{}, sessions: -1}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	bad := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 4 && f[0] == "SIG":
			id, _ := strconv.Atoi(f[1])
			msg, err1 := hex.DecodeString(f[2])
			sig, err2 := hex.DecodeString(f[3])
			if err1 != nil || err2 != nil {
				t.Fatalf("bad SIG line %q", sc.Text())
			}
			if err := fx.verify(byte(id), msg, sig); err != nil {
				bad++
				if bad < 5 {
					t.Errorf("signature by key %d over %q does not verify: %v", id, msg, err)
				}
			}
			res.sigs++
		case len(f) == 4 && f[0] == "ERR":
			t.Errorf("thread %s: %s failed with CK_RV %s", f[1], f[2], f[3])
		case len(f) == 3 && f[0] == "OPS":
			res.ops[f[1]], _ = strconv.Atoi(f[2])
		case len(f) == 2 && f[0] == "SESSIONS":
			res.sessions, _ = strconv.Atoi(f[1])
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d signatures do not verify", bad, res.sigs)
	}
	if res.sigs == 0 || res.ops["sign"] != res.sigs {
		t.Errorf("%d signatures printed, %d sign operations counted", res.sigs, res.ops["sign"])
	}
	// Only the main thread's session is open once the workers are done.
	if res.sessions != 1 {
		t.Errorf("token reports %d open sessions after the threads closed theirs, want 1", res.sessions)
	}
	return res
}

func (r hammerResult) String() string {
	total := 0
	var parts []string
	for _, op := range []string{"session", "find", "attrs", "sign", "info"} {
		total += r.ops[op]
		parts = append(parts, fmt.Sprintf("%s %d", op, r.ops[op]))
	}
	return fmt.Sprintf("%d operations (%s), %d signatures verified", total, strings.Join(parts, ", "), r.sigs)
}

// Sixteen C threads hammer one token — sessions, searches, two-pass
// attribute reads, RSA-2048 signatures, session/slot/token info — through
// the module built with the race detector (GORACE halt_on_error: the first
// race ends the process with status 66). Every call succeeds, every
// signature verifies, and no session is left open.
func TestHammerRaceDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module with -race")
	}
	needTools(t, "gcc")
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	bin := compileC(t, "hammer.c", true)
	env := append(moduleEnv(t, "info", c), "GORACE=halt_on_error=1 exitcode=66")
	secs := int(hammerTime.Seconds())
	start := c.proxy.APDUs()
	stdout, stderr, err := runProgram(t, *hammerTime+3*time.Minute, env, bin, "-", strconv.Itoa(*hammerThreads), strconv.Itoa(secs), testPIN)
	if exitCode(err) == 66 || strings.Contains(stderr, "DATA RACE") {
		t.Fatalf("the race detector found a race:\n%s", stderr)
	}
	res := checkHammer(t, fx, stdout)
	if err != nil {
		t.Fatalf("hammer: %v\n%s", err, stderr)
	}
	t.Logf("FIGURE hammer (race detector): %d threads × %d s: %v; %d APDUs", *hammerThreads, secs, res, c.proxy.APDUs()-start)
}

// The same against the module as shipped (dlopen of the c-shared
// library), for a shorter time.
func TestHammerModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module")
	}
	needTools(t, "gcc")
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	bin := compileC(t, "hammer.c", false)
	secs := 5
	stdout, stderr, err := runProgram(t, 2*time.Minute, moduleEnv(t, "info", c), bin, moduleSO(t), "16", strconv.Itoa(secs), testPIN)
	res := checkHammer(t, fx, stdout)
	if err != nil {
		t.Fatalf("hammer: %v\n%s", err, stderr)
	}
	t.Logf("FIGURE hammer (module): 16 threads × %d s: %v", secs, res)
}

// Three processes sign on one card at once; the socket transport's
// transactions serialise them (the PC/SC version, through pcscd, is in
// e2e/reliabilitye2e). Every signature verifies.
func TestThreeProcessesOneCard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module")
	}
	needTools(t, "gcc")
	fx := rsaFixture(t)
	c := serveCard(t, fx, nil)
	bin := compileC(t, "hammer.c", false)
	so := moduleSO(t)
	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stderr string
			outs[i], stderr, errs[i] = runProgram(t, 2*time.Minute, moduleEnv(t, "info", c), bin, so, "2", "5", testPIN)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%v\n%s", errs[i], stderr)
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := range outs {
		res := checkHammer(t, fx, outs[i])
		if errs[i] != nil {
			t.Errorf("process %d: %v", i, errs[i])
		}
		total += res.sigs
	}
	t.Logf("FIGURE three processes × 2 threads × 5 s on one socket card: %d signatures verified", total)
}

// The race detector does see races in a -race c-archive linked into a
// non-PIE C program, the setup TestHammerRaceDetector relies on: a
// deliberately racy archive ends with status 66 and a report.
func TestRaceDetectorSeesRaces(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with -race")
	}
	needTools(t, "gcc")
	archive := buildOnce(t, "racecheck.a", func(out string) error {
		return run("testdata/racecheck", "go", "build", "-race", "-buildmode=c-archive", "-o", out, ".")
	})
	bin := buildOnce(t, "racecheck", func(out string) error {
		return run(".", "gcc", "-no-pie", "-o", out, "testdata/racecheck/main.c", archive, "-lpthread")
	})
	_, stderr, err := runProgram(t, time.Minute, []string{"GORACE=halt_on_error=1 exitcode=66"}, bin)
	if exitCode(err) != 66 || !strings.Contains(stderr, "DATA RACE") {
		t.Fatalf("a racy program passed the race detector: %v\n%s", err, stderr)
	}
}
