// Package pkcs11mod exposes a Go [Backend] as a PKCS#11 (Cryptoki) module: the
// C ABI a c-shared library must offer to NSS, p11-kit, GnuTLS, OpenSSL and
// pkcs11-tool.
//
// A module is a main package built with -buildmode=c-shared that imports
// pkcs11mod and calls [Register] from its init function. pkcs11mod exports
// every C_* function of PKCS#11 3.0, a static version 2.40 CK_FUNCTION_LIST
// (C_GetFunctionList) and a 3.0 interface (C_GetInterface,
// C_GetInterfaceList); the headers it is compiled against are in include/.
//
// What pkcs11mod does so that backends don't have to:
//
//   - The global state machine: C_Initialize argument checks (mutex callbacks
//     all or none; NSS's LibraryParameters), CKR_CRYPTOKI_NOT_INITIALIZED and
//     _ALREADY_INITIALIZED, a fresh Backend on every C_Initialize (a Go
//     shared library is never unloaded), and fork detection: a child process
//     gets CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize.
//   - Session handles, per-session operation state, CKS_* session states
//     derived from the token's login state, logout when the last session of
//     a token closes.
//   - The output length protocol (PKCS#11 v3.0 §5.2), in one place: a NULL
//     buffer gets the length without running a card operation when the
//     backend can bound it; a short buffer gets CKR_BUFFER_TOO_SMALL without
//     ending the operation or losing a computed result.
//   - C_GetAttributeValue exactly per the specification: every entry is
//     processed, CK_UNAVAILABLE_INFORMATION where a value cannot be given, and
//     CKR_ATTRIBUTE_SENSITIVE over CKR_ATTRIBUTE_TYPE_INVALID over
//     CKR_BUFFER_TOO_SMALL.
//   - C_WaitForSlotEvent with CKF_DONT_BLOCK, and a blocked call that returns
//     CKR_CRYPTOKI_NOT_INITIALIZED when another thread calls C_Finalize.
//   - A recover in every entry point (a panic becomes CKR_GENERAL_ERROR), no
//     output on stdout or stderr, and logging only to the file named in the
//     environment variable configured with [Config]. PINs are never logged.
//
// Known limits: attribute values that are arrays of attributes
// (CKA_WRAP_TEMPLATE and the like) are not passed through; C_GetOperationState,
// the dual-function and recover functions and the 3.0 message functions
// return CKR_FUNCTION_NOT_SUPPORTED; notification callbacks are never made.
//
// Only LP64 Unix (Linux) is supported: CK_ULONG must be as wide as Go's uint
// and structures are not packed.
package pkcs11mod
