package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// desktop records what the watcher showed and opened.
type desktop struct {
	mu      sync.Mutex
	notes   []string
	opened  []string
	changed chan struct{}
}

func newDesktop() *desktop { return &desktop{changed: make(chan struct{}, 16)} }

func (d *desktop) notify(summary, body string) error {
	d.mu.Lock()
	d.notes = append(d.notes, summary+" | "+body)
	d.mu.Unlock()
	d.changed <- struct{}{}
	return nil
}

func (d *desktop) open(u string) error {
	d.mu.Lock()
	d.opened = append(d.opened, u)
	d.mu.Unlock()
	return nil
}

func (d *desktop) watcher(c *esc.Client) *Watcher {
	return &Watcher{
		Client:     c,
		Notify:     d.notify,
		Open:       d.open,
		EnrollURL:  func(reader string) string { return "http://127.0.0.1:1/t/TOKEN/?enroll=" + url.QueryEscape(reader) },
		ManagerURL: "http://127.0.0.1:1/t/TOKEN/",
	}
}

// phoneHomeServer answers phone home with the given services (plain HTTP:
// phone home may be, only the TPS it names must be HTTPS).
func phoneHomeServer(t *testing.T, services string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(w, "<ServiceInfo><IssuerName>Example Corp</IssuerName><Services>%s</Services></ServiceInfo>", services)
	}))
	t.Cleanup(s.Close)
	return s.URL + "/tps/phoneHome"
}

