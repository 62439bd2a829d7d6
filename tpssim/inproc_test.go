package tpssim_test

// End-to-end, in one process: the enrollment client (package esc) talks
// HTTPS to the test TPS, which drives a virtual card through the client's
// relay.

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tps"
	"github.com/coolkey-go/coolkey-go/tpssim"
	"github.com/coolkey-go/coolkey-go/vcard"
)

const (
	readerName = "Virtual Reader 0"
	cuidHex    = "4090614527c6240b192d"
)

// slotSource is a ReaderSource with one virtual reader.
type slotSource struct{ slot *vcard.Slot }

func (s slotSource) Readers() ([]cardedge.ReaderStatus, error) {
	present, _ := s.slot.State()
	return []cardedge.ReaderStatus{{Name: readerName, CardPresent: present}}, nil
}

func (s slotSource) Connect(reader string) (cardedge.Transport, error) {
	if reader != readerName {
		return nil, cardedge.ErrNoReader
	}
	return vcard.NewTransport(s.slot)
}

func (s slotSource) NewMonitor() (cardedge.Monitor, error) { return nil, errors.ErrUnsupported }

type creds struct{ uid, password, pin string }

func (c creds) Login(ctx context.Context, p esc.LoginPrompt) (map[string]string, error) {
	return map[string]string{"UID": c.uid, "PASSWORD": c.password}, nil
}
func (c creds) NewPIN(ctx context.Context, lo, hi int) (string, error) { return c.pin, nil }

type world struct {
	t      *testing.T
	srv    *tpssim.Server
	hs     *httptest.Server
	slot   *vcard.Slot
	client *esc.Client
}

// newWorld starts an HTTPS test TPS and a virtual card with the CoolKey
// applet installed (what a format leaves).
func newWorld(t *testing.T, policy string) *world {
	t.Helper()
	users := tpssim.NewUsers()
	users.Add("jdoe", "secret")
	users.Add("mallory", "mallory's")
	pol, err := tpssim.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tpssim.Config{StateDir: t.TempDir(), Users: users, Policy: pol, KeySize: 1024, MessageTimeout: 30 * time.Second}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := tpssim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	tc, err := srv.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	hs.TLS = tc
	hs.StartTLS()
	t.Cleanup(func() { hs.Close(); srv.Wait() })

	cuid, _ := cardedge.ParseCUID(cuidHex)
	img := vcard.BlankImage(cardedge.CPLCForCUID(cuid).Encode()[3:])
	vcard.InstallApplet(img, 0)
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)

	dir := t.TempDir()
	client, err := esc.NewClient(slotSource{slot}, esc.Paths{
		ConfigDir: filepath.Join(dir, "cfg"), StateDir: filepath.Join(dir, "state"), RuntimeDir: filepath.Join(dir, "run"),
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	client.Trust.NoSystemRoots = true
	if _, err := esc.AddTrust(client.Paths.BundleFile(), srv.CACertPEM()); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, srv: srv, hs: hs, slot: slot, client: client}
}

func (w *world) run(op tps.Op, c creds) ([]string, error) {
	var tasks []string
	err := w.client.Run(context.Background(), esc.OpRequest{
		Op: op, Reader: readerName, TPSURL: w.hs.URL + "/tps/tps", Prompter: c,
		Progress: func(pct int, task string) { tasks = append(tasks, task) },
	})
	return tasks, err
}

// knowFormatted records the card as formatted, as a format would.
func (w *world) knowFormatted() {
	now := time.Now()
	if err := w.srv.Store().Put(&tpssim.TokenRecord{CUID: cuidHex, Status: tpssim.TokenFormatted, Created: now, Modified: now}); err != nil {
		w.t.Fatal(err)
	}
}

// signWith logs in with pin and signs with key 2 (the signing key), then
// verifies against the certificate.
func (w *world) signWith(pin string, cert *x509.Certificate) error {
	tr, err := vcard.NewTransport(w.slot)
	if err != nil {
		return err
	}
	defer tr.Close()
	card := cardedge.NewCard(tr)
	return card.Transact(func() error {
		if err := card.SelectApplet(); err != nil {
			return err
		}
		if err := card.VerifyPIN(cardedge.UserPIN, []byte(pin)); err != nil {
			return err
		}
		pub := cert.PublicKey.(*rsa.PublicKey)
		digest := sha256.Sum256([]byte("hello"))
		em := pkcs1v15(pub.Size(), digest[:])
		sig, err := card.ComputeCrypt(2, cardedge.DirectionEncrypt, em)
		if err != nil {
			return err
		}
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	})
}

