package coolkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// objectCache keeps the decoded z0 objects of the tokens this user has seen,
// so that the next process (or the next insertion) needs only the APDUs that
// prove the card still holds the same z0: SELECT, GET LIFE CYCLE and the
// first READ OBJECT, whose header carries the CUID and the object version.
//
// The reference module keeps a 15 000-byte shared-memory segment per reader
// in a world-writable directory and writes past its end when z0 inflates to
// more; this cache is a directory of small files in the user's own cache
// directory:
//
//   - $XDG_CACHE_HOME/coolkey-go (or ~/.cache/coolkey-go), mode 0700, owned
//     by the user, not a symlink; anything else disables the cache;
//   - one file per CUID, mode 0600, opened with O_NOFOLLOW and checked for
//     owner, mode, type and link count before it is read;
//   - written to a temporary file and renamed into place, so readers never
//     see a partial file;
//   - each file at most maxCacheFile bytes, at most maxCacheEntries files
//     (the least recently written go first);
//   - a SHA-256 over the whole file: a corrupt or truncated file is a miss
//     and is rewritten.
//
// An entry is used only if the card's CUID, z0 object version and the bytes
// of the first z0 chunk (header and the start of the compressed data) all
// equal the cached ones, which also catches a z0 rewritten without a version
// bump in all but its tail.
type objectCache struct {
	dir string
	log *slog.Logger
}

const (
	cacheDirName    = "coolkey-go"
	cacheSuffix     = ".z0cache"
	cacheMagic      = "CKGOZ0C1"
	maxCacheFile    = 256 << 10
	maxCacheEntries = 64
)

// cacheKey identifies a z0: whose it is, which version, and how it starts.
type cacheKey struct {
	CUID          cardedge.CUID
	ObjectVersion uint16
	Prefix        []byte
}

// cachedToken is what the cache keeps: the decoded z0.
type cachedToken struct {
	TokenName string            `json:"token_name"`
	Objects   []cardedge.Object `json:"objects"`
}

// defaultCacheDir returns the per-user cache directory.
func defaultCacheDir() (string, error) {
	base := p11.Getenv("XDG_CACHE_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := p11.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, cacheDirName), nil
}

// openCache prepares dir for use, or returns nil (no cache) when it cannot
// be made safe. The reason is logged.
func openCache(dir string, log *slog.Logger) *objectCache {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		log.Warn("object cache disabled", "dir", dir, "err", err)
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		log.Warn("object cache disabled", "dir", dir, "err", err)
		return nil
	}
	if err := checkCacheDir(dir); err != nil {
		log.Warn("object cache disabled", "dir", dir, "err", err)
		return nil
	}
	return &objectCache{dir: dir, log: log}
}

// checkCacheDir insists on a real directory owned by us and closed to
// others; a directory of ours with looser permissions is tightened.
func checkCacheDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not owned by uid %d", dir, os.Geteuid())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}

func (c *objectCache) path(cuid cardedge.CUID) string {
	return filepath.Join(c.dir, strings.ToLower(hex.EncodeToString(cuid[:]))+cacheSuffix)
}

// get returns the cached token for key, or false on a miss (absent, stale,
// unsafe or corrupt; the reason is logged at debug level).
func (c *objectCache) get(key cacheKey) (*cachedToken, bool) {
	if c == nil {
		return nil, false
	}
	b, err := c.readFile(c.path(key.CUID))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.log.Debug("object cache entry unusable", "cuid", key.CUID, "err", err)
		}
		return nil, false
	}
	got, tok, err := decodeCacheEntry(b)
	if err != nil {
		c.log.Debug("object cache entry corrupt", "cuid", key.CUID, "err", err)
		return nil, false
	}
	if got.CUID != key.CUID || got.ObjectVersion != key.ObjectVersion || !bytes.Equal(got.Prefix, key.Prefix) {
		c.log.Debug("object cache entry stale", "cuid", key.CUID, "cached_version", got.ObjectVersion, "card_version", key.ObjectVersion)
		return nil, false
	}
	return tok, true
}

// readFile reads a cache file only if it is a regular file of ours that
// nobody else can write, with one link, and not too large.
func (c *objectCache) readFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		return nil, errors.New("not a regular file")
	case int(st.Uid) != os.Geteuid():
		return nil, errors.New("not owned by us")
	case st.Mode&0o077 != 0:
		return nil, errors.New("accessible to others")
	case st.Nlink != 1:
		return nil, errors.New("has other links")
	case st.Size > maxCacheFile:
		return nil, errors.New("too large")
	}
	return io.ReadAll(io.LimitReader(f, maxCacheFile+1))
}

