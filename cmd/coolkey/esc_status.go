package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/internal/dn"
	"github.com/coolkey-go/coolkey-go/tps"
)

func init() {
	register(&command{
		Path:    []string{"status"},
		Summary: "list readers and cards: state, CUID, applet, issuer, TPS, certificates",
		Run:     runStatus,
	})
	register(&command{
		Path:    []string{"phone-home"},
		Summary: "ask the card's issuer which TPS serves it, and remember the answer",
		Run:     runPhoneHome,
	})
	register(&command{
		Path:    []string{"diagnose"},
		Summary: "print the diagnostics view and the recent diagnostics log",
		Run:     runDiagnose,
	})
	register(&command{
		Path:    []string{"trust", "add"},
		Summary: "trust the CA certificates in a PEM file for TPS connections",
		Run:     runTrustAdd,
	})
	register(&command{
		Path:    []string{"trust", "list"},
		Summary: "list the CA certificates trusted for TPS connections (besides the system's)",
		Run:     runTrustList,
	})
}

func runStatus(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "status")
	var cf clientFlags
	fs.StringVar(&cf.reader, "reader", "", "show only reader `NAME`")
	asJSON := fs.Bool("json", false, "print JSON: a list of {reader, status, cuid, atr, certificates, …}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	c, err := newClient(env, &cf)
	if err != nil {
		return err
	}
	var cards []esc.CardInfo
	if cf.reader != "" {
		info, err := c.Card(cf.reader)
		if err != nil {
			return escExit(err)
		}
		cards = []esc.CardInfo{info}
	} else if cards, err = c.Cards(); err != nil {
		return escExit(err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cards)
	}
	if len(cards) == 0 {
		fmt.Fprintln(env.Stdout, "No card readers found (is pcscd running?).")
		return nil
	}
	for i, ci := range cards {
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		printCard(env.Stdout, ci)
	}
	return nil
}

func printCard(w io.Writer, ci esc.CardInfo) {
	fmt.Fprintf(w, "Reader:        %s\n", ci.Reader)
	fmt.Fprintf(w, "Status:        %s\n", statusText(ci.Status))
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-14s %s\n", name+":", v)
		}
	}
	field("CUID", ci.CUID)
	field("ATR", ci.ATR)
	field("Applet", ci.AppletVersion)
	field("Protocol", ci.ProtocolVersion)
	field("Life cycle", ci.LifeCycle)
	field("Token name", ci.TokenName)
	field("Issuer", ci.Issuer)
	field("Phone home", ci.PhoneHomeURL)
	field("TPS", ci.TPSURL)
	field("Error", ci.Error)
	for _, cert := range ci.Certificates {
		fmt.Fprintf(w, "Certificate %s: %s\n", cert.ID, cert.Label)
		fmt.Fprintf(w, "  Subject:     %s\n", cert.Subject)
		fmt.Fprintf(w, "  Issuer:      %s\n", cert.Issuer)
		fmt.Fprintf(w, "  Serial:      %s\n", cert.Serial)
		fmt.Fprintf(w, "  Valid:       %s to %s\n", cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))
	}
}

// statusText adds the ESC's words to a status.
func statusText(s string) string {
	switch s {
	case "NO_APPLET":
		return "NO_APPLET (unformatted: format it)"
	case "UNINITIALIZED":
		return "UNINITIALIZED (formatted: enroll it)"
	case "ENROLLED":
		return "ENROLLED"
	case esc.StatusBusy:
		return "BUSY (an operation is running on it)"
	case esc.StatusNoCard:
		return "NO_CARD"
	}
	return s
}

func runPhoneHome(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "phone-home")
	var cf clientFlags
	cf.register(fs, false)
	urlFlag := fs.String("url", "", "phone-home `URL` to use for this card (for a card that carries none, or to override it); remembered for the card")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	c, err := newClient(env, &cf)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reader, err := c.ChooseReader(cf.reader)
	if err != nil {
		return escExit(err)
	}
	card, err := c.Card(reader)
	if err != nil {
		return escExit(err)
	}
	if card.CUID == "" {
		return exitError{esc.ExitCard, fmt.Errorf("cannot read the card's ID in %q", reader)}
	}
	phURL, fromUser := *urlFlag, true
	if phURL == "" {
		phURL, fromUser = card.PhoneHomeURL, false
		if cc := c.Config.Card(card.CUID); phURL == "" && cc != nil && cc.URLFromUser {
			phURL, fromUser = cc.PhoneHomeURL, true
		}
		if phURL == "" {
			phURL = c.Config.GlobalPhoneHomeURL
		}
	}
	if phURL == "" {
		return usageError{"the card carries no phone-home URL and none is configured; give one with --url URL (your TPS administrator knows it, typically https://TPS-HOST:PORT/tps/phoneHome)"}
	}
	si, err := c.PhoneHome(ctx, phURL, card.CUID, fromUser)
	if err != nil {
		return escExit(err)
	}
	if *asJSON {
		out := map[string]any{"cuid": card.CUID, "phoneHomeURL": phURL, "issuer": si.IssuerName, "services": si.Services}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(env.Stdout, "Card:       %s\n", card.CUID)
	fmt.Fprintf(env.Stdout, "Phone home: %s\n", phURL)
	fmt.Fprintf(env.Stdout, "Issuer:     %s\n", si.IssuerName)
	for _, p := range si.Services {
		fmt.Fprintf(env.Stdout, "%-11s %s\n", p.Name+":", p.Value)
	}
	if si.Service(tps.ServiceOperation) == "" {
		fmt.Fprintln(env.Stdout, "(no Operation URL: the issuer named no TPS)")
	}
	return nil
}

