package tpssim

import (
	"crypto/rand"
	"fmt"

	"github.com/coolkey-go/coolkey-go/gp"
)

// tks is the software Token Key Service: it holds the master key sets and
// opens the host end of secure channels. Only the developer key set
// (version 1, used as the card keys without diversification, as Dogtag's
// TKS does for key info 01 01) is configured; the key version the card
// reports selects the set.
type tks struct {
	des gp.KeySet // SCP01, SCP02
	aes gp.KeySet // SCP03 cards personalised with the developer key
}

func newTKS() *tks {
	return &tks{des: gp.DeveloperKeySet(), aes: gp.DeveloperKeySetAES()}
}

// hostSession returns a host session for the protocol the card uses.
func (t *tks) hostSession(p gp.Protocol) (*gp.HostSession, error) {
	cfg := gp.HostConfig{
		Protocol:        p,
		Keys:            t.des,
		Diversification: gp.DiversifyNone,
		Level:           gp.LevelMACEnc,
	}
	switch p {
	case gp.SCP01, gp.SCP02:
	case gp.SCP03:
		cfg.Keys = t.aes
	default:
		return nil, fmt.Errorf("unsupported secure channel protocol %v", p)
	}
	return gp.NewHostSession(cfg)
}

// randomData is computeRandomData: host challenges and enrollment
// challenges.
func (t *tks) randomData(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}