// put stores tok under key, replacing the CUID's previous entry atomically,
// and trims the directory to maxCacheEntries files.
func (c *objectCache) put(key cacheKey, tok *cachedToken) {
	if c == nil {
		return
	}
	b, err := encodeCacheEntry(key, tok)
	if err != nil || len(b) > maxCacheFile {
		c.log.Debug("token not cached", "cuid", key.CUID, "size", len(b), "err", err)
		return
	}
	if err := checkCacheDir(c.dir); err != nil {
		c.log.Warn("object cache directory became unsafe; not writing", "dir", c.dir, "err", err)
		return
	}
	f, err := os.CreateTemp(c.dir, ".tmp-*") // O_EXCL, mode 0600
	if err != nil {
		c.log.Debug("object cache write failed", "err", err)
		return
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp)
		c.log.Debug("object cache write failed", "err", errors.Join(werr, cerr))
		return
	}
	if err := os.Rename(tmp, c.path(key.CUID)); err != nil {
		os.Remove(tmp)
		c.log.Debug("object cache write failed", "err", err)
		return
	}
	c.trim()
}

// trim removes the oldest entries beyond maxCacheEntries and temporary files
// a crashed writer left behind.
func (c *objectCache) trim() {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		mod  time.Time
	}
	var files []entry
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		switch {
		case strings.HasSuffix(e.Name(), cacheSuffix):
			files = append(files, entry{e.Name(), info.ModTime()})
		case strings.HasPrefix(e.Name(), ".tmp-") && time.Since(info.ModTime()) > time.Minute:
			os.Remove(filepath.Join(c.dir, e.Name()))
		}
	}
	if len(files) <= maxCacheEntries {
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	for _, f := range files[:len(files)-maxCacheEntries] {
		os.Remove(filepath.Join(c.dir, f.name))
	}
}

// Entry layout: magic(8) ‖ CUID(10) ‖ object version(2) ‖ prefix length(2)
// ‖ prefix ‖ payload length(4) ‖ JSON payload ‖ SHA-256 of all before.
func encodeCacheEntry(key cacheKey, tok *cachedToken) ([]byte, error) {
	payload, err := json.Marshal(tok)
	if err != nil {
		return nil, err
	}
	if len(key.Prefix) > cardedge.MaxReadChunk {
		return nil, errors.New("prefix too long")
	}
	b := []byte(cacheMagic)
	b = append(b, key.CUID[:]...)
	b = binary.BigEndian.AppendUint16(b, key.ObjectVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(key.Prefix)))
	b = append(b, key.Prefix...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

func decodeCacheEntry(b []byte) (cacheKey, *cachedToken, error) {
	var key cacheKey
	if len(b) < len(cacheMagic)+10+2+2+4+sha256.Size || len(b) > maxCacheFile {
		return key, nil, errors.New("bad size")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return key, nil, errors.New("checksum mismatch")
	}
	if string(body[:len(cacheMagic)]) != cacheMagic {
		return key, nil, errors.New("bad magic")
	}
	r := body[len(cacheMagic):]
	copy(key.CUID[:], r[:10])
	key.ObjectVersion = binary.BigEndian.Uint16(r[10:])
	n := int(binary.BigEndian.Uint16(r[12:]))
	r = r[14:]
	if n > cardedge.MaxReadChunk || len(r) < n+4 {
		return key, nil, errors.New("bad prefix length")
	}
	key.Prefix, r = bytes.Clone(r[:n]), r[n:]
	m := int(binary.BigEndian.Uint32(r))
	r = r[4:]
	if m != len(r) {
		return key, nil, errors.New("bad payload length")
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.DisallowUnknownFields()
	var tok cachedToken
	if err := dec.Decode(&tok); err != nil {
		return key, nil, fmt.Errorf("payload: %w", err)
	}
	for _, o := range tok.Objects {
		for _, a := range o.Attributes {
			if a.Kind > cardedge.KindBool {
				return key, nil, fmt.Errorf("object %v: attribute kind %d", o.ID, a.Kind)
			}
		}
	}
	return key, &tok, nil
}