func runDiagnose(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "diagnose")
	var cf clientFlags
	fs.StringVar(&cf.reader, "reader", "", "show only reader `NAME`")
	lines := fs.Int("lines", 40, "show the last `N` lines of the diagnostics log")
	watch := fs.Bool("watch", false, "then log and print card insertions and removals until interrupted")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	c, err := newClient(env, &cf)
	if err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "coolkey %s on %s/%s (%s)\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(w, "Configuration: %s\n", c.Paths.ConfigFile())
	fmt.Fprintf(w, "Trusted CAs:   %s\n", c.Paths.BundleFile())
	fmt.Fprintf(w, "Log:           %s\n", c.Log.Path())
	if c.Config.TPSURL != "" {
		fmt.Fprintf(w, "TPS URL:       %s (configured)\n", c.Config.TPSURL)
	}
	if c.Config.GlobalPhoneHomeURL != "" {
		fmt.Fprintf(w, "Fallback phone home: %s\n", c.Config.GlobalPhoneHomeURL)
	}
	fmt.Fprintf(w, "Message timeout: %v\n", c.Config.MessageTimeout())
	var cards []esc.CardInfo
	if cf.reader != "" {
		info, err := c.Card(cf.reader)
		if err != nil {
			info = esc.CardInfo{Reader: cf.reader, Status: esc.StatusUnknown, Error: err.Error()}
		}
		cards = []esc.CardInfo{info}
	} else {
		cards, err = c.Cards()
		if err != nil {
			fmt.Fprintf(w, "Readers: %v\n", err)
		}
	}
	n := 0
	for _, ci := range cards {
		if ci.Status != esc.StatusNoCard {
			n++
		}
	}
	fmt.Fprintf(w, "Readers: %d, cards: %d\n\n", len(cards), n)
	for _, ci := range cards {
		printCard(w, ci)
		fmt.Fprintln(w)
	}
	tail, err := c.Log.Tail(*lines)
	if err != nil {
		fmt.Fprintf(w, "Diagnostics log: %v\n", err)
	} else {
		fmt.Fprintf(w, "Diagnostics log (last %d lines):\n", len(tail))
		for _, l := range tail {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if !*watch {
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(w, "\nWatching for card events (Ctrl-C to stop)…")
	return escExit(watchCards(ctx, c, func(line string) { fmt.Fprintln(w, line) }))
}

// watchCards logs reader and card events until ctx ends.
func watchCards(ctx context.Context, c *esc.Client, show func(string)) error {
	return esc.Watch(ctx, c, func(ev esc.CardEvent) {
		show(fmt.Sprintf("%s %s %s %s", time.Now().Format(time.TimeOnly), ev.Kind, ev.Reader, ev.CUID))
	})
}

func runTrustAdd(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "trust add")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey trust add CA.pem")
		fmt.Fprintln(env.Stderr, "Adds the certificates in CA.pem (the TPS's CA chain) to the certificates this user trusts for")
		fmt.Fprintln(env.Stderr, "TPS and phone-home connections, besides the system's.")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"give one PEM file"}
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return exitError{esc.ExitUsage, err}
	}
	paths, err := esc.DefaultPaths(env.Getenv)
	if err != nil {
		return exitError{esc.ExitUsage, err}
	}
	added, err := esc.AddTrust(paths.BundleFile(), b)
	if err != nil {
		return exitError{esc.ExitUsage, fmt.Errorf("%s: %w", fs.Arg(0), err)}
	}
	if len(added) == 0 {
		fmt.Fprintln(env.Stdout, "Already trusted; nothing added.")
		return nil
	}
	for _, c := range added {
		kind := "CA"
		if !c.IsCA {
			kind = "certificate (not a CA: trusted as a server certificate only)"
		}
		fmt.Fprintf(env.Stdout, "Trusted %s: %s (expires %s)\n", kind, c.Subject, c.NotAfter.Format(time.DateOnly))
	}
	esc.OpenDiagLog(paths.LogFile()).Event("trust-add", "count", len(added))
	return nil
}

func runTrustList(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "trust list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	paths, err := esc.DefaultPaths(env.Getenv)
	if err != nil {
		return exitError{esc.ExitUsage, err}
	}
	certs, err := esc.ListTrust(paths.BundleFile())
	if err != nil {
		return err
	}
	if len(certs) == 0 {
		fmt.Fprintf(env.Stdout, "No CA added (%s); the system's CAs are trusted.\n", paths.BundleFile())
		return nil
	}
	for _, c := range certs {
		fmt.Fprintf(env.Stdout, "%s  (expires %s)\n", dn.Subject(c), c.NotAfter.Format(time.DateOnly))
	}
	return nil
}

var _ = cardedge.ErrNoCard
