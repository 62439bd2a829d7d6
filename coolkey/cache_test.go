package coolkey

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/coolkey/internal/testtoken"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// coldAPDUs is what a cache miss costs for tok.
func coldAPDUs(t *testing.T, tok *testtoken.Token) uint64 {
	h, err := cardedge.ParseCombinedHeader(tok.Z0)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(2 + (h.Size()+254)/255)
}

// enumerate starts a backend on tok with the cache in dir and returns the
// APDUs the first listing cost and the token label.
func enumerate(t *testing.T, dir string, tok *testtoken.Token) (uint64, string) {
	t.Helper()
	r := newRig(t, dir, tok)
	n := apdus(func() { r.slotIDs() })
	ti, err := r.b.TokenInfo(1)
	if err != nil {
		t.Fatal(err)
	}
	r.b.Finalize()
	r.b = nil
	return n, ti.Label
}

func cacheFile(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "40907a01004212345678"+cacheSuffix)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("cache file: %v", err)
	}
	return p
}

func TestCacheHitMissAndValidation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	alice := buildToken(t, testtoken.Alice())
	cold := coldAPDUs(t, alice)

	if n, _ := enumerate(t, dir, alice); n != cold {
		t.Errorf("first insertion: %d APDUs, want %d", n, cold)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory %v, %v", fi.Mode(), err)
	}
	if fi, _ := os.Stat(cacheFile(t, dir)); fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v", fi.Mode())
	}
	if n, _ := enumerate(t, dir, alice); n != 3 {
		t.Errorf("same card again: %d APDUs, want 3", n)
	}

	// A new z0 version of the same card is read in full.
	spec := testtoken.Alice()
	spec.ObjectVersion++
	spec.Name = "alice2"
	v2 := buildToken(t, spec)
	if n, label := enumerate(t, dir, v2); n != coldAPDUs(t, v2) || label != "alice2" {
		t.Errorf("new version: %d APDUs, label %q", n, label)
	}
	// A z0 rewritten without a version bump is caught by its first chunk.
	spec.Name = "alice3"
	same := buildToken(t, spec)
	if n, label := enumerate(t, dir, same); n != coldAPDUs(t, same) || label != "alice3" {
		t.Errorf("rewritten z0, same version: %d APDUs, label %q", n, label)
	}
	if n, label := enumerate(t, dir, same); n != 3 || label != "alice3" {
		t.Errorf("after rewrite: %d APDUs, label %q", n, label)
	}
}

func TestCacheIgnoresBadFiles(t *testing.T) {
	alice := buildToken(t, testtoken.Alice())
	cold := coldAPDUs(t, alice)
	for _, tc := range []struct {
		name    string
		spoil   func(t *testing.T, dir, file string)
		warmAgn bool // whether the module can use the cache after rewriting
	}{
		{"corrupt", func(t *testing.T, dir, file string) {
			b, _ := os.ReadFile(file)
			b[len(b)/2] ^= 1
			os.WriteFile(file, b, 0o600)
		}, true},
		{"truncated", func(t *testing.T, dir, file string) {
			b, _ := os.ReadFile(file)
			os.WriteFile(file, b[:len(b)-40], 0o600)
		}, true},
		{"readable by others", func(t *testing.T, dir, file string) {
			os.Chmod(file, 0o644)
		}, true},
		{"symlink", func(t *testing.T, dir, file string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			b, _ := os.ReadFile(file)
			os.WriteFile(target, b, 0o600)
			os.Remove(file)
			os.Symlink(target, file)
		}, true},
		{"hard link", func(t *testing.T, dir, file string) {
			os.Link(file, filepath.Join(t.TempDir(), "other"))
		}, true},
		{"owned by someone else", func(t *testing.T, dir, file string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give the file away")
			}
			os.Chown(file, 4242, 4242)
		}, true},
		{"directory owned by someone else", func(t *testing.T, dir, file string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give the directory away")
			}
			os.Chown(dir, 4242, 4242)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			enumerate(t, dir, alice)
			tc.spoil(t, dir, cacheFile(t, dir))
			if n, label := enumerate(t, dir, alice); n != cold || label != "alice" {
				t.Errorf("spoilt cache: %d APDUs (want %d), label %q", n, cold, label)
			}
			want := uint64(3)
			if !tc.warmAgn {
				want = cold
			}
			if n, _ := enumerate(t, dir, alice); n != want {
				t.Errorf("after the miss: %d APDUs, want %d", n, want)
			}
		})
	}
}

