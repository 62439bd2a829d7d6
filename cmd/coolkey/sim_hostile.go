package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/hostile"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

func init() {
	register(&command{
		Path:    []string{"sim", "card", "hostile"},
		Summary: "serve a virtual card that misbehaves on purpose (reliability testing)",
		Run:     runSimCardHostile,
	})
}

func runSimCardHostile(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "sim card hostile")
	image := fs.String("image", "", "card image `file` (required); it is read, never written")
	vpcdAddr := fs.String("vpcd", "", "connect to pcscd's vpcd driver at `addr` (default "+defaultVPCD+" when --listen is not given)")
	listen := fs.String("listen", "", "serve the socket transport on `addr` (host:port)")
	faults := fs.String("fault", "", "fault `SPEC` (see below)")
	z0 := fs.String("z0", "", "rewrite the card's z0 object: one of "+strings.Join(z0Names(), ", "))
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: coolkey sim card hostile --image FILE [--vpcd ADDR | --listen ADDR] [--fault SPEC] [--z0 NAME]")
		fmt.Fprintln(env.Stderr, "Serves the card as 'sim card serve' does, through a proxy that spoils its answers.")
		fmt.Fprintln(env.Stderr, "Runs until SIGINT or SIGTERM; SIGUSR1 removes or re-inserts the card.")
		fs.PrintDefaults()
		fmt.Fprintln(env.Stderr)
		fmt.Fprintln(env.Stderr, hostile.SpecHelp)
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
	if *faults == "" && *z0 == "" {
		return usageError{"give --fault, --z0 or both"}
	}
	if *vpcdAddr != "" && *listen != "" {
		return usageError{"give --vpcd or --listen, not both"}
	}
	if *vpcdAddr == "" && *listen == "" {
		*vpcdAddr = defaultVPCD
	}
	img, err := vcard.LoadImage(*image)
	if err != nil {
		return err
	}
	if *z0 != "" {
		f, ok := hostile.Z0Faults[*z0]
		if !ok {
			return usageError{fmt.Sprintf("--z0 %q: not one of %s", *z0, strings.Join(z0Names(), ", "))}
		}
		if img, err = hostile.WithZ0(img, f); err != nil {
			return err
		}
	}
	card, err := vcard.New(img, vcard.Options{})
	if err != nil {
		return err
	}
	slot := vcard.NewSlot(card)
	proxy := &hostile.Proxy{Logf: func(format string, a ...any) {
		fmt.Fprintf(env.Stderr, "coolkey sim card hostile: "+format+"\n", a...)
	}}
	if *faults != "" {
		f, err := hostile.ParseFaults(*faults, slot)
		if err != nil {
			return usageError{"--fault: " + err.Error()}
		}
		proxy.SetFault(f)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &lineWriter{w: env.Stdout}
	// The card listens on a loopback port of its own; the proxy stands
	// where hosts (or vpcd) meet the card.
	cardLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	servers := newServerGroup()
	if *listen != "" {
		hostLn, err := net.Listen("tcp", *listen)
		if err != nil {
			cardLn.Close()
			return err
		}
		where := "socket " + hostLn.Addr().String()
		announce(out, slot, where)
		servers.run(func() error { return serve.Listen(ctx, slot, cardLn, serve.Options{}) })
		servers.run(func() error { return proxy.ServeHosts(ctx, hostLn, cardLn.Addr().String()) })
		servers.run(func() error { watchSlot(ctx, slot, out, where); return nil })
	} else {
		where := "vpcd " + *vpcdAddr
		servers.run(func() error { return proxy.ServeCard(ctx, cardLn, *vpcdAddr) })
		servers.run(func() error {
			return serve.VPCD(ctx, slot, cardLn.Addr().String(), serve.Options{
				Connected:    func(string) { out.printf("card inserted: %s (%s)", *image, where) },
				Disconnected: func(string) { out.printf("card removed: %s (%s)", *image, where) },
			})
		})
	}
	stopToggling := toggleOnSIGUSR1(ctx, slot)
	defer stopToggling()
	return servers.wait(ctx, stop)
}

func z0Names() []string {
	var names []string
	for n := range hostile.Z0Faults {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
