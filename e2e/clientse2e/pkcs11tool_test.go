package clientse2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// pkcs11-tool's own test suite with login, through pcscd and vpcd.
func TestPkcs11ToolTestLogin(t *testing.T) {
	needTools(t, "pkcs11-tool")
	mod := module(t)
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveVPCD(t, c)
	out := mustRun(t, tr.env, "pkcs11-tool", "--module", mod, "--token-label", testUser, "--test", "--login", "--pin", testPIN)
	for _, want := range []string{"No errors", "RSA-PKCS: OK", "SHA256-RSA-PKCS: OK", "RSA-PKCS-OAEP",
		"all 4 signature functions seem to work"} {
		if !strings.Contains(out, want) {
			t.Errorf("pkcs11-tool --test output lacks %q", want)
		}
	}
}

// --test-threads: four threads calling C_Initialize (with and without
// CKF_OS_LOCKING_OK), C_GetInfo, C_GetSlotList and C_GetTokenInfo while the
// main thread lists the slots and runs the --test suite with login.
//
// The main thread gets the long job on purpose: pkcs11-tool sleeps 30 s
// when a test thread is still running as the main thread finishes (it does
// so with SoftHSM too), which a bare -L provokes in most runs.
func TestPkcs11ToolThreads(t *testing.T) {
	needTools(t, "pkcs11-tool")
	mod := module(t)
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveSocket(t, c)
	out := mustRun(t, tr.env, "pkcs11-tool", "--module", mod,
		"--test-threads", "ILGISLT0", "--test-threads", "ILGISLT0", "--test-threads", "IN", "--test-threads", "ILGISLT0",
		"-L", "--test", "--login", "--pin", testPIN)
	for i := 0; i < 4; i++ {
		if !strings.Contains(out, fmt.Sprintf("Test thread %d returning rv = 0", i)) {
			t.Errorf("thread %d did not return 0", i)
		}
	}
	if n := strings.Count(out, "token label        : "+testUser); n != 4 {
		t.Errorf("%d token listings, want 4 (three threads and the main one)", n)
	}
	if !strings.Contains(out, "No errors") {
		t.Error("pkcs11-tool --test beside the threads reported errors")
	}
	if strings.Contains(out, "test_threads waiting for") {
		t.Log("pkcs11-tool waited 30 s for a thread that was still running")
	}
}

// interactive drives a program over its standard input and output.
type interactive struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   io.WriteCloser
	mu   sync.Mutex
	out  strings.Builder
	pos  int // how far expect has consumed out
	more chan struct{}
	done chan struct{}
}

func startInteractive(t *testing.T, env []string, name string, args ...string) *interactive {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &interactive{t: t, cmd: cmd, in: in, more: make(chan struct{}, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		t.Logf("%s transcript:\n%s", name, clip(p.output()))
	})
	return p
}

func (p *interactive) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits for re to match the output after what earlier calls
// consumed, and returns the text up to the end of the match.
func (p *interactive) expect(re *regexp.Regexp, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		rest := p.out.String()[p.pos:]
		loc := re.FindStringIndex(rest)
		if loc != nil {
			p.pos += loc[1]
		}
		p.mu.Unlock()
		if loc != nil {
			return rest[:loc[1]]
		}
		select {
		case <-p.more:
		case <-p.done:
			// Drain what the reader has not delivered yet.
			select {
			case <-p.more:
				continue
			case <-time.After(100 * time.Millisecond):
			}
			p.mu.Lock()
			rest = p.out.String()[p.pos:]
			p.mu.Unlock()
			if re.MatchString(rest) {
				continue
			}
			p.t.Fatalf("the program ended without printing %q", re)
		case <-deadline:
			p.t.Fatalf("no %q within %v", re, timeout)
		}
	}
}

// quiet reports whether nothing matching re appears within d.
func (p *interactive) quiet(re *regexp.Regexp, d time.Duration) bool {
	deadline := time.After(d)
	for {
		p.mu.Lock()
		matched := re.MatchString(p.out.String()[p.pos:])
		p.mu.Unlock()
		if matched {
			return false
		}
		select {
		case <-p.more:
		case <-deadline:
			return true
		}
	}
}

func (p *interactive) send(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, s); err != nil {
		p.t.Fatalf("writing to the program: %v", err)
	}
}

var (
	hotplugPrompt = regexp.MustCompile(`Please press return to continue, x to exit: `)
	waitingEvent  = regexp.MustCompile(`Calling C_WaitForSlotEvent: `)
	slotEvent     = regexp.MustCompile(`event on slot 0x[0-9a-f]+\n`)
)

// slotState reads, from one pkcs11-tool slot listing, whether the reader's
// slot shows the token.
func slotState(t *testing.T, listing, reader string) (present bool) {
	t.Helper()
	i := strings.Index(listing, "): "+reader+"\n")
	if i < 0 {
		t.Fatalf("the listing has no slot %q:\n%s", reader, listing)
	}
	rest := listing[i:]
	if j := strings.Index(rest[1:], "\nSlot "); j >= 0 {
		rest = rest[:j+1]
	}
	return strings.Contains(rest, "token label        : "+testUser)
}

// --test-hotplug, with the card removed and inserted while pkcs11-tool
// polls C_GetSlotList and while it blocks in C_WaitForSlotEvent; through
// pcscd and vpcd.
func TestPkcs11ToolHotplug(t *testing.T) {
	needTools(t, "pkcs11-tool")
	mod := module(t)
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveVPCD(t, c)
	p := startInteractive(t, tr.env, "pkcs11-tool", "--module", mod, "--test-hotplug")
	const step = 20 * time.Second

	// Part 1: C_GetSlotList after each change. The module learns of a
	// change asynchronously (PC/SC status changes; the socket transport
	// polls every 250 ms), so the user may have to press return again.
	p.expect(hotplugPrompt, step)
	for i, present := range []bool{true, false, true} {
		switch {
		case i > 0 && !present:
			tr.remove(t)
		case i > 0 && present:
			tr.insert(t)
		}
		for press := 1; ; press++ {
			p.send("\n")
			listing := p.expect(hotplugPrompt, step)
			if slotState(t, listing, tr.reader) == present {
				t.Logf("C_GetSlotList shows the token present=%v after %d presses", present, press)
				break
			}
			if press == 10 {
				t.Fatalf("C_GetSlotList still shows the token present=%v 3 s after the change", !present)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	p.send("x\n")

	// Part 2: C_WaitForSlotEvent wakes up on removal and on insertion.
	// Events of part 1 may still be latched: pkcs11-tool sees them at
	// once, before the test changes anything.
	p.expect(hotplugPrompt, step)
	for _, present := range []bool{false, true} {
		for stale := 0; ; stale++ {
			p.send("\n")
			p.expect(waitingEvent, step)
			if p.quiet(slotEvent, time.Second) {
				break
			}
			if stale == 2 {
				t.Fatal("C_WaitForSlotEvent keeps returning without a change")
			}
			t.Logf("a latched event from before")
			p.expect(hotplugPrompt, step)
		}
		if present {
			tr.insert(t)
		} else {
			tr.remove(t)
		}
		p.expect(slotEvent, step)
		listing := p.expect(hotplugPrompt, step)
		if got := slotState(t, listing, tr.reader); got != present {
			t.Errorf("after the event: token present %v, want %v", got, present)
		}
	}
	p.send("x\n")
	select {
	case <-p.done:
	case <-time.After(step):
		t.Fatal("pkcs11-tool did not exit")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("pkcs11-tool exited %d", code)
	}
}
