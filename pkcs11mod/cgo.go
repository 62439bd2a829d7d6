package pkcs11mod

/*
#cgo CFLAGS: -I${SRCDIR}/../include -Wall
#include <stdlib.h>
#include <string.h>
#include "pkcs11.h"

extern __attribute__((visibility("hidden"))) unsigned int pkcs11mod_forks; // functions.c
*/
import "C"

import (
	"bytes"
	"runtime/debug"
	"sync/atomic"
	"unsafe"
)

// forks returns how many forks led to this process (see functions.c): a
// forked child sees a larger number than its parent did, without a system
// call.
func forks() uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&C.pkcs11mod_forks)))
}

// The module is built for LP64 Unix, where CK_ULONG and Go's uint have the
// same size; the views below depend on it.
var (
	_ [unsafe.Sizeof(C.CK_ULONG(0)) - unsafe.Sizeof(uint(0))]struct{}
	_ [unsafe.Sizeof(uint(0)) - unsafe.Sizeof(C.CK_ULONG(0))]struct{}
)

// maxView bounds the length of a Go view of a caller's buffer. Lengths are
// the caller's claims (CK_UNAVAILABLE_INFORMATION included); pkcs11mod never
// touches more than it writes, but unsafe.Slice refuses absurd lengths.
const maxView = 1 << 40

// call runs the body of an exported function: it answers
// CKR_CRYPTOKI_NOT_INITIALIZED before looking at arguments when needInit is
// set, turns the error into a CK_RV, and turns a panic into
// CKR_GENERAL_ERROR so that it never reaches the host application.
func call(name string, needInit bool, body func() error) (rv C.CK_RV) {
	defer func() {
		if r := recover(); r != nil {
			lib.logger().Error("panic", "func", name, "panic", r, "stack", string(debug.Stack()))
			rv = C.CKR_GENERAL_ERROR
		}
	}()
	if needInit && !lib.initialized() {
		return C.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	err := body()
	code := returnValue(err)
	if log := lib.logger(); code != CKR_OK && code != CKR_BUFFER_TOO_SMALL {
		log.Debug(name, "rv", code, "err", err)
	} else {
		log.Debug(name, "rv", code)
	}
	return C.CK_RV(code)
}

func ulongPtr(p *C.CK_ULONG) *uint { return (*uint)(unsafe.Pointer(p)) }

// view is a Go slice over n bytes of the caller's memory at p (nil if p is
// NULL). It must not outlive the call.
func view(p unsafe.Pointer, n C.CK_ULONG) []byte {
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), min(uint(n), maxView))
}

// input copies a caller's input buffer; a NULL pointer is only valid for
// empty input.
func input(p C.CK_BYTE_PTR, n C.CK_ULONG) ([]byte, error) {
	if p == nil {
		if n != 0 {
			return nil, CKR_ARGUMENTS_BAD
		}
		return []byte{}, nil
	}
	return bytes.Clone(view(unsafe.Pointer(p), n)), nil
}

// secret is input for PINs: it is copied so that it can be zeroed after use.
func secret(p C.CK_UTF8CHAR_PTR, n C.CK_ULONG) ([]byte, error) {
	if p == nil {
		if n != 0 {
			return nil, CKR_ARGUMENTS_BAD
		}
		return nil, nil
	}
	return bytes.Clone(view(unsafe.Pointer(p), n)), nil
}

func wipe(b []byte) { clear(b) }

// output wraps a caller's (pOut, pulOutLen) pair.
func output(p C.CK_BYTE_PTR, pulLen C.CK_ULONG_PTR) (outBuf, error) {
	if pulLen == nil {
		return outBuf{}, CKR_ARGUMENTS_BAD
	}
	return outBuf{buf: view(unsafe.Pointer(p), *pulLen), null: p == nil, size: ulongPtr(pulLen)}, nil
}

// text is a fixed-width string field of a C structure as a byte slice.
func text[T ~uint8](field []T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&field[0])), len(field))
}

// template copies a caller's template (FindObjectsInit, CreateObject, ...).
// Attribute-array values (CKA_WRAP_TEMPLATE and friends) hold pointers and
// are not passed on: they fail with CKR_ATTRIBUTE_TYPE_INVALID.
func template(p C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) ([]Attribute, error) {
	if n == 0 {
		return nil, nil
	}
	if p == nil || n > 1<<20 {
		return nil, CKR_ARGUMENTS_BAD
	}
	cs := unsafe.Slice(p, n)
	attrs := make([]Attribute, len(cs))
	for i := range cs {
		t := AttributeType(cs[i]._type)
		if t&CKF_ARRAY_ATTRIBUTE != 0 && t != CKA_ALLOWED_MECHANISMS {
			return nil, CKR_ATTRIBUTE_TYPE_INVALID
		}
		if cs[i].pValue == nil && cs[i].ulValueLen != 0 {
			return nil, CKR_ARGUMENTS_BAD
		}
		if uint(cs[i].ulValueLen) == CK_UNAVAILABLE_INFORMATION {
			return nil, CKR_ATTRIBUTE_VALUE_INVALID
		}
		attrs[i] = Attribute{Type: t, Value: bytes.Clone(view(unsafe.Pointer(cs[i].pValue), cs[i].ulValueLen))}
		if attrs[i].Value == nil {
			attrs[i].Value = []byte{}
		}
	}
	return attrs, nil
}

