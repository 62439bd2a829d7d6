package tpssim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/internal/atomicfile"
	"github.com/coolkey-go/coolkey-go/tps"
)

// TokenStatus is a token record's state (Dogtag's TokenStatus).
type TokenStatus int

const (
	TokenFormatted        TokenStatus = 0 // formerly UNINITIALIZED
	TokenDamaged          TokenStatus = 1
	TokenPermLost         TokenStatus = 2
	TokenSuspended        TokenStatus = 3
	TokenActive           TokenStatus = 4
	TokenTempLostPermLost TokenStatus = 5
	TokenTerminated       TokenStatus = 6
	TokenUnformatted      TokenStatus = 7
)

var tokenStatusNames = []string{"FORMATTED", "DAMAGED", "PERM_LOST", "SUSPENDED", "ACTIVE", "TEMP_LOST_PERM_LOST", "TERMINATED", "UNFORMATTED"}

func (s TokenStatus) String() string {
	if s >= 0 && int(s) < len(tokenStatusNames) {
		return tokenStatusNames[s]
	}
	return fmt.Sprintf("TokenStatus(%d)", int(s))
}

func (s TokenStatus) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(tokenStatusNames) {
		return nil, fmt.Errorf("bad token status %d", int(s))
	}
	return []byte(s.String()), nil
}

func (s *TokenStatus) UnmarshalText(b []byte) error {
	for i, n := range tokenStatusNames {
		if n == string(b) {
			*s = TokenStatus(i)
			return nil
		}
	}
	return fmt.Errorf("unknown token status %q", b)
}

// opTransitions are the state changes token operations may make
// (tps.operations.allowedTransitions=0:0,0:4,4:4,4:0,7:0).
var opTransitions = map[[2]TokenStatus]bool{
	{TokenFormatted, TokenFormatted}:   true,
	{TokenFormatted, TokenActive}:      true,
	{TokenActive, TokenActive}:         true,
	{TokenActive, TokenFormatted}:      true,
	{TokenUnformatted, TokenFormatted}: true,
}

// transitionAllowed reports whether an operation may take a token from one
// state to the other.
func transitionAllowed(from, to TokenStatus) bool { return opTransitions[[2]TokenStatus{from, to}] }

// CertRecord is a certificate the TPS issued to a token.
type CertRecord struct {
	Serial    string    `json:"serial"` // hex
	KeyType   string    `json:"keyType"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	Revoked   bool      `json:"revoked,omitempty"`
	// DER is the certificate, kept so a renewal can reuse its public key.
	DER []byte `json:"der"`
}

// TokenRecord is what the TPS knows about one card.
type TokenRecord struct {
	CUID      string      `json:"cuid"` // 20 lowercase hex digits
	Status    TokenStatus `json:"status"`
	UserID    string      `json:"userID,omitempty"`
	TokenType string      `json:"tokenType,omitempty"`
	AppletID  string      `json:"appletID,omitempty"`
	KeyInfo   string      `json:"keyInfo,omitempty"`
	// Policy holds this token's departures from the server's default
	// policy (e.g. PIN_RESET switched back to NO after a reset).
	Policy   Policy       `json:"policy,omitempty"`
	Certs    []CertRecord `json:"certs,omitempty"`
	Created  time.Time    `json:"created"`
	Modified time.Time    `json:"modified"`
}

func (r *TokenRecord) clone() *TokenRecord {
	c := *r
	c.Policy = Policy{}.With(r.Policy)
	c.Certs = append([]CertRecord(nil), r.Certs...)
	return &c
}

// Activity is one line of the activity log. It never holds a credential.
type Activity struct {
	Time    time.Time `json:"time"`
	Op      string    `json:"op"`
	CUID    string    `json:"cuid,omitempty"`
	UserID  string    `json:"userID,omitempty"`
	Remote  string    `json:"remote,omitempty"`
	Result  string    `json:"result"` // "success" or "failure"
	Status  int       `json:"status"` // END_OP message code
	Message string    `json:"message,omitempty"`
}

// Store persists token records and the activity log in a directory.
// Writes go to a temporary file and are renamed into place, so a crash
// leaves either the old or the new database.
type Store struct {
	dir string

	mu     sync.Mutex
	tokens map[string]*TokenRecord
	busy   map[string]bool // CUIDs with an operation in progress
}

const (
	tokensFile   = "tokens.json"
	activityFile = "activity.log"
)

// OpenStore loads (or starts) the database in dir, creating dir if needed.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, tokens: map[string]*TokenRecord{}, busy: map[string]bool{}}
	b, err := os.ReadFile(filepath.Join(dir, tokensFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		var list []*TokenRecord
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, tokensFile), err)
		}
		for _, r := range list {
			if r == nil {
				// "null" in a hand-edited or damaged file: nothing
				// to keep.
				continue
			}
			s.tokens[r.CUID] = r
		}
	}
	return s, nil
}

// Token returns a copy of the record for cuid.
func (s *Store) Token(cuid string) (*TokenRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.tokens[cuid]
	if !ok {
		return nil, false
	}
	return r.clone(), true
}

// Tokens returns copies of all records, ordered by CUID.
func (s *Store) Tokens() []*TokenRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*TokenRecord
	for _, r := range s.tokens {
		out = append(out, r.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CUID < out[j].CUID })
	return out
}

// ActiveTokensOf returns the CUIDs of the user's ACTIVE tokens.
func (s *Store) ActiveTokensOf(uid string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.tokens {
		if r.UserID == uid && r.Status == TokenActive {
			out = append(out, r.CUID)
		}
	}
	sort.Strings(out)
	return out
}

// Put stores r (a copy) and writes the database.
func (s *Store) Put(r *TokenRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.tokens[r.CUID]
	s.tokens[r.CUID] = r.clone()
	if err := s.saveLocked(); err != nil {
		if prev != nil {
			s.tokens[r.CUID] = prev
		} else {
			delete(s.tokens, r.CUID)
		}
		return err
	}
	return nil
}

// Acquire marks cuid busy; it fails if another operation holds it.
func (s *Store) Acquire(cuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[cuid] {
		return false
	}
	s.busy[cuid] = true
	return true
}

// Release ends Acquire.
func (s *Store) Release(cuid string) {
	s.mu.Lock()
	delete(s.busy, cuid)
	s.mu.Unlock()
}

func (s *Store) saveLocked() error {
	list := make([]*TokenRecord, 0, len(s.tokens))
	for _, r := range s.tokens {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].CUID < list[j].CUID })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.dir, tokensFile), append(b, '\n'), 0o600)
}

// Log appends an activity record.
func (s *Store) Log(a Activity) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.dir, activityFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// statusForState is the END_OP code for an operation refused because of
// the token's state (tps.md §2.5).
func statusForState(st TokenStatus) tps.Status {
	switch st {
	case TokenTerminated:
		return tps.StatusErrTokenTerminated
	case TokenPermLost, TokenTempLostPermLost:
		return tps.StatusErrUnusableTokenKeyCompromise
	default:
		return tps.StatusErrDisabledToken
	}
}
