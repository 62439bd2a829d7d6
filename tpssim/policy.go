package tpssim

import (
	"fmt"
	"sort"
	"strings"
)

// Token policy names (Dogtag's tokendb policy string).
const (
	PolicyReEnroll          = "RE_ENROLL"
	PolicyRenew             = "RENEW"
	PolicyForceFormat       = "FORCE_FORMAT"
	PolicyPINReset          = "PIN_RESET"
	PolicyResetPINResetToNo = "RESET_PIN_RESET_TO_NO"
)

// DefaultPolicy is Dogtag's tokendb.defaultPolicy.
const DefaultPolicy = "RE_ENROLL=YES;RENEW=NO;FORCE_FORMAT=NO;PIN_RESET=NO;RESET_PIN_RESET_TO_NO=NO"

// Policy is a token policy: YES/NO switches by name.
type Policy map[string]bool

var knownPolicies = map[string]bool{
	PolicyReEnroll: true, PolicyRenew: true, PolicyForceFormat: true,
	PolicyPINReset: true, PolicyResetPINResetToNo: true,
}

// ParsePolicy parses "NAME=YES;NAME=NO;…". Names are those Dogtag knows;
// values YES or NO (any case).
func ParsePolicy(s string) (Policy, error) {
	p := Policy{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.ToUpper(strings.TrimSpace(name))
		if !ok || !knownPolicies[name] {
			return nil, fmt.Errorf("policy %q: want NAME=YES or NAME=NO with NAME one of %s", part, strings.Join(policyNames(), ", "))
		}
		switch strings.ToUpper(strings.TrimSpace(value)) {
		case "YES":
			p[name] = true
		case "NO":
			p[name] = false
		default:
			return nil, fmt.Errorf("policy %s: value must be YES or NO", name)
		}
	}
	return p, nil
}

// With returns p overlaid with o.
func (p Policy) With(o Policy) Policy {
	r := Policy{}
	for k, v := range p {
		r[k] = v
	}
	for k, v := range o {
		r[k] = v
	}
	return r
}

func (p Policy) String() string {
	var parts []string
	for _, n := range policyNames() {
		if v, ok := p[n]; ok {
			yn := "NO"
			if v {
				yn = "YES"
			}
			parts = append(parts, n+"="+yn)
		}
	}
	return strings.Join(parts, ";")
}

func policyNames() []string {
	var n []string
	for k := range knownPolicies {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