func clientFor(t *testing.T, img *vcard.Image) (*esc.Client, *vcard.Slot) {
	t.Helper()
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(card)
	dir := t.TempDir()
	c, err := esc.NewClient(slotSource{slot}, esc.Paths{
		ConfigDir: filepath.Join(dir, "cfg"), StateDir: filepath.Join(dir, "state"), RuntimeDir: filepath.Join(dir, "run"),
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Trust.NoSystemRoots = true
	return c, slot
}

func TestWatcherOffersEnrollment(t *testing.T) {
	w := newWorld(t, "")
	d := newDesktop()
	in := d.watcher(w.client).handleInsertion(context.Background(), readerName)
	if in.Action != "offer-enroll" || !strings.Contains(in.Summary, "coolkey-go test TPS smart card inserted: ready to enroll") {
		t.Fatalf("%+v", in)
	}
	if in.Opened != "http://127.0.0.1:1/t/TOKEN/?enroll=Virtual+Reader+0" || len(d.notes) != 1 {
		t.Errorf("opened %q, notes %q", in.Opened, d.notes)
	}
	if cc := w.client.Config.Card(cuidHex); cc == nil || cc.IssuerName != "coolkey-go test TPS" {
		t.Errorf("phone home not cached: %+v", cc)
	}
	// Without a Smart Card Manager: the notification only.
	d2 := newDesktop()
	wt := d2.watcher(w.client)
	wt.EnrollURL = nil
	if in := wt.handleInsertion(context.Background(), readerName); in.Action != "offer-enroll" || in.Opened != "" || len(d2.opened) != 0 || len(d2.notes) != 1 {
		t.Errorf("without UI: %+v %v", in, d2.opened)
	}
}

func TestWatcherEnrolledCard(t *testing.T) {
	ca, err := testca.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, browserURL string
		browse           bool
		want             string
	}{
		{"browse", "https://tokens.example.com/welcome?x=1", true, "https://tokens.example.com/welcome?x=1"},
		{"not asked to browse", "https://tokens.example.com/", false, ""},
		{"file URL", "file:///etc/passwd", true, ""},
		{"custom scheme", "javascript:alert(1)", true, ""},
		{"credentials in the URL", "https://u:p@tokens.example.com/", true, ""},
	} {
		ph := phoneHomeServer(t, "<Operation>https://tps.example.com/tps/tps</Operation><EnrolledTokenBrowserURL>"+strings.ReplaceAll(c.browserURL, "&", "&amp;")+"</EnrolledTokenBrowserURL>")
		img, err := provision.NewImage(provision.Options{State: provision.Enrolled, User: "jdoe", PIN: []byte("1234"),
			Keys: []provision.KeySpec{"ec256", "ec256"}, CA: ca, IssuerInfo: ph})
		if err != nil {
			t.Fatal(err)
		}
		client, _ := clientFor(t, img)
		d := newDesktop()
		wt := d.watcher(client)
		wt.BrowseEnrolled = c.browse
		in := wt.handleInsertion(context.Background(), readerName)
		if in.Action != "enrolled" || in.Summary != "Example Corp smart card inserted" || !strings.Contains(in.Body, "2 certificates") {
			t.Errorf("%s: %+v", c.name, in)
		}
		if in.Opened != c.want || (c.want == "" && len(d.opened) != 0) {
			t.Errorf("%s: opened %q (%v), want %q", c.name, in.Opened, d.opened, c.want)
		}
	}
}

func TestWatcherUnformattedAndUnknownIssuer(t *testing.T) {
	cuid, _ := cardedge.ParseCUID(cuidHex)
	blank := vcard.BlankImage(cardedge.CPLCForCUID(cuid).Encode()[3:])
	client, _ := clientFor(t, blank)
	d := newDesktop()
	in := d.watcher(client).handleInsertion(context.Background(), readerName)
	if in.Action != "needs-format" || in.Opened != "http://127.0.0.1:1/t/TOKEN/" {
		t.Errorf("blank card: %+v", in)
	}

	// Formatted, no phone-home URL anywhere: the manager, to set one.
	formatted := vcard.BlankImage(cardedge.CPLCForCUID(cuid).Encode()[3:])
	vcard.InstallApplet(formatted, 0)
	client, _ = clientFor(t, formatted)
	d = newDesktop()
	in = d.watcher(client).handleInsertion(context.Background(), readerName)
	if in.Action != "no-phone-home" || in.Opened != "http://127.0.0.1:1/t/TOKEN/" || !strings.Contains(in.Body, "phone-home URL") {
		t.Errorf("no phone home: %+v", in)
	}
}

// TestWatcherRun: insertions reach the handler through the reader monitor.
func TestWatcherRun(t *testing.T) {
	w := newWorld(t, "")
	w.slot.Remove()
	d := newDesktop()
	var logMu sync.Mutex
	var logs []string
	wt := d.watcher(w.client)
	wt.Logf = func(f string, a ...any) { logMu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); logMu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wt.Run(ctx) }()
	// The monitor starts from the state it finds, once it runs: insert
	// until an insertion is seen.
	deadline := time.Now().Add(20 * time.Second)
	for seen := false; !seen; {
		w.slot.Insert()
		select {
		case <-d.changed:
			seen = true
		case <-time.After(2 * time.Second):
			if time.Now().After(deadline) {
				t.Fatal("no notification after insertion")
			}
			w.slot.Remove()
		}
	}
	w.slot.Remove()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.notes) != 1 || !strings.Contains(d.notes[0], "ready to enroll") || len(d.opened) != 1 {
		t.Errorf("notes %q, opened %q", d.notes, d.opened)
	}
	logMu.Lock()
	defer logMu.Unlock()
	joined := strings.Join(logs, "\n")
	if !strings.Contains(joined, "card inserted in") || strings.Contains(joined, "TOKEN") {
		t.Errorf("log:\n%s", joined)
	}
}

func TestRedactTokenAndEscapeMarkup(t *testing.T) {
	if got := redactToken("http://127.0.0.1:5/t/SECRET/?enroll=x"); got != "http://127.0.0.1:5/t/…/?enroll=x" {
		t.Errorf("redact: %q", got)
	}
	if got := escapeMarkup(`<b>A & B</b>`); got != "&lt;b&gt;A &amp; B&lt;/b&gt;" {
		t.Errorf("escape: %q", got)
	}
}
