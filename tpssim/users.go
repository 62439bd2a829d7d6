package tpssim

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"strings"
)

// Users is the test TPS's directory: user IDs and passwords, standing in for
// Dogtag's LDAP authenticator.
type Users struct {
	// Passwords are kept only as SHA-256 digests, compared in constant
	// time, so a memory dump or a stray %v shows no password.
	digests map[string][32]byte
}

// NewUsers returns an empty directory.
func NewUsers() *Users { return &Users{digests: map[string][32]byte{}} }

// Add adds or replaces a user.
func (u *Users) Add(uid, password string) error {
	if uid == "" || strings.ContainsAny(uid, ":\r\n\x00") {
		return fmt.Errorf("user ID %q is empty or contains ':' or a control character", uid)
	}
	if password == "" {
		return fmt.Errorf("user %s: empty password", uid)
	}
	u.digests[uid] = sha256.Sum256([]byte(password))
	return nil
}

// ParseUserSpec adds "UID:PASSWORD" (the --user flag).
func (u *Users) ParseUserSpec(spec string) error {
	uid, pw, ok := strings.Cut(spec, ":")
	if !ok {
		return fmt.Errorf("user spec must be UID:PASSWORD")
	}
	return u.Add(uid, pw)
}

// Load adds the users of a file with one UID:PASSWORD per line; blank lines
// and lines starting with '#' are skipped.
func (u *Users) Load(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := u.ParseUserSpec(line); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

// Len returns the number of users.
func (u *Users) Len() int { return len(u.digests) }

// Authenticate reports whether uid exists and password is its password.
func (u *Users) Authenticate(uid, password string) bool {
	want, ok := u.digests[uid]
	got := sha256.Sum256([]byte(password))
	// Compare even for an unknown user so that timing does not tell
	// which user IDs exist.
	eq := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	return ok && eq
}
