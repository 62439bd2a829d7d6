// Package vcard is a virtual CoolKey smart card: the CoolKey applet (the
// SafeNet SC650 branch of com.redhat.ckey.applet.CardEdge, with ECC), a
// GlobalPlatform issuer security domain, and the persistent card image that
// holds everything a real card keeps in EEPROM.
//
// A Card answers command APDUs exactly as the applet does — the same status
// words, response lengths, login nonce, ACL evaluation, object heap
// accounting and I/O buffer quirks — so that host software (the C++ CoolKey
// PKCS#11 module, OpenSC, a Dogtag TPS) cannot tell it from hardware. Every
// change the real card would write to EEPROM (PIN tries, objects, keys,
// life cycle) is written to the card's Store before the response leaves the
// card, atomically.
//
// A Slot puts a Card into a virtual reader: insertion, removal, power and
// transactions. Package vcard/serve connects a Slot to pcscd's vpcd driver
// or serves it on a socket; NewTransport gives in-process access through the
// cardedge.Transport interface.
//
// The GlobalPlatform secure channel is not implemented here: the card calls a
// SecureChannelProvider (see securechannel.go) for INITIALIZE UPDATE,
// EXTERNAL AUTHENTICATE and the unwrapping of 84-class commands.
package vcard
