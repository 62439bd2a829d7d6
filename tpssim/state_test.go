package tpssim

import (
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy(DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if !p[PolicyReEnroll] || p[PolicyRenew] || p[PolicyPINReset] || p[PolicyForceFormat] {
		t.Errorf("default policy %v", p)
	}
	q, err := ParsePolicy(" pin_reset = yes ; RENEW=No")
	if err != nil {
		t.Fatal(err)
	}
	merged := p.With(q)
	if !merged[PolicyPINReset] || merged[PolicyRenew] || !merged[PolicyReEnroll] {
		t.Errorf("merged %v", merged)
	}
	if got := merged.String(); got != "FORCE_FORMAT=NO;PIN_RESET=YES;RENEW=NO;RESET_PIN_RESET_TO_NO=NO;RE_ENROLL=YES" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"PIN_RESET", "PIN_RESET=MAYBE", "UNKNOWN=YES"} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}

func TestUsers(t *testing.T) {
	u := NewUsers()
	if err := u.Load(strings.NewReader("# test users\nalice:pa:ss\n\n bob:x \n")); err != nil {
		t.Fatal(err)
	}
	if !u.Authenticate("alice", "pa:ss") || !u.Authenticate("bob", "x") {
		t.Error("known users refused")
	}
	if u.Authenticate("alice", "pa:sS") || u.Authenticate("carol", "") || u.Authenticate("", "") {
		t.Error("bad credentials accepted")
	}
	for _, bad := range []string{"nocolon", ":pw", "u:", "a\nb:c"} {
		if err := u.ParseUserSpec(bad); err == nil {
			t.Errorf("ParseUserSpec(%q) accepted", bad)
		}
	}
}

func TestStorePersistsAndTransitions(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	rec := &TokenRecord{CUID: "4090614527c6240b192d", Status: TokenActive, UserID: "jdoe", Policy: Policy{PolicyPINReset: true}, Created: now, Modified: now}
	if err := s.Put(rec); err != nil {
		t.Fatal(err)
	}
	rec.UserID = "changed after Put"
	s2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s2.Token("4090614527c6240b192d")
	if !ok || got.UserID != "jdoe" || got.Status != TokenActive || !got.Policy[PolicyPINReset] {
		t.Fatalf("reloaded %+v", got)
	}
	if a := s2.ActiveTokensOf("jdoe"); len(a) != 1 {
		t.Errorf("ActiveTokensOf = %v", a)
	}
	if !s2.Acquire(got.CUID) || s2.Acquire(got.CUID) {
		t.Error("Acquire does not exclude")
	}
	s2.Release(got.CUID)

	allowed := [][2]TokenStatus{{0, 0}, {0, 4}, {4, 4}, {4, 0}, {7, 0}}
	for from := TokenFormatted; from <= TokenUnformatted; from++ {
		for to := TokenFormatted; to <= TokenUnformatted; to++ {
			want := false
			for _, a := range allowed {
				if a == [2]TokenStatus{from, to} {
					want = true
				}
			}
			if got := transitionAllowed(from, to); got != want {
				t.Errorf("%v→%v allowed=%v, want %v", from, to, got, want)
			}
		}
	}
}
