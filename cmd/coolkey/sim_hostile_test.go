package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSimCardHostileUsage(t *testing.T) {
	img := filepath.Join(t.TempDir(), "card.json")
	if _, errs, code := runCLI(t, "sim", "card", "new", "--image", img, "--state", "blank"); code != 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--image is required"},
		{[]string{"--image", img}, "give --fault, --z0 or both"},
		{[]string{"--image", img, "--fault", "bogus"}, "unknown fault"},
		{[]string{"--image", img, "--fault", "remove@0"}, "WHEN is N"},
		{[]string{"--image", img, "--z0", "nuke"}, "not one of"},
		{[]string{"--image", img, "--fault", "drop", "--vpcd", "x:1", "--listen", "y:2"}, "not both"},
	} {
		_, errs, code := runCLI(t, append([]string{"sim", "card", "hostile"}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	// A blank card has no z0 to rewrite.
	if _, errs, code := runCLI(t, "sim", "card", "hostile", "--image", img, "--z0", "bomb"); code == 0 || !strings.Contains(errs, "no applet") {
		t.Errorf("--z0 on a blank card: exit %d, %q", code, errs)
	}
}
