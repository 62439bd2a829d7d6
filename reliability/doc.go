// Package reliability holds the project's reliability and security suites:
// the module facing card removal and reset at every stage of enumeration,
// login and signing, hostile cards (package vcard/hostile), PIN lockout
// with no hidden retries, a 16-thread C harness against a race-detector
// build of the module, a C torture test of API misuse, hostile test TPS
// servers against the enrollment client, kill -9 of processes writing the
// object cache, and a scan of every log the suite produced for PINs,
// passwords and key material.
//
// Everything here runs without pcscd: cards are served on the socket
// transport (COOLKEY_SIM) from the test process. The suites that need pcscd
// and vpcd (removal seen through PC/SC, a pcscd restart, several processes
// on one card) are in e2e/reliabilitye2e.
//
// docs/reliability.md describes what is covered, with the figures.
package reliability
