package coolkey

import (
	"testing"

	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// Object handles are never reused within a process, not even across
// C_Finalize and C_Initialize (a new Backend): a handle an application kept
// must not name an object of the next initialization (found by
// reliability's API misuse test, where the old key handle still signed).
func TestHandlesNotReusedAcrossFinalize(t *testing.T) {
	r := newRig(t, "", buildToken(t, testtoken.Alice()))
	s := r.open(false)
	first := map[p11.ObjectHandle]bool{}
	for _, h := range find(t, s) {
		first[h] = true
	}
	r.restart()
	s = r.open(false)
	for _, h := range find(t, s) {
		if first[h] {
			t.Fatalf("handle %d handed out again after a restart", h)
		}
	}
	if len(first) == 0 {
		t.Fatal("no objects")
	}
}
