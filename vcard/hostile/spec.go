package hostile

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coolkey-go/coolkey-go/vcard"
)

// SpecHelp describes the fault specifications ParseFaults reads.
const SpecHelp = `A fault specification is a comma-separated list of RULE[@WHEN]; for each
command APDU the first rule whose WHEN matches applies, and APDUs no rule
matches are relayed. WHEN is N (the N-th command APDU, from 1), N- (the N-th
and every later one) or ins:XX (every command with instruction byte XX);
without @WHEN a rule matches every APDU. RULE is one of:
  remove          the card executes the command, then leaves the reader
  remove-before   the card leaves the reader; the command never reaches it
  glitch          the card answers, then loses power without the reader noticing
  sw=XXXX         the card's answer with its status word replaced
  truncate=N      the first N bytes of the card's answer
  pad=N           the card's answer with N bytes inserted before the status word
  replace=HEX     these bytes instead of the card's answer (HEX may be empty)
  6c=XX           6C XX ("wrong length, use XX") however often the host re-sends
  endless61       61 01 for ever ("one more byte"), GET RESPONSE included
  chain61=N[:N]   every answer handed out through GET RESPONSE in pieces of
                  these sizes (a correct host sees the same answers)
  stall=DURATION  wait, then relay (e.g. stall=2s)
  drop            cut the connection without answering`

// ParseFaults reads a fault specification (see SpecHelp); slot is the
// served card's slot, which remove and glitch act on.
func ParseFaults(spec string, slot *vcard.Slot) (Fault, error) {
	type rule struct {
		match func(int, []byte) bool
		f     Fault
	}
	var rules []rule
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		what, when, hasWhen := strings.Cut(part, "@")
		match := func(int, []byte) bool { return true }
		if hasWhen {
			m, err := parseWhen(when)
			if err != nil {
				return nil, fmt.Errorf("hostile: %q: %w", part, err)
			}
			match = m
		}
		f, err := parseRule(what, slot)
		if err != nil {
			return nil, fmt.Errorf("hostile: %q: %w", part, err)
		}
		rules = append(rules, rule{match, f})
	}
	if len(rules) == 0 {
		return nil, errors.New("hostile: empty fault specification")
	}
	return FaultFunc(func(n int, cmd []byte, card Card) ([]byte, error) {
		for _, r := range rules {
			if r.match(n, cmd) {
				return r.f.Apply(n, cmd, card)
			}
		}
		return card(cmd)
	}), nil
}

func parseWhen(s string) (func(int, []byte) bool, error) {
	if x, ok := strings.CutPrefix(s, "ins:"); ok {
		b, err := hex.DecodeString(x)
		if err != nil || len(b) != 1 {
			return nil, errors.New("ins: wants one hex byte")
		}
		return func(_ int, cmd []byte) bool { return len(cmd) >= 2 && cmd[1] == b[0] }, nil
	}
	from := strings.HasSuffix(s, "-")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "-"))
	if err != nil || n < 1 {
		return nil, errors.New("WHEN is N, N- or ins:XX, N from 1")
	}
	if from {
		return func(m int, _ []byte) bool { return m >= n }, nil
	}
	return func(m int, _ []byte) bool { return m == n }, nil
}

func parseRule(s string, slot *vcard.Slot) (Fault, error) {
	name, arg, hasArg := strings.Cut(s, "=")
	needArg := func() error {
		if !hasArg {
			return fmt.Errorf("%s needs =VALUE", name)
		}
		return nil
	}
	noArg := func(f Fault) (Fault, error) {
		if hasArg {
			return nil, fmt.Errorf("%s takes no value", name)
		}
		return f, nil
	}
	count := func() (int, error) {
		if err := needArg(); err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > 65535 {
			return 0, fmt.Errorf("%s wants a number from 0 to 65535", name)
		}
		return n, nil
	}
	switch name {
	case "remove":
		return noArg(Remove(slot, false))
	case "remove-before":
		return noArg(Remove(slot, true))
	case "glitch":
		return noArg(Glitch(slot))
	case "endless61":
		return noArg(Replace(0x61, 0x01))
	case "drop":
		return noArg(Drop)
	case "sw":
		b, err := hex.DecodeString(arg)
		if err != nil || len(b) != 2 {
			return nil, errors.New("sw wants four hex digits")
		}
		return StatusWord(b[0], b[1]), nil
	case "6c":
		b, err := hex.DecodeString(arg)
		if err != nil || len(b) != 1 {
			return nil, errors.New("6c wants two hex digits")
		}
		return Wrong6C(b[0]), nil
	case "truncate":
		n, err := count()
		if err != nil {
			return nil, err
		}
		return Truncate(n), nil
	case "pad":
		n, err := count()
		if err != nil {
			return nil, err
		}
		return Pad(n, 0xA5), nil
	case "replace":
		if err := needArg(); err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(arg)
		if err != nil || len(b) > 65535 {
			return nil, errors.New("replace wants hex bytes")
		}
		return Replace(b...), nil
	case "chain61":
		if err := needArg(); err != nil {
			return nil, err
		}
		var sizes []int
		for _, f := range strings.Split(arg, ":") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 || n > 256 {
				return nil, errors.New("chain61 wants sizes from 1 to 256, separated by ':'")
			}
			sizes = append(sizes, n)
		}
		return Chain61(sizes...), nil
	case "stall":
		if err := needArg(); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(arg)
		if err != nil || d < 0 || d > time.Hour {
			return nil, errors.New("stall wants a duration up to 1h, e.g. 2s")
		}
		return Stall(d, nil), nil
	}
	return nil, fmt.Errorf("unknown fault %q", name)
}

// Z0Faults are the hostile z0 rewrites by name, for command lines.
var Z0Faults = map[string]Z0Fault{
	"bomb":          Z0Bomb(30 << 20),
	"truncate":      Z0Truncate(300),
	"cut-stream":    Z0CutStream(100),
	"oversize":      Z0Oversize(),
	"garbage":       Z0Garbage(6000, 1),
	"lying-records": Z0LyingRecords(),
}
