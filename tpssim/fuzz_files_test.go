package tpssim

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUsersLoad: the users file (UID:PASSWORD lines) is the operator's
// input; it loads or is refused, never panics.
func FuzzUsersLoad(f *testing.F) {
	f.Add([]byte("jdoe:correct horse\n# comment\n\nalice:pw\n"))
	f.Add([]byte(":nouser\nnopassword\n"))
	f.Add([]byte("a:b:c\r\n\x00:\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u := NewUsers()
		if err := u.Load(bytes.NewReader(b)); err != nil {
			return
		}
		u.Len()
	})
}

// FuzzParsePolicy: the --policy string. What parses prints back to a
// string that parses to the same policy.
func FuzzParsePolicy(f *testing.F) {
	f.Add(DefaultPolicy)
	f.Add("RE_ENROLL=YES;RENEW=NO;FORCE_FORMAT=NO;PIN_RESET=NO")
	f.Add("RE_ENROLL=maybe;;=;")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			return
		}
		if _, err := ParsePolicy(p.String()); err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, p.String(), err)
		}
	})
}

// FuzzOpenStore: the token database is a file on disk a crash or an
// editor may have mangled; opening it works or fails, and what opens
// answers lookups and saves.
func FuzzOpenStore(f *testing.F) {
	f.Add([]byte(`[{"cuid":"40907a0100abcdef0123","status":"active","userID":"jdoe","certs":[{"serial":"01","der":"AAAA"}]}]`))
	f.Add([]byte(`[{"cuid":"","status":"bogus"},null]`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tokensFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenStore(dir)
		if err != nil {
			return
		}
		s.Token("40907a0100abcdef0123")
		s.ActiveTokensOf("jdoe")
		for _, r := range s.Tokens() {
			if r == nil {
				t.Fatal("a nil record")
			}
		}
	})
}
