package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tps"
)

func init() {
	register(&command{
		Path:    []string{"format"},
		Summary: "format the card through the TPS (reinstalls the applet; erases keys and certificates)",
		Run:     func(env *cliEnv, args []string) error { return runOperation(env, "format", tps.OpFormat, args) },
	})
	register(&command{
		Path:    []string{"enroll"},
		Summary: "enroll the card through the TPS (new PIN, keys and certificates; renewal when the TPS says so)",
		Run:     func(env *cliEnv, args []string) error { return runOperation(env, "enroll", tps.OpEnroll, args) },
	})
	register(&command{
		Path:    []string{"reset-pin"},
		Summary: "set a new card PIN through the TPS",
		Run:     func(env *cliEnv, args []string) error { return runOperation(env, "reset-pin", tps.OpResetPIN, args) },
	})
}

func runOperation(env *cliEnv, name string, op tps.Op, args []string) error {
	fs := newFlagSet(env, name)
	var cf clientFlags
	cf.register(fs, true)
	uid := fs.String("uid", "", "user `ID` to log in to the TPS with (default: asked)")
	passwordFile := fs.String("password-file", "", "read the TPS password from the first line of `FILE` (or set "+envPassword+"; default: asked without echo)")
	var newPINFile *string
	if op != tps.OpFormat {
		newPINFile = fs.String("new-pin-file", "", "read the new card PIN from the first line of `FILE` (or set "+envNewPIN+"; default: asked without echo)")
	}
	tokenType := fs.String("token-type", "", "token `TYPE` (profile) to ask the TPS for (default: configuration, else userKey)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: coolkey %s [flags]\n\n", name)
		fmt.Fprintln(env.Stderr, "Exit codes: 0 done, 2 usage or input error, 3 refused by the TPS, 4 connection failure,")
		fmt.Fprintln(env.Stderr, "5 untrusted TPS certificate, 6 card failure, 7 cancelled.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	password, err := secretFrom(env, *passwordFile, envPassword)
	if err != nil {
		return err
	}
	var newPIN string
	if newPINFile != nil {
		if newPIN, err = secretFrom(env, *newPINFile, envNewPIN); err != nil {
			return err
		}
		// Check a PIN given in advance against the TPS defaults now,
		// rather than after minutes of key generation; the TPS's own
		// limits are checked again when it asks.
		if newPIN != "" {
			if err := tps.ValidateRawPIN(newPIN); err != nil {
				return usageError{err.Error()}
			}
		}
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
	switch {
	case card.Status == esc.StatusBusy:
		return exitError{esc.ExitUsage, fmt.Errorf("an operation is already running on the card in %q", reader)}
	case op == tps.OpFormat:
		if err := confirm(env, *yes, fmt.Sprintf("Formatting erases every key and certificate on the card in %q.", reader)); err != nil {
			return err
		}
	case op == tps.OpEnroll && card.Status == "ENROLLED":
		if err := confirm(env, *yes, fmt.Sprintf("The card in %q is already enrolled; enrolling it again may replace its keys and certificates.", reader)); err != nil {
			return err
		}
	case op == tps.OpResetPIN && card.Status != "ENROLLED":
		return exitError{esc.ExitUsage, fmt.Errorf("the card in %q is %s; only an enrolled card's PIN can be reset", reader, card.Status)}
	}

	tpsURL, from, err := c.ResolveTPS(ctx, cf.tps, card)
	if err != nil {
		return escExit(err)
	}
	if u := tpsURL; len(u) >= 7 && u[:7] == "http://" {
		fmt.Fprintln(env.Stderr, "WARNING: the TPS URL is plain HTTP: your password and the card's new PIN travel unencrypted.")
	}
	fmt.Fprintf(env.Stderr, "%s: card %s in %q, TPS %s (from %s)\n", name, orDash(card.CUID), reader, tpsURL, from)

	tt := *tokenType
	if tt == "" {
		tt = c.Config.TokenType
	}
	if tt == "" && op == tps.OpFormat {
		// The ESC formats with the phone-home TokenType when it has one.
		if cc := c.Config.Card(card.CUID); cc != nil {
			tt = cc.Service(tps.ServiceTokenType)
		}
	}
	_, tty := isTerminal(env.Stderr)
	bar := esc.NewProgressBar(env.Stderr, tty)
	timeout := cf.timeout
	if timeout <= 0 {
		timeout = c.Config.MessageTimeout()
	}
	err = c.Run(ctx, esc.OpRequest{
		Op:             op,
		Reader:         reader,
		CUID:           card.CUID,
		TPSURL:         tpsURL,
		TokenType:      tt,
		Prompter:       newPrompter(env, bar, *uid, password, newPIN),
		Progress:       bar.Update,
		MessageTimeout: timeout,
	})
	bar.Break()
	if err != nil {
		return escExit(err)
	}
	switch op {
	case tps.OpFormat:
		fmt.Fprintln(env.Stdout, "The card is formatted.")
	case tps.OpEnroll:
		after, _ := c.Card(reader)
		fmt.Fprintf(env.Stdout, "The card is enrolled (%d certificates).\n", len(after.Certificates))
	case tps.OpResetPIN:
		fmt.Fprintln(env.Stdout, "The card PIN is changed.")
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
