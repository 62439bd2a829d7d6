// Command bench compares libcoolkeypk11.so with the C++ CoolKey module and
// OpenSC (and SoftHSM where a software token makes sense) on the same
// virtual CoolKey card, served by this process through pcscd and vpcd, and
// writes a Markdown table of medians, ratios and the targets of issue 9.
//
// Run it with build/bench (which builds the module and the CLI first), or
//
//	go run ./bench [-rounds 5] [-out bench/results.md]
//
// Scenarios (each module in turn, the order rotating every round):
//
//  1. cold start: load, C_Initialize, list slots, open a session, find all
//     objects, read every attribute, finalize, with the cross-process
//     caches of our module and the C++ module emptied first;
//  2. warm start: the same again in a new process;
//  3. login and N RSA-2048 CKM_RSA_PKCS signatures over a DigestInfo (and
//     N ECDSA P-256 signatures on a second card);
//  4. M C_GetAttributeValue calls (class, ID, label of a certificate);
//  5. load + C_Initialize + C_Finalize time and the resident memory the
//     module adds, next to an empty Go shared library (the runtime's floor);
//  6. `coolkey enroll` of a formatted card against the test TPS;
//
// plus whole pkcs11-tool runs (-O cold and warm, --login --sign) with their
// APDUs and PC/SC calls. APDUs are counted by the virtual card
// (vcard/serve.Stats); PC/SC calls by a stand-in libpcsclite.so.1
// (bench/csrc/scardcount.c) put first on LD_LIBRARY_PATH.
package main

import (
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

const (
	cppModulePath    = "/usr/lib/pkcs11/libcoolkeypk11.so"
	openscModulePath = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
	softhsmPath      = "/usr/lib/softhsm/libsofthsm2.so"
	cppCacheDir      = "/var/cache/coolkey"
)

type config struct {
	root          string
	rounds        int
	enrollRounds  int
	signatures    int
	getattrCalls  int
	out           string
	ourModule     string
	cli           string
	lockWait      time.Duration
	keep          bool
	commandLine   string
	skipEnroll    bool
	onlyScenarios string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	c := config{root: root}
	flag.IntVar(&c.rounds, "rounds", 5, "rounds of scenarios 1–5 and of the pkcs11-tool runs (medians are taken over them)")
	flag.IntVar(&c.enrollRounds, "enroll-rounds", 3, "rounds of scenario 6 (each enrolls a new card: two RSA-2048 key generations)")
	flag.IntVar(&c.signatures, "signatures", 100, "signatures per signing run")
	flag.IntVar(&c.getattrCalls, "getattr-calls", 100000, "C_GetAttributeValue calls per run")
	flag.StringVar(&c.out, "out", filepath.Join(root, "bench", "results.md"), "Markdown `file` to write")
	flag.StringVar(&c.ourModule, "module", filepath.Join(root, "_build", "libcoolkeypk11.so"), "our PKCS#11 `module`")
	flag.StringVar(&c.cli, "cli", filepath.Join(root, "_build", "coolkey"), "the coolkey `command` (for enroll)")
	flag.DurationVar(&c.lockWait, "lock-wait", 15*time.Minute, "wait this long for the vpcd lock")
	flag.BoolVar(&c.keep, "keep", false, "keep the working directory")
	flag.BoolVar(&c.skipEnroll, "skip-enroll", false, "skip scenario 6")
	flag.Parse()
	if c.rounds < 1 || c.enrollRounds < 1 || c.signatures < 1 || c.getattrCalls < 1 {
		return errors.New("counts must be positive")
	}
	c.commandLine = os.Getenv("BENCH_COMMAND") // set by build/bench
	if c.commandLine == "" {
		c.commandLine = "go run ./bench " + strings.Join(os.Args[1:], " ")
	}
	for _, p := range []string{c.ourModule, cppModulePath, openscModulePath, softhsmPath} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("module missing: %w", err)
		}
	}
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		return err
	}

	work, err := os.MkdirTemp("", "coolkey-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		logf("working directory %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	logf("compiling the C harness, the PC/SC counting shim and the Go floor library")
	t, err := buildTools(root, work)
	if err != nil {
		return err
	}
	b := &bench{cfg: c, tools: t, work: work, res: newResults(), info: map[string]string{}}
	b.info["load before"] = loadAverage()
	if err := b.setup(); err != nil {
		return err
	}
	if err := ensurePCSCD(root); err != nil {
		return err
	}
	logf("waiting for the vpcd lock %s", vpcdLock)
	lock, err := lockVPCD(c.lockWait)
	if err != nil {
		return err
	}
	defer lock.Close()
	start := time.Now()
	if err := b.rsaPhase(); err != nil {
		return err
	}
	if err := b.ecPhase(); err != nil {
		return err
	}
	if !c.skipEnroll {
		if err := b.enrollPhase(); err != nil {
			return err
		}
	}
	b.info["load after"] = loadAverage()
	b.info["duration"] = time.Since(start).Round(time.Second).String()
	report := b.render()
	if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Print(report)
	logf("written to %s", c.out)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/coolkey-go/coolkey-go\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the coolkey-go module")
		}
		dir = parent
	}
}

