package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

// tools are the helpers compiled at run time.
type tools struct {
	harness string // bench/csrc/harness.c
	shimDir string // holds libpcsclite.so.1 built from bench/csrc/scardcount.c
	goFloor string // a Go c-shared library that does nothing (bench/gofloor)
}

// buildTools compiles the C harness, the PC/SC counting shim and the Go
// floor library into dir.
func buildTools(root, dir string) (*tools, error) {
	t := &tools{
		harness: filepath.Join(dir, "harness"),
		shimDir: filepath.Join(dir, "scardcount"),
		goFloor: filepath.Join(dir, "libgofloor.so"),
	}
	if err := os.MkdirAll(t.shimDir, 0o755); err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks("/usr/lib/x86_64-linux-gnu/libpcsclite.so.1")
	if err != nil {
		return nil, fmt.Errorf("libpcsclite: %w", err)
	}
	steps := [][]string{
		{"gcc", "-O2", "-Wall", "-Wextra", "-I" + filepath.Join(root, "include"),
			"-o", t.harness, filepath.Join(root, "bench", "csrc", "harness.c"), "-ldl"},
		{"gcc", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC", "-I/usr/include/PCSC",
			"-DREAL_PCSCLITE=\"" + real + "\"", "-Wl,-soname,libscardcount.so",
			"-o", filepath.Join(t.shimDir, "libpcsclite.so.1"), filepath.Join(root, "bench", "csrc", "scardcount.c"), "-ldl"},
		{"go", "build", "-buildmode=c-shared", "-o", t.goFloor, "./bench/gofloor"},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return t, nil
}

// module is a PKCS#11 library under test.
type module struct {
	name string
	path string
	env  []string
	// clearCache empties the module's cross-process cache; nil when it
	// has none.
	clearCache func() error
}

// procRun is one harness or tool process.
type procRun struct {
	results map[string]int64
	// marks are the card's counts at each SYNC point, at "start" (before
	// the process started) and "end" (after it exited).
	marks  map[string]serve.StatsSnapshot
	wall   time.Duration
	stdout string
}

// apdus is the number of APDUs the card received between two marks.
func (r *procRun) apdus(from, to string) uint64 {
	return r.marks[to].APDUs - r.marks[from].APDUs
}

const processTimeout = 5 * time.Minute

// runHarness runs the harness on mod. card may be nil (SoftHSM, load).
// The process's requests to pcscd are in the result "pcscd.total" when the
// module uses PC/SC.
func runHarness(t *tools, mod module, card *servedCard, args ...string) (*procRun, error) {
	countFile := filepath.Join(t.shimDir, "harness.count")
	os.Remove(countFile)
	// The counting libpcsclite.so.1 costs an atomic add per SCard call,
	// nothing next to the call's round trip to pcscd.
	env := append([]string{"BENCH_SYNC=1", "BENCH_PIN=" + benchPIN, "LD_LIBRARY_PATH=" + t.shimDir, "SCARDCOUNT_FILE=" + countFile}, mod.env...)
	r, err := runCounted(card, env, t.harness, append([]string{mod.path}, args...)...)
	if err != nil {
		return r, err
	}
	counts, err := scardCounts(countFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// The module never loaded libpcsclite.
	case err != nil:
		return nil, err
	default:
		r.results["pcscd.total"] = int64(pcscdRequests(counts))
	}
	return r, nil
}

// runCounted runs a command, answering its SYNC lines and snapshotting the
// card's counters there.
func runCounted(card *servedCard, env []string, name string, args ...string) (*procRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	r := &procRun{results: map[string]int64{}, marks: map[string]serve.StatsSnapshot{}}
	snap := func(name string) {
		if card != nil {
			r.marks[name] = card.stats.Snapshot()
		}
	}
	snap("start")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if name, ok := strings.CutPrefix(line, "SYNC "); ok {
			snap(name)
			io.WriteString(stdin, "\n")
			continue
		}
		if kv, ok := strings.CutPrefix(line, "RESULT "); ok {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: bad result line %q", name, line)
			}
			r.results[k] = n
		}
	}
	stdin.Close()
	err = cmd.Wait()
	r.wall = time.Since(start)
	snap("end")
	r.stdout = out.String()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), processTimeout)
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return r, nil
}

// scardCounts reads the counting shim's file: the number of calls per
// function, summed over every process and unload that wrote to it.
func scardCounts(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSCardCounts(b)
}

func parseSCardCounts(b []byte) (map[string]uint64, error) {
	counts := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "end" {
			continue
		}
		name, v, ok := strings.Cut(line, " ")
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil || !strings.HasPrefix(name, "SCard") {
			return nil, fmt.Errorf("scardcount: bad line %q", line)
		}
		counts[name] += n
	}
	return counts, nil
}

// clientLocal are the SCard functions pcsc-lite answers without asking
// pcscd.
var clientLocal = map[string]bool{"SCardFreeMemory": true, "SCardIsValidContext": true}

// pcscdRequests is the number of SCard calls that reach pcscd.
func pcscdRequests(counts map[string]uint64) uint64 {
	var n uint64
	for name, c := range counts {
		if !clientLocal[name] {
			n += c
		}
	}
	return n
}

// runTool runs pkcs11-tool on mod with the PC/SC calls counted.
func runTool(t *tools, mod module, card *servedCard, countFile string, args ...string) (*procRun, map[string]uint64, error) {
	os.Remove(countFile)
	env := append([]string{"LD_LIBRARY_PATH=" + t.shimDir, "SCARDCOUNT_FILE=" + countFile}, mod.env...)
	r, err := runCounted(card, env, "pkcs11-tool", append([]string{"--module", mod.path}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	counts, err := scardCounts(countFile)
	if err != nil {
		return nil, nil, fmt.Errorf("PC/SC call counts: %w", err)
	}
	return r, counts, nil
}
