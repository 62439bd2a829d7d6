package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

func init() {
	register(&command{
		Path:    []string{"sim", "card", "new"},
		Summary: "create a virtual card image (blank, formatted or enrolled)",
		Run:     runSimCardNew,
	})
	register(&command{
		Path:    []string{"sim", "card", "serve"},
		Summary: "serve a virtual card to pcscd (vpcd) or on a socket",
		Run:     runSimCardServe,
	})
	register(&command{
		Path:    []string{"sim", "card", "ctl"},
		Summary: "insert, remove or query a served virtual card",
		Run:     runSimCardCtl,
	})
}

// defaultVPCD is the address of vpcd's first reader, "Virtual PCD 00 00".
const defaultVPCD = "127.0.0.1:35963"

func runSimCardNew(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "sim card new")
	image := fs.String("image", "", "card image `file` to write (required)")
	state := fs.String("state", "", "blank, formatted or enrolled (required)")
	user := fs.String("user", "alice", "user `name` of an enrolled card (token name, certificate UID)")
	pin := fs.String("pin", "123456", "user `PIN` of an enrolled card, 4 to 16 characters")
	noPIN := fs.Bool("no-pin", false, "create no PIN: the keys work without login")
	pinTries := fs.Int("pin-tries", 127, "PIN tries before the PIN blocks (the TPS uses 127)")
	keys := fs.String("keys", "rsa2048,rsa2048", "key pairs of an enrolled card: comma-separated rsa1024, rsa2048, ec256 (signing key first, then encryption key)")
	caDir := fs.String("ca-dir", "", "`directory` of the test CA that issues the certificates, created if missing; ca.pem is the certificate to trust (default: ca/ next to the image)")
	cuid := fs.String("cuid", "", "card unique ID, 20 hex digits (default: random, fabricator 4090)")
	heap := fs.Int("heap-size", 0, "applet object heap in bytes (default 5000, grown to fit z0)")
	issuer := fs.String("issuer-info", "", "issuer info (phone-home URL) to store on the card")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey sim card new --image FILE --state blank|formatted|enrolled [--user NAME] [--pin PIN] [--keys rsa2048,rsa2048] [--no-pin] [--ca-dir DIR]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *image == "" {
		return usageError{"--image is required"}
	}
	if *state == "" {
		return usageError{"--state is required"}
	}
	st, err := provision.ParseState(*state)
	if err != nil {
		return usageError{err.Error()}
	}
	opts := provision.Options{State: st, HeapSize: *heap, IssuerInfo: *issuer}
	if *cuid != "" {
		if opts.CUID, err = cardedge.ParseCUID(*cuid); err != nil {
			return usageError{err.Error()}
		}
	}
	if st == provision.Enrolled {
		specs, err := provision.ParseKeySpecs(*keys)
		if err != nil {
			return usageError{err.Error()}
		}
		dir := *caDir
		if dir == "" {
			dir = filepath.Join(filepath.Dir(*image), "ca")
		}
		ca, err := testca.LoadOrCreate(dir)
		if err != nil {
			return fmt.Errorf("test CA in %s: %w", dir, err)
		}
		opts.User, opts.Keys, opts.CA = *user, specs, ca
		opts.NoPIN, opts.PINTries = *noPIN, *pinTries
		if !*noPIN {
			opts.PIN = []byte(*pin)
		}
	}
	img, err := provision.NewImage(opts)
	if err != nil {
		return err
	}
	if err := vcard.WriteImage(*image, img); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %s card, CUID %s", *image, st, cuidOf(img))
	if st == provision.Enrolled {
		fmt.Fprintf(env.Stdout, ", user %s, keys %s", *user, *keys)
		if *noPIN {
			fmt.Fprint(env.Stdout, ", no PIN")
		}
		fmt.Fprintf(env.Stdout, ", CA %s", filepath.Join(opts.CA.Dir, testca.CertFile))
	}
	fmt.Fprintln(env.Stdout)
	return nil
}

func cuidOf(img *vcard.Image) string {
	cplc, err := cardedge.ParseCPLC(append([]byte{0x9F, 0x7F, byte(len(img.CPLC))}, img.CPLC...))
	if err != nil {
		return "?"
	}
	return cplc.CUID().String()
}

