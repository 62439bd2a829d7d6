package esc

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := NewProgressBar(&b, false)
	p.Update(10, "PROGRESS_PROCESS_PROFILE")
	p.Update(10, "PROGRESS_PROCESS_PROFILE")
	p.Update(150, "CUSTOM_TASK")
	if got := b.String(); got != "progress:  10% Processing the token profile\nprogress: 100% CUSTOM_TASK\n" {
		t.Errorf("plain output %q", got)
	}
	b.Reset()
	p = NewProgressBar(&b, true)
	p.Update(50, "PROGRESS_KEY_GENERATION")
	p.Break()
	if got := b.String(); !strings.HasPrefix(got, "\r[###############---------------]  50% Generating keys on the card") || !strings.HasSuffix(got, "\n") {
		t.Errorf("terminal output %q", got)
	}
}
