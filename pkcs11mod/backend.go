package pkcs11mod

import (
	"context"
	"log/slog"
)

// Backend provides the tokens behind the PKCS#11 C ABI.
//
// The split of responsibilities is:
//
//   - pkcs11mod owns everything that is the same for every token: the global
//     C_Initialize/C_Finalize state machine, session handles and their table,
//     the state of find, sign, decrypt, digest, encrypt and verify operations
//     (one active operation of each kind per session), the two-call output
//     length protocol, template marshalling, and the session state reported by
//     C_GetSessionInfo (derived from [Session.LoginState] and the RW flag).
//   - The Backend owns slots, tokens, login state (per token and application
//     wide, as PKCS#11 requires), objects and their handles, and performs the
//     cryptography.
//
// A Backend is created by the constructor given to [Register] on every
// C_Initialize, and is dropped after C_Finalize, so it never has to reset
// itself. Its methods and those of the values it returns must be safe for
// concurrent use: pkcs11mod serialises the calls on one session, but calls
// the Backend and different sessions from many threads at once.
//
// Errors: return (or wrap, with %w) an [Error] carrying the CKR code the
// caller should see, e.g. fmt.Errorf("reading cert: %w", CKR_DEVICE_ERROR).
// Any error that does not unwrap to an [Error] becomes CKR_FUNCTION_FAILED.
// Error messages may be logged, so they must never contain a PIN or key.
//
// Optional capabilities are separate interfaces that a Backend or a Session
// may also implement ([TokenInitializer], [SlotEventSource], [ObjectManager],
// [KeyGenerator], [Encrypter], [Verifier], [Digester], [KeyWrapper],
// [KeyDeriver], [RandomSource], [PINManager]). When one is missing the C
// function returns CKR_FUNCTION_NOT_SUPPORTED.
type Backend interface {
	// Initialize is called once, from C_Initialize, after the arguments have
	// been validated and before any other method. Long-lived resources (a
	// card monitor goroutine, PC/SC contexts) are started here.
	Initialize(opts InitOptions) error

	// Finalize releases everything Initialize started. It is called from
	// C_Finalize after every session has been closed and every other call
	// has returned; no method is called after it.
	Finalize() error

	// Info describes the library for C_GetInfo. pkcs11mod fills in the
	// Cryptoki version itself.
	Info() LibraryInfo

	// Slots lists every slot, with or without a token. A slot's ID must stay
	// the same for the life of the Backend and slots must never disappear;
	// the list may grow (a reader plugged in). pkcs11mod filters for
	// C_GetSlotList(CK_TRUE) with SlotInfo's CKF_TOKEN_PRESENT flag.
	Slots() ([]SlotID, error)

	// SlotInfo describes a slot (CKR_SLOT_ID_INVALID for an unknown ID). It
	// must not do card I/O: NSS polls it.
	SlotInfo(slot SlotID) (SlotInfo, error)

	// TokenInfo describes the token in a slot, or fails with
	// CKR_TOKEN_NOT_PRESENT. It must not do card I/O. pkcs11mod overwrites
	// the session counts with its own.
	TokenInfo(slot SlotID) (TokenInfo, error)

	// Mechanisms lists the mechanisms of the token in slot.
	Mechanisms(slot SlotID) ([]MechanismType, error)

	// MechanismInfo describes one mechanism (CKR_MECHANISM_INVALID if it is
	// not supported by the token in slot).
	MechanismInfo(slot SlotID, mech MechanismType) (MechanismInfo, error)

	// OpenSession opens a session with the token in slot. pkcs11mod has
	// already checked CKF_SERIAL_SESSION; the backend decides whether rw is
	// allowed (CKR_TOKEN_WRITE_PROTECTED) and whether a token is present.
	// pkcs11mod allocates the session handle.
	OpenSession(slot SlotID, rw bool) (Session, error)
}

