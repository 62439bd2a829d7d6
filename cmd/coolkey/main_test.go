package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Every command reports a flag it does not know as a usage error (exit 2),
// and -h is not an error.
func TestBadFlagsExitTwo(t *testing.T) {
	for _, c := range commands {
		name := strings.Join(c.Path, " ")
		var stdout, stderr bytes.Buffer
		env := &cliEnv{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: os.Getenv}
		args := append(append([]string(nil), c.Path...), "--no-such-flag")
		if code := run(env, args); code != 2 || !strings.Contains(stderr.String(), "flag provided but not defined") {
			t.Errorf("coolkey %s --no-such-flag: exit %d, stderr %q; want 2 and the flag named", name, code, stderr.String())
		}
		stderr.Reset()
		if code := run(env, append(append([]string(nil), c.Path...), "-h")); code != 0 {
			t.Errorf("coolkey %s -h: exit %d, want 0", name, code)
		}
	}
}
