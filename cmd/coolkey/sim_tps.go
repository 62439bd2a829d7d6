package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/tpssim"
)

func init() {
	register(&command{
		Path:    []string{"sim", "tps", "serve"},
		Summary: "run the test TPS (format, enroll, PIN reset, phone home) in the foreground",
		Run:     runSimTPSServe,
	})
}

func runSimTPSServe(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "sim tps serve")
	listen := fs.String("listen", "127.0.0.1:8443", "listen on `ADDR` (host:port; port 0 picks one)")
	state := fs.String("state", "", "state `DIR`: token database, activity log, CA (ca.pem is what clients trust) and server certificate (required)")
	var userSpecs stringList
	fs.Var(&userSpecs, "user", "a user as `UID:PASSWORD`; repeatable")
	usersFile := fs.String("users", "", "read users from `FILE`, one UID:PASSWORD per line")
	plain := fs.Bool("http", false, "serve plain HTTP instead of HTTPS")
	policy := fs.String("policy", tpssim.DefaultPolicy, "default token `POLICY`, e.g. 'RE_ENROLL=YES;RENEW=NO;FORCE_FORMAT=NO;PIN_RESET=NO'")
	publicURL := fs.String("public-url", "", "`URL` (scheme://host:port) clients reach this server at, used in phone home and in the issuer info written to cards (default: the Host each client used)")
	keySize := fs.Int("key-size", 2048, "RSA key size generated on cards, 1024 to 2048 `bits`")
	issuer := fs.String("issuer", "coolkey-go test TPS", "phone-home issuer `NAME`")
	multi := fs.Bool("allow-multiple-tokens", false, "let a user enroll more than one card")
	timeout := fs.Duration("message-timeout", 5*time.Minute, "wait at most `DURATION` for each client message")
	verbose := fs.Bool("verbose", false, "log every message (APDU headers only, never credentials)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey sim tps serve --state DIR --user UID:PASSWORD [--user …] [--listen ADDR] [--http] [--policy P]")
		fmt.Fprintln(env.Stderr, "Runs until SIGINT or SIGTERM. Operations: POST /tps/tps; phone home: GET /tps/phoneHome.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *state == "" {
		return usageError{"--state is required"}
	}
	users := tpssim.NewUsers()
	for _, spec := range userSpecs {
		if err := users.ParseUserSpec(spec); err != nil {
			return usageError{"--user: " + err.Error()}
		}
	}
	if *usersFile != "" {
		f, err := os.Open(*usersFile)
		if err != nil {
			return usageError{err.Error()}
		}
		err = users.Load(f)
		f.Close()
		if err != nil {
			return usageError{fmt.Sprintf("%s: %v", *usersFile, err)}
		}
	}
	if users.Len() == 0 {
		return usageError{"no users: give --user UID:PASSWORD or --users FILE"}
	}
	pol, err := tpssim.ParsePolicy(*policy)
	if err != nil {
		return usageError{"--policy: " + err.Error()}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := tpssim.NewServer(tpssim.Config{
		StateDir:               *state,
		Users:                  users,
		Policy:                 pol,
		PlainHTTP:              *plain,
		PublicURL:              *publicURL,
		IssuerName:             *issuer,
		KeySize:                *keySize,
		MessageTimeout:         *timeout,
		AllowMultiActiveTokens: *multi,
		Logger:                 logger,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	scheme := "https"
	if *plain {
		scheme = "http"
	}
	base := *publicURL
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	fmt.Fprintf(env.Stdout, "TPS listening on %s%s\n", base, tpssim.PathOperation)
	fmt.Fprintf(env.Stdout, "phone home: %s%s\n", base, tpssim.PathPhoneHome)
	if !*plain {
		ca, _ := filepath.Abs(filepath.Join(*state, "ca.pem"))
		fmt.Fprintf(env.Stdout, "CA certificate: %s (clients: coolkey trust add %s)\n", ca, ca)
	}
	def, _ := tpssim.ParsePolicy(tpssim.DefaultPolicy)
	fmt.Fprintf(env.Stdout, "policy: %s\n", def.With(pol))

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
