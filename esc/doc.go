// Package esc is the enrollment helper: what the Enterprise Security Client
// did, without its GUI. It reads a CoolKey card's status, phones home to
// find the card's TPS, and runs format, enroll and PIN reset by relaying a
// Dogtag TPS's APDUs to the card (package tps), with progress, credentials
// and the new PIN supplied by callbacks.
//
// A Client holds what is per user: the configuration and phone-home cache
// (Config, in the XDG config directory), the trust store for TPS
// certificates, and the diagnostics log (DiagLog). Cards are reached through
// a cardedge.ReaderSource, so the same code runs against PC/SC readers,
// socket-served virtual cards or an in-process card.
//
// Errors carry a Kind (user error, TPS refusal, connection failure,
// untrusted certificate, card failure, cancellation) that maps to the
// command line's exit codes and to the GUI API's result codes. No PIN or
// password ever reaches an error, a log line or a file.
package esc
