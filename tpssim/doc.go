// Package tpssim is a test TPS: the server side of the Dogtag token
// protocol (package tps), faithful enough to drive real clients and cards
// through format, enroll and PIN reset, with a software TKS holding the
// GlobalPlatform developer keys and a certificate authority of its own.
//
// It follows the Java TPS where a client or card could tell the difference:
// the HTTP rules (405 for a method other than POST, 400 for a body that is
// not chunked, 200 and a chunked answer at once otherwise), the message
// sequence, the APDUs of each flow (tps.md §2), the progress task names, the
// END_OP codes and the token-state transitions. It differs where Dogtag is
// weak: it verifies the card's proof of possession of each generated key,
// bounds everything it reads from the client and the card, and answers a
// malformed or out-of-place client message with an END_OP instead of
// dropping the connection.
//
// State (token records, activity log, CA and TLS keys) lives in one
// directory so that a restarted server remembers the cards it enrolled.
package tpssim
