package pkcs11mod

import (
	"fmt"
	"strings"
)

// Numeric PKCS#11 types. They are CK_ULONG in C, which is 64 bits on the
// LP64 platforms this module is built for.
type (
	// SlotID is a CK_SLOT_ID.
	SlotID uint
	// ObjectHandle is a CK_OBJECT_HANDLE, chosen by the Backend. 0 is
	// CK_INVALID_HANDLE and must never name an object.
	ObjectHandle uint
	// SessionHandle is a CK_SESSION_HANDLE, chosen by pkcs11mod.
	SessionHandle uint
	// AttributeType is a CK_ATTRIBUTE_TYPE (CKA_*).
	AttributeType uint
	// MechanismType is a CK_MECHANISM_TYPE (CKM_*).
	MechanismType uint
	// UserType is a CK_USER_TYPE (CKU_*).
	UserType uint
	// ObjectClass is a CK_OBJECT_CLASS (CKO_*).
	ObjectClass uint
	// KeyType is a CK_KEY_TYPE (CKK_*).
	KeyType uint
)

// Error is a PKCS#11 return value (CK_RV) used as a Go error. The CKR_*
// constants have this type, so a backend can return CKR_PIN_INCORRECT
// directly or wrap it: fmt.Errorf("verify: %w", CKR_PIN_INCORRECT).
// CKR_OK must never be used as an error.
type Error uint

func (e Error) Error() string {
	if name, ok := errorNames[e]; ok {
		return name
	}
	return fmt.Sprintf("CKR_0x%08X", uint(e))
}

// LoginState is the login state of a token as seen by the application.
type LoginState int

const (
	// LoggedOut means public sessions only.
	LoggedOut LoginState = iota
	// UserLoggedIn means the normal user is logged in.
	UserLoggedIn
	// SOLoggedIn means the security officer is logged in.
	SOLoggedIn
)

func (s LoginState) String() string {
	switch s {
	case LoggedOut:
		return "logged out"
	case UserLoggedIn:
		return "user"
	case SOLoggedIn:
		return "security officer"
	}
	return fmt.Sprintf("LoginState(%d)", int(s))
}

// Version is a CK_VERSION.
type Version struct {
	Major, Minor uint8
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Attribute is one entry of a template: a type and its value in the native
// C layout (CK_ULONG values are 8 little-endian bytes on amd64, CK_BBOOL is
// one byte). Use [ULongValue], [BoolValue] and [Attribute.ULong] to convert.
type Attribute struct {
	Type  AttributeType
	Value []byte
}

// AttributeResult is the backend's answer for one attribute of
// C_GetAttributeValue: a value (possibly empty), or an Err of
// CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID.
type AttributeResult struct {
	Value []byte
	Err   error
}

// Mechanism is a CK_MECHANISM with its parameter decoded.
type Mechanism struct {
	Type MechanismType
	// Parameter is nil when the caller passed none. For the parameter
	// structures that contain pointers, and for RSA-PSS, pkcs11mod decodes
	// it into *PSSParams, *OAEPParams, *ECDH1DeriveParams or *GCMParams.
	// Any other parameter is a RawParameter holding the caller's bytes.
	Parameter MechanismParameter
}

// MechanismParameter is a decoded mechanism parameter; see [Mechanism].
type MechanismParameter interface{ mechanismParameter() }

// RawParameter is a mechanism parameter pkcs11mod does not interpret (an IV,
// say), as the caller's bytes.
type RawParameter []byte

// PSSParams is a CK_RSA_PKCS_PSS_PARAMS.
type PSSParams struct {
	HashAlg    MechanismType
	MGF        uint // CKG_MGF1_*
	SaltLength uint
}

// OAEPParams is a CK_RSA_PKCS_OAEP_PARAMS.
type OAEPParams struct {
	HashAlg    MechanismType
	MGF        uint // CKG_MGF1_*
	Source     uint // CKZ_DATA_SPECIFIED or 0
	SourceData []byte
}

// ECDH1DeriveParams is a CK_ECDH1_DERIVE_PARAMS.
type ECDH1DeriveParams struct {
	KDF        uint // CKD_*
	SharedData []byte
	PublicData []byte
}

// GCMParams is a CK_GCM_PARAMS (PKCS#11 3.0 layout, with ulIvBits).
type GCMParams struct {
	IV      []byte
	IVBits  uint
	AAD     []byte
	TagBits uint
}

func (RawParameter) mechanismParameter()       {}
func (*PSSParams) mechanismParameter()         {}
func (*OAEPParams) mechanismParameter()        {}
func (*ECDH1DeriveParams) mechanismParameter() {}
func (*GCMParams) mechanismParameter()         {}

// LibraryInfo is the backend's part of CK_INFO.
type LibraryInfo struct {
	Manufacturer   string // at most 32 bytes are used
	Description    string // at most 32 bytes are used
	LibraryVersion Version
}

// SlotInfo is a CK_SLOT_INFO.
type SlotInfo struct {
	Description     string // at most 64 bytes are used
	Manufacturer    string // at most 32 bytes are used
	Flags           uint   // CKF_TOKEN_PRESENT, CKF_REMOVABLE_DEVICE, CKF_HW_SLOT
	HardwareVersion Version
	FirmwareVersion Version
}

// TokenInfo is a CK_TOKEN_INFO. Counts that are unknown should be
// CK_UNAVAILABLE_INFORMATION; MaxSessionCount 0 means no limit
// (CK_EFFECTIVELY_INFINITE).
type TokenInfo struct {
	Label              string // at most 32 bytes are used
	Manufacturer       string // at most 32 bytes are used
	Model              string // at most 16 bytes are used
	SerialNumber       string // at most 16 bytes are used
	Flags              uint
	MaxSessionCount    uint
	SessionCount       uint // set by pkcs11mod
	MaxRwSessionCount  uint
	RwSessionCount     uint // set by pkcs11mod
	MaxPinLen          uint
	MinPinLen          uint
	TotalPublicMemory  uint
	FreePublicMemory   uint
	TotalPrivateMemory uint
	FreePrivateMemory  uint
	HardwareVersion    Version
	FirmwareVersion    Version
	// UTCTime is "YYYYMMDDhhmmss00" for tokens with CKF_CLOCK_ON_TOKEN,
	// else empty (sent as blanks).
	UTCTime string
}

// MechanismInfo is a CK_MECHANISM_INFO.
type MechanismInfo struct {
	MinKeySize, MaxKeySize uint
	Flags                  uint // CKF_HW, CKF_SIGN, CKF_DECRYPT, ...
}

// trimBlank removes the blank padding of a fixed-width PKCS#11 string.
func trimBlank(b []byte) string {
	return strings.TrimRight(string(b), " ")
}
