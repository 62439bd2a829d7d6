package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestUIRefusesNonLoopback: neither the Smart Card Manager nor the
// watcher's copy of it listens where other machines could reach it.
func TestUIRefusesNonLoopback(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{
		{"ui", "--listen", "0.0.0.0:0"},
		{"ui", "--listen", ":0"},
		{"ui", "--listen", "[::]:0"},
		{"ui", "--listen", "192.0.2.1:8080"},
		{"ui", "--listen", "example.com:0"},
		{"watch", "--open", "--listen", "0.0.0.0:0"},
	} {
		var out, errb bytes.Buffer
		env := &cliEnv{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			switch k {
			case "HOME":
				return home
			case "COOLKEY_PCSC":
				return "off"
			}
			return ""
		}}
		code := run(env, args)
		if code != 2 || !strings.Contains(errb.String(), "loopback only") || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
}
