package reliability

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/coolkey-go/coolkey-go/vcard"
)

// A secret is a byte string that must never appear in a log, under a name
// that may (the scan reports names, never values).
type secret struct {
	name  string
	value []byte
}

var (
	secretsMu sync.Mutex
	secrets   []secret
)

func addSecret(name string, value []byte) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secrets = append(secrets, secret{name, append([]byte(nil), value...)})
}

// addTextSecret registers a password or PIN in the forms a log could hold
// it: as is, hex (both cases), base64 and URL-encoded.
func addTextSecret(name, s string) {
	addSecret(name, []byte(s))
	addSecret(name+" (hex)", []byte(hex.EncodeToString([]byte(s))))
	addSecret(name+" (HEX)", []byte(strings.ToUpper(hex.EncodeToString([]byte(s)))))
	addSecret(name+" (base64)", []byte(strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(s)), "=")))
	if q := url.QueryEscape(s); q != s {
		addSecret(name+" (url)", []byte(q))
	}
}

// addKeySecret registers a window of a private key number: 16 bytes from
// its middle, as raw bytes, hex in both cases and base64 at every
// alignment — any dump of the whole number contains one of them.
func addKeySecret(name string, n *big.Int) {
	b := n.Bytes()
	if len(b) < 40 {
		return
	}
	w := b[len(b)/2-8 : len(b)/2+8]
	addSecret(name, w)
	addSecret(name+" (hex)", []byte(hex.EncodeToString(w)))
	addSecret(name+" (HEX)", []byte(strings.ToUpper(hex.EncodeToString(w))))
	for shift := 0; shift < 3; shift++ {
		// Base64 of the number starting shift bytes before the window:
		// the characters that encode whole triples of the window.
		start := len(b)/2 - 8 - shift
		enc := base64.StdEncoding.EncodeToString(b[start : start+18])
		addSecret(fmt.Sprintf("%s (base64/%d)", name, shift), []byte(enc[4:20]))
	}
}

// registerImageSecrets registers the private keys and GlobalPlatform keys
// of a card image.
func registerImageSecrets(img *vcard.Image) {
	for i, ks := range img.CardManager.KeySets {
		for kind, k := range map[string][]byte{"ENC": ks.ENC, "MAC": ks.MAC, "DEK": ks.DEK} {
			name := fmt.Sprintf("GP key set %d %s", i, kind)
			addSecret(name+" (hex)", []byte(hex.EncodeToString(k)))
			addSecret(name+" (HEX)", []byte(strings.ToUpper(hex.EncodeToString(k))))
		}
	}
	if img.Applet == nil {
		return
	}
	for _, k := range img.Applet.Keys {
		if len(k.PKCS8) == 0 {
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(k.PKCS8)
		if err != nil {
			continue
		}
		name := fmt.Sprintf("private key %d", k.Number)
		switch p := priv.(type) {
		case *rsa.PrivateKey:
			addKeySecret(name+" D", p.D)
			for j, prime := range p.Primes {
				addKeySecret(fmt.Sprintf("%s prime %d", name, j), prime)
			}
		case *ecdsa.PrivateKey:
			d, _ := p.Bytes()
			addKeySecret(name+" D", new(big.Int).SetBytes(d))
		}
	}
}

func init() {
	addTextSecret("PIN", testPIN)
	addTextSecret("wrong PIN", wrongPIN)
	addTextSecret("TPS password", testPassword)
	addTextSecret("enrolled PIN", tpsPIN)
}

// finding is a secret found in a file.
type finding struct {
	file, secret string
	offset       int
}

// scanForSecrets reads every file under the paths (files or directories)
// and reports each secret found, with the number of files and bytes read.
func scanForSecrets(paths []string) (found []finding, files int, size int64, err error) {
	secretsMu.Lock()
	ss := append([]secret(nil), secrets...)
	secretsMu.Unlock()
	seen := map[string]bool{}
	for _, root := range paths {
		werr := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // a log that was never written
				}
				return err
			}
			if d.IsDir() || seen[path] || !d.Type().IsRegular() {
				return nil
			}
			seen[path] = true
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			size += int64(len(b))
			for _, s := range ss {
				if i := bytes.Index(b, s.value); i >= 0 {
					found = append(found, finding{path, s.name, i})
				}
			}
			return nil
		})
		if werr != nil {
			return found, files, size, werr
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].file < found[j].file })
	return found, files, size, nil
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coolkey-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	suiteDir = dir
	if os.Getenv(childEnv) == "1" {
		// The module's log of a child process: the child knows the
		// keys of the card it served, so it scans the log too.
		if log := os.Getenv("COOLKEY_LOG"); log != "" {
			addSuiteLog(log)
		}
	}
	code := m.Run()
	suiteLogMu.Lock()
	logs := append([]string(nil), suiteLogs...)
	suiteLogMu.Unlock()
	found, files, size, err := scanForSecrets(logs)
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "log scan: %v\n", err)
		code = 1
	case len(found) > 0:
		for _, f := range found {
			fmt.Fprintf(os.Stderr, "log scan: %s found in %s at byte %d\n", f.secret, f.file, f.offset)
		}
		code = 1
	default:
		fmt.Printf("log scan: %d log files, %d bytes, %d secret patterns: none found\n", files, size, len(secrets))
	}
	if os.Getenv("RELIABILITY_KEEP") != "" || code != 0 {
		fmt.Fprintf(os.Stderr, "reliability: logs kept in %s\n", dir)
	} else {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// The scan finds what it is looking for, in every registered form.
func TestSecretScanFindsSecrets(t *testing.T) {
	fx := rsaFixture(t)
	dir := t.TempDir()
	var priv *rsa.PrivateKey
	for _, k := range fx.img.Applet.Keys {
		if p, err := x509.ParsePKCS8PrivateKey(k.PKCS8); err == nil {
			if r, ok := p.(*rsa.PrivateKey); ok {
				priv = r
				break
			}
		}
	}
	if priv == nil {
		t.Fatal("no RSA private key in the fixture")
	}
	leaks := map[string]string{
		"pin.log":    "user typed " + testPIN + "\n",
		"pinhex.log": "apdu B0 42 00 00 " + strings.ToUpper(hex.EncodeToString([]byte(testPIN))) + "\n",
		"pw.log":     "body s=1&password=" + url.QueryEscape(testPassword) + "\n",
		"dhex.log":   "d=" + priv.D.Text(16) + "\n",
		"pkcs8.log":  "key " + base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(priv)) + "\n",
		"clean.log":  "apdu B0 42 00 00 Lc=0C <masked> 9000\n",
	}
	for name, content := range leaks {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	found, files, _, err := scanForSecrets([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if files != len(leaks) {
		t.Errorf("scanned %d files, want %d", files, len(leaks))
	}
	hit := map[string]bool{}
	for _, f := range found {
		hit[filepath.Base(f.file)] = true
	}
	for name := range leaks {
		if want := name != "clean.log"; hit[name] != want {
			t.Errorf("%s: found=%v, want %v", name, hit[name], want)
		}
	}
}
