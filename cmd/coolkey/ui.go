package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/ui"
)

func init() {
	register(&command{
		Path:    []string{"ui"},
		Summary: "run the Smart Card Manager, a web page on loopback (cards, enroll, PIN reset, certificates, diagnostics)",
		Run:     runUI,
	})
}

// uiFlags are shared by `ui` and `watch --open`.
type uiFlags struct {
	listen     string
	hideFormat bool
	cf         clientFlags // only the CA files
}

func (f *uiFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.cf.cas, "ca", "also trust the CA certificates in `FILE` (PEM) for this run; repeatable")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "listen on loopback `ADDR` (127.0.0.1:PORT, [::1]:PORT or localhost:PORT; port 0 picks one)")
	fs.BoolVar(&f.hideFormat, "hide-format", false, "hide and refuse Format (also: \"hideFormat\": true in the configuration)")
}

// startUI listens and starts the server in the background.
func startUI(env *cliEnv, f *uiFlags, c *esc.Client) (*ui.Server, <-chan error, error) {
	ln, err := ui.ListenLoopback(f.listen)
	if err != nil {
		if errors.Is(err, ui.ErrNotLoopback) {
			return nil, nil, usageError{err.Error()}
		}
		return nil, nil, err
	}
	srv, err := ui.New(ln, ui.Options{
		Client:     c,
		Version:    version,
		HideFormat: f.hideFormat,
		Logf: func(format string, a ...any) {
			fmt.Fprintf(env.Stderr, "coolkey ui: "+format+"\n", a...)
		},
	})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	return srv, errc, nil
}

func stopUI(srv *ui.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

func runUI(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "ui")
	var f uiFlags
	f.register(fs)
	open := fs.Bool("open", false, "open the page in the desktop's browser (xdg-open)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey ui [--listen 127.0.0.1:PORT] [--open] [--hide-format]")
		fmt.Fprintln(env.Stderr, "Serves the Smart Card Manager on loopback until interrupted, and prints its address. The address")
		fmt.Fprintln(env.Stderr, "carries a secret that changes on every run: only whoever can read it can use the page.")
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
	srv, errc, err := startUI(env, &f, c)
	if err != nil {
		return err
	}
	defer stopUI(srv)
	fmt.Fprintf(env.Stdout, "Smart Card Manager: %s\n", srv.URL())
	if *open {
		if err := openURL(srv.URL()); err != nil {
			fmt.Fprintf(env.Stderr, "coolkey ui: cannot open a browser (%v); open the address above\n", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		return nil
	}
}

// openURL hands a URL to the desktop (xdg-open), without a shell; the
// caller has checked that it is an http(s) URL.
func openURL(u string) error {
	path, err := exec.LookPath("xdg-open")
	if err != nil {
		return err
	}
	cmd := exec.Command(path, u)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return err
	}
	// xdg-open returns once the browser has the URL; reap it.
	go cmd.Wait()
	return nil
}
