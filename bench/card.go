package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
	"github.com/coolkey-go/coolkey-go/internal/testca"
	"github.com/coolkey-go/coolkey-go/vcard"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
	"github.com/coolkey-go/coolkey-go/vcard/serve"
)

const (
	// vpcdLock is the machine-wide lock everyone serving a card on vpcd
	// holds (brief: "Contracts already fixed").
	vpcdLock   = "/tmp/coolkey-go-vpcd.lock"
	vpcdAddr   = "127.0.0.1:35963"
	readerName = "Virtual PCD 00 00"
	vpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

	// The card judges.md measured: user alice, this CUID, PIN 123456.
	benchCUID = "40907A01004212345678"
	benchUser = "alice"
	benchPIN  = "123456"
)

// lockVPCD takes the vpcd flock, waiting up to wait for another holder. The
// lock lasts until the returned file is closed.
func lockVPCD(wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(vpcdLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%s is held by someone else after %v", vpcdLock, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ensurePCSCD starts pcscd with the vpcd driver (build/pcscd.sh) unless it
// already lists the vpcd reader.
func ensurePCSCD(root string) error {
	if _, err := os.Stat(vpcdDriver); err != nil {
		return fmt.Errorf("the vpcd driver is not installed (build/install-deps.sh): %w", err)
	}
	if readerState(readerName) != absent {
		return nil
	}
	out, err := exec.Command(filepath.Join(root, "build", "pcscd.sh"), "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build/pcscd.sh start: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for readerState(readerName) == absent {
		if time.Now().After(deadline) {
			return fmt.Errorf("pcscd runs but lists no %q reader", readerName)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

type presence int

const (
	absent presence = iota // no such reader
	empty
	present
)

func readerState(name string) presence {
	src := pcsc.NewSource()
	defer src.Close()
	readers, err := src.Readers()
	if err != nil {
		return absent
	}
	for _, r := range readers {
		if r.Name == name {
			if r.CardPresent {
				return present
			}
			return empty
		}
	}
	return absent
}

func waitReader(want presence, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for readerState(readerName) != want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%q did not become %v within %v", readerName, map[presence]string{empty: "empty", present: "present"}[want], timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// benchCard is a card image and what the targets need to know about it.
type benchCard struct {
	name   string
	image  *vcard.Image
	z0Size int // bytes of z0 as its header gives them (0 on a formatted card)
}

// enrolledCard builds an enrolled card in the Dogtag layout with the given
// keys, its certificates issued by the CA in caDir.
func enrolledCard(name, caDir string, keys ...provision.KeySpec) (*benchCard, error) {
	ca, err := testca.LoadOrCreate(caDir)
	if err != nil {
		return nil, err
	}
	cuid, err := cardedge.ParseCUID(benchCUID)
	if err != nil {
		return nil, err
	}
	img, err := provision.NewImage(provision.Options{
		State: provision.Enrolled, CUID: cuid, User: benchUser, PIN: []byte(benchPIN), Keys: keys, CA: ca,
	})
	if err != nil {
		return nil, err
	}
	c := &benchCard{name: name, image: img}
	for _, o := range img.Applet.Objects {
		if uint32(o.ID) == uint32(cardedge.CombinedObjectID) {
			h, err := cardedge.ParseCombinedHeader(o.Data)
			if err != nil {
				return nil, err
			}
			c.z0Size = h.Size()
		}
	}
	if c.z0Size == 0 {
		return nil, errors.New("the enrolled image has no z0")
	}
	return c, nil
}

// servedCard is a card in vpcd's first reader, served by this process and
// counted on the card's side.
type servedCard struct {
	stats  *serve.Stats
	cancel context.CancelFunc
	done   chan error
}

// serveCard inserts the image in "Virtual PCD 00 00" and waits until PC/SC
// sees it. Changes the card makes stay in memory (or go to store).
func serveCard(img *vcard.Image, store vcard.Store, logf func(string, ...any)) (*servedCard, error) {
	if err := waitReader(empty, 15*time.Second); err != nil {
		return nil, fmt.Errorf("a card is already in the reader: %w", err)
	}
	card, err := vcard.New(img, vcard.Options{Store: store})
	if err != nil {
		return nil, err
	}
	slot := vcard.NewSlot(card)
	ctx, cancel := context.WithCancel(context.Background())
	s := &servedCard{stats: &serve.Stats{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- serve.VPCD(ctx, slot, vpcdAddr, serve.Options{Logf: logf, Stats: s.stats}) }()
	if err := waitReader(present, 20*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop removes the card and waits until PC/SC has seen it go.
func (s *servedCard) stop() error {
	s.cancel()
	err := <-s.done
	if werr := waitReader(empty, 15*time.Second); err == nil {
		err = werr
	}
	return err
}
