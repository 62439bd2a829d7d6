// Package softhsmtests proves pkcs11mod's C ABI against a real token,
// independently of any smart card: the same PKCS#11 clients run against
// SoftHSMv2 directly and through passthrough (pkcs11mod over SoftHSM), and
// their outputs must agree. The clients are pkcs11-tool (including
// --test), NSS's modutil and certutil, GnuTLS's p11tool and abi, a C program
// in testdata that walks the corners of the ABI (every NULL and short-buffer
// combination of the length protocol, template edge cases, FindObjects
// chunking, session and login semantics, threads).
//
// The package has only tests. They need softhsm2, opensc (pkcs11-tool),
// libnss3-tools, gnutls-bin, openssl and gcc; without them they skip, unless
// COOLKEY_E2E_REQUIRED=1 (as in CI), when they fail.
package softhsmtests
