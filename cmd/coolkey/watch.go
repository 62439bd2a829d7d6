package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/ui"
)

func init() {
	register(&command{
		Path:    []string{"watch"},
		Summary: "the card watcher daemon: on insertion, phone home and offer enrollment (notification, Smart Card Manager)",
		Run:     runWatch,
	})
}

func runWatch(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "watch")
	var f uiFlags
	f.register(fs)
	open := fs.Bool("open", false, "serve the Smart Card Manager (see --listen) and open its enrollment page in the browser for a card that is ready to enroll (its main page for one that needs attention)")
	browse := fs.Bool("browse-enrolled", false, "open the issuer's EnrolledTokenBrowserURL (from phone home) when an enrolled card is inserted")
	noNotify := fs.Bool("no-notify", false, "no desktop notifications (log lines only)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey watch [--open [--listen 127.0.0.1:PORT]] [--browse-enrolled] [--no-notify]")
		fmt.Fprintln(env.Stderr, "Runs until interrupted. On every card insertion: logs it, phones home, and offers enrollment of a")
		fmt.Fprintln(env.Stderr, "formatted card whose issuer answered (desktop notification through notify-send when installed).")
		fmt.Fprintln(env.Stderr, "A systemd user unit runs it at login: build/coolkey-watch.service.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	c, err := newClient(env, &f.cf)
	if err != nil {
		return err
	}
	out := &lineWriter{w: env.Stdout}
	logf := func(format string, a ...any) {
		out.printf("%s %s", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, a...))
	}
	w := &ui.Watcher{Client: c, BrowseEnrolled: *browse, Logf: logf}
	if *open || *browse {
		w.Open = openURL
	}
	if *open {
		srv, _, err := startUI(env, &f, c)
		if err != nil {
			return err
		}
		defer stopUI(srv)
		w.EnrollURL = srv.EnrollURL
		w.ManagerURL = srv.URL()
		// The address holds the token: print it, it is this user's
		// terminal or journal.
		out.printf("Smart Card Manager: %s", srv.URL())
	}
	if !*noNotify {
		if w.Notify = ui.DesktopNotifier(); w.Notify == nil {
			logf("notify-send is not installed: events are only logged here")
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf("watching for smart cards")
	return w.Run(ctx)
}