// isPSS lists the mechanisms whose parameter is a CK_RSA_PKCS_PSS_PARAMS.
func isPSS(m MechanismType) bool {
	switch m {
	case CKM_RSA_PKCS_PSS, CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS,
		CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
		CKM_SHA3_224_RSA_PKCS_PSS, CKM_SHA3_256_RSA_PKCS_PSS,
		CKM_SHA3_384_RSA_PKCS_PSS, CKM_SHA3_512_RSA_PKCS_PSS:
		return true
	}
	return false
}

// mechanism decodes a caller's CK_MECHANISM (nil for NULL).
func mechanism(p C.CK_MECHANISM_PTR) (*Mechanism, error) {
	if p == nil {
		return nil, nil
	}
	m := &Mechanism{Type: MechanismType(p.mechanism)}
	param, n := unsafe.Pointer(p.pParameter), uintptr(p.ulParameterLen)
	if param == nil {
		if n != 0 {
			return nil, CKR_MECHANISM_PARAM_INVALID
		}
		return m, nil
	}
	switch {
	case isPSS(m.Type):
		if n != unsafe.Sizeof(C.CK_RSA_PKCS_PSS_PARAMS{}) {
			return nil, CKR_MECHANISM_PARAM_INVALID
		}
		c := (*C.CK_RSA_PKCS_PSS_PARAMS)(param)
		m.Parameter = &PSSParams{HashAlg: MechanismType(c.hashAlg), MGF: uint(c.mgf), SaltLength: uint(c.sLen)}
	case m.Type == CKM_RSA_PKCS_OAEP:
		if n != unsafe.Sizeof(C.CK_RSA_PKCS_OAEP_PARAMS{}) {
			return nil, CKR_MECHANISM_PARAM_INVALID
		}
		c := (*C.CK_RSA_PKCS_OAEP_PARAMS)(param)
		src, err := paramBytes(unsafe.Pointer(c.pSourceData), c.ulSourceDataLen)
		if err != nil {
			return nil, err
		}
		m.Parameter = &OAEPParams{HashAlg: MechanismType(c.hashAlg), MGF: uint(c.mgf), Source: uint(c.source), SourceData: src}
	case m.Type == CKM_ECDH1_DERIVE || m.Type == CKM_ECDH1_COFACTOR_DERIVE:
		if n != unsafe.Sizeof(C.CK_ECDH1_DERIVE_PARAMS{}) {
			return nil, CKR_MECHANISM_PARAM_INVALID
		}
		c := (*C.CK_ECDH1_DERIVE_PARAMS)(param)
		shared, err := paramBytes(unsafe.Pointer(c.pSharedData), c.ulSharedDataLen)
		if err != nil {
			return nil, err
		}
		public, err := paramBytes(unsafe.Pointer(c.pPublicData), c.ulPublicDataLen)
		if err != nil {
			return nil, err
		}
		m.Parameter = &ECDH1DeriveParams{KDF: uint(c.kdf), SharedData: shared, PublicData: public}
	case m.Type == CKM_AES_GCM:
		if n != unsafe.Sizeof(C.CK_GCM_PARAMS{}) {
			return nil, CKR_MECHANISM_PARAM_INVALID
		}
		c := (*C.CK_GCM_PARAMS)(param)
		iv, err := paramBytes(unsafe.Pointer(c.pIv), c.ulIvLen)
		if err != nil {
			return nil, err
		}
		aad, err := paramBytes(unsafe.Pointer(c.pAAD), c.ulAADLen)
		if err != nil {
			return nil, err
		}
		m.Parameter = &GCMParams{IV: iv, IVBits: uint(c.ulIvBits), AAD: aad, TagBits: uint(c.ulTagBits)}
	default:
		m.Parameter = RawParameter(bytes.Clone(view(param, C.CK_ULONG(n))))
	}
	return m, nil
}

func paramBytes(p unsafe.Pointer, n C.CK_ULONG) ([]byte, error) {
	if p == nil {
		if n != 0 {
			return nil, CKR_MECHANISM_PARAM_INVALID
		}
		return nil, nil
	}
	return bytes.Clone(view(p, n)), nil
}

// requiredMechanism is mechanism for the functions where NULL is an error.
func requiredMechanism(p C.CK_MECHANISM_PTR) (Mechanism, error) {
	m, err := mechanism(p)
	if err != nil {
		return Mechanism{}, err
	}
	if m == nil {
		return Mechanism{}, CKR_ARGUMENTS_BAD
	}
	return *m, nil
}

func cVersion(v Version) C.CK_VERSION {
	return C.CK_VERSION{major: C.CK_BYTE(v.Major), minor: C.CK_BYTE(v.Minor)}
}

// cString reads NSS's LibraryParameters string, bounded in case it is not
// terminated.
func cString(p unsafe.Pointer) string {
	const max = 1 << 16
	n := C.strnlen((*C.char)(p), max)
	return string(view(p, C.CK_ULONG(n)))
}
