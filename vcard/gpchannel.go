package vcard

import (
	"errors"
	"io"

	"github.com/coolkey-go/coolkey-go/gp"
)

// GPSecureChannel is the SecureChannelProvider built on package gp: SCP01,
// SCP02 (i=15) and SCP03 card sessions with the security domain's static
// keys, undiversified (the card holds its own diversified keys).
type GPSecureChannel struct {
	// Rand supplies card challenges; nil means crypto/rand.
	Rand io.Reader
}

// InitializeUpdate opens a gp.CardSession with the key set P1 names (00: the
// default one).
func (g GPSecureChannel) InitializeUpdate(sd *SecurityDomain, cmd Command) ([]byte, SecureSession, error) {
	ks, ok := sd.KeySet(cmd.P1)
	if !ok {
		return nil, nil, SWReferencedDataNotFound
	}
	keyType := gp.DES3
	if sd.SCP == 3 {
		keyType = gp.AES
	}
	keys := gp.KeySet{Version: ks.Version}
	var err error
	for _, k := range []struct {
		dst *gp.Key
		b   []byte
	}{{&keys.ENC, ks.ENC}, {&keys.MAC, ks.MAC}, {&keys.KEK, ks.DEK}} {
		if *k.dst, err = gp.NewKey(keyType, k.b); err != nil {
			return nil, nil, SWReferencedDataNotFound
		}
	}
	cfg := gp.CardConfig{
		Protocol:        gp.Protocol(sd.SCP),
		Keys:            keys,
		SequenceCounter: sd.SequenceCounter,
		Rand:            g.Rand,
	}
	if sd.SCP == 3 {
		cfg.Param = sd.SCPParam
	}
	copy(cfg.KDD[:], sd.KDD)
	cs, err := gp.NewCardSession(cfg)
	if err != nil {
		return nil, nil, SWReferencedDataNotFound
	}
	resp, err := cs.InitializeUpdate(cmd.Bytes())
	if err != nil {
		return nil, nil, gpStatus(err)
	}
	return resp, &gpSession{cs: cs, sd: sd}, nil
}

type gpSession struct {
	cs *gp.CardSession
	sd *SecurityDomain
}

func (s *gpSession) ExternalAuthenticate(cmd Command) error {
	err := s.cs.ExternalAuthenticate(cmd.Bytes())
	// SCP02 counts sessions; the card persists the counter.
	s.sd.SequenceCounter = s.cs.SequenceCounter()
	return gpStatus(err)
}

func (s *gpSession) Unwrap(cmd Command) (Command, error) {
	plain, err := s.cs.UnwrapCommand(cmd.Bytes())
	if err != nil {
		return Command{}, gpStatus(err)
	}
	out := Command{CLA: plain.CLA, INS: plain.INS, P1: plain.P1, P2: plain.P2, Data: plain.Data}
	if plain.HasLe {
		out.Le = expectedLength(plain.Le)
	}
	return out, nil
}

func (s *gpSession) DecryptChallenge(block []byte) ([]byte, error) {
	b, _, err := gp.ParseKeyBlock(block)
	if err != nil {
		return nil, swBadWrappedKey
	}
	return s.cs.DecryptChallenge(b)
}

func (s *gpSession) UnwrapTransportKey(block []byte) ([]byte, error) {
	b, _, err := gp.ParseKeyBlock(block)
	if err != nil {
		return nil, swBadWrappedKey
	}
	k, err := s.cs.UnwrapTransportKey(b)
	if err != nil {
		return nil, err
	}
	return k.Bytes(), nil
}

func (s *gpSession) PutKey(plain Command) (GPKeySet, []byte, error) {
	cmd := gp.Command{CLA: plain.CLA, INS: plain.INS, P1: plain.P1, P2: plain.P2, Data: plain.Data}
	if plain.Le > 0 {
		cmd.HasLe, cmd.Le = true, byte(plain.Le)
	}
	ks, err := s.cs.UnwrapPutKey(cmd)
	if err != nil {
		return GPKeySet{}, nil, gpStatus(err)
	}
	resp := []byte{ks.Version}
	for _, k := range []gp.Key{ks.ENC, ks.MAC, ks.KEK} {
		kcv := k.KCV()
		resp = append(resp, kcv[:]...)
	}
	return GPKeySet{Version: ks.Version, ENC: ks.ENC.Bytes(), MAC: ks.MAC.Bytes(), DEK: ks.KEK.Bytes()}, resp, nil
}

// gpStatus turns a gp error into the status word the card answers.
func gpStatus(err error) error {
	if err == nil {
		return nil
	}
	if sw, ok := gp.StatusWord(err); ok {
		return SW(sw)
	}
	var se *gp.StatusError
	if errors.As(err, &se) {
		return SW(se.SW)
	}
	return SWUnknown
}
