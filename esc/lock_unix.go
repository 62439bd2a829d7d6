//go:build unix

package esc

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

var errBusy = errors.New("an operation is already running on this card")

func tryLock(f *os.File) error       { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }
func tryLockShared(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) }
func unlockFile(f *os.File)          { unix.Flock(int(f.Fd()), unix.LOCK_UN) }