// pkcs1v15 builds EMSA-PKCS1-v1_5 for SHA-256.
func pkcs1v15(k int, digest []byte) []byte {
	prefix, _ := hex.DecodeString("3031300d060960864801650304020105000420")
	t := append(prefix, digest...)
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xFF
	}
	copy(em[k-len(t):], t)
	return em
}

func TestInProcessEnrollAndPINReset(t *testing.T) {
	w := newWorld(t, "PIN_RESET=YES")
	w.knowFormatted()

	tasks, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "1234"})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	t.Logf("progress: %v", tasks)
	info, err := w.client.Card(readerName)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != "ENROLLED" || info.CUID != cuidHex || len(info.Certificates) != 2 {
		t.Fatalf("after enroll: %+v", info)
	}
	if info.PhoneHomeURL != w.hs.URL+"/tps/phoneHome" {
		t.Errorf("issuer info %q", info.PhoneHomeURL)
	}
	rec, _ := w.srv.Store().Token(cuidHex)
	if rec.Status != tpssim.TokenActive || rec.UserID != "jdoe" || len(rec.Certs) != 2 {
		t.Fatalf("token record %+v", rec)
	}
	cert, err := x509.ParseCertificate(rec.Certs[0].DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.signWith("1234", cert); err != nil {
		t.Fatalf("signing with the new PIN: %v", err)
	}

	if _, err := w.run(tps.OpResetPIN, creds{"jdoe", "secret", "98765"}); err != nil {
		t.Fatalf("reset-pin: %v", err)
	}
	if err := w.signWith("1234", cert); !errors.Is(err, cardedge.ErrAuthFailed) {
		t.Errorf("old PIN after reset: %v", err)
	}
	if err := w.signWith("98765", cert); err != nil {
		t.Errorf("new PIN after reset: %v", err)
	}
}

func TestInProcessWrongPassword(t *testing.T) {
	w := newWorld(t, "")
	w.knowFormatted()
	_, err := w.run(tps.OpEnroll, creds{"jdoe", "wrong", "1234"})
	var e *esc.Error
	if !errors.As(err, &e) || e.Kind != esc.KindRefused || e.Status != tps.StatusErrLogin {
		t.Fatalf("err = %v", err)
	}
}

func TestInProcessPolicies(t *testing.T) {
	w := newWorld(t, "")
	w.knowFormatted()
	if _, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "1234"}); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	first, _ := w.srv.Store().Token(cuidHex)

	// Default policy: no PIN reset (27).
	_, err := w.run(tps.OpResetPIN, creds{"jdoe", "secret", "5678"})
	var e *esc.Error
	if !errors.As(err, &e) || e.Status != tps.StatusErrNotPINResettable {
		t.Fatalf("reset-pin under the default policy: %v", err)
	}

	// Another user cannot take the enrolled card (43).
	_, err = w.run(tps.OpEnroll, creds{"mallory", "mallory's", "1234"})
	if !errors.As(err, &e) || e.Status != tps.StatusErrNotTokenOwner {
		t.Fatalf("another user's enroll: %v", err)
	}

	// Re-enrollment (RE_ENROLL=YES by default) replaces keys and
	// certificates; the old ones are revoked in the record.
	if _, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "4321"}); err != nil {
		t.Fatalf("re-enroll: %v", err)
	}
	second, _ := w.srv.Store().Token(cuidHex)
	if len(second.Certs) != 4 || !second.Certs[2].Revoked || !second.Certs[3].Revoked || second.Certs[0].Revoked {
		t.Fatalf("certificates after re-enroll: %+v", second.Certs)
	}
	if second.Certs[0].Serial == first.Certs[0].Serial {
		t.Error("re-enrollment kept the old certificate")
	}
	c0, _ := x509.ParseCertificate(second.Certs[0].DER)
	if err := w.signWith("4321", c0); err != nil {
		t.Errorf("signing after re-enroll: %v", err)
	}
}

