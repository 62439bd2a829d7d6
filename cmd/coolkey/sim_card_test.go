package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/vcard"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = run(env, args)
	return out.String(), errb.String(), code
}

func TestSimCardNew(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "card.json")
	out, errs, code := runCLI(t, "sim", "card", "new", "--image", img, "--state", "enrolled",
		"--user", "carol", "--pin", "2468", "--keys", "rsa1024,ec256", "--cuid", "40907A01004212345678")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "CUID 40907A01004212345678") || !strings.Contains(out, filepath.Join(dir, "ca", "ca.pem")) {
		t.Fatalf("output %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca", "ca.pem")); err != nil {
		t.Fatal(err)
	}
	parsed, err := vcard.LoadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Applet.LifeCycle != 0x0F || len(parsed.Applet.PINs) != 1 || len(parsed.Applet.Keys) != 4 {
		t.Fatalf("image %+v", parsed.Applet)
	}
	raw, _ := os.ReadFile(img)
	if bytes.Contains(raw, []byte("2468")) {
		t.Fatal("the PIN is in the image in clear")
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--state", "blank"}, 2, "--image is required"},
		{[]string{"--image", img}, 2, "--state is required"},
		{[]string{"--image", img, "--state", "used"}, 2, "not blank, formatted or enrolled"},
		{[]string{"--image", img, "--state", "enrolled", "--keys", "dsa1024"}, 2, "dsa1024"},
		{[]string{"--image", img, "--state", "enrolled", "--pin", "12", "--ca-dir", filepath.Join(dir, "ca")}, 1, "PIN"},
		{[]string{"--image", img, "--state", "blank", "--cuid", "1234"}, 2, "CUID"},
	} {
		_, errs, code := runCLI(t, append([]string{"sim", "card", "new"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}

	for _, state := range []string{"blank", "formatted"} {
		p := filepath.Join(dir, state+".json")
		if _, errs, code := runCLI(t, "sim", "card", "new", "--image", p, "--state", state); code != 0 {
			t.Fatalf("%s: %s", state, errs)
		}
		if _, err := vcard.LoadImage(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSimCardCtl(t *testing.T) {
	img, err := vcard.New(vcard.BlankImage(make([]byte, 42)), vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slot := vcard.NewSlot(img)
	sock := filepath.Join(t.TempDir(), "ctl")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go serveControl(ctx, slot, ln)
	for _, tc := range []struct{ cmd, want string }{
		{"status", "inserted 1"},
		{"remove", "removed 1"},
		{"remove", "removed 1"},
		{"toggle", "inserted 2"},
		{"insert", "inserted 2"},
	} {
		out, errs, code := runCLI(t, "sim", "card", "ctl", "--control", sock, tc.cmd)
		if code != 0 || strings.TrimSpace(out) != tc.want {
			t.Fatalf("%s: %q %q (exit %d), want %q", tc.cmd, out, errs, code, tc.want)
		}
	}
	if _, errs, code := runCLI(t, "sim", "card", "ctl", "--control", sock, "shake"); code != 1 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown command: %q exit %d", errs, code)
	}
}
