package vcard

// The GlobalPlatform secure channel is computed outside this package: the
// card calls a SecureChannelProvider, which package gp (SCP01/SCP02) is
// meant to satisfy through a small adapter. The card only routes commands
// and keeps the session state a real card keeps:
//
//   - INITIALIZE UPDATE (80 50), whether the security domain or the CoolKey
//     applet is selected, asks the provider for a new session; the previous
//     one ends.
//   - EXTERNAL AUTHENTICATE (84 82) completes it.
//   - Every later 84-class command is unwrapped by the session; an unwrap
//     error ends the session and its status word is the answer.
//   - A reset, a power cycle, or any SELECT ends the session.

// GPKeySet is one static key set of the issuer security domain.
type GPKeySet struct {
	Version byte
	// ENC, MAC and DEK (Dogtag calls them auth, mac and kek): 16-byte
	// 2-key 3DES keys for SCP01/SCP02, AES keys for SCP03.
	ENC, MAC, DEK []byte
}

// SecurityDomain is the persistent state of the issuer security domain that
// a secure channel needs. Providers may change SequenceCounter (SCP02) and,
// for PUT KEY, Keys; the card persists it after each command.
type SecurityDomain struct {
	AID []byte
	// KDD is the key diversification data INITIALIZE UPDATE returns
	// first (normally the CUID).
	KDD []byte
	// SCP is the secure channel protocol (1, 2 or 3) and SCPParam its "i"
	// parameter (05 or 15 for SCP01/02, e.g. 00 or 60 for SCP03, whose
	// pseudo-random card challenges, bit 10, are not implemented).
	SCP, SCPParam byte
	// Keys holds the key sets; Keys[0] is the default one (P1 = 00).
	Keys []GPKeySet
	// SequenceCounter is SCP02's session counter.
	SequenceCounter uint16
}

// KeySet returns the key set with the given version, or the default one for
// version 0, and false when there is none.
func (sd *SecurityDomain) KeySet(version byte) (GPKeySet, bool) {
	if len(sd.Keys) == 0 {
		return GPKeySet{}, false
	}
	if version == 0 {
		return sd.Keys[0], true
	}
	for _, k := range sd.Keys {
		if k.Version == version {
			return k, true
		}
	}
	return GPKeySet{}, false
}

// SecureChannelProvider opens card-side secure channel sessions.
type SecureChannelProvider interface {
	// InitializeUpdate answers INITIALIZE UPDATE (cmd is the whole 80 50
	// command: P1 key version, P2 key ID, data the host challenge). It
	// returns the response data (28 bytes for SCP01/02) and the session
	// that EXTERNAL AUTHENTICATE will complete. Return an SW to answer with
	// that status word (6A88 for an unknown key version).
	InitializeUpdate(sd *SecurityDomain, cmd Command) ([]byte, SecureSession, error)
}

// SecureSession is one card-side secure channel session.
type SecureSession interface {
	// ExternalAuthenticate checks the host cryptogram and C-MAC of 84 82 and
	// records the security level. An error (an SW) rejects it.
	ExternalAuthenticate(cmd Command) error
	// Unwrap verifies the C-MAC of an 84-class command (and decrypts its
	// data at security level 03), returning the plain command with CLA 84
	// and Data the plain data. Any error ends the session.
	Unwrap(cmd Command) (Command, error)
	// The applet hands key blocks to its security domain (OP's
	// decryptVerifyKey) in two places; a block is
	// type(1) ‖ length(1) ‖ wrapped key ‖ check length(1) ‖ check value.
	//
	// DecryptChallenge decrypts START ENROLLMENT's 16-byte challenge, which
	// Dogtag wraps under the static KEK (3DES-ECB for SCP01 and SCP02).
	DecryptChallenge(block []byte) ([]byte, error)
	// UnwrapTransportKey recovers IMPORT KEY ENCRYPTED's 2-key 3DES
	// transport key, wrapped under the session DEK (the static KEK for
	// SCP01, S-DEK for SCP02), verifying its check value when present.
	UnwrapTransportKey(block []byte) ([]byte, error)
	// PutKey checks an unwrapped PUT KEY (84 D8, plain) and returns the new
	// key set (keys decrypted under the session DEK, check values verified)
	// and the response data: new version ‖ the three key check values.
	PutKey(plain Command) (GPKeySet, []byte, error)
}
