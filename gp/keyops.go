package gp

import "fmt"

// Host-side key operations of an established channel: the data a TPS sends
// for PUT KEY, START ENROLLMENT and IMPORT KEY ENCRYPTED.

// PutKey builds the PUT KEY command that replaces the card's key set with
// newSet: keys wrapped under the session's DEK (old static KEK for SCP01 and
// SCP03, S-DEK for SCP02), P1 = the card's current version, and Le=00 for
// SCP02/SCP03. Wrap the returned command before sending it.
func (h *HostSession) PutKey(newSet KeySet) (Command, error) {
	if h.state != hostAuthenticated {
		return Command{}, ErrNotAuthenticated
	}
	p, err := NewPutKey(h.ch.keys.DEK, h.resp.KeyVersion, newSet, h.ch.proto != SCP01)
	if err != nil {
		return Command{}, err
	}
	return p.Command()
}

// WrapChallenge wraps a 16-byte START ENROLLMENT challenge under the card's
// static KEK (docs/tps.md §3.7) as the block 00 10 <wrapped> 00.
func (h *HostSession) WrapChallenge(challenge []byte) (KeyBlock, error) {
	if h.state != hostAuthenticated {
		return KeyBlock{}, ErrNotAuthenticated
	}
	w, err := WrapChallenge(h.card.KEK, challenge)
	if err != nil {
		return KeyBlock{}, err
	}
	return KeyBlock{Type: KeyBlockPlain, Wrapped: w}, nil
}

// WrapTransportKey wraps the 2-key 3DES transport key that protects a
// server-generated private key for IMPORT KEY ENCRYPTED: 3DES-ECB under the
// session DEK (static KEK for SCP01, S-DEK for SCP02) with a KCV, type 81.
func (h *HostSession) WrapTransportKey(k Key) (KeyBlock, error) {
	if h.state != hostAuthenticated {
		return KeyBlock{}, ErrNotAuthenticated
	}
	if h.ch.keys.DEK.typ != DES3 {
		return KeyBlock{}, fmt.Errorf("gp: IMPORT KEY ENCRYPTED transport keys are implemented for SCP01/SCP02 only")
	}
	return WrapKey(h.ch.keys.DEK, k)
}

// Card-side counterparts. They need the open channel, whose session DEK
// they use; without one they fail with ErrNoChannel (69 82).

// UnwrapPutKey checks an unwrapped PUT KEY command and returns the new key
// set (KCVs verified). P1 must be 00 or the current key version (else
// ErrKeyVersion, 6A 88). The card should persist the set and then call
// SetKeys; the open channel keeps its session keys.
func (c *CardSession) UnwrapPutKey(cmd Command) (KeySet, error) {
	if c.state != cardOpen {
		return KeySet{}, statusError(SWSecurityNotSatisfied, ErrNoChannel)
	}
	p, err := ParsePutKey(cmd)
	if err != nil {
		return KeySet{}, err
	}
	if p.CurrentVersion != 0 && p.CurrentVersion != c.cfg.Keys.Version {
		return KeySet{}, statusError(SWReferencedDataNotFound,
			fmt.Errorf("PUT KEY replaces version %02X, card has %02X: %w", p.CurrentVersion, c.cfg.Keys.Version, ErrKeyVersion))
	}
	ks, err := p.Unwrap(c.ch.keys.DEK)
	if err != nil {
		return KeySet{}, err
	}
	if ks.Type() != c.cfg.Keys.Type() {
		return KeySet{}, statusError(SWWrongData, fmt.Errorf("PUT KEY brings %v keys for a %v card: %w", ks.Type(), c.cfg.Keys.Type(), ErrBadKeyData))
	}
	return ks, nil
}

// DecryptChallenge decrypts the START ENROLLMENT challenge block under the
// static KEK. The block must hold 16 bytes and no check value.
func (c *CardSession) DecryptChallenge(b KeyBlock) ([]byte, error) {
	if c.state != cardOpen {
		return nil, statusError(SWSecurityNotSatisfied, ErrNoChannel)
	}
	if len(b.Check) != 0 {
		return nil, fmt.Errorf("gp: challenge block with a check value: %w", ErrBadKeyData)
	}
	return UnwrapChallenge(c.cfg.Keys.KEK, b.Wrapped)
}

// UnwrapTransportKey recovers the IMPORT KEY ENCRYPTED transport key under
// the session DEK, verifying its check value when present.
func (c *CardSession) UnwrapTransportKey(b KeyBlock) (Key, error) {
	if c.state != cardOpen {
		return Key{}, statusError(SWSecurityNotSatisfied, ErrNoChannel)
	}
	k, err := UnwrapKey(c.ch.keys.DEK, b)
	if err != nil {
		return Key{}, err
	}
	if k.typ != DES3 || len(k.b) != 16 {
		return Key{}, fmt.Errorf("gp: transport key must be 2-key 3DES: %w", ErrBadKeyData)
	}
	return k, nil
}
