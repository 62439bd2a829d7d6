package esccapi

import (
	"runtime"
	"sync"
)

// A callback into C runs on the goroutine of its operation or watch, whose
// OS thread stays locked for the call. If the C code calls back into the
// API from there, it does so on that same thread; so the thread ID tells a
// call that would wait for the very callback it runs in (a deadlock) from
// an ordinary one.

type callbackFrame struct {
	h         *Handle
	op, watch int
}

var running struct {
	mu    sync.Mutex
	byTID map[int][]callbackFrame
}

// runCallback calls f as a callback of h's operation op or watch.
func runCallback(h *Handle, op, watch int, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := threadID()
	if tid <= 0 {
		f()
		return
	}
	running.mu.Lock()
	if running.byTID == nil {
		running.byTID = map[int][]callbackFrame{}
	}
	running.byTID[tid] = append(running.byTID[tid], callbackFrame{h, op, watch})
	running.mu.Unlock()
	defer func() {
		running.mu.Lock()
		s := running.byTID[tid]
		if len(s) <= 1 {
			delete(running.byTID, tid)
		} else {
			running.byTID[tid] = s[:len(s)-1]
		}
		running.mu.Unlock()
	}()
	f()
}

// inCallbackOf reports whether the calling thread is inside a callback of
// h: of operation op when op is set, of watch when watch is set, of any of
// h's when both are 0.
func inCallbackOf(h *Handle, op, watch int) bool {
	tid := threadID()
	if tid <= 0 {
		return false
	}
	running.mu.Lock()
	defer running.mu.Unlock()
	for _, f := range running.byTID[tid] {
		if f.h != h {
			continue
		}
		switch {
		case op == 0 && watch == 0,
			op != 0 && f.op == op,
			watch != 0 && f.watch == watch:
			return true
		}
	}
	return false
}
