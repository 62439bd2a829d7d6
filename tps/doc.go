// Package tps is the wire protocol between an enrollment client (the ESC's
// job) and a Dogtag Token Processing System.
//
// One HTTP/1.1 POST carries a whole token operation. Both bodies are
// chunked and used full duplex: the client opens with BEGIN_OP, the server
// then drives the exchange with requests (APDUs for the card, login, new
// PIN, progress) and the client answers each one, until the server sends
// END_OP. Every message travels in exactly one chunk, written and flushed on
// its own, because the reference client (the ESC) splits the stream into
// messages at chunk boundaries; the reference server instead frames by the
// message's own "s=<length>&" prefix. This package writes the former and
// reads the latter, so it interoperates with both.
//
// A message is "s=<N>&msg_type=<T>&name=value&…", N being the byte length of
// everything after the first '&'. Field values use several different
// encodings (APDUs as %XX, credentials form-encoded, the new PIN raw); the
// message types here hide that: Encode and Decode convert between typed
// structs and wire bytes, and refuse values that the peer would corrupt.
//
// The package also holds the phone-home ServiceInfo document (phonehome.go)
// that tells a client which TPS serves a card.
package tps
