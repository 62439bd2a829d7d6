package reliability

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/coolkey-go/coolkey-go/vcard"
)

// hostileCLI starts `coolkey sim card hostile` on a socket with args and
// returns the address it serves on; the process gets SIGTERM when the test
// ends.
func hostileCLI(t *testing.T, img *vcard.Image, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "card.json")
	if err := vcard.WriteImage(path, img); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cli(t), append([]string{"sim", "card", "hostile", "--image", path, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sim card hostile: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("sim card hostile did not stop on SIGTERM")
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		addr, ok := strings.CutPrefix(l, "card inserted: socket ")
		if !ok {
			t.Fatalf("sim card hostile printed %q", l)
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("sim card hostile printed nothing")
	}
	return ""
}

// The command-line hostile card: a zlib bomb in z0 gives a token without
// objects, and a card whose GET LIFE CYCLE answers 6F00 gives no token;
// the backend shrugs both off, and `--fault chain61=7` is a card a correct
// host signs with.
func TestHostileCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	fx := rsaFixture(t)
	bomb := &simCard{addr: hostileCLI(t, fx.img, "--z0", "bomb")}
	noLife := &simCard{addr: hostileCLI(t, fx.img, "--fault", "sw=6F00@ins:F2")}
	chained := &simCard{addr: hostileCLI(t, fx.img, "--fault", "chain61=7:200")}
	b := startBackend(t, bomb, noLife, chained)
	b.slots()
	if b.hasToken(1) {
		s := b.open(1)
		hs, err := s.FindObjects([]p11.Attribute{{Type: p11.CKA_CLASS, Value: p11.ULongValue(uint(p11.CKO_CERTIFICATE))}})
		if err != nil || len(hs) != 0 {
			t.Errorf("certificates from a zlib bomb: %v %v", hs, err)
		}
		s.Close()
	}
	if b.hasToken(2) {
		t.Error("a token from a card that cannot say its life cycle")
	}
	s := b.loggedIn(3)
	b.signAndVerify(s, fx)
	s.Logout()
	s.Close()
}