// bench is one run of the benchmark.
type bench struct {
	cfg   config
	tools *tools
	work  string
	res   *results
	info  map[string]string

	rsaCard, ecCard *benchCard
	mods            []module // ours, C++, OpenSC
	soft            module
	digestInfo      string // file: a SHA-256 DigestInfo for pkcs11-tool

	scardByFunc map[string]map[string]uint64 // module → SCard function → calls, warm -O, last round
	objects     map[string]string            // module → objects and attributes seen at cold start
	signAPDUs   map[string]string            // module → APDUs of login, signing, finalize
}

func (b *bench) setup() error {
	var err error
	caDir := filepath.Join(b.work, "ca")
	if b.rsaCard, err = enrolledCard("RSA-2048 ×2", caDir, provision.RSA2048, provision.RSA2048); err != nil {
		return err
	}
	if b.ecCard, err = enrolledCard("EC P-256", caDir, provision.EC256); err != nil {
		return err
	}
	xdg := filepath.Join(b.work, "xdg")
	b.mods = []module{
		{name: ours, path: b.cfg.ourModule,
			env:        []string{"XDG_CACHE_HOME=" + xdg, "COOLKEY_SIM=", "COOLKEY_PCSC=", "COOLKEY_CACHE="},
			clearCache: func() error { return os.RemoveAll(filepath.Join(xdg, "coolkey-go")) }},
		{name: cpp, path: cppModulePath, clearCache: clearCppCache},
		{name: opensc, path: openscModulePath},
	}
	b.digestInfo = filepath.Join(b.work, "digestinfo")
	di := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, make([]byte, 32)...)
	if err := os.WriteFile(b.digestInfo, di, 0o600); err != nil {
		return err
	}
	b.scardByFunc = map[string]map[string]uint64{}
	b.objects = map[string]string{}
	b.signAPDUs = map[string]string{}
	return b.setupSoftHSM(caDir)
}

