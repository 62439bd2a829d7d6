package ui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tps"
)

// Watcher is the card-insertion daemon (ESC's escd and tray): on every
// insertion it logs the card, phones home, and then
//   - for a formatted, unenrolled card whose issuer answered, offers
//     enrollment (a notification, and the Smart Card Manager's enrollment
//     page when EnrollURL is set);
//   - for an enrolled card, says so, and opens the issuer's
//     EnrolledTokenBrowserURL when BrowseEnrolled is set;
//   - for an unformatted card, or when phone home fails, points to the
//     Smart Card Manager (ManagerURL), as the ESC opened its admin page.
type Watcher struct {
	Client *esc.Client
	// Notify shows a desktop notification; nil leaves only the log line.
	Notify func(summary, body string) error
	// Open opens an http(s) URL in the user's browser; nil opens nothing.
	Open func(url string) error
	// EnrollURL returns the page that enrolls the card in reader; nil
	// when no Smart Card Manager runs.
	EnrollURL func(reader string) string
	// ManagerURL is the Smart Card Manager's main page ("" when none runs).
	ManagerURL string
	// BrowseEnrolled opens the issuer's EnrolledTokenBrowserURL when an
	// enrolled card is inserted (ESC did unless told not to; here it is
	// asked for).
	BrowseEnrolled bool
	// Logf receives one line per event; nil discards.
	Logf func(format string, args ...any)

	wg sync.WaitGroup
}

func (w *Watcher) logf(format string, args ...any) {
	if w.Logf != nil {
		w.Logf(format, args...)
	}
}

// Run watches until ctx ends. Readers that cannot be watched (pcscd not
// running yet) are retried, so the daemon can start before them.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.wg.Wait()
	m := esc.NewManager(w.Client)
	failing := false
	for ctx.Err() == nil {
		err := m.Watch(ctx, func(ev esc.CardEvent) {
			switch ev.Kind {
			case "card-inserted":
				w.wg.Add(1)
				go func() {
					defer w.wg.Done()
					w.handleInsertion(ctx, ev.Reader)
				}()
			case "card-removed":
				w.logf("card removed from %q", ev.Reader)
			}
		})
		if ctx.Err() != nil {
			break
		}
		if err != nil && !failing {
			w.logf("cannot watch the readers (%v); retrying", err)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
	return nil
}

// insertion is what the watcher decided about one card, for the log and
// tests.
type insertion struct {
	Action   string // "offer-enroll", "enrolled", "needs-format", "no-phone-home", "ignored"
	Summary  string
	Body     string
	Opened   string // URL opened, if any
	CardInfo esc.CardInfo
}

// phoneHomeTimeout bounds the phone home done for an insertion.
const phoneHomeTimeout = 30 * time.Second

func (w *Watcher) handleInsertion(ctx context.Context, reader string) insertion {
	var in insertion
	info, err := w.Client.Card(reader)
	if err != nil {
		w.logf("card inserted in %q, but it cannot be read: %v", reader, err)
		in.Action = "ignored"
		return in
	}
	in.CardInfo = info
	w.logf("card inserted in %q: %s, CUID %s", reader, info.Status, orNone(info.CUID))
	if info.Status == esc.StatusBusy || info.Status == esc.StatusNoCard || info.CUID == "" {
		in.Action = "ignored"
		return in
	}

	var cache *esc.CardCache
	var phErr error
	if info.Status != "NO_APPLET" {
		pctx, cancel := context.WithTimeout(ctx, phoneHomeTimeout)
		cache, phErr = phoneHome(pctx, esc.NewManager(w.Client), w.Client, reader, "")
		cancel()
		if phErr != nil {
			w.logf("phone home for %s failed: %v", info.CUID, phErr)
		} else {
			w.logf("phone home for %s: issuer %q, TPS %s", info.CUID, cache.IssuerName, orNone(cache.Service(tps.ServiceOperation)))
		}
	}
	issuer := "Smart card"
	if cache != nil && cache.IssuerName != "" {
		issuer = cache.IssuerName + " smart card"
	}
	where := fmt.Sprintf("Card %s in %s", info.CUID, reader)
	openPage := ""
	switch {
	case info.Status == "NO_APPLET":
		in.Action = "needs-format"
		in.Summary = "Smart card inserted: not formatted"
		in.Body = where + " has no CoolKey applet; format it in the Smart Card Manager (coolkey ui)."
		openPage = w.ManagerURL
	case phErr != nil || cache.Service(tps.ServiceOperation) == "":
		in.Action = "no-phone-home"
		in.Summary = issuer + " inserted"
		in.Body = where + ": its issuer could not be asked which server enrolls it; set its phone-home URL in the Smart Card Manager (coolkey ui)."
		openPage = w.ManagerURL
	case info.Status == "UNINITIALIZED":
		in.Action = "offer-enroll"
		in.Summary = issuer + " inserted: ready to enroll"
		in.Body = where + " is formatted but not enrolled. Enroll it in the Smart Card Manager (coolkey ui), or with 'coolkey enroll'."
		if w.EnrollURL != nil {
			openPage = w.EnrollURL(reader)
		}
	case info.Status == "ENROLLED":
		in.Action = "enrolled"
		in.Summary = issuer + " inserted"
		in.Body = fmt.Sprintf("%s is enrolled (%d certificates).", where, len(info.Certificates))
		if w.BrowseEnrolled {
			openPage = cache.Service(tps.ServiceEnrolledTokenBrowserURL)
		}
	default:
		in.Action = "ignored"
		return in
	}
	w.logf("%s: %s", in.Summary, in.Body)
	if w.Notify != nil {
		if err := w.Notify(in.Summary, in.Body); err != nil {
			w.logf("notification failed: %v", err)
		}
	}
	if openPage != "" && w.Open != nil {
		if err := checkBrowserURL(openPage); err != nil {
			w.logf("not opening %q: %v", openPage, err)
		} else if err := w.Open(openPage); err != nil {
			w.logf("cannot open %s: %v", redactToken(openPage), err)
		} else {
			in.Opened = openPage
			w.logf("opened %s", redactToken(openPage))
		}
	}
	return in
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// checkBrowserURL allows only absolute http and https URLs to reach the
// desktop's opener: a phone-home server's EnrolledTokenBrowserURL must not
// be able to launch file:// or a custom scheme's handler.
func checkBrowserURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("only http and https URLs are opened")
	}
	if strings.ContainsAny(s, " \t\r\n\x00") {
		return errors.New("URL with spaces or control characters")
	}
	return nil
}

// redactToken hides a Smart Card Manager token in a URL before logging.
func redactToken(s string) string {
	if i := strings.Index(s, tokenPathPrefix); i >= 0 {
		rest := s[i+len(tokenPathPrefix):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return s[:i] + tokenPathPrefix + "…" + rest[j:]
		}
	}
	return s
}

// DesktopNotifier returns a notifier using notify-send (libnotify), or nil
// when it is not installed.
func DesktopNotifier() func(summary, body string) error {
	path, err := exec.LookPath("notify-send")
	if err != nil {
		return nil
	}
	return func(summary, body string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The body may be read as markup by the notification server; the
		// summary never is. "--" keeps a summary starting with "-" from
		// being an option.
		cmd := exec.CommandContext(ctx, path, "--app-name=coolkey", "--icon=media-flash", "--", summary, escapeMarkup(body))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("notify-send: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
}

func escapeMarkup(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