// Session is the backend's side of one PKCS#11 session.
//
// pkcs11mod never calls two methods of the same Session concurrently (nor
// methods of operations started from it). Once Close has been called no other
// method is called.
//
// If a method fails with CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
// CKR_DEVICE_REMOVED or CKR_TOKEN_NOT_PRESENT, pkcs11mod treats the session as
// gone (after the card was removed, say): it calls Close and forgets the
// handle, and later calls with it get CKR_SESSION_HANDLE_INVALID.
type Session interface {
	// LoginState reports the login state of the session's token as seen by
	// this application. It is called by C_GetSessionInfo, which NSS polls, so
	// it must not do card I/O. Returning an error (CKR_DEVICE_REMOVED when the
	// card was pulled) makes C_GetSessionInfo fail with it.
	LoginState() (LoginState, error)

	// Login logs the token in for every session of this application
	// (C_Login). pin is nil for a protected authentication path. pkcs11mod
	// zeroes pin after the call returns, so the backend must copy it if it
	// must keep it (it should not). pkcs11mod has already checked that user
	// is CKU_SO, CKU_USER or CKU_CONTEXT_SPECIFIC and that an SO login does not
	// coexist with read-only sessions.
	Login(user UserType, pin []byte) error

	// Logout logs the token out (C_Logout). pkcs11mod also calls it before
	// closing the last session of a token that is logged in, because PKCS#11
	// returns the token to public state then.
	Logout() error

	// Close ends the session; session objects it created are destroyed.
	Close() error

	// FindObjects returns every object visible to this session that matches
	// template (all attributes byte-equal; an empty template matches all).
	// Private objects are visible only when the token is logged in. An
	// unknown class or attribute type simply matches nothing: return no
	// handles and no error. pkcs11mod hands the result out to
	// C_FindObjects in chunks.
	FindObjects(template []Attribute) ([]ObjectHandle, error)

	// GetAttributes reads attributes of obj for C_GetAttributeValue. It
	// returns one result per requested type, in order; a result's Err is
	// CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID (wrapped or
	// not) when that attribute cannot be revealed. The returned error is for
	// the whole call (CKR_OBJECT_HANDLE_INVALID, ...). pkcs11mod does the
	// length protocol and chooses the return code.
	GetAttributes(obj ObjectHandle, types []AttributeType) ([]AttributeResult, error)

	// SignInit starts a signature (C_SignInit) with key and returns the
	// operation (CKR_MECHANISM_INVALID, CKR_KEY_TYPE_INCONSISTENT,
	// CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_USER_NOT_LOGGED_IN, ...).
	SignInit(mech Mechanism, key ObjectHandle) (SignOperation, error)

	// DecryptInit starts a decryption (C_DecryptInit) with key.
	DecryptInit(mech Mechanism, key ObjectHandle) (DecryptOperation, error)
}

// SignOperation is one signature in progress.
//
// pkcs11mod calls either Sign once (C_Sign) or Update any number of times and
// then Final (C_SignUpdate, C_SignFinal); never both. Once Sign or Final has
// been called, or any method has failed, the operation is over and pkcs11mod
// drops it.
//
// pkcs11mod answers output-length queries (NULL signature buffer) from
// SignatureLength without calling Sign or Final, and calls Sign or Final only
// when the caller's buffer is at least that large, so a card operation never
// runs for a query and never runs twice. If the real signature is longer than
// the buffer after all, pkcs11mod keeps it and returns it on the next call.
type SignOperation interface {
	// SignatureLength returns the signature length (an upper bound is
	// allowed; the exact length is better), without card I/O. It returns 0
	// if the length cannot be known before signing; pkcs11mod then signs on
	// a length query and keeps the result for the next call.
	SignatureLength() int

	// Sign signs data in one part. A mechanism that can only sign in one
	// part (CKM_RSA_PKCS, CKM_ECDSA) fails Update with an error of its
	// choice (CKR_FUNCTION_NOT_SUPPORTED is usual).
	Sign(data []byte) ([]byte, error)

	// Update adds a part to a multi-part signature.
	Update(part []byte) error

	// Final returns the multi-part signature.
	Final() ([]byte, error)
}

// DecryptOperation is one decryption in progress, with the same call rules as
// [SignOperation] (Decrypt once, or Update... then Final).
type DecryptOperation interface {
	// MaxPlaintextLength bounds the plaintext that Decrypt or Update
	// produce from ciphertextLen bytes, without card I/O, or returns 0 if it
	// cannot (pkcs11mod then runs the call on a length query and keeps its
	// output for the next call). Final is always run on a length query and
	// its output kept, so it never runs twice.
	MaxPlaintextLength(ciphertextLen int) int

	// Decrypt decrypts in one part.
	Decrypt(ciphertext []byte) ([]byte, error)

	// Update decrypts a part, returning whatever plaintext is ready.
	Update(part []byte) ([]byte, error)

	// Final returns the remaining plaintext.
	Final() ([]byte, error)
}

// OperationCanceler may be implemented by any operation (sign, decrypt,
// encrypt, verify, digest) whose state lives outside the Go value, in another
// module or on a card. pkcs11mod calls Cancel when it ends an operation that
// the backend has not ended: the caller broke the call sequence (C_Sign after
// C_SignUpdate, say), called C_XxxInit with a NULL mechanism, or called
// C_SessionCancel. It is not called after a one-part call or Final returned,
// nor after a method failed (the operation is over for the backend then),
// nor when the session closes.
type OperationCanceler interface {
	Cancel()
}

// InitOptions are the validated arguments of C_Initialize.
type InitOptions struct {
	// LibraryParameters is the module parameter string NSS passes in place
	// of pReserved (from "parameters=" in pkcs11.txt), or "".
	LibraryParameters string

	// OSLockingOK and CantCreateThreads are the caller's
	// CKF_OS_LOCKING_OK and CKF_LIBRARY_CANT_CREATE_OS_THREADS flags. Go
	// always uses its own locks and threads, so they are informational.
	OSLockingOK       bool
	CantCreateThreads bool

	// Logger logs to the file named by the environment variable configured
	// in [Config], or discards everything. Never log PINs or key material.
	Logger *slog.Logger
}

// TokenInitializer is implemented by a Backend that supports C_InitToken.
type TokenInitializer interface {
	// InitToken (re)initialises the token in slot. soPIN is zeroed after
	// the call. label is the 32-byte label with trailing blanks removed.
	InitToken(slot SlotID, soPIN []byte, label string) error
}

