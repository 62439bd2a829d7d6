//go:build !linux

package esccapi

// threadID is unknown here: the in-callback checks are off, and a call
// that waits for its own callback deadlocks as the header warns.
func threadID() int { return 0 }
