package serve

import (
	"sync/atomic"
	"time"
)

// Stats counts what a served card received, as the card sees it: a
// benchmark compares modules by the APDUs that reach the card, whatever
// pcscd or a module's own counters say. Share one Stats between the
// Options of several servers to count them together. Its methods are safe
// for concurrent use; the zero value is ready.
type Stats struct {
	apdus    atomic.Uint64
	controls atomic.Uint64
	busy     atomic.Int64 // nanoseconds the card spent answering APDUs
}

// StatsSnapshot is the state of a Stats at one moment.
type StatsSnapshot struct {
	APDUs    uint64        // command APDUs, answered or not (no card)
	Controls uint64        // one-byte control frames (power, reset, ATR, transactions, state)
	CardTime time.Duration // time in the card answering APDUs, waits for another host's transaction included
}

// Snapshot returns the counts so far.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{APDUs: s.apdus.Load(), Controls: s.controls.Load(), CardTime: time.Duration(s.busy.Load())}
}

// Sub returns the counts between an earlier snapshot and this one.
func (a StatsSnapshot) Sub(earlier StatsSnapshot) StatsSnapshot {
	return StatsSnapshot{APDUs: a.APDUs - earlier.APDUs, Controls: a.Controls - earlier.Controls, CardTime: a.CardTime - earlier.CardTime}
}

func (s *Stats) control() {
	if s != nil {
		s.controls.Add(1)
	}
}

// apdu counts one command APDU answered in d.
func (s *Stats) apdu(d time.Duration) {
	if s != nil {
		s.apdus.Add(1)
		s.busy.Add(int64(d))
	}
}
