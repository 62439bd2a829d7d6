package coolkey

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
)

// cacheWriterEnv makes the test binary a cache writer (see
// TestCacheWriterChild): it writes entries into the named directory until
// it is killed.
const cacheWriterEnv = "COOLKEY_TEST_CACHE_WRITER"

// killEntry is the token a writer stores under version v: big enough that
// writes take a while, different for every version so that a torn write
// could not pass for a whole one.
func killEntry(v uint16) (cacheKey, *cachedToken) {
	cuid := cardedge.CUID{0x40, 0x90, 0x7A, 0x01, 0x00, 0x42, 0x12, 0x34, 0x56, 0x78}
	key := cacheKey{CUID: cuid, ObjectVersion: v, Prefix: []byte(fmt.Sprintf("prefix %d", v))}
	tok := &cachedToken{TokenName: fmt.Sprintf("token %d", v)}
	for i := 0; i < 40; i++ {
		val := []byte(strings.Repeat(fmt.Sprintf("%d/%d;", v, i), 200))
		tok.Objects = append(tok.Objects, cardedge.Object{
			ID:         cardedge.ObjectID(0x63300000 + uint32(i)<<16),
			Attributes: []cardedge.Attribute{cardedge.BytesAttr(cardedge.CKA_VALUE, val)},
		})
	}
	return key, tok
}

// TestCacheWriterChild is the child side of TestCacheSurvivesKill: it
// rewrites the cache entry of one CUID with versions 1, 2, 3, ... as fast
// as it can. It does nothing in a normal run.
func TestCacheWriterChild(t *testing.T) {
	dir := os.Getenv(cacheWriterEnv)
	if dir == "" {
		t.Skip("only as a child of TestCacheSurvivesKill")
	}
	c := openCache(dir, slog.New(slog.DiscardHandler))
	if c == nil {
		t.Fatal("cache unusable")
	}
	for v := uint16(1); ; v++ {
		key, tok := killEntry(v)
		c.put(key, tok)
	}
}

// A process writing the object cache is killed with SIGKILL at random
// moments, 40 times. After each kill the cache holds either nothing or a
// whole entry that one of the writes produced — never a torn one, whatever
// its checksum says — and the next write replaces it; the temporary files
// a killed writer leaves are never read as entries and go once they are a
// minute old.
func TestCacheSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills 40 processes")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	log := slog.New(slog.DiscardHandler)
	r := rand.New(rand.NewPCG(1, 2))
	kills, written := 40, 0
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheWriterChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), cacheWriterEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+r.IntN(80)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		c := openCache(dir, log)
		if c == nil {
			t.Fatalf("kill %d: the cache directory became unusable", i)
		}
		b, err := c.readFile(filepath.Join(dir, "40907a01004212345678"+cacheSuffix))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		// Entries are renamed into place whole: never a torn one.
		key, got, err := decodeCacheEntry(b)
		if err != nil {
			t.Fatalf("kill %d: the entry does not decode: %v", i, err)
		}
		wantKey, want := killEntry(key.ObjectVersion)
		if string(key.Prefix) != string(wantKey.Prefix) || got.TokenName != want.TokenName || len(got.Objects) != len(want.Objects) {
			t.Fatalf("kill %d: version %d came back as %q with %d objects", i, key.ObjectVersion, got.TokenName, len(got.Objects))
		}
		for j := range got.Objects {
			if string(got.Objects[j].Attributes[0].Bytes) != string(want.Objects[j].Attributes[0].Bytes) {
				t.Fatalf("kill %d: version %d object %d differs", i, key.ObjectVersion, j)
			}
		}
		if hit, ok := c.get(key); !ok || hit.TokenName != want.TokenName {
			t.Fatalf("kill %d: the entry is not served", i)
		}
		written++
	}
	if written < kills/2 {
		t.Fatalf("only %d of %d kills found an entry written", written, kills)
	}
	// Whatever the kills left, a write works and is read back.
	c := openCache(dir, log)
	key, tok := killEntry(9999)
	c.put(key, tok)
	if got, ok := c.get(key); !ok || got.TokenName != tok.TokenName {
		t.Fatal("the cache does not work after the kills")
	}
	ents, _ := os.ReadDir(dir)
	var tmps []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			tmps = append(tmps, e.Name())
		}
	}
	// Age the leftovers past the minute trim waits for; the next write
	// removes them.
	old := time.Now().Add(-2 * time.Minute)
	for _, n := range tmps {
		os.Chtimes(filepath.Join(dir, n), old, old)
	}
	c.put(killEntry(10000))
	for _, n := range tmps {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Errorf("temporary file %s left by a killed writer was not cleaned up", n)
		}
	}
	t.Logf("%d kills; %d temporary files left behind, all removed", kills, len(tmps))

	// A backend reading a real card through the battered cache gets the
	// card's objects.
	alice := buildToken(t, testtoken.Alice())
	if _, label := enumerate(t, dir, alice); label != "alice" {
		t.Errorf("token label %q after the kills", label)
	}
}
