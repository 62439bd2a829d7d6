//go:build !unix

package esc

import (
	"errors"
	"os"
)

var errBusy = errors.New("an operation is already running on this card")

// Without flock, BUSY is not reported across processes; the card's own
// transaction still serialises operations.
func tryLock(*os.File) error       { return nil }
func tryLockShared(*os.File) error { return nil }
func unlockFile(*os.File)          {}
