package vcard

import "bytes"

// DefaultATR is the ATR of cards this package creates: T=1 (TD1 80, TD2
// 01), the historical bytes "vCoolKeyGo", and the check byte. Hosts do not
// filter on the ATR; pcscd only needs it to be well formed.
var DefaultATR = withTCK([]byte{0x3B, 0x8A, 0x80, 0x01, 'v', 'C', 'o', 'o', 'l', 'K', 'e', 'y', 'G', 'o'})

// withTCK appends the ATR check byte: the XOR of every byte after TS.
func withTCK(atr []byte) []byte {
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}

// DeveloperKey is the GlobalPlatform developer key 40 41 … 4F that Dogtag's
// TKS uses for key set version 1 without diversification.
var DeveloperKey = []byte{0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F}

// BlankImage returns the image of a card with no CoolKey applet: the given
// 42-byte CPLC data, the default ATR, a secured issuer security domain
// speaking SCP02 (i=15) with the developer key set as version 1.
func BlankImage(cplc []byte) *Image {
	return &Image{
		Format: ImageFormat,
		ATR:    bytes.Clone(DefaultATR),
		CPLC:   bytes.Clone(cplc),
		CardManager: CardManagerImage{
			AID:       bytes.Clone(DefaultISDAID),
			LifeCycle: HexByte(CardSecured),
			SCP:       0x02,
			SCPParam:  0x15,
			KeySets: []KeySetImage{{
				Version: 1,
				ENC:     bytes.Clone(DeveloperKey),
				MAC:     bytes.Clone(DeveloperKey),
				DEK:     bytes.Clone(DeveloperKey),
			}},
		},
	}
}

// InstallApplet loads the default CoolKey package and installs a fresh
// instance as a TPS format does: selectable (07), no PINs, keys or objects,
// the given object heap size (0 means the applet's default, 5000), and the
// factory ACLs (only the RA may create objects, keys and PINs).
func InstallApplet(img *Image, heapSize int) {
	if heapSize == 0 {
		heapSize = defaultHeapSize
	}
	pkg := DefaultPackage()
	b := pkg.BuildID
	img.Package = &PackageImage{
		AID:     bytes.Clone(pkg.AID),
		Version: "1.4",
		BuildID: Hex{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)},
	}
	img.Applet = &AppletImage{
		AID:       bytes.Clone(DefaultAppletAID),
		LifeCycle: HexByte(LifeCycleSelectable),
		HeapSize:  heapSize,
		CreateACL: CreateACLImage{Object: HexShort(raACL), Key: HexShort(raACL), PIN: HexShort(raACL)},
		PINs:      []PINImage{},
		Keys:      []KeyImage{},
		Objects:   []ObjectImage{},
	}
}
