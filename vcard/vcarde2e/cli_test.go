package vcarde2e

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// TestCLIServeVPCD drives the built coolkey command as a script would:
// provision an enrolled card, serve it to pcscd, remove and re-insert it
// with the control socket and with SIGUSR1, and check that a wrong PIN
// reaches the image file.
func TestCLIServeVPCD(t *testing.T) {
	setup(t, openscModule)
	cli := e2e.BuildCLI(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "card.json")
	res := e2e.Run(t, 2*time.Minute, cli, "sim", "card", "new", "--image", img, "--state", "enrolled",
		"--user", "dave", "--pin", "4321", "--keys", "rsa1024,rsa1024", "--ca-dir", filepath.Join(dir, "ca"))
	if res.Err != nil {
		t.Fatalf("sim card new: %v %s", res.Err, res.Stderr)
	}
	p := e2e.ServeVPCDCLI(t, cli, img, 0)
	out := mustP11(t, openscModule, "-L")
	if got := field(t, out, p.Reader, "token label"); !strings.HasPrefix(got, "dave") {
		t.Fatalf("token label %q", got)
	}

	if got := p.Ctl(t, "remove"); !strings.HasPrefix(got, "removed ") {
		t.Fatalf("ctl remove: %q", got)
	}
	e2e.WaitCard(t, p.Reader, false, 10*time.Second)
	if got := p.Ctl(t, "insert"); !strings.HasPrefix(got, "inserted ") {
		t.Fatalf("ctl insert: %q", got)
	}
	e2e.WaitCard(t, p.Reader, true, 10*time.Second)

	p.Cmd.Process.Signal(syscall.SIGUSR1)
	e2e.WaitCard(t, p.Reader, false, 10*time.Second)
	p.Cmd.Process.Signal(syscall.SIGUSR1)
	e2e.WaitCard(t, p.Reader, true, 10*time.Second)

	if r := p11(t, openscModule, "--login", "--pin", "0000", "-O"); r.Err == nil || !strings.Contains(r.Stderr, "CKR_PIN_INCORRECT") {
		t.Fatalf("wrong PIN: %v", r.Err)
	}
	parsed, err := vcard.LoadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.Applet.PINs[0].TriesLeft; got != 126 {
		t.Fatalf("tries in the image: %d, want 126", got)
	}
	mustP11(t, openscModule, "--login", "--pin", "4321", "-O")
}

// TestCLIServeSocket serves a card on the socket transport with the CLI and
// talks to it with cardedge/netcard; it needs no pcscd.
func TestCLIServeSocket(t *testing.T) {
	cli := e2e.BuildCLI(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "card.json")
	if res := e2e.Run(t, time.Minute, cli, "sim", "card", "new", "--image", img, "--state", "formatted"); res.Err != nil {
		t.Fatalf("sim card new: %v %s", res.Err, res.Stderr)
	}
	cmd := exec.Command(cli, "sim", "card", "serve", "--image", img, "--listen", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("serve exited with %v: %s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("no output; stderr: %s", stderr.String())
	}
	line := lines.Text()
	addr, ok := strings.CutPrefix(line, "card inserted: socket ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := netcard.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, c := range [][]byte{
		{0x00, 0xA4, 0x04, 0x00, 0x07, 0x62, 0x76, 0x01, 0xFF, 0x00, 0x00, 0x00},
		{0xB0, 0xF2, 0x00, 0x00, 0x04},
	} {
		resp, err := tr.Transmit(c)
		if err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			t.Fatalf("% X: % X %v", c, resp, err)
		}
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	if !lines.Scan() || lines.Text() != "card removed: socket "+addr {
		t.Fatalf("after SIGUSR1: %q", lines.Text())
	}
	go func() {
		for lines.Scan() {
		}
	}()
}