// SlotEventSource is implemented by a Backend that reports slot events
// (C_WaitForSlotEvent). Events must be latched: an insertion that happens
// between two polls is reported by the next one.
type SlotEventSource interface {
	// WaitForSlotEvent blocks until a slot event is pending and returns
	// (and consumes) it, or returns ctx.Err() once ctx is done. pkcs11mod
	// cancels ctx when another thread calls C_Finalize and then returns
	// CKR_CRYPTOKI_NOT_INITIALIZED to the waiter.
	WaitForSlotEvent(ctx context.Context) (SlotID, error)

	// PollSlotEvent returns (and consumes) a pending event without
	// blocking; ok is false when none is pending (CKR_NO_EVENT).
	PollSlotEvent() (slot SlotID, ok bool, err error)
}

// ObjectManager is implemented by a Session that can create, copy, modify
// and destroy objects. A method it cannot support returns
// CKR_FUNCTION_NOT_SUPPORTED (or CKR_TEMPLATE_INCONSISTENT etc.).
type ObjectManager interface {
	CreateObject(template []Attribute) (ObjectHandle, error)
	CopyObject(obj ObjectHandle, template []Attribute) (ObjectHandle, error)
	DestroyObject(obj ObjectHandle) error
	SetAttributes(obj ObjectHandle, template []Attribute) error
	// ObjectSize answers C_GetObjectSize (CK_UNAVAILABLE_INFORMATION is a
	// valid answer).
	ObjectSize(obj ObjectHandle) (uint, error)
}

// KeyGenerator is implemented by a Session that can generate keys.
type KeyGenerator interface {
	GenerateKey(mech Mechanism, template []Attribute) (ObjectHandle, error)
	GenerateKeyPair(mech Mechanism, publicTemplate, privateTemplate []Attribute) (public, private ObjectHandle, err error)
}

// Encrypter is implemented by a Session that can encrypt.
type Encrypter interface {
	EncryptInit(mech Mechanism, key ObjectHandle) (EncryptOperation, error)
}

// EncryptOperation is one encryption in progress, with the call rules of
// [SignOperation].
type EncryptOperation interface {
	// MaxCiphertextLength is like [DecryptOperation.MaxPlaintextLength].
	MaxCiphertextLength(plaintextLen int) int
	Encrypt(plaintext []byte) ([]byte, error)
	Update(part []byte) ([]byte, error)
	Final() ([]byte, error)
}

// Verifier is implemented by a Session that can verify signatures.
type Verifier interface {
	VerifyInit(mech Mechanism, key ObjectHandle) (VerifyOperation, error)
}

// VerifyOperation is one verification in progress: Verify once, or Update...
// then Final. An invalid signature is CKR_SIGNATURE_INVALID (or
// CKR_SIGNATURE_LEN_RANGE).
type VerifyOperation interface {
	Verify(data, signature []byte) error
	Update(part []byte) error
	Final(signature []byte) error
}

// Digester is implemented by a Session that can compute digests.
type Digester interface {
	DigestInit(mech Mechanism) (DigestOperation, error)
}

// DigestOperation is one digest in progress, with the call rules of
// [SignOperation]; UpdateKey (C_DigestKey) counts as an Update.
type DigestOperation interface {
	// DigestLength is like [SignOperation.SignatureLength].
	DigestLength() int
	Digest(data []byte) ([]byte, error)
	Update(part []byte) error
	UpdateKey(key ObjectHandle) error
	Final() ([]byte, error)
}

// KeyWrapper is implemented by a Session that can wrap and unwrap keys.
// pkcs11mod runs WrapKey for an output-length query and keeps the result for
// the following call with the same arguments.
type KeyWrapper interface {
	WrapKey(mech Mechanism, wrappingKey, key ObjectHandle) ([]byte, error)
	UnwrapKey(mech Mechanism, unwrappingKey ObjectHandle, wrapped []byte, template []Attribute) (ObjectHandle, error)
}

// KeyDeriver is implemented by a Session that can derive keys (C_DeriveKey).
type KeyDeriver interface {
	DeriveKey(mech Mechanism, baseKey ObjectHandle, template []Attribute) (ObjectHandle, error)
}

// RandomSource is implemented by a Session whose token has a random number
// generator (C_GenerateRandom, C_SeedRandom).
type RandomSource interface {
	// GenerateRandom returns exactly n random bytes.
	GenerateRandom(n int) ([]byte, error)
	// SeedRandom mixes seed in, or returns CKR_RANDOM_SEED_NOT_SUPPORTED.
	SeedRandom(seed []byte) error
}

// PINManager is implemented by a Session that can set PINs. PINs are zeroed
// by pkcs11mod after the call.
type PINManager interface {
	// InitPIN sets the user PIN (C_InitPIN, SO logged in).
	InitPIN(pin []byte) error
	// SetPIN changes the PIN of the logged-in user, or the user PIN when
	// not logged in (C_SetPIN).
	SetPIN(oldPIN, newPIN []byte) error
}
