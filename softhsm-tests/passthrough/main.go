// Command passthrough is a PKCS#11 module (build it with -buildmode=c-shared)
// that forwards every call to another PKCS#11 module, SoftHSMv2 by default,
// through pkcs11mod. Running the same client against SoftHSM directly and
// through this module tests pkcs11mod's C ABI: the token behind both is the
// same, so any difference is pkcs11mod's.
//
// Environment:
//
//	PASSTHROUGH_TARGET     the module to forward to (default /usr/lib/softhsm/libsofthsm2.so)
//	PASSTHROUGH_LOG        log file (pkcs11mod logging); unset: no log
//	PASSTHROUGH_LOG_LEVEL  error, warn, info, debug or trace
package main

import "github.com/coolkey-go/coolkey-go/pkcs11mod"

func init() {
	pkcs11mod.Register(newBackend, pkcs11mod.Config{
		LogFileEnv:  "PASSTHROUGH_LOG",
		LogLevelEnv: "PASSTHROUGH_LOG_LEVEL",
	})
}

func main() {}
