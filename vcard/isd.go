package vcard

import "encoding/binary"

// DefaultISDAID is the issuer security domain AID of GlobalPlatform 2.1.1
// cards. SELECT by the OP 2.0.1 form A0000000030000 (what OpenSC and the TPS
// send) matches it as a partial AID.
var DefaultISDAID = []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00}

// Card life-cycle states of the issuer security domain.
const (
	CardOPReady     byte = 0x01
	CardInitialized byte = 0x07
	CardSecured     byte = 0x0F
)

const (
	insGetData = 0xCA
	insPutKey  = 0xD8
)

// isdProcess handles a command while the issuer security domain is
// selected: GET DATA, the secure channel, PUT KEY, and card content
// management (DELETE, INSTALL, LOAD, GET STATUS; content.go). Everything
// but GET DATA and the channel's own commands needs the secure channel.
func (c *Card) isdProcess(cmd Command) ([]byte, error) {
	if cmd.INS != insLoad {
		c.loading = nil // a load runs only as long as LOAD blocks keep coming
	}
	switch cmd.CLA {
	case 0x00, 0x80:
		switch cmd.INS {
		case insGetData:
			return c.getData(cmd)
		case insInitializeUpdate:
			if cmd.CLA != 0x80 {
				return nil, SWCLANotSupported
			}
			return c.initializeUpdate(cmd)
		case insPutKey, insDelete, insInstall, insLoad, insGPGetStatus:
			if cmd.CLA == 0x80 {
				return nil, SWSecurityNotSatisfied
			}
		}
		return nil, SWINSNotSupported
	case 0x84:
		if cmd.INS == insExternalAuth {
			return nil, c.externalAuthenticate(cmd)
		}
		plain, err := c.unwrap(cmd)
		if err != nil {
			return nil, err
		}
		switch plain.INS {
		case insGetData:
			return c.getData(plain)
		case insPutKey:
			return c.putKey(plain)
		case insDelete, insInstall, insLoad, insGPGetStatus:
			return c.contentManagement(plain)
		}
		return nil, SWINSNotSupported
	}
	return nil, SWCLANotSupported
}

// maxKeySets bounds the key sets PUT KEY may add.
const maxKeySets = 8

// putKey stores the key set the host sent. P1 names the set it replaces
// (gp checks that it is the session's own); P1 00 adds a new set, except
// that the initial key set (version FF) is replaced, as GlobalPlatform
// does with a card's factory keys. From the next INITIALIZE UPDATE on only
// the stored sets open channels.
func (c *Card) putKey(plain Command) ([]byte, error) {
	ks, resp, err := c.session.PutKey(plain)
	if err != nil {
		return nil, err
	}
	i := -1
	switch {
	case plain.P1 != 0:
		for j := range c.sd.Keys {
			if c.sd.Keys[j].Version == plain.P1 {
				i = j
			}
		}
		if i < 0 {
			return nil, SWReferencedDataNotFound
		}
	case len(c.sd.Keys) > 0 && c.sd.Keys[0].Version == 0xFF:
		i = 0
	case len(c.sd.Keys) >= maxKeySets:
		return nil, SWNotEnoughMemory
	}
	if ks.Version == 0 || ks.Version > 0x7F && ks.Version != 0xFF {
		return nil, SWWrongData
	}
	for j := range c.sd.Keys {
		if j != i && c.sd.Keys[j].Version == ks.Version {
			return nil, SWWrongData // two sets with one version
		}
	}
	if i < 0 {
		c.sd.Keys = append(c.sd.Keys, ks)
	} else {
		c.sd.Keys[i] = ks
	}
	c.markDirty()
	return resp, nil
}

// getData answers GET DATA for CPLC (9F7F), Card Recognition Data (0066)
// and the Key Information Template (00E0). A host that asks for fewer
// bytes than the object has gets 6Cxx with the right length, as on T=0.
func (c *Card) getData(cmd Command) ([]byte, error) {
	var out []byte
	switch uint16(cmd.P1)<<8 | uint16(cmd.P2) {
	case 0x9F7F:
		out = append([]byte{0x9F, 0x7F, byte(len(c.cplc))}, c.cplc...)
	case 0x0066:
		out = tlv(0x66, c.cardRecognitionData())
	case 0x00E0:
		out = c.keyInformation()
	default:
		return nil, SWReferencedDataNotFound
	}
	if cmd.Le != 0 && cmd.Le != 256 && cmd.Le < len(out) {
		return nil, swCorrectLengthBase | SW(len(out))
	}
	return out, nil
}

// fci is the response to selecting the security domain: its AID, and as
// proprietary data the card recognition data and the maximum command
// length (9F65), as GlobalPlatform cards answer.
func (c *Card) fci() []byte {
	prop := append(c.cardRecognitionData(), 0x9F, 0x65, 0x01, 0xFF)
	return tlv(0x6F, append(tlv(0x84, c.sd.AID), tlv(0xA5, prop)...))
}

// gpOID is the GlobalPlatform OID arc 1.2.840.114283.
var gpOID = []byte{0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B}

// cardRecognitionData is the 73 template of GET DATA 0066: the card follows
// GlobalPlatform 2.1.1 and speaks the configured secure channel protocol.
// The TPS takes the SCP and its "i" from the last two bytes of the 64 OID.
func (c *Card) cardRecognitionData() []byte {
	oid := func(arc ...byte) []byte { return tlv(0x06, append(append([]byte(nil), gpOID...), arc...)) }
	var v []byte
	v = append(v, oid(0x01)...)                                     // card recognition data
	v = append(v, tlv(0x60, oid(0x02, 0x02, 0x01, 0x01))...)        // GP 2.1.1
	v = append(v, tlv(0x63, oid(0x03))...)                          // card identification scheme
	v = append(v, tlv(0x64, oid(0x04, c.sd.SCP, c.sd.SCPParam))...) // secure channel protocol
	return tlv(0x73, v)
}

// keyInformation is the E0 template: one C0 entry (key ID, version, type,
// length) per key of each key set; 80 is a DES key, 88 an AES key.
func (c *Card) keyInformation() []byte {
	var v []byte
	for _, ks := range c.sd.Keys {
		for i, k := range [][]byte{ks.ENC, ks.MAC, ks.DEK} {
			typ := byte(0x80)
			if c.sd.SCP == 3 {
				typ = 0x88
			}
			v = append(v, tlv(0xC0, []byte{byte(i + 1), ks.Version, typ, byte(len(k))})...)
		}
	}
	return tlv(0xE0, v)
}

// tlv encodes a BER-TLV with a one- or two-byte tag and a short or 81/82
// length.
func tlv(tag uint16, value []byte) []byte {
	var out []byte
	if tag > 0xFF {
		out = append(out, byte(tag>>8))
	}
	out = append(out, byte(tag))
	switch n := len(value); {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	}
	return append(out, value...)
}
