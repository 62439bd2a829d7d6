// Package coolkey is the CoolKey token backend of libcoolkeypk11.so: it
// implements pkcs11mod.Backend over package cardedge.
//
// Slots are PC/SC readers (IDs from 1 in the order pcscd lists them at
// C_Initialize; readers plugged in later get the next IDs; a slot never goes
// away) and, after them, one per virtual card named in COOLKEY_SIM
// (comma-separated addresses of `coolkey sim card serve --listen`).
//
// A card is read once per insertion, in one transaction and as few APDUs as
// the protocol allows: SELECT, GET LIFE CYCLE and the first 255 bytes of
// z0, then either the rest of z0 or, when the per-user object cache holds
// the same CUID, z0 version and first chunk, nothing. The decoded objects
// make an immutable table from which C_FindObjects and C_GetAttributeValue
// are answered; C_GetSlotInfo, C_GetTokenInfo and C_GetSessionInfo never
// talk to the card either.
//
// Token info follows the reference C++ module (label from the z0 token name,
// serial, model and manufacturer from the CUID, hardware version from the
// CUID's batch bytes, firmware version from the applet's protocol version)
// so that tools written for it read the same values; unlike it, the module
// sets the PIN-count flags, CKF_RNG and honest memory fields, hides private
// objects until login, logs out at C_Finalize, offers RSA-PSS, OAEP, hashed
// and EC mechanisms with padding and hashing done in Go over the applet's
// raw operations, and takes the PIN length from ulPinLen.
//
// CKA_EC_POINT is a DER OCTET STRING holding the uncompressed point, as
// PKCS#11 specifies and NSS, OpenSSL and GnuTLS expect; the reference module
// returns the bare point. Points stored bare on the card (as the TPS writes
// them) are accepted and re-encoded.
//
// Operations come in bursts (C_Login, C_Sign, C_Finalize within a few
// milliseconds), so a slot keeps its card transaction open for a short idle
// time after an operation that left the CoolKey applet selected, and the
// next operation skips the SELECT every new transaction needs: a whole
// `pkcs11-tool --login --sign` run with an RSA-2048 key is then 10 APDUs.
// The transaction is released when the idle time passes, on any error that
// is not the applet's own status word, on a card event, before
// C_WaitForSlotEvent blocks and at C_Finalize; under continuous use it is
// given up after at most 100 ms (four idle times if longer) for twice as
// long, so that other processes waiting for the card get their turn.
//
// APDUs are counted (APDUCount; COOLKEY_APDU_COUNT_FILE for other
// processes) and, at pkcs11mod.LevelTrace, logged with PINs, nonces,
// decrypted data and secrets masked.
//
// Environment, read at C_Initialize:
//
//	COOLKEY_SIM=addr[,addr...]  virtual cards on the socket transport, a slot each
//	COOLKEY_PCSC=off            no PC/SC readers (only COOLKEY_SIM cards)
//	COOLKEY_CACHE=off           no object cache
//	XDG_CACHE_HOME              where the object cache lives (…/coolkey-go)
//	COOLKEY_APDU_COUNT_FILE     file that receives the process's APDU count
//	COOLKEY_HOLD=DURATION       how long the card transaction stays open after an
//	                            operation: "25ms" (the default), a number of
//	                            milliseconds, at most 1s; 0 or off: released at once
//
// The library parameter noAppletOK=yes (what the ESC passes) makes cards
// without the CoolKey applet appear as tokens with firmware version 0.0.
package coolkey