func runSimCardServe(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "sim card serve")
	image := fs.String("image", "", "card image `file` (required); every change the card persists is written back to it")
	vpcdAddr := fs.String("vpcd", "", "connect to pcscd's vpcd driver at `addr` (default "+defaultVPCD+", reader \"Virtual PCD 00 00\", when --listen is not given; :35964 is \"Virtual PCD 00 01\")")
	listen := fs.String("listen", "", "serve the socket transport on `addr` (host:port; port 0 picks one)")
	control := fs.String("control", "", "unix socket `path` taking control commands: insert, remove, toggle, status")
	removed := fs.Bool("removed", false, "start with the card removed")
	delay := fs.Duration("wrong-pin-delay", 0, "how long the card is busy after a wrong PIN (a real card: about 1s)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey sim card serve --image FILE [--vpcd 127.0.0.1:35963] [--listen ADDR] [--control PATH]")
		fmt.Fprintln(env.Stderr, "Runs until SIGINT or SIGTERM. SIGUSR1 removes or re-inserts the card.")
		fmt.Fprintln(env.Stderr, "Hold the vpcd lock while serving there: flock /tmp/coolkey-go-vpcd.lock coolkey sim card serve ...")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *image == "" {
		return usageError{"--image is required"}
	}
	if *vpcdAddr == "" && *listen == "" {
		*vpcdAddr = defaultVPCD
	}
	store := vcard.FileStore{Path: *image}
	img, err := store.Load()
	if err != nil {
		return err
	}
	card, err := vcard.New(img, vcard.Options{Store: store, WrongPINDelay: *delay})
	if err != nil {
		return err
	}
	slot := vcard.NewSlot(card)
	if *removed {
		slot.Remove()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &lineWriter{w: env.Stdout}
	logf := func(format string, a ...any) { fmt.Fprintf(env.Stderr, "coolkey sim card serve: "+format+"\n", a...) }
	opts := serve.Options{Logf: logf}

	servers := newServerGroup()
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		where := "socket " + ln.Addr().String()
		announce(out, slot, where)
		servers.run(func() error { return serve.Listen(ctx, slot, ln, opts) })
		servers.run(func() error { watchSlot(ctx, slot, out, where); return nil })
	}
	if *vpcdAddr != "" {
		o := opts
		where := "vpcd " + *vpcdAddr
		o.Connected = func(string) { out.printf("card inserted: %s (%s)", *image, where) }
		o.Disconnected = func(string) { out.printf("card removed: %s (%s)", *image, where) }
		servers.run(func() error { return serve.VPCD(ctx, slot, *vpcdAddr, o) })
	}
	if *control != "" {
		os.Remove(*control) // a stale socket from a killed server
		ln, err := net.Listen("unix", *control)
		if err != nil {
			stop()
			servers.wg.Wait()
			return err
		}
		defer os.Remove(*control)
		servers.run(func() error { return serveControl(ctx, slot, ln) })
	}
	stopToggling := toggleOnSIGUSR1(ctx, slot)
	defer stopToggling()
	return servers.wait(ctx, stop)
}

// serverGroup runs the goroutines that serve a card until the first of
// them fails or the command is stopped.
type serverGroup struct {
	wg    sync.WaitGroup
	first chan error // holds the first failure; later ones are dropped
}

func newServerGroup() *serverGroup { return &serverGroup{first: make(chan error, 1)} }

func (g *serverGroup) run(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			select {
			case g.first <- err:
			default:
			}
		}
	}()
}

// wait blocks until ctx ends or a server fails, in which case it calls
// stop (which must end ctx); it returns once every server has returned,
// with the failure if there was one.
func (g *serverGroup) wait(ctx context.Context, stop func()) error {
	var first error
	select {
	case <-ctx.Done():
	case first = <-g.first:
		stop()
	}
	g.wg.Wait()
	return first
}

// toggleOnSIGUSR1 removes or re-inserts the card on every SIGUSR1 until ctx
// ends. The returned function stops listening for the signal.
func toggleOnSIGUSR1(ctx context.Context, slot *vcard.Slot) func() {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for {
			select {
			case <-usr1:
				slot.Toggle()
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { signal.Stop(usr1) }
}

// announce prints the insertion line for a socket-served card.
func announce(out *lineWriter, slot *vcard.Slot, where string) {
	if present, _ := slot.State(); present {
		out.printf("card inserted: %s", where)
	}
}

// watchSlot reports insertions and removals of a socket-served card (vpcd
// reports its own, when pcscd has seen them).
func watchSlot(ctx context.Context, slot *vcard.Slot, out *lineWriter, where string) {
	for {
		select {
		case <-slot.Changed():
			if present, _ := slot.State(); present {
				out.printf("card inserted: %s", where)
			} else {
				out.printf("card removed: %s", where)
			}
		case <-ctx.Done():
			return
		}
	}
}

// lineWriter serialises status lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", a...)
}

// serveControl answers one-line commands on the control socket.
func serveControl(ctx context.Context, slot *vcard.Slot, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				fmt.Fprintln(conn, controlCommand(slot, strings.TrimSpace(sc.Text())))
			}
		}()
	}
}

func controlCommand(slot *vcard.Slot, cmd string) string {
	switch cmd {
	case "insert":
		slot.Insert()
	case "remove":
		slot.Remove()
	case "toggle":
		slot.Toggle()
	case "status":
	default:
		return "error: unknown command " + strconvQuote(cmd) + " (insert, remove, toggle, status)"
	}
	present, counter := slot.State()
	state := "removed"
	if present {
		state = "inserted"
	}
	return fmt.Sprintf("%s %d", state, counter)
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

func runSimCardCtl(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "sim card ctl")
	control := fs.String("control", "", "control socket `path` of a running 'coolkey sim card serve' (required)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey sim card ctl --control PATH insert|remove|toggle|status")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *control == "" || fs.NArg() != 1 {
		fs.Usage()
		return usageError{"need --control and one command"}
	}
	conn, err := net.DialTimeout("unix", *control, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(conn, fs.Arg(0)); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "error: ") {
		return errors.New(strings.TrimPrefix(line, "error: "))
	}
	fmt.Fprintln(env.Stdout, line)
	return nil
}