// clearCppCache deletes the C++ module's object cache files.
func clearCppCache() error {
	entries, err := os.ReadDir(cppCacheDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(cppCacheDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// setupSoftHSM makes a SoftHSM token holding one certificate (the test
// CA's), for the C_GetAttributeValue and load comparisons.
func (b *bench) setupSoftHSM(caDir string) error {
	dir := filepath.Join(b.work, "softhsm")
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return err
	}
	b.soft = module{name: softhsm, path: softhsmPath, env: []string{"SOFTHSM2_CONF=" + conf}}
	ca, err := testca.Load(caDir)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(ca.CertPEM())
	der := filepath.Join(dir, "cert.der")
	if err := os.WriteFile(der, blk.Bytes, 0o600); err != nil {
		return err
	}
	steps := [][]string{
		{"softhsm2-util", "--init-token", "--free", "--label", "bench", "--so-pin", "12345678", "--pin", benchPIN},
		{"pkcs11-tool", "--module", softhsmPath, "--token-label", "bench", "--login", "--pin", benchPIN,
			"--write-object", der, "--type", "cert", "--id", "01", "--label", "bench certificate"},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Env = append(os.Environ(), b.soft.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", s[0], err, out)
		}
	}
	return nil
}

// rotate returns mods starting at index r mod len(mods), so every module
// gets every position over the rounds.
func rotate(mods []module, r int) []module {
	k := r % len(mods)
	return append(append([]module(nil), mods[k:]...), mods[:k]...)
}

func (b *bench) rsaPhase() error {
	logf("serving the %s card (z0 %d bytes) in %q", b.rsaCard.name, b.rsaCard.z0Size, readerName)
	card, err := serveCard(b.rsaCard.image, nil, logf)
	if err != nil {
		return err
	}
	defer card.stop()
	for r := 0; r < b.cfg.rounds; r++ {
		logf("round %d/%d (RSA card), load average %s", r+1, b.cfg.rounds, loadAverage())
		for _, m := range rotate(b.mods, r) {
			if err := b.moduleRound(m, card, r == b.cfg.rounds-1); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
		}
		if err := b.softRound(); err != nil {
			return fmt.Errorf("SoftHSM: %w", err)
		}
		if err := b.floorRound(); err != nil {
			return fmt.Errorf("Go floor: %w", err)
		}
	}
	return nil
}

// moduleRound runs scenarios 1–5 and the pkcs11-tool runs for one module.
func (b *bench) moduleRound(m module, card *servedCard, last bool) error {
	n := b.cfg.signatures
	// 1 and 2: cold, then warm in a new process.
	if m.clearCache != nil {
		if err := m.clearCache(); err != nil {
			return err
		}
	}
	for _, phase := range []string{"cold", "warm"} {
		r, err := runHarness(b.tools, m, card, "enum")
		if err != nil {
			return err
		}
		b.res.add(phase+".apdus", m.name, float64(r.apdus("start", "end")))
		b.res.add(phase+".ms", m.name, ms(r.results["ns"]))
		b.res.add(phase+".cpu", m.name, ms(r.results["cpu_ns"]))
		if p, ok := r.results["pcscd.total"]; ok {
			b.res.add(phase+".pcscd", m.name, float64(p))
		}
		if phase == "cold" {
			b.objects[m.name] = fmt.Sprintf("%d objects, %d attributes with a value", r.results["objects"], r.results["attributes"])
		}
	}
	// 3: login and signatures (cache warm).
	r, err := runHarness(b.tools, m, card, "sign", strconv.Itoa(n), "rsa")
	if err != nil {
		return err
	}
	sigNS := float64(r.results["ns"]) / float64(n)
	b.res.add("sign.apdus", m.name, float64(r.apdus("sign", "signed"))/float64(n))
	b.res.add("sign.ms", m.name, sigNS/1e6)
	b.res.add("sign.rate", m.name, 1e9/sigNS)
	cardNS := float64(r.marks["signed"].CardTime-r.marks["sign"].CardTime) / float64(n)
	b.res.add("sign.card", m.name, cardNS/1e6)
	b.res.add("sign.cpu", m.name, float64(r.results["cpu_ns"])/float64(n)/1e6)
	b.res.add("sign.host", m.name, (sigNS-cardNS)/1e6)
	if p, ok := r.results["pcscd"]; ok {
		b.res.add("sign.pcscd", m.name, float64(p)/float64(n))
	}
	b.res.add("login.apdus", m.name, float64(r.apdus("login", "sign")))
	b.res.add("login.ms", m.name, ms(r.results["login_ns"]))
	b.res.add("signrun.ms", m.name, ms(r.results["login_ns"]+r.results["ns"]))
	b.signAPDUs[m.name] = fmt.Sprintf("start-up %d, login + find key %d, %d signatures %d, finalize %d",
		r.apdus("start", "login"), r.apdus("login", "sign"), n, r.apdus("sign", "signed"), r.apdus("signed", "end"))
	// 4 and 5.
	if err := b.getattrAndLoad(m); err != nil {
		return err
	}
	// Whole pkcs11-tool runs, with PC/SC calls counted.
	if m.clearCache != nil {
		if err := m.clearCache(); err != nil {
			return err
		}
	}
	countFile := filepath.Join(b.work, "scard-"+strings.ReplaceAll(m.name, " ", "_"))
	for _, phase := range []string{"cold", "warm"} {
		r, counts, err := runTool(b.tools, m, card, countFile, "-O")
		if err != nil {
			return err
		}
		b.res.add("toolO"+phase+".apdus", m.name, float64(r.apdus("start", "end")))
		b.res.add("toolO"+phase+".pcscd", m.name, float64(pcscdRequests(counts)))
		b.res.add("toolO"+phase+".ms", m.name, float64(r.wall)/1e6)
		if phase == "warm" && last {
			b.scardByFunc[m.name] = counts
		}
	}
	r, counts, err := runTool(b.tools, m, card, countFile, "--login", "--pin", benchPIN, "--sign", "--id", "01",
		"-m", "RSA-PKCS", "-i", b.digestInfo, "-o", filepath.Join(b.work, "sig"))
	if err != nil {
		return err
	}
	b.res.add("toolsign.apdus", m.name, float64(r.apdus("start", "end")))
	b.res.add("toolsign.pcscd", m.name, float64(pcscdRequests(counts)))
	b.res.add("toolsign.ms", m.name, float64(r.wall)/1e6)
	return nil
}

// getattrAndLoad runs scenarios 4 and 5.
func (b *bench) getattrAndLoad(m module) error {
	r, err := runHarness(b.tools, m, nil, "getattr", strconv.Itoa(b.cfg.getattrCalls))
	if err != nil {
		return err
	}
	b.res.add("getattr.ns", m.name, float64(r.results["ns"])/float64(r.results["calls"]))
	b.res.add("getattr.cpu", m.name, float64(r.results["cpu_ns"])/float64(r.results["calls"]))
	if p, ok := r.results["pcscd"]; ok {
		b.res.add("getattr.pcscd", m.name, float64(p)/float64(r.results["calls"]))
	}
	r, err = runHarness(b.tools, m, nil, "load")
	if err != nil {
		return err
	}
	b.res.add("load.ms", m.name, ms(r.results["dlopen_ns"]+r.results["init_ns"]))
	b.res.add("final.ms", m.name, ms(r.results["final_ns"]))
	b.res.add("load.rss", m.name, mib(r.results["rss_init"]-r.results["rss_before"]))
	return nil
}

func (b *bench) softRound() error { return b.getattrAndLoad(b.soft) }

// floorRound loads an empty Go shared library: what any Go module costs.
func (b *bench) floorRound() error {
	r, err := runCounted(nil, nil, b.tools.harness, b.tools.goFloor, "loadraw", "GoFloorInit")
	if err != nil {
		return err
	}
	b.res.add("floor.ms", ours, ms(r.results["dlopen_ns"]))
	b.res.add("floor.rss", ours, mib(r.results["rss_init"]-r.results["rss_before"]))
	return nil
}

func (b *bench) ecPhase() error {
	logf("serving the %s card (z0 %d bytes)", b.ecCard.name, b.ecCard.z0Size)
	card, err := serveCard(b.ecCard.image, nil, logf)
	if err != nil {
		return err
	}
	defer card.stop()
	n := b.cfg.signatures
	for r := 0; r < b.cfg.rounds; r++ {
		logf("round %d/%d (EC card)", r+1, b.cfg.rounds)
		run, err := runHarness(b.tools, b.mods[0], card, "sign", strconv.Itoa(n), "ec")
		if err != nil {
			return err
		}
		sigNS := float64(run.results["ns"]) / float64(n)
		b.res.add("ecdsa.apdus", ours, float64(run.apdus("sign", "signed"))/float64(n))
		b.res.add("ecdsa.ms", ours, sigNS/1e6)
		b.res.add("ecdsa.rate", ours, 1e9/sigNS)
		cardNS := float64(run.marks["signed"].CardTime-run.marks["sign"].CardTime) / float64(n)
		b.res.add("ecdsa.card", ours, cardNS/1e6)
		b.res.add("ecdsa.cpu", ours, float64(run.results["cpu_ns"])/float64(n)/1e6)
		b.res.add("ecdsa.host", ours, (sigNS-cardNS)/1e6)
		if p, ok := run.results["pcscd"]; ok {
			b.res.add("ecdsa.pcscd", ours, float64(p)/float64(n))
		}
	}
	// The reference modules once each, to report what they do.
	for _, m := range b.mods[1:] {
		_, err := runHarness(b.tools, m, card, "sign", "1", "ec")
		why := "signed (unexpected)"
		if err != nil {
			why = err.Error()
			if i := strings.LastIndex(why, "harness: "); i >= 0 {
				why = "the harness says \"" + why[i+len("harness: "):] + "\""
			}
		}
		switch m.name {
		case cpp:
			why = "no ECC in this version (judges.md); " + why
		case opensc:
			why = "its coolkey driver swaps the ECC INS codes (37/38, cardedge.md §4.2): " + why
		}
		for _, k := range []string{"ecdsa.apdus", "ecdsa.ms", "ecdsa.card", "ecdsa.host", "ecdsa.cpu", "ecdsa.rate", "ecdsa.pcscd"} {
			b.res.notApplicable(k, m.name, why)
		}
	}
	return nil
}

func (b *bench) enrollPhase() error {
	if _, err := os.Stat(b.cfg.cli); err != nil {
		return fmt.Errorf("the coolkey command: %w", err)
	}
	tpsrv, err := startTPS(filepath.Join(b.work, "tps"), logf)
	if err != nil {
		return err
	}
	defer tpsrv.stop()
	for r := 0; r < b.cfg.enrollRounds; r++ {
		logf("enroll %d/%d", r+1, b.cfg.enrollRounds)
		e, err := runEnroll(b.cfg.cli, filepath.Join(b.work, "enroll"), tpsrv, logf)
		if err != nil {
			return err
		}
		n := float64(e.relayed)
		b.res.add("enroll.relayed", ours, n)
		b.res.add("enroll.apdus", ours, float64(e.cardAPDU))
		b.res.add("enroll.s", ours, e.wall.Seconds())
		b.res.add("enroll.rtt", ours, float64(e.rtt)/n/1e6)
		b.res.add("enroll.card", ours, float64(e.cardTime)/1e6)
		b.res.add("enroll.client", ours, float64(e.rtt-e.cardTime)/n/1e6)
	}
	for _, k := range []string{"enroll.relayed", "enroll.apdus", "enroll.s", "enroll.rtt", "enroll.card", "enroll.client"} {
		b.res.notApplicable(k, cpp, "a module, not an enrollment client (the C++ client is the ESC GUI, not installed)")
		b.res.notApplicable(k, opensc, "a module, not an enrollment client")
	}
	return nil
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// busy reports whether a load average line says the machine was more than
// half occupied over the last minute.
func busy(load string) bool {
	f := strings.Fields(load)
	if len(f) == 0 {
		return true
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return err != nil || l > float64(runtime.NumCPU())/2
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine describes where the run happened.
func (b *bench) machine() []string {
	var lines []string
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		lines = append(lines, "kernel: "+utsString(u.Sysname[:])+" "+utsString(u.Release[:])+" "+utsString(u.Machine[:]))
	}
	if cpu := cpuModel(); cpu != "" {
		lines = append(lines, fmt.Sprintf("CPU: %s, %d cores", cpu, runtime.NumCPU()))
	}
	if mem := memTotal(); mem != "" {
		lines = append(lines, "memory: "+mem)
	}
	lines = append(lines, "Go: "+runtime.Version())
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version}, ", "pcscd", "vsmartcard-vpcd", "coolkey", "opensc", "softhsm2").Output(); err == nil {
		lines = append(lines, "packages: "+strings.TrimSuffix(string(out), ", "))
	}
	if out, err := exec.Command("git", "-C", b.cfg.root, "describe", "--always", "--dirty").Output(); err == nil {
		lines = append(lines, "tree: "+strings.TrimSpace(string(out)))
	}
	lines = append(lines, "load average (1, 5, 15 min): "+b.info["load before"]+" at the start, "+b.info["load after"]+" at the end; run took "+b.info["duration"])
	return lines
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return ""
}

// render writes the whole report.
func (b *bench) render() string {
	c := b.cfg
	z0 := b.rsaCard.z0Size
	coldMin := 2 + int(math.Ceil(float64(z0)/255))
	n := c.signatures
	rows := []row{
		{"1 cold start", "cold.apdus", "APDUs at the card", 0, atMost("cold.apdus", float64(coldMin), fmt.Sprintf("≤ 2+⌈%d/255⌉ = %d", z0, coldMin))},
		{"1 cold start", "cold.ms", "wall time, ms", 1, ratioAtMost("cold.ms", cpp, 1)},
		{"1 cold start", "cold.cpu", "CPU time of the client process, ms", 1, nil},
		{"1 cold start", "cold.pcscd", "requests to pcscd", 0, nil},
		{"2 warm start", "warm.apdus", "APDUs at the card", 0, atMost("warm.apdus", 3, "≤ 3")},
		{"2 warm start", "warm.ms", "wall time, ms", 1, ratioAtMost("warm.ms", cpp, 1)},
		{"2 warm start", "warm.cpu", "CPU time of the client process, ms", 1, nil},
		{"2 warm start", "warm.pcscd", "requests to pcscd", 0, nil},
		{"3 login", "login.apdus", "APDUs for C_Login + finding the key", 0, nil},
		{"3 login", "login.ms", "C_Login wall time, ms", 2, nil},
		{"3 RSA-2048 sign", "sign.apdus", fmt.Sprintf("APDUs per signature (%d)", n), 2, atMost("sign.apdus", 6, "≤ 6")},
		{"3 RSA-2048 sign", "signrun.ms", fmt.Sprintf("C_Login + %d signatures, ms", n), 1, ratioAtMost("signrun.ms", cpp, 1)},
		{"3 RSA-2048 sign", "sign.ms", "ms per signature", 2, nil},
		{"3 RSA-2048 sign", "sign.card", "of which in the card, ms", 2, nil},
		{"3 RSA-2048 sign", "sign.host", "of which module + PC/SC, ms", 2, nil},
		{"3 RSA-2048 sign", "sign.cpu", "CPU time of the client process per signature, ms", 3, nil},
		{"3 RSA-2048 sign", "sign.rate", "signatures/s", 1, nil},
		{"3 RSA-2048 sign", "sign.pcscd", "requests to pcscd per signature", 1, nil},
		{"3 ECDSA P-256 sign", "ecdsa.apdus", fmt.Sprintf("APDUs per signature (%d)", n), 2, atMost("ecdsa.apdus", 2, "≤ 2")},
		{"3 ECDSA P-256 sign", "ecdsa.ms", "ms per signature", 2, nil},
		{"3 ECDSA P-256 sign", "ecdsa.card", "of which in the card, ms", 2, nil},
		{"3 ECDSA P-256 sign", "ecdsa.host", "of which module + PC/SC, ms", 2, nil},
		{"3 ECDSA P-256 sign", "ecdsa.cpu", "CPU time of the client process per signature, ms", 3, nil},
		{"3 ECDSA P-256 sign", "ecdsa.rate", "signatures/s", 1, nil},
		{"3 ECDSA P-256 sign", "ecdsa.pcscd", "requests to pcscd per signature", 1, nil},
		{"4 C_GetAttributeValue", "getattr.ns", fmt.Sprintf("ns per call (3 attributes, %d calls)", c.getattrCalls), 0, ratioAtMost("getattr.ns", cpp, 1.5)},
		{"4 C_GetAttributeValue", "getattr.cpu", "CPU time per call, ns", 0, nil},
		{"4 C_GetAttributeValue", "getattr.pcscd", "requests to pcscd per call", 2, nil},
		{"5 load", "load.ms", "dlopen + C_Initialize, ms", 2, atMost("load.ms", 20, "≤ 20 ms")},
		{"5 load", "final.ms", "C_Finalize, ms", 2, nil},
		{"5 load", "load.rss", "RSS added by dlopen + C_Initialize, MiB", 1, diffAtMost("load.rss", cpp, 15, "MiB")},
		{"pkcs11-tool -O", "toolOcold.apdus", "cold: APDUs at the card", 0, nil},
		{"pkcs11-tool -O", "toolOcold.pcscd", "cold: requests to pcscd", 0, atMost("toolOcold.pcscd", 99, "< 100")},
		{"pkcs11-tool -O", "toolOwarm.apdus", "warm: APDUs at the card", 0, atMost("toolOwarm.apdus", 3, "≤ 3")},
		{"pkcs11-tool -O", "toolOwarm.pcscd", "warm: requests to pcscd", 0, atMost("toolOwarm.pcscd", 99, "< 100")},
		{"pkcs11-tool -O", "toolOwarm.ms", "warm: process wall time, ms", 1, nil},
		{"pkcs11-tool --login --sign", "toolsign.apdus", "APDUs at the card (warm cache)", 0, atMost("toolsign.apdus", 10, "≤ 10")},
		{"pkcs11-tool --login --sign", "toolsign.pcscd", "requests to pcscd", 0, nil},
		{"pkcs11-tool --login --sign", "toolsign.ms", "process wall time, ms", 1, nil},
	}
	enrollRows := []row{
		{"6 coolkey enroll", "enroll.relayed", "APDUs relayed (TOKEN_PDU_REQUESTs)", 0, nil},
		{"6 coolkey enroll", "enroll.apdus", "APDUs at the card (relayed + the client's own)", 0, nil},
		{"6 coolkey enroll", "enroll.s", "wall time, s", 2, nil},
		{"6 coolkey enroll", "enroll.card", "time in the card, ms (key generation included)", 0, nil},
		{"6 coolkey enroll", "enroll.rtt", "round trip per relayed APDU seen by the TPS, ms", 2, nil},
		{"6 coolkey enroll", "enroll.client", "client + PC/SC per relayed APDU (card time excluded), ms", 2, nil},
	}

	var s strings.Builder
	s.WriteString("# coolkey-go benchmarks: libcoolkeypk11.so against the C++ CoolKey module and OpenSC\n\n")
	fmt.Fprintf(&s, "Command: `%s`  \n", c.commandLine)
	fmt.Fprintf(&s, "Date: %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	for _, l := range b.machine() {
		s.WriteString("- " + l + "\n")
	}
	fmt.Fprintf(&s, "\nThe same virtual cards, served by this process through pcscd + vpcd (%q): user %s, CUID %s; "+
		"card A has two RSA-2048 keys and certificates in the Dogtag layout (z0 %d bytes), card B one EC P-256 key (z0 %d bytes). "+
		"Medians of %d rounds (enrollment: %d); the modules take turns, the order rotating each round. "+
		"APDUs are counted by the virtual card; pcscd requests are SCard* calls counted by a stand-in libpcsclite.so.1 "+
		"(bench/csrc/scardcount.c, first on LD_LIBRARY_PATH), less SCardFreeMemory and SCardIsValidContext, which never reach pcscd. "+
		"Times come from CLOCK_MONOTONIC in the C harness (bench/csrc/harness.c), process wall time for pkcs11-tool and coolkey enroll. "+
		"Cold runs start with our cache ($XDG_CACHE_HOME/coolkey-go) and the C++ one (%s) emptied; OpenSC keeps none.\n\n",
		readerName, benchUser, benchCUID, b.rsaCard.z0Size, b.ecCard.z0Size, c.rounds, c.enrollRounds, cppCacheDir)
	if busy(b.info["load before"]) || busy(b.info["load after"]) {
		s.WriteString("**The machine was busy with other jobs (see the load average): times are noisy; APDU and request counts are not.**\n\n")
	} else {
		s.WriteString("The machine was nearly idle during this run. On a loaded machine times are noisy (ratios can swing by ±30 %); APDU and request counts are not.\n\n")
	}
	s.WriteString(b.res.table(rows))
	s.WriteString("\n")
	if b.res.count("enroll.s", ours) > 0 {
		s.WriteString(b.res.table(enrollRows))
		s.WriteString("\n")
	}
	if fm, ok := b.res.median("floor.ms", ours); ok {
		fr, _ := b.res.median("floor.rss", ours)
		fmt.Fprintf(&s, "Go runtime floor (an empty Go c-shared library, bench/gofloor): dlopen + first call %.2f ms, RSS added %.1f MiB.\n\n", fm, fr)
	}
	if notes := b.res.notes(append(rows, enrollRows...)); notes != "" {
		s.WriteString("n/a:\n" + notes + "\n")
	}
	s.WriteString("Cold start, what each module found (objects, attributes answered):\n")
	for _, m := range b.mods {
		fmt.Fprintf(&s, "- %s: %s\n", m.name, b.objects[m.name])
	}
	s.WriteString("\nAPDUs of one signing run (last round):\n")
	for _, m := range b.mods {
		fmt.Fprintf(&s, "- %s: %s\n", m.name, b.signAPDUs[m.name])
	}
	s.WriteString("\nPC/SC calls of one warm `pkcs11-tool -O` (last round):\n\n")
	s.WriteString(scardTable(b.scardByFunc, b.mods))
	return s.String()
}

func scardTable(counts map[string]map[string]uint64, mods []module) string {
	names := map[string]bool{}
	for _, c := range counts {
		for f := range c {
			names[f] = true
		}
	}
	var sorted []string
	for f := range names {
		sorted = append(sorted, f)
	}
	slices.Sort(sorted)
	var s strings.Builder
	s.WriteString("| SCard function |")
	for _, m := range mods {
		s.WriteString(" " + m.name + " |")
	}
	s.WriteString("\n|---|" + strings.Repeat("---:|", len(mods)) + "\n")
	for _, f := range sorted {
		s.WriteString("| " + f + " |")
		for _, m := range mods {
			fmt.Fprintf(&s, " %d |", counts[m.name][f])
		}
		s.WriteString("\n")
	}
	return s.String()
}
