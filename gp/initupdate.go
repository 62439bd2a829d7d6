package gp

import (
	"bytes"
	"fmt"
)

// Protocol is a GlobalPlatform secure channel protocol.
type Protocol uint8

const (
	SCP01 Protocol = 1 // GP 2.0.1 / Visa OP, 3DES
	SCP02 Protocol = 2 // GP 2.1.1, 3DES, implementation option i=15 only
	SCP03 Protocol = 3 // GP 2.2 Amendment D, AES, S8 mode
)

func (p Protocol) String() string {
	switch p {
	case SCP01, SCP02, SCP03:
		return fmt.Sprintf("SCP%02d", uint8(p))
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// SecurityLevel is P1 of EXTERNAL AUTHENTICATE.
type SecurityLevel byte

const (
	// LevelMAC: every command carries a C-MAC.
	LevelMAC SecurityLevel = 0x01
	// LevelMACEnc: C-MAC and C-DECRYPTION (command data encrypted). Dogtag
	// always uses this level.
	LevelMACEnc SecurityLevel = 0x03
)

func (l SecurityLevel) valid() bool    { return l == LevelMAC || l == LevelMACEnc }
func (l SecurityLevel) encrypts() bool { return l&0x02 != 0 }

// Instruction bytes of the GP commands this package builds or parses.
const (
	INSInitializeUpdate     = 0x50
	INSExternalAuthenticate = 0x82
	INSPutKey               = 0xD8
)

// ChallengeLen is the length of the host challenge (and of the SCP01 and
// SCP03 card challenges).
const ChallengeLen = 8

// InitializeUpdate is the INITIALIZE UPDATE command: 80 50 <key version>
// <key index> 08 <host challenge>.
type InitializeUpdate struct {
	KeyVersion    byte // 00 = the card's current key set
	KeyIndex      byte
	HostChallenge [ChallengeLen]byte
	// WithLe appends Le=00 as GlobalPlatformPro does; Dogtag sends no Le.
	WithLe bool
}

// Command returns the command APDU.
func (iu InitializeUpdate) Command() Command {
	return Command{CLA: 0x80, INS: INSInitializeUpdate, P1: iu.KeyVersion, P2: iu.KeyIndex,
		Data: bytes.Clone(iu.HostChallenge[:]), HasLe: iu.WithLe}
}

// Encode returns the command APDU bytes.
func (iu InitializeUpdate) Encode() []byte {
	b, _ := iu.Command().Encode() // 8 data bytes always fit
	return b
}

// ParseInitializeUpdate decodes an INITIALIZE UPDATE command (card side).
func ParseInitializeUpdate(apdu []byte) (InitializeUpdate, error) {
	c, err := ParseCommand(apdu)
	if err != nil {
		return InitializeUpdate{}, statusError(SWWrongLength, err)
	}
	return initializeUpdateFromCommand(c)
}

func initializeUpdateFromCommand(c Command) (InitializeUpdate, error) {
	if c.INS != INSInitializeUpdate {
		return InitializeUpdate{}, statusError(SWINSNotSupported, fmt.Errorf("INS %02X is not INITIALIZE UPDATE", c.INS))
	}
	if len(c.Data) != ChallengeLen {
		return InitializeUpdate{}, statusError(SWWrongLength,
			fmt.Errorf("host challenge of %d bytes: %w", len(c.Data), ErrLength))
	}
	iu := InitializeUpdate{KeyVersion: c.P1, KeyIndex: c.P2, WithLe: c.HasLe}
	copy(iu.HostChallenge[:], c.Data)
	return iu, nil
}

// InitializeUpdateResponse is the data of the card's answer to INITIALIZE
// UPDATE (docs/tps.md §3.3):
//
//	SCP01: KDD(10) ‖ key version ‖ 01 ‖ card challenge(8) ‖ card cryptogram(8)   28 bytes
//	SCP02: KDD(10) ‖ key version ‖ 02 ‖ sequence counter(2) ‖ card challenge(6) ‖ cryptogram(8)   28 bytes
//	SCP03: KDD(10) ‖ key version ‖ 03 ‖ i ‖ card challenge(8) ‖ cryptogram(8) [‖ sequence counter(3)]   29 or 32 bytes
type InitializeUpdateResponse struct {
	KDD        [KDDLen]byte
	KeyVersion byte
	// Protocol is the second key-information byte, the secure channel
	// protocol identifier. (Open Platform 2.0.1 cards put the key index
	// there, which is 01 as well.)
	Protocol Protocol
	// Param is SCP03's "i" parameter (third key-information byte); zero for
	// SCP01 and SCP02.
	Param byte
	// SequenceCounter is 2 bytes for SCP02, 3 bytes for SCP03 when Param has
	// the pseudo-random-challenge bit, and empty otherwise.
	SequenceCounter []byte
	// CardChallenge is 8 bytes for SCP01 and SCP03, 6 for SCP02.
	CardChallenge  []byte
	CardCryptogram [8]byte
}

// scp03PseudoRandom is the "i" bit for pseudo-random card challenges, which
// adds a 3-byte sequence counter to the INITIALIZE UPDATE answer.
const scp03PseudoRandom = 0x10

// Lengths of the INITIALIZE UPDATE answer data.
const (
	initUpdateRespLen       = 28 // SCP01, SCP02
	initUpdateRespLenSCP03  = 29
	initUpdateRespLenSCP03S = 32 // with sequence counter
)

// ParseInitializeUpdateResponse decodes the response data (without the
// status word) for protocol p. With p = 0 the protocol is taken from the
// second key-information byte: 02 → SCP02, 03 → SCP03, anything else SCP01
// (as Dogtag falls back to SCP01 when it cannot tell). The identifier byte
// must agree with p.
func ParseInitializeUpdateResponse(data []byte, p Protocol) (InitializeUpdateResponse, error) {
	if len(data) < 12 {
		return InitializeUpdateResponse{}, fmt.Errorf("gp: INITIALIZE UPDATE answer of %d bytes: %w", len(data), ErrLength)
	}
	if p == 0 {
		switch Protocol(data[11]) {
		case SCP02, SCP03:
			p = Protocol(data[11])
		default:
			p = SCP01
		}
	}
	// The identifier byte and the layout must agree, so that Encode gives
	// back the same bytes.
	if id := Protocol(data[11]); (p == SCP01 && (id == SCP02 || id == SCP03)) || (p != SCP01 && id != p) {
		return InitializeUpdateResponse{}, fmt.Errorf("gp: INITIALIZE UPDATE answer names protocol %02X, expected %v", byte(id), p)
	}
	var r InitializeUpdateResponse
	copy(r.KDD[:], data[:KDDLen])
	r.KeyVersion = data[10]
	r.Protocol = Protocol(data[11])
	wrongLen := func() error {
		return fmt.Errorf("gp: %v INITIALIZE UPDATE answer of %d bytes: %w", p, len(data), ErrLength)
	}
	switch p {
	case SCP01:
		if len(data) != initUpdateRespLen {
			return InitializeUpdateResponse{}, wrongLen()
		}
		r.CardChallenge = bytes.Clone(data[12:20])
		copy(r.CardCryptogram[:], data[20:28])
	case SCP02:
		if len(data) != initUpdateRespLen {
			return InitializeUpdateResponse{}, wrongLen()
		}
		r.SequenceCounter = bytes.Clone(data[12:14])
		r.CardChallenge = bytes.Clone(data[14:20])
		copy(r.CardCryptogram[:], data[20:28])
	case SCP03:
		if len(data) < initUpdateRespLenSCP03 {
			return InitializeUpdateResponse{}, wrongLen()
		}
		r.Param = data[12]
		want := initUpdateRespLenSCP03
		if r.Param&scp03PseudoRandom != 0 {
			want = initUpdateRespLenSCP03S
		}
		if len(data) != want {
			return InitializeUpdateResponse{}, wrongLen()
		}
		r.CardChallenge = bytes.Clone(data[13:21])
		copy(r.CardCryptogram[:], data[21:29])
		if want == initUpdateRespLenSCP03S {
			r.SequenceCounter = bytes.Clone(data[29:32])
		}
	default:
		return InitializeUpdateResponse{}, fmt.Errorf("gp: unsupported protocol %v", p)
	}
	return r, nil
}

// layout returns the layout the response is encoded with: the Protocol
// field, where anything but SCP02/SCP03 means the SCP01 layout.
func (r InitializeUpdateResponse) layout() Protocol {
	if r.Protocol == SCP02 || r.Protocol == SCP03 {
		return r.Protocol
	}
	return SCP01
}

// Encode returns the response data (without the status word).
func (r InitializeUpdateResponse) Encode() ([]byte, error) {
	out := make([]byte, 0, initUpdateRespLenSCP03S)
	out = append(out, r.KDD[:]...)
	out = append(out, r.KeyVersion, byte(r.Protocol))
	switch r.layout() {
	case SCP01:
		if len(r.CardChallenge) != 8 || len(r.SequenceCounter) != 0 {
			return nil, fmt.Errorf("gp: SCP01 answer needs an 8-byte card challenge and no sequence counter")
		}
		out = append(out, r.CardChallenge...)
	case SCP02:
		if len(r.CardChallenge) != 6 || len(r.SequenceCounter) != 2 {
			return nil, fmt.Errorf("gp: SCP02 answer needs a 2-byte sequence counter and a 6-byte card challenge")
		}
		out = append(out, r.SequenceCounter...)
		out = append(out, r.CardChallenge...)
	case SCP03:
		wantSeq := 0
		if r.Param&scp03PseudoRandom != 0 {
			wantSeq = 3
		}
		if len(r.CardChallenge) != 8 || len(r.SequenceCounter) != wantSeq {
			return nil, fmt.Errorf("gp: SCP03 answer needs an 8-byte card challenge and a %d-byte sequence counter", wantSeq)
		}
		out = append(out, r.Param)
		out = append(out, r.CardChallenge...)
	}
	out = append(out, r.CardCryptogram[:]...)
	if r.layout() == SCP03 {
		out = append(out, r.SequenceCounter...)
	}
	return out, nil
}

// KeyInfo returns the key-information bytes: version and protocol, plus "i"
// for SCP03.
func (r InitializeUpdateResponse) KeyInfo() []byte {
	if r.layout() == SCP03 {
		return []byte{r.KeyVersion, byte(r.Protocol), r.Param}
	}
	return []byte{r.KeyVersion, byte(r.Protocol)}
}
