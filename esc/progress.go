package esc

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/coolkey-go/coolkey-go/tps"
)

// TaskText is what a progress task name means to a user.
func TaskText(task string) string {
	switch task {
	case tps.TaskAppletBlock:
		return "Installing the card software"
	case tps.TaskDone:
		return "Done"
	case tps.TaskProcessProfile:
		return "Processing the token profile"
	case tps.TaskKeyGeneration:
		return "Generating keys on the card"
	case tps.TaskEnrollCert:
		return "Obtaining certificates"
	case tps.TaskWriteObjects:
		return "Writing certificates to the card"
	case tps.TaskIssuerInfo:
		return "Writing issuer information"
	case tps.TaskSetLifecycle:
		return "Finalizing the card"
	case tps.TaskDoneEnrollment:
		return "Enrollment complete"
	case tps.TaskStartPINReset:
		return "Starting the PIN reset"
	case tps.TaskPINResetResolveProfile:
		return "Checking the token profile"
	case tps.TaskPINResetComplete:
		return "PIN reset complete"
	}
	return task
}

// ProgressBar renders STATUS_UPDATE progress. On a terminal it redraws
// one line ("[#####-----]  50% Generating keys on the card"); elsewhere
// (a log, a pipe) it prints a line per change.
type ProgressBar struct {
	w        io.Writer
	terminal bool
	width    int

	mu      sync.Mutex
	drawn   bool // a bar line is on screen without its newline
	lastPct int
	last    string
}

// NewProgressBar writes to w; terminal says whether w is a terminal.
func NewProgressBar(w io.Writer, terminal bool) *ProgressBar {
	return &ProgressBar{w: w, terminal: terminal, width: 30, lastPct: -1}
}

// Update shows percent and task.
func (p *ProgressBar) Update(percent int, task string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	percent = min(max(percent, 0), 100)
	text := TaskText(task)
	if percent == p.lastPct && text == p.last {
		return
	}
	p.lastPct, p.last = percent, text
	if !p.terminal {
		fmt.Fprintf(p.w, "progress: %3d%% %s\n", percent, text)
		return
	}
	filled := percent * p.width / 100
	bar := strings.Repeat("#", filled) + strings.Repeat("-", p.width-filled)
	// \r and a clear-to-end-of-line: the previous task text may be
	// longer.
	fmt.Fprintf(p.w, "\r[%s] %3d%% %s\x1b[K", bar, percent, text)
	p.drawn = true
}

// Break ends the bar's line so that something else (a prompt, a message)
// can be written; the next Update draws a new bar.
func (p *ProgressBar) Break() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
	p.lastPct, p.last = -1, ""
}
