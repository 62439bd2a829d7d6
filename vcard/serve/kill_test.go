package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

const killHelperEnv = "VCARD_SERVE_KILL_HELPER_IMAGE"

// TestKillHelperProcess is the server the kill test runs in a child process:
// it serves the image given in the environment on a socket and prints the
// address.
func TestKillHelperProcess(t *testing.T) {
	path := os.Getenv(killHelperEnv)
	if path == "" {
		t.Skip("helper process for TestImageSurvivesKill")
	}
	store := vcard.FileStore{Path: path}
	img, err := store.Load()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	c, err := vcard.New(img, vcard.Options{Store: store})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	Listen(context.Background(), vcard.NewSlot(c), ln, Options{})
	os.Exit(0)
}

const killObjectSize = 200

// killPattern is the object contents after the k-th write.
func killPattern(k uint32) []byte {
	b := make([]byte, killObjectSize)
	binary.BigEndian.PutUint32(b, k)
	for i := 4; i < len(b); i++ {
		b[i] = byte(k*7 + uint32(i))
	}
	return b
}

// TestImageSurvivesKill kills the serving process with SIGKILL while a host
// keeps rewriting an object, and checks after each kill that the image
// parses and holds either the last acknowledged write or the one in flight.
func TestImageSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "card.json")
	img, err := provision.NewImage(provision.Options{State: provision.Formatted})
	if err != nil {
		t.Fatal(err)
	}
	// Let anyone create objects (as SET BUILTIN ACL could), so that the host
	// needs no secure channel.
	img.Applet.CreateACL.Object = vcard.HexShort(vcard.ACLAnyone)
	img.Applet.Objects = append(img.Applet.Objects, vcard.ObjectImage{
		ID:   vcard.ObjectID(0x64300000), // d0
		ACL:  vcard.ACLImage{Read: vcard.HexShort(vcard.ACLAnyone), Write: vcard.HexShort(vcard.ACLAnyone), Delete: vcard.HexShort(vcard.ACLAnyone)},
		Data: killPattern(0),
	})
	if err := vcard.WriteImage(path, img); err != nil {
		t.Fatal(err)
	}
	var acked uint32
	rounds, interrupted := 25, 0
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelperProcess$")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.HasPrefix(line, "error") {
			cmd.Process.Kill()
			t.Fatalf("helper: %q %v", line, err)
		}
		tr, err := netcard.Dial(context.Background(), strings.TrimSpace(line))
		if err != nil {
			cmd.Process.Kill()
			t.Fatal(err)
		}
		if resp, err := tr.Transmit(selectApplet); err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
			t.Fatalf("SELECT: % X %v", resp, err)
		}
		killAt := time.Now().Add(time.Duration(5+rand.IntN(40)) * time.Millisecond)
		inFlight := acked
		for time.Now().Before(killAt) {
			inFlight = acked + 1
			apdu := append([]byte{0xB0, 0x54, 0x00, 0x00, byte(9 + killObjectSize + 8), 0x64, 0x30, 0, 0, 0, 0, 0, 0, killObjectSize}, killPattern(inFlight)...)
			apdu = append(apdu, make([]byte, 8)...)
			resp, err := tr.Transmit(apdu)
			if err != nil {
				t.Fatalf("write %d: %v", inFlight, err)
			}
			if !bytes.Equal(resp, []byte{0x90, 0x00}) {
				t.Fatalf("write %d: % X", inFlight, resp)
			}
			acked = inFlight
		}
		// One more write, killed while the card handles it.
		inFlight = acked + 1
		apdu := append([]byte{0xB0, 0x54, 0x00, 0x00, byte(9 + killObjectSize + 8), 0x64, 0x30, 0, 0, 0, 0, 0, 0, killObjectSize}, killPattern(inFlight)...)
		apdu = append(apdu, make([]byte, 8)...)
		go tr.Transmit(apdu)
		time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		tr.Close()

		if entries, _ := os.ReadDir(dir); len(entries) > 1 {
			interrupted++ // killed between creating and renaming the temporary file
		}
		got, err := vcard.FileStore{Path: path}.Load()
		if err != nil {
			t.Fatalf("round %d: the image does not load after SIGKILL: %v", round, err)
		}
		data := got.Applet.Objects[0].Data
		switch {
		case bytes.Equal(data, killPattern(acked)):
		case bytes.Equal(data, killPattern(inFlight)):
			acked = inFlight
		default:
			t.Fatalf("round %d: object holds write %d, want %d or %d", round, binary.BigEndian.Uint32(data), acked, inFlight)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("round %d: stale files after loading: %v", round, entries)
		}
	}
	if acked < uint32(rounds) {
		t.Fatalf("only %d writes in %d rounds", acked, rounds)
	}
	t.Logf("%d writes acknowledged over %d kills, %d of them inside a save", acked, rounds, interrupted)
}
