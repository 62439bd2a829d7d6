package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
	"github.com/coolkey-go/coolkey-go/esc"
)

// Environment variables of the enrollment commands. COOLKEY_SIM and
// COOLKEY_PCSC choose readers as they do for the PKCS#11 module.
const (
	envPassword = "COOLKEY_PASSWORD"
	envNewPIN   = "COOLKEY_NEW_PIN"
	envSim      = "COOLKEY_SIM"
	envPCSC     = "COOLKEY_PCSC"
)

// cardSources returns the readers the commands see: PC/SC readers (unless
// COOLKEY_PCSC=off) and virtual cards served on sockets (COOLKEY_SIM, a
// comma-separated list of host:port, named "CoolKey virtual card ADDR"
// like the module's slots).
func cardSources(env *cliEnv) cardedge.ReaderSource {
	var srcs cardedge.Sources
	switch strings.ToLower(strings.TrimSpace(env.Getenv(envPCSC))) {
	case "off", "0", "no", "false":
	default:
		srcs = append(srcs, pcsc.NewSource())
	}
	var eps []netcard.Endpoint
	for _, addr := range strings.Split(env.Getenv(envSim), ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			eps = append(eps, netcard.Endpoint{Name: "CoolKey virtual card " + addr, Addr: addr})
		}
	}
	if len(eps) > 0 {
		srcs = append(srcs, netcard.NewSource(eps...))
	}
	return srcs
}

// clientFlags are the flags every enrollment command shares.
type clientFlags struct {
	reader   string
	tps      string
	cas      stringList
	insecure bool
	timeout  time.Duration
}

func (f *clientFlags) register(fs *flag.FlagSet, withTPS bool) {
	fs.StringVar(&f.reader, "reader", "", "reader `NAME` (default: the only reader holding a card)")
	if withTPS {
		fs.StringVar(&f.tps, "tps", "", "TPS operation `URL`, e.g. https://tps.example.com:8443/tps/tps (default: from phone home)")
		fs.DurationVar(&f.timeout, "timeout", 0, "wait at most `DURATION` for each TPS message (default: configuration, else 90s); there is no overall timeout")
	}
	fs.Var(&f.cas, "ca", "also trust the CA certificates in `FILE` (PEM) for this run; repeatable")
	fs.BoolVar(&f.insecure, "insecure-skip-tls-verify", false, "DANGEROUS: do not verify the TPS certificate; anyone on the network can then read your password and control your card")
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// newClient loads the user's configuration and trust settings.
func newClient(env *cliEnv, f *clientFlags) (*esc.Client, error) {
	paths, err := esc.DefaultPaths(env.Getenv)
	if err != nil {
		return nil, exitError{esc.ExitUsage, err}
	}
	c, err := esc.NewClient(cardSources(env), paths, version)
	if err != nil {
		return nil, escExit(err)
	}
	c.Trust.ExtraCAFiles = f.cas
	if f.insecure {
		c.Trust.InsecureSkipVerify = true
		fmt.Fprintln(env.Stderr, "WARNING: --insecure-skip-tls-verify: the TPS certificate is NOT verified; your password and card are exposed to anyone on the network path.")
		c.Log.Event("tls-verification-disabled")
	}
	return c, nil
}

// escExit turns an esc error into the process exit code it stands for.
func escExit(err error) error {
	if err == nil {
		return nil
	}
	var e *esc.Error
	if errors.As(err, &e) {
		return exitError{e.Kind.ExitCode(), err}
	}
	return err
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r any) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// readSecretFile returns the first line of path: a password or PIN file.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(io.LimitReader(f, 4096), 4096).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	return line, nil
}

// secretFrom picks a secret from a file flag, then an environment
// variable; "" means ask.
func secretFrom(env *cliEnv, file, envVar string) (string, error) {
	if file != "" {
		s, err := readSecretFile(file)
		if err != nil {
			return "", exitError{esc.ExitUsage, err}
		}
		return s, nil
	}
	return env.Getenv(envVar), nil
}

// cliPrompter answers the TPS from flags, files and the environment, and
// asks on the terminal (without echo for secrets) for anything missing.
type cliPrompter struct {
	env         *cliEnv
	bar         *esc.ProgressBar
	uid         string
	password    string
	newPIN      string
	in          *bufio.Reader
	fd          int
	interactive bool
}

func newPrompter(env *cliEnv, bar *esc.ProgressBar, uid, password, newPIN string) *cliPrompter {
	fd, tty := isTerminal(env.Stdin)
	return &cliPrompter{env: env, bar: bar, uid: uid, password: password, newPIN: newPIN,
		in: bufio.NewReader(env.Stdin), fd: fd, interactive: tty}
}

func (p *cliPrompter) ask(prompt string, secret bool) (string, error) {
	if !p.interactive {
		return "", fmt.Errorf("%s needed but standard input is not a terminal (use the flags or environment variables)", strings.TrimSuffix(prompt, ": "))
	}
	p.bar.Break()
	fmt.Fprint(p.env.Stderr, prompt)
	if secret {
		b, err := term.ReadPassword(p.fd)
		fmt.Fprintln(p.env.Stderr)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	line, err := p.in.ReadString('\n')
	if err != nil {
		if err == io.EOF {
			return "", esc.ErrCancelled
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (p *cliPrompter) Login(ctx context.Context, lp esc.LoginPrompt) (map[string]string, error) {
	out := map[string]string{}
	shown := false
	for _, ap := range lp.Params {
		var v string
		switch {
		case ap.ID == "UID" && p.uid != "":
			v = p.uid
		case ap.Secret() && p.password != "":
			v = p.password
		default:
			if !shown && p.interactive && (lp.Title != "" || lp.Description != "") {
				p.bar.Break()
				fmt.Fprintf(p.env.Stderr, "%s\n", strings.TrimSpace(lp.Title+": "+lp.Description))
				shown = true
			}
			label := ap.Name
			if label == "" {
				label = ap.ID
			}
			var err error
			if v, err = p.ask(label+": ", ap.Secret()); err != nil {
				return nil, err
			}
		}
		out[ap.ID] = v
	}
	return out, nil
}

func (p *cliPrompter) NewPIN(ctx context.Context, lo, hi int) (string, error) {
	if p.newPIN != "" {
		return p.newPIN, nil
	}
	rule := fmt.Sprintf("%d to %d characters", lo, hi)
	if hi <= 0 {
		rule = fmt.Sprintf("at least %d characters", lo)
	}
	for attempt := 0; attempt < 3; attempt++ {
		a, err := p.ask(fmt.Sprintf("New card PIN (%s): ", rule), true)
		if err != nil {
			return "", err
		}
		if err := esc.CheckNewPIN(a, lo, hi); err != nil {
			fmt.Fprintln(p.env.Stderr, err)
			continue
		}
		b, err := p.ask("Repeat the new PIN: ", true)
		if err != nil {
			return "", err
		}
		if a != b {
			fmt.Fprintln(p.env.Stderr, "The PINs differ.")
			continue
		}
		return a, nil
	}
	return "", esc.ErrCancelled
}

// confirm asks a yes/no question; yes (the --yes flag) answers it.
func confirm(env *cliEnv, yes bool, question string) error {
	if yes {
		return nil
	}
	if _, tty := isTerminal(env.Stdin); !tty {
		return usageError{question + " Refusing without --yes (standard input is not a terminal)."}
	}
	fmt.Fprintf(env.Stderr, "%s [y/N] ", question)
	line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return exitError{esc.ExitCancelled, errors.New("cancelled")}
}