func TestInProcessRenewal(t *testing.T) {
	w := newWorld(t, "RENEW=YES")
	w.knowFormatted()
	if _, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "1234"}); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	before, _ := w.srv.Store().Token(cuidHex)
	tasks, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "1234"})
	if err != nil {
		t.Fatalf("renewal: %v", err)
	}
	for _, task := range tasks {
		if task == tps.TaskKeyGeneration {
			t.Error("renewal generated keys")
		}
	}
	after, _ := w.srv.Store().Token(cuidHex)
	oldCert, _ := x509.ParseCertificate(before.Certs[0].DER)
	newCert, _ := x509.ParseCertificate(after.Certs[0].DER)
	if oldCert.SerialNumber.Cmp(newCert.SerialNumber) == 0 || !oldCert.PublicKey.(*rsa.PublicKey).Equal(newCert.PublicKey) {
		t.Error("renewal should reissue for the same key")
	}
	if err := w.signWith("1234", newCert); err != nil {
		t.Errorf("signing with the renewed certificate: %v", err)
	}
}

// newBlankWorld is newWorld with a card that has no applet yet; mod may
// change its image (the secure channel protocol, say).
func newBlankWorld(t *testing.T, policy string, mod ...func(*vcard.Image)) *world {
	t.Helper()
	w := newWorld(t, policy)
	cuid, _ := cardedge.ParseCUID(cuidHex)
	img := vcard.BlankImage(cardedge.CPLCForCUID(cuid).Encode()[3:])
	for _, m := range mod {
		m(img)
	}
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.slot = vcard.NewSlot(card)
	w.client.Source = slotSource{w.slot}
	return w
}

func TestInProcessFormatThenEnroll(t *testing.T) {
	w := newBlankWorld(t, "")
	if info, _ := w.client.Card(readerName); info.Status != "NO_APPLET" {
		t.Fatalf("blank card: %+v", info)
	}
	tasks, err := w.run(tps.OpFormat, creds{"jdoe", "secret", ""})
	if err != nil {
		t.Fatalf("format: %v", err)
	}
	if len(tasks) < 5 || tasks[0] != tps.TaskAppletBlock || tasks[len(tasks)-1] != tps.TaskDone {
		t.Errorf("format progress %v", tasks)
	}
	info, err := w.client.Card(readerName)
	if err != nil || info.Status != "UNINITIALIZED" || info.PhoneHomeURL != w.hs.URL+"/tps/phoneHome" {
		t.Fatalf("after format: %+v %v", info, err)
	}
	if _, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "1234"}); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if info, _ := w.client.Card(readerName); info.Status != "ENROLLED" || len(info.Certificates) != 2 {
		t.Fatalf("after enroll: %+v", info)
	}
}

// An unknown card is formatted as part of its first enrollment.
func TestInProcessEnrollUnknownBlankCard(t *testing.T) {
	w := newBlankWorld(t, "")
	tasks, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "1234"})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if tasks[0] != tps.TaskAppletBlock {
		t.Errorf("no applet installation in %v", tasks)
	}
	if info, _ := w.client.Card(readerName); info.Status != "ENROLLED" {
		t.Fatalf("after enroll: %+v", info)
	}
}

// The TPS picks the card's secure channel protocol from its card
// recognition data: SCP01 (GP 2.0.1), SCP02 i=15 and SCP03.
func TestInProcessEverySecureChannelProtocol(t *testing.T) {
	for _, scp := range []byte{1, 2, 3} {
		t.Run(fmt.Sprintf("SCP0%d", scp), func(t *testing.T) {
			w := newBlankWorld(t, "PIN_RESET=YES", func(img *vcard.Image) {
				img.CardManager.SCP = vcard.HexByte(scp)
				if scp == 2 {
					img.CardManager.SCPParam = 0x15
				} else {
					img.CardManager.SCPParam = 0
				}
			})
			if _, err := w.run(tps.OpFormat, creds{"jdoe", "secret", ""}); err != nil {
				t.Fatalf("format: %v", err)
			}
			if _, err := w.run(tps.OpEnroll, creds{"jdoe", "secret", "1234"}); err != nil {
				t.Fatalf("enroll: %v", err)
			}
			if _, err := w.run(tps.OpResetPIN, creds{"jdoe", "secret", "5678"}); err != nil {
				t.Fatalf("reset-pin: %v", err)
			}
			rec, _ := w.srv.Store().Token(cuidHex)
			if want := fmt.Sprintf("010%d", scp); !strings.HasPrefix(rec.KeyInfo, want) {
				t.Errorf("key info %q, want %s…", rec.KeyInfo, want)
			}
			c, _ := x509.ParseCertificate(rec.Certs[0].DER)
			if err := w.signWith("5678", c); err != nil {
				t.Errorf("sign: %v", err)
			}
		})
	}
}
