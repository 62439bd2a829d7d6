package esc

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/dn"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// slotSource is one reader holding an in-process virtual card.
type slotSource struct{ slot *vcard.Slot }

func (s slotSource) Readers() ([]cardedge.ReaderStatus, error) {
	present, _ := s.slot.State()
	return []cardedge.ReaderStatus{{Name: "Reader 0", CardPresent: present}}, nil
}

func (s slotSource) Connect(string) (cardedge.Transport, error) { return vcard.NewTransport(s.slot) }
func (s slotSource) NewMonitor() (cardedge.Monitor, error)      { return nil, fmt.Errorf("no monitor") }

// TestCardCertificatesCarryDER: a viewer gets each certificate itself (for
// fingerprints and PEM export), and the JSON status does not.
func TestCardCertificatesCarryDER(t *testing.T) {
	ca, err := testca.New()
	if err != nil {
		t.Fatal(err)
	}
	img, err := provision.NewImage(provision.Options{State: provision.Enrolled, User: "jdoe", PIN: []byte("1234"),
		Keys: []provision.KeySpec{"ec256", "ec256"}, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t, slotSource{vcard.NewSlot(card)})
	info, err := c.Card("Reader 0")
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != "ENROLLED" || len(info.Certificates) != 2 {
		t.Fatalf("card %+v", info)
	}
	for _, ci := range info.Certificates {
		cert, err := x509.ParseCertificate(ci.DER)
		if err != nil {
			t.Fatalf("%s: %v", ci.ID, err)
		}
		if !strings.HasPrefix(ci.Subject, "UID=") || dn.Subject(cert) != ci.Subject || fmt.Sprintf("%x", cert.SerialNumber.Bytes()) != ci.Serial {
			t.Errorf("%s: DER is %s/%x, info says %s/%s", ci.ID, dn.Subject(cert), cert.SerialNumber.Bytes(), ci.Subject, ci.Serial)
		}
		if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
			t.Errorf("%s: %v", ci.ID, err)
		}
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"DER"`)) || bytes.Contains(b, []byte(`"der"`)) {
		t.Errorf("the JSON status carries the certificates: %s", b)
	}
}

// TestConfigConcurrentUse runs what a GUI does at once (phone home, list
// cards, save) under the race detector.
func TestConfigConcurrentUse(t *testing.T) {
	c := testClient(t, &fakeSource{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 50 {
				cuid := fmt.Sprintf("%020x", i*100+j)
				c.Config.SetCard(cuid, &CardCache{IssuerName: "x"})
				if err := c.Config.Save(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 50 {
				c.Config.Card(fmt.Sprintf("%020x", j))
			}
		}()
	}
	wg.Wait()
	cfg, err := LoadConfig(c.Paths.ConfigFile())
	if err != nil || len(cfg.Cards) != 200 {
		t.Fatalf("saved %d cards, %v", len(cfg.Cards), err)
	}
}

func TestConfigHideFormatRoundTrip(t *testing.T) {
	c := testClient(t, &fakeSource{})
	c.Config.HideFormat = true
	if err := c.Config.Save(); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(c.Paths.ConfigFile())
	if err != nil || !cfg.HideFormat {
		t.Fatalf("hideFormat not kept: %+v %v", cfg, err)
	}
}
