package esc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/internal/atomicfile"
	"github.com/coolkey-go/coolkey-go/tps"
)

// Paths are the per-user locations, after the XDG base directory rules.
type Paths struct {
	ConfigDir  string // $XDG_CONFIG_HOME/coolkey: esc.json, ca-bundle.pem
	StateDir   string // $XDG_STATE_HOME/coolkey: esc.log
	RuntimeDir string // $XDG_RUNTIME_DIR/coolkey: operation locks
}

// DefaultPaths resolves the XDG directories from the environment (getenv
// is os.Getenv in production).
func DefaultPaths(getenv func(string) string) (Paths, error) {
	home := getenv("HOME")
	dir := func(env, fallback string) (string, error) {
		if d := getenv(env); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "coolkey"), nil
		}
		if home == "" {
			return "", fmt.Errorf("neither $%s nor $HOME is set", env)
		}
		return filepath.Join(home, fallback, "coolkey"), nil
	}
	var p Paths
	var err error
	if p.ConfigDir, err = dir("XDG_CONFIG_HOME", ".config"); err != nil {
		return p, err
	}
	if p.StateDir, err = dir("XDG_STATE_HOME", filepath.Join(".local", "state")); err != nil {
		return p, err
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		p.RuntimeDir = filepath.Join(d, "coolkey")
	} else {
		p.RuntimeDir = filepath.Join(os.TempDir(), fmt.Sprintf("coolkey-%d", os.Getuid()))
	}
	return p, nil
}

func (p Paths) ConfigFile() string { return filepath.Join(p.ConfigDir, "esc.json") }
func (p Paths) BundleFile() string { return filepath.Join(p.ConfigDir, "ca-bundle.pem") }
func (p Paths) LogFile() string    { return filepath.Join(p.StateDir, "esc.log") }

// DefaultMessageTimeout is the wait for each TPS message (the ESC's shipped
// esc.tps.message.timeout).
const DefaultMessageTimeout = 90 * time.Second

// Config is the user's settings and phone-home cache (esc.json). Card,
// SetCard and Save may be called concurrently (a GUI, its operations and
// the card watcher share one Config); the settings are read-only once
// loaded.
type Config struct {
	// TPSURL, when set, is used for every card: explicit configuration
	// wins over phone home (ESC's esc.tps.url, but preferred).
	TPSURL string `json:"tpsURL,omitempty"`
	// GlobalPhoneHomeURL is phoned home for cards that carry no
	// phone-home URL (ESC's esc.global.phone.home.url).
	GlobalPhoneHomeURL string `json:"globalPhoneHomeURL,omitempty"`
	// TokenType is the default BEGIN_OP tokenType (userKey when empty).
	TokenType string `json:"tokenType,omitempty"`
	// MessageTimeoutSeconds bounds the wait for each TPS message.
	MessageTimeoutSeconds int `json:"messageTimeoutSeconds,omitempty"`
	// HideFormat hides (and refuses) Format in the GUI, as ESC's
	// esc.hide.format did: formatting erases a card, which most users
	// never need.
	HideFormat bool `json:"hideFormat,omitempty"`
	// Cards is the phone-home cache, by CUID (20 lowercase hex digits).
	Cards map[string]*CardCache `json:"cards,omitempty"`

	path string
	// mu guards Cards: a GUI phones home and lists cards while operations
	// and the card watcher read the cache.
	mu sync.Mutex
	// saveMu serialises Save from snapshot to rename, so that concurrent
	// saves land in the order of their snapshots and the file ends with
	// the newest one, not an older snapshot renamed last.
	saveMu sync.Mutex
}

// CardCache is what phone home told about one card.
type CardCache struct {
	// PhoneHomeURL is the URL phoned (without ?cuid=): the card's issuer
	// info, or one given with `coolkey phone-home --url`.
	PhoneHomeURL string `json:"phoneHomeURL,omitempty"`
	// URLFromUser records that PhoneHomeURL was given by the user, so it
	// is used even when the card carries none.
	URLFromUser bool        `json:"urlFromUser,omitempty"`
	IssuerName  string      `json:"issuerName,omitempty"`
	Services    []tps.Param `json:"services,omitempty"`
	Fetched     time.Time   `json:"fetched,omitempty"`
}

// Service returns a cached <Services> value, e.g. tps.ServiceOperation.
func (c *CardCache) Service(name string) string {
	if c == nil {
		return ""
	}
	for _, p := range c.Services {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// LoadConfig reads the configuration at path; a missing file is an empty
// configuration.
func LoadConfig(path string) (*Config, error) {
	c := &Config{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.path = path
	return c, nil
}

// Validate checks the settings a user may have edited by hand.
func (c *Config) Validate() error {
	for _, u := range []struct{ name, v string }{{"tpsURL", c.TPSURL}, {"globalPhoneHomeURL", c.GlobalPhoneHomeURL}} {
		if u.v != "" {
			if _, err := parseHTTPURL(u.v); err != nil {
				return fmt.Errorf("%s: %s: %w", c.path, u.name, err)
			}
		}
	}
	if c.MessageTimeoutSeconds < 0 {
		return fmt.Errorf("%s: messageTimeoutSeconds is negative", c.path)
	}
	return nil
}

// MessageTimeout returns the configured per-message timeout.
func (c *Config) MessageTimeout() time.Duration {
	if c.MessageTimeoutSeconds > 0 {
		return time.Duration(c.MessageTimeoutSeconds) * time.Second
	}
	return DefaultMessageTimeout
}

// Card returns the cache entry for cuid, or nil. The entry is shared:
// treat it as read-only (SetCard replaces entries, never edits them).
func (c *Config) Card(cuid string) *CardCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Cards[strings.ToLower(cuid)]
}

// SetCard replaces the cache entry for cuid.
func (c *Config) SetCard(cuid string, cc *CardCache) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Cards == nil {
		c.Cards = map[string]*CardCache{}
	}
	c.Cards[strings.ToLower(cuid)] = cc
}

// Save writes the configuration atomically, readable by the user only.
func (c *Config) Save() error {
	if c.path == "" {
		return errors.New("esc: configuration has no file")
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	b, err := json.MarshalIndent(c, "", "  ")
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(c.path, append(b, '\n'), 0o600)
}
