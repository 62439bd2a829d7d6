// Package gp implements the GlobalPlatform secure channel protocols SCP01,
// SCP02 (i=15) and SCP03 (S8 mode) the way Dogtag's TPS and the CoolKey
// applet use them, for both ends of the channel:
//
//   - the host side (a TPS): build INITIALIZE UPDATE, check the card
//     cryptogram, build EXTERNAL AUTHENTICATE, wrap every later command with
//     C-MAC and C-DECRYPTION ([HostSession]); wrap keys and the enrollment
//     challenge under the KEK and build PUT KEY data;
//   - the card side (a virtual card's security domain): answer INITIALIZE
//     UPDATE, verify the host cryptogram, verify and strip the C-MAC and
//     decrypt every later command ([CardSession]); unwrap keys under the KEK.
//
// The package does no I/O: it turns bytes into bytes. Keys are held in [Key]
// values whose String and Format methods never reveal the key material.
//
// Everything here follows the project fact sheet docs/tps.md §3 (with the
// public GlobalPlatformPro and Dogtag self-test vectors as unit tests).
package gp
