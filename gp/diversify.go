package gp

import (
	"fmt"
)

// KDDLen is the length of the key diversification data, the first 10 bytes
// of an INITIALIZE UPDATE answer (normally the card's CUID).
const KDDLen = 10

// Diversification is a method of deriving a card's static keys from master
// keys and the card's key diversification data (docs/tps.md §3.2).
type Diversification uint8

const (
	// DiversifyNone uses the master keys as the card keys (Dogtag's rule for
	// the developer key set, key info 01 01).
	DiversifyNone Diversification = iota
	// DiversifyVISA2: card key = 3DES-ECB(master, kdd0 kdd1 kdd4..kdd7 F0 0k
	// kdd0 kdd1 kdd4..kdd7 0F 0k), k = 1 ENC, 2 MAC, 3 KEK.
	DiversifyVISA2
	// DiversifyEMV (EMV CPS / CPG 2.0.4): card key = 3DES-ECB(master,
	// kdd4..kdd9 F0 0k kdd4..kdd9 0F 0k).
	DiversifyEMV
	// DiversifyKDF3 is GlobalPlatformPro's "kdf3" for AES master keys:
	// card key = AES-CMAC(master, i 00 00 00 k 00 kdd0..kdd9) for i = 1, 2…
	// concatenated to the key length.
	DiversifyKDF3
)

func (d Diversification) String() string {
	switch d {
	case DiversifyNone:
		return "none"
	case DiversifyVISA2:
		return "visa2"
	case DiversifyEMV:
		return "emv"
	case DiversifyKDF3:
		return "kdf3"
	}
	return fmt.Sprintf("Diversification(%d)", uint8(d))
}

// ParseDiversification maps the names used by String (and by Dogtag's and
// GlobalPlatformPro's configuration) to a Diversification.
func ParseDiversification(s string) (Diversification, error) {
	for d := DiversifyNone; d <= DiversifyKDF3; d++ {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("gp: unknown key diversification %q", s)
}

// Key numbers used in diversification data.
const (
	keyNumENC = 1
	keyNumMAC = 2
	keyNumKEK = 3
)

// Diversify derives the card's static key set from a master key set and the
// card's KDD. The version is kept. With DiversifyNone the master set is
// returned unchanged.
func Diversify(master KeySet, d Diversification, kdd []byte) (KeySet, error) {
	if err := master.Validate(); err != nil {
		return KeySet{}, err
	}
	if d == DiversifyNone {
		return master, nil
	}
	if len(kdd) != KDDLen {
		return KeySet{}, fmt.Errorf("gp: key diversification data must be %d bytes, got %d", KDDLen, len(kdd))
	}
	out := KeySet{Version: master.Version}
	for _, x := range []struct {
		dst    *Key
		master Key
		num    byte
	}{
		{&out.ENC, master.ENC, keyNumENC},
		{&out.MAC, master.MAC, keyNumMAC},
		{&out.KEK, master.KEK, keyNumKEK},
	} {
		k, err := diversifyKey(x.master, d, kdd, x.num)
		if err != nil {
			return KeySet{}, err
		}
		*x.dst = k
	}
	return out, nil
}

func diversifyKey(master Key, d Diversification, kdd []byte, num byte) (Key, error) {
	switch d {
	case DiversifyVISA2, DiversifyEMV:
		if master.typ != DES3 {
			return Key{}, fmt.Errorf("gp: %v diversification needs 3DES master keys", d)
		}
		var half []byte
		if d == DiversifyVISA2 {
			half = []byte{kdd[0], kdd[1], kdd[4], kdd[5], kdd[6], kdd[7]}
		} else {
			half = kdd[4:10]
		}
		data := make([]byte, 0, 16)
		data = append(data, half...)
		data = append(data, 0xF0, num)
		data = append(data, half...)
		data = append(data, 0x0F, num)
		// The derivation data is 16 bytes, so the card key is 2-key 3DES.
		return Key{typ: DES3, b: ecbEncrypt(tdesBlock(master.b), data)}, nil
	case DiversifyKDF3:
		if master.typ != AES {
			return Key{}, fmt.Errorf("gp: kdf3 diversification needs AES master keys")
		}
		// GPPro template "$_ 00 00 00 $k 00 kdd0..kdd9": the counter first.
		b := append([]byte{0, 0, 0, num, 0}, kdd...)
		return Key{typ: AES, b: kdfCounter(master.b, nil, b, len(master.b))}, nil
	}
	return Key{}, fmt.Errorf("gp: unsupported key diversification %v", d)
}