// A directory with loose permissions is ours: it is tightened.
func TestCacheDirectoryTightened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	c := openCache(dir, slog.New(slog.DiscardHandler))
	if c == nil {
		t.Fatal("cache refused a directory it owns")
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	// A symlink in place of the directory is refused.
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	if openCache(link, slog.New(slog.DiscardHandler)) != nil {
		t.Error("cache accepted a symlinked directory")
	}
	// So is a file.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if openCache(file, slog.New(slog.DiscardHandler)) != nil {
		t.Error("cache accepted a file")
	}
}

func TestCacheBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c := openCache(dir, slog.New(slog.DiscardHandler))
	tok := &cachedToken{TokenName: "x", Objects: []cardedge.Object{{ID: 1, Attributes: []cardedge.Attribute{cardedge.StringAttr(cardedge.CKA_LABEL, "l")}}}}
	for i := 0; i < maxCacheEntries+10; i++ {
		c.put(cacheKey{CUID: cardedge.CUID{byte(i)}, ObjectVersion: 1, Prefix: []byte{1}}, tok)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != maxCacheEntries {
		t.Errorf("%d cache files, want %d", len(ents), maxCacheEntries)
	}
	// An entry too large to keep is not written.
	big := &cachedToken{Objects: []cardedge.Object{{Attributes: []cardedge.Attribute{cardedge.BytesAttr(cardedge.CKA_VALUE, make([]byte, maxCacheFile))}}}}
	key := cacheKey{CUID: cardedge.CUID{0xEE}, ObjectVersion: 1}
	c.put(key, big)
	if _, ok := c.get(key); ok {
		t.Error("oversized entry cached")
	}
	// A round trip keeps everything.
	key = cacheKey{CUID: cardedge.CUID{0xAB}, ObjectVersion: 7, Prefix: bytes.Repeat([]byte{9}, 255)}
	c.put(key, tok)
	got, ok := c.get(key)
	if !ok || got.TokenName != "x" || len(got.Objects) != 1 || !got.Objects[0].Attributes[0].Equal(tok.Objects[0].Attributes[0]) {
		t.Errorf("round trip: %+v %v", got, ok)
	}
	key.Prefix = append([]byte(nil), key.Prefix...)
	key.Prefix[254] = 8
	if _, ok := c.get(key); ok {
		t.Error("entry used although the first chunk differs")
	}
}

// With the cache off, every process reads z0 in full.
func TestCacheDisabled(t *testing.T) {
	alice := buildToken(t, testtoken.Alice())
	for i := 0; i < 2; i++ {
		r := newRig(t, "", alice)
		r.b.Finalize()
		r.b = newBackend(config{dynamic: r.src})
		r.b.Initialize(p11.InitOptions{})
		if n := apdus(func() { r.slotIDs() }); n != coldAPDUs(t, alice) {
			t.Errorf("run %d: %d APDUs", i, n)
		}
	}
}

func FuzzDecodeCacheEntry(f *testing.F) {
	tok := &cachedToken{TokenName: "alice", Objects: []cardedge.Object{{ID: cardedge.NewObjectID('c', 1), Attributes: []cardedge.Attribute{
		cardedge.UlongAttr(cardedge.CKA_CLASS, 1), cardedge.BoolAttr(cardedge.CKA_TOKEN, true), cardedge.StringAttr(cardedge.CKA_LABEL, "x"),
	}}}}
	b, _ := encodeCacheEntry(cacheKey{CUID: testtoken.AliceCUID, ObjectVersion: 3, Prefix: []byte{1, 0, 0, 3}}, tok)
	f.Add(b)
	f.Add([]byte(cacheMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		key, tok, err := decodeCacheEntry(b)
		if err != nil {
			return
		}
		// What decodes must build a table without panicking.
		(&objectBuilder{newHandle: func() p11.ObjectHandle { return 1 }, log: slog.New(slog.DiscardHandler)}).build(tok.Objects, "r", nil)
		b2, err := encodeCacheEntry(key, tok)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := decodeCacheEntry(b2); err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
	})
}

func ExampleAPDUCount() {
	before := APDUCount()
	// ... drive the module ...
	fmt.Println(APDUCount() - before)
	// Output: 0
}
