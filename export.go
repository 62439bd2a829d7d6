// Command libcoolkeypk11 is the CoolKey PKCS#11 module: the coolkey token
// backend exposed through pkcs11mod's C ABI. It is a c-shared library, built
// with the version script that limits its exports to the C_* functions:
//
//	go build -buildmode=c-shared \
//	    -ldflags="-extldflags=-Wl,--version-script=$PWD/exports.map" \
//	    -o libcoolkeypk11.so .
//
// (the script's path must be absolute: the external linker runs elsewhere).
//
// Logging is off unless COOLKEY_LOG names a file; COOLKEY_LOG_LEVEL chooses
// error, warn, info, debug (every PKCS#11 call) or trace (also APDUs, with
// PINs and keys masked).
package main

import (
	"github.com/coolkey-go/coolkey-go/coolkey"
	"github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// init only records the backend constructor: a shared library's init runs
// inside the host's dlopen, so it must not do I/O or anything that can fail.
// The backend is created by each C_Initialize.
func init() {
	pkcs11mod.Register(coolkey.NewBackend, pkcs11mod.Config{
		LogFileEnv:  "COOLKEY_LOG",
		LogLevelEnv: "COOLKEY_LOG_LEVEL",
	})
}

// main is required by -buildmode=c-shared and never runs.
func main() {}
