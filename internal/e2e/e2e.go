// Package e2e holds helpers for end-to-end tests that need pcscd with the
// vsmartcard vpcd driver: starting pcscd, taking the machine-wide vpcd lock,
// serving a virtual card image in a vpcd slot (in-process or through the
// built coolkey CLI), waiting until PC/SC sees it, and running commands with
// a timeout.
//
// Tests using it live in packages whose names end in "e2e". They skip when
// pcscd or vpcd is missing, unless COOLKEY_E2E_REQUIRED=1, when they fail.
package e2e

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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

const (
	// RequiredEnv, set to 1, turns skips for a missing pcscd into failures.
	RequiredEnv = "COOLKEY_E2E_REQUIRED"
	// VPCDLock is the file everyone serving a card on vpcd holds an
	// exclusive flock on.
	VPCDLock = "/tmp/coolkey-go-vpcd.lock"
	// vpcdDriver is the reader driver pcscd loads for vpcd.
	vpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
)

// VPCDAddr is the address the card dials for vpcd slot n (0 or 1).
func VPCDAddr(n int) string { return fmt.Sprintf("127.0.0.1:%d", 35963+n) }

// ReaderName is the PC/SC name of vpcd slot n.
func ReaderName(n int) string { return fmt.Sprintf("Virtual PCD 00 %02d", n) }

// Required reports whether end-to-end prerequisites must be present.
func Required() bool { return os.Getenv(RequiredEnv) == "1" }

// Skipf skips the test, or fails it when Required.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" ("+RequiredEnv+"=1)", args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot returns the module's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/coolkey-go/coolkey-go\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("e2e: not inside the coolkey-go module")
		}
		dir = parent
	}
}

// EnsurePCSCD makes sure pcscd runs with the vpcd readers, starting it with
// build/pcscd.sh when needed.
func EnsurePCSCD(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(vpcdDriver); err != nil {
		Skipf(t, "e2e: the vpcd driver is not installed (build/install-deps.sh): %v", err)
	}
	if readerListed(ReaderName(0)) {
		return
	}
	script := filepath.Join(RepoRoot(t), "build", "pcscd.sh")
	res := Run(t, 30*time.Second, script, "start")
	if res.Err != nil {
		Skipf(t, "e2e: %s start failed: %v\n%s%s", script, res.Err, res.Stdout, res.Stderr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !readerListed(ReaderName(0)) {
		if time.Now().After(deadline) {
			Skipf(t, "e2e: pcscd runs but lists no %q reader", ReaderName(0))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readerListed(name string) bool {
	src := pcsc.NewSource()
	defer src.Close()
	readers, err := src.Readers()
	if err != nil {
		return false
	}
	for _, r := range readers {
		if r.Name == name {
			return true
		}
	}
	return false
}

// LockVPCD takes the vpcd flock for the rest of the test, waiting up to
// five minutes for another holder.
func LockVPCD(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(VPCDLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("e2e: %s held by someone else for 5 minutes", VPCDLock)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing the file releases the lock
}

// WaitCard waits until PC/SC reports the reader with (present) or without
// a card, and returns the ATR it reports.
func WaitCard(t testing.TB, reader string, present bool, timeout time.Duration) []byte {
	t.Helper()
	src := pcsc.NewSource()
	defer src.Close()
	deadline := time.Now().Add(timeout)
	for {
		readers, err := src.Readers()
		if err == nil {
			for _, r := range readers {
				if r.Name == reader && r.CardPresent == present {
					return r.ATR
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("e2e: %q did not become %s within %v (last: %v, %v)", reader, presence(present), timeout, readers, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func presence(p bool) string {
	if p {
		return "present"
	}
	return "empty"
}

// Served is a card image served in a vpcd slot by this process.
type Served struct {
	Slot      *vcard.Slot
	Card      *vcard.Card
	ImagePath string
	Reader    string
}

// ServeVPCD serves the image file in vpcd slot n from this test process
// (changes are written back to the file), and waits until PC/SC sees the
// card. Call EnsurePCSCD and LockVPCD first. The card is removed, and the
// reader seen empty, when the test ends.
func ServeVPCD(t testing.TB, imagePath string, n int, opts vcard.Options) *Served {
	t.Helper()
	// A card left in the reader by a killed test would answer for us.
	WaitCard(t, ReaderName(n), false, 10*time.Second)
	store := vcard.FileStore{Path: imagePath}
	img, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = store
	card, err := vcard.New(img, opts)
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.VPCD(ctx, slot, VPCDAddr(n), serve.Options{Logf: t.Logf})
	}()
	s := &Served{Slot: slot, Card: card, ImagePath: imagePath, Reader: ReaderName(n)}
	t.Cleanup(func() {
		cancel()
		<-done
		WaitCard(t, s.Reader, false, 10*time.Second)
	})
	WaitCard(t, s.Reader, true, 20*time.Second)
	return s
}

// Process is a `coolkey sim card serve` started by ServeVPCDCLI.
type Process struct {
	Cmd     *exec.Cmd
	Control string // control socket
	Reader  string
	stderr  *bytes.Buffer
}

// Ctl sends a control command (insert, remove, toggle, status) and returns
// the answer.
func (p *Process) Ctl(t testing.TB, command string) string {
	t.Helper()
	res := Run(t, 10*time.Second, p.Cmd.Path, "sim", "card", "ctl", "--control", p.Control, command)
	if res.Err != nil {
		t.Fatalf("coolkey sim card ctl %s: %v: %s", command, res.Err, res.Stderr)
	}
	return strings.TrimSpace(res.Stdout)
}

// ServeVPCDCLI serves the image in vpcd slot n with the built CLI, waits for
// its "card inserted" line and for PC/SC to see the card. The process gets
// SIGTERM when the test ends. Extra arguments go to the serve command.
func ServeVPCDCLI(t testing.TB, cli, imagePath string, n int, extra ...string) *Process {
	t.Helper()
	WaitCard(t, ReaderName(n), false, 10*time.Second)
	control := filepath.Join(t.TempDir(), "control")
	args := append([]string{"sim", "card", "serve", "--image", imagePath, "--vpcd", VPCDAddr(n), "--control", control}, extra...)
	cmd := exec.Command(cli, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, Control: control, Reader: ReaderName(n), stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-waited
		}
		if p.stderr.Len() > 0 {
			t.Logf("coolkey sim card serve stderr:\n%s", p.stderr)
		}
		WaitCard(t, p.Reader, false, 10*time.Second)
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "card inserted: ") {
			t.Fatalf("coolkey sim card serve printed %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("coolkey sim card serve printed nothing in 20s; stderr: %s", p.stderr)
	}
	WaitCard(t, p.Reader, true, 20*time.Second)
	return p
}

// Result is what Run returns.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
	Err            error // a start failure, a timeout, or a non-zero exit
}

// Run runs a command with a timeout, killing it when the time is up.
func Run(t testing.TB, timeout time.Duration, name string, args ...string) Result {
	t.Helper()
	return RunEnv(t, timeout, nil, name, args...)
}

// RunEnv is Run with extra environment variables ("K=V").
func RunEnv(t testing.TB, timeout time.Duration, env []string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitCode()
	}
	if ctx.Err() != nil {
		res.Err = fmt.Errorf("%s timed out after %v", name, timeout)
	}
	return res
}
