package esccapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tpssim"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

// A world is what the tests run against: a blank virtual card served on
// the socket transport (what COOLKEY_SIM points at) and the test TPS over
// HTTPS, both in this process.
type world struct {
	cardAddr string
	reader   string
	slot     *vcard.Slot
	tpsURL   string
	caFile   string
}

const (
	testUser     = "jdoe"
	testPassword = "LDAP-s3cret"
)

func newWorld(t *testing.T) *world {
	t.Helper()
	cuid, err := cardedge.ParseCUID("40907A0100ABCDEF0456")
	if err != nil {
		t.Fatal(err)
	}
	img, err := provision.NewImage(provision.Options{State: provision.Blank, CUID: cuid})
	if err != nil {
		t.Fatal(err)
	}
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{slot: vcard.NewSlot(card)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		serve.Listen(ctx, w.slot, ln, serve.Options{})
	}()
	t.Cleanup(func() { cancel(); <-served })
	w.cardAddr = ln.Addr().String()
	w.reader = "CoolKey virtual card " + w.cardAddr

	state := filepath.Join(t.TempDir(), "tps")
	users := tpssim.NewUsers()
	if err := users.Add(testUser, testPassword); err != nil {
		t.Fatal(err)
	}
	pol, err := tpssim.ParsePolicy("PIN_RESET=YES")
	if err != nil {
		t.Fatal(err)
	}
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// 1024-bit keys: the story is about the API, not key generation.
	srv, err := tpssim.NewServer(tpssim.Config{StateDir: state, Users: users, Policy: pol, KeySize: 1024, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serving := make(chan struct{})
	go func() {
		defer close(serving)
		srv.Serve(tln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-serving
	})
	w.tpsURL = "https://" + tln.Addr().String() + tpssim.PathOperation
	w.caFile = filepath.Join(state, "ca.pem")
	// Serve writes the server certificate into the state directory
	// first; a handshake shows it is done (and nothing writes there when
	// the test's cleanup removes it).
	pem, err := os.ReadFile(w.caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for deadline := time.Now().Add(20 * time.Second); ; {
		conn, err := tls.Dial("tcp", tln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test TPS does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w
}

// env is the environment a process using the library runs with: only the
// world's card, and a home of its own.
func (w *world) env(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=", "XDG_STATE_HOME=",
		"XDG_RUNTIME_DIR=" + filepath.Join(home, "run"),
		"COOLKEY_SIM=" + w.cardAddr,
		"COOLKEY_PCSC=off",
		"PATH=" + os.Getenv("PATH"),
	}
}

// handle opens a handle in this process on the world's card, with the
// TPS's CA trusted and files in a temporary directory.
func (w *world) handle(t *testing.T) *Handle {
	t.Helper()
	dir := t.TempDir()
	paths := esc.Paths{
		ConfigDir:  filepath.Join(dir, "config"),
		StateDir:   filepath.Join(dir, "state"),
		RuntimeDir: filepath.Join(dir, "run"),
	}
	c, err := esc.NewClient(netcard.NewSource(netcard.Endpoint{Name: w.reader, Addr: w.cardAddr}), paths, "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Trust.NoSystemRoots = true
	h := Register(c)
	t.Cleanup(func() { h.Close() })
	if err := h.AddCAFile(w.caFile); err != nil {
		t.Fatal(err)
	}
	return h
}
