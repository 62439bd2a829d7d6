/*
 * torture.c - PKCS#11 API misuse against a CoolKey token: calls before
 * C_Initialize and after C_Finalize, NULL pointers, invalid handles, short
 * buffers, wrong lengths and calls in the wrong state. Each check compares
 * the return value with the one PKCS#11 v3.0 prescribes and prints
 *   ok   <check>: <CK_RV>
 *   FAIL <check>: got <CK_RV>, want <CK_RV>
 * Exit status: the number of failed checks (capped at 100).
 *
 * usage: torture MODULE.so PIN
 * The token must hold RSA-2048 key pair 1 (signing) and certificate 1, and
 * have at least 3 PIN tries left (one wrong PIN is entered).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR p;
static int failures, checks;

static void expect(const char *what, CK_RV got, CK_RV want)
{
	checks++;
	if (got == want) {
		printf("ok   %s: 0x%lx\n", what, got);
		return;
	}
	failures++;
	printf("FAIL %s: got 0x%lx, want 0x%lx\n", what, got, want);
}

/* expect2 accepts either of two values where the standard allows both. */
static void expect2(const char *what, CK_RV got, CK_RV want1, CK_RV want2)
{
	expect(what, got, got == want2 ? want2 : want1);
}

static void truth(const char *what, int cond)
{
	checks++;
	if (cond) {
		printf("ok   %s\n", what);
		return;
	}
	failures++;
	printf("FAIL %s\n", what);
}

static CK_OBJECT_HANDLE find1(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_BYTE id)
{
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &id, 1}};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ULONG n = 0;
	if (p->C_FindObjectsInit(s, t, 2) != CKR_OK)
		return CK_INVALID_HANDLE;
	p->C_FindObjects(s, &h, 1, &n);
	p->C_FindObjectsFinal(s);
	return n == 1 ? h : CK_INVALID_HANDLE;
}

static CK_RV noop_mutex(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: torture MODULE.so PIN\n");
		return 100;
	}
	const char *pin = argv[2];
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 100;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (!gfl)
		return 100;
	expect("GetFunctionList(NULL)", gfl(NULL), CKR_ARGUMENTS_BAD);
	if (gfl(&p) != CKR_OK)
		return 100;

	CK_INFO info;
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s = 0, s2 = 0;
	CK_SLOT_ID slots[8];
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO ssi;

	/* Before C_Initialize. */
	expect("GetInfo before Initialize", p->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("GetSlotList before Initialize", p->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("OpenSession before Initialize", p->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("CloseSession before Initialize", p->C_CloseSession(1), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("Login before Initialize", p->C_Login(1, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("Finalize before Initialize", p->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("WaitForSlotEvent before Initialize", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, slots, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

	/* C_Initialize arguments. pReserved must be NULL in the standard,
	 * but NSS passes its module parameter string there (the
	 * LibraryParameters of CK_NSS_C_INITIALIZE_ARGS), so a string is
	 * accepted: a deliberate deviation. */
	CK_C_INITIALIZE_ARGS args = {0};
	args.pReserved = "noAppletOK=no";
	expect("Initialize with NSS library parameters in pReserved", p->C_Initialize(&args), CKR_OK);
	expect("Finalize after that", p->C_Finalize(NULL), CKR_OK);
	args.pReserved = NULL;
	CK_C_INITIALIZE_ARGS partial = {0};
	partial.CreateMutex = (CK_CREATEMUTEX)noop_mutex;
	expect("Initialize with one mutex callback of four", p->C_Initialize(&partial), CKR_ARGUMENTS_BAD);
	expect("Initialize", p->C_Initialize(NULL), CKR_OK);
	expect("Initialize again", p->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);

	/* Library and slots. */
	expect("GetInfo(NULL)", p->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	expect("Finalize(non-NULL)", p->C_Finalize(&args), CKR_ARGUMENTS_BAD);
	expect("GetSlotList(count NULL)", p->C_GetSlotList(CK_TRUE, slots, NULL), CKR_ARGUMENTS_BAD);
	n = 0;
	expect("GetSlotList(no buffer)", p->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	truth("GetSlotList counts the token", n >= 1);
	CK_ULONG need = n;
	n = 0;
	expect("GetSlotList(buffer of 0)", p->C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
	truth("short GetSlotList returns the count needed", n == need);
	n = 8;
	expect("GetSlotList", p->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	CK_SLOT_ID slot = slots[0];
	expect("GetSlotInfo(bad slot)", p->C_GetSlotInfo(9999, &si), CKR_SLOT_ID_INVALID);
	expect("GetSlotInfo(NULL)", p->C_GetSlotInfo(slot, NULL), CKR_ARGUMENTS_BAD);
	expect("GetTokenInfo(bad slot)", p->C_GetTokenInfo(9999, &ti), CKR_SLOT_ID_INVALID);
	expect("GetTokenInfo(NULL)", p->C_GetTokenInfo(slot, NULL), CKR_ARGUMENTS_BAD);
	n = 0;
	expect("GetMechanismList(bad slot)", p->C_GetMechanismList(9999, NULL, &n), CKR_SLOT_ID_INVALID);
	expect("GetMechanismList(count NULL)", p->C_GetMechanismList(slot, NULL, NULL), CKR_ARGUMENTS_BAD);
	CK_MECHANISM_INFO mi;
	expect("GetMechanismInfo(unknown)", p->C_GetMechanismInfo(slot, CKM_VENDOR_DEFINED + 77, &mi), CKR_MECHANISM_INVALID);
	expect("GetMechanismInfo(NULL)", p->C_GetMechanismInfo(slot, CKM_RSA_PKCS, NULL), CKR_ARGUMENTS_BAD);
	expect("WaitForSlotEvent(DONT_BLOCK), nothing pending", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, slots, NULL), CKR_NO_EVENT);
	expect("WaitForSlotEvent(slot NULL)", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD);
	expect("InitToken", p->C_InitToken(slot, (CK_UTF8CHAR_PTR)pin, strlen(pin), (CK_UTF8CHAR_PTR) "label                           "), CKR_FUNCTION_NOT_SUPPORTED);

	/* Sessions. */
	expect("OpenSession without CKF_SERIAL_SESSION", p->C_OpenSession(slot, 0, NULL, NULL, &s), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	expect("OpenSession(phSession NULL)", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL), CKR_ARGUMENTS_BAD);
	expect("OpenSession(bad slot)", p->C_OpenSession(9999, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_SLOT_ID_INVALID);
	expect("OpenSession", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	expect("OpenSession RW", p->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s2), CKR_OK);
	expect("CloseSession(invalid)", p->C_CloseSession(0xdead), CKR_SESSION_HANDLE_INVALID);
	expect("CloseSession(0)", p->C_CloseSession(CK_INVALID_HANDLE), CKR_SESSION_HANDLE_INVALID);
	expect("GetSessionInfo(invalid)", p->C_GetSessionInfo(0xdead, &ssi), CKR_SESSION_HANDLE_INVALID);
	expect("GetSessionInfo(NULL)", p->C_GetSessionInfo(s, NULL), CKR_ARGUMENTS_BAD);
	expect("CloseAllSessions(bad slot)", p->C_CloseAllSessions(9999), CKR_SLOT_ID_INVALID);
	expect("CloseSession RW", p->C_CloseSession(s2), CKR_OK);
	expect("CloseSession twice", p->C_CloseSession(s2), CKR_SESSION_HANDLE_INVALID);
	expect("GetSessionInfo(closed)", p->C_GetSessionInfo(s2, &ssi), CKR_SESSION_HANDLE_INVALID);

	/* Login. */
	expect("Logout when not logged in", p->C_Logout(s), CKR_USER_NOT_LOGGED_IN);
	expect("Login(PIN NULL, length 6)", p->C_Login(s, CKU_USER, NULL, 6), CKR_ARGUMENTS_BAD);
	expect("Login(user type 99)", p->C_Login(s, 99, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_USER_TYPE_INVALID);
	expect("Login(CKU_SO) with a read-only session open", p->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_SESSION_READ_ONLY_EXISTS);
	expect("Login(CONTEXT_SPECIFIC) without an operation", p->C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OPERATION_NOT_INITIALIZED);
	expect("Login(invalid session)", p->C_Login(0xdead, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_SESSION_HANDLE_INVALID);
	expect("Login(wrong PIN)", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "nothing-like-it", 15), CKR_PIN_INCORRECT);
	/* The PIN length is ulPinLen: the right PIN followed by bytes that
	 * are not part of it is a different PIN (refused without a try when
	 * too long for the applet). */
	char longer[64];
	snprintf(longer, sizeof longer, "%s-and-more-bytes", pin);
	expect("Login(PIN too long for the applet)", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)longer, strlen(longer)), CKR_PIN_INCORRECT);
	expect("Login(right PIN, ulPinLen shorter than the buffer)", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)longer, strlen(pin)), CKR_OK);
	expect("Login again", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_USER_ALREADY_LOGGED_IN);
	expect("GetSessionInfo", p->C_GetSessionInfo(s, &ssi), CKR_OK);
	truth("session state is RO user functions", ssi.state == CKS_RO_USER_FUNCTIONS);

	/* Objects. */
	CK_OBJECT_HANDLE key = find1(s, CKO_PRIVATE_KEY, 1), cert = find1(s, CKO_CERTIFICATE, 1), h;
	truth("private key 1 and certificate 1 found", key != CK_INVALID_HANDLE && cert != CK_INVALID_HANDLE);
	expect("FindObjects without FindObjectsInit", p->C_FindObjects(s, &h, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
	expect("FindObjectsFinal without FindObjectsInit", p->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
	expect("FindObjectsInit(NULL template, count 1)", p->C_FindObjectsInit(s, NULL, 1), CKR_ARGUMENTS_BAD);
	expect("FindObjectsInit(all)", p->C_FindObjectsInit(s, NULL, 0), CKR_OK);
	expect("FindObjectsInit twice", p->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE);
	expect("FindObjects(handles NULL)", p->C_FindObjects(s, NULL, 1, &n), CKR_ARGUMENTS_BAD);
	expect("FindObjects(count NULL)", p->C_FindObjects(s, &h, 1, NULL), CKR_ARGUMENTS_BAD);
	expect("FindObjectsFinal", p->C_FindObjectsFinal(s), CKR_OK);
	CK_OBJECT_CLASS weird = CKO_VENDOR_DEFINED + 5;
	CK_ATTRIBUTE wt[] = {{CKA_CLASS, &weird, sizeof weird}};
	expect("FindObjectsInit(unknown class)", p->C_FindObjectsInit(s, wt, 1), CKR_OK);
	n = 99;
	expect("FindObjects(unknown class)", p->C_FindObjects(s, &h, 1, &n), CKR_OK);
	truth("unknown class matches nothing", n == 0);
	p->C_FindObjectsFinal(s);

	CK_BYTE buf[4096];
	CK_ATTRIBUTE a[3];
	expect("GetAttributeValue(invalid object)", p->C_GetAttributeValue(s, 0xdead, a, 0), CKR_OBJECT_HANDLE_INVALID);
	expect("GetAttributeValue(template NULL, count 1)", p->C_GetAttributeValue(s, cert, NULL, 1), CKR_ARGUMENTS_BAD);
	a[0] = (CK_ATTRIBUTE){CKA_VALUE, buf, 3};
	expect("GetAttributeValue(short buffer)", p->C_GetAttributeValue(s, cert, a, 1), CKR_BUFFER_TOO_SMALL);
	truth("short buffer gives CK_UNAVAILABLE_INFORMATION", a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, buf, sizeof buf};
	a[1] = (CK_ATTRIBUTE){CKA_VENDOR_DEFINED + 9, buf + 1024, 16};
	a[2] = (CK_ATTRIBUTE){CKA_ID, buf + 2048, 16};
	expect("GetAttributeValue(one unknown attribute)", p->C_GetAttributeValue(s, cert, a, 3), CKR_ATTRIBUTE_TYPE_INVALID);
	truth("the others are still filled", a[0].ulValueLen > 0 && a[0].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
	                                          a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION && a[2].ulValueLen == 1);
	a[0] = (CK_ATTRIBUTE){CKA_PRIVATE_EXPONENT, buf, sizeof buf};
	expect("GetAttributeValue(private exponent)", p->C_GetAttributeValue(s, key, a, 1), CKR_ATTRIBUTE_SENSITIVE);
	CK_BBOOL f = CK_FALSE;
	CK_ATTRIBUTE set[] = {{CKA_SIGN, &f, sizeof f}};
	expect2("SetAttributeValue on a read-only token", p->C_SetAttributeValue(s, key, set, 1), CKR_FUNCTION_NOT_SUPPORTED, CKR_SESSION_READ_ONLY);
	expect2("DestroyObject on a read-only token", p->C_DestroyObject(s, key), CKR_FUNCTION_NOT_SUPPORTED, CKR_SESSION_READ_ONLY);

	/* Signatures. */
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0}, bad = {CKM_VENDOR_DEFINED + 3, NULL, 0};
	CK_BYTE msg[] = "torture", sig[512];
	CK_ULONG siglen = sizeof sig;
	expect("Sign without SignInit", p->C_Sign(s, msg, sizeof msg, sig, &siglen), CKR_OPERATION_NOT_INITIALIZED);
	expect("SignUpdate without SignInit", p->C_SignUpdate(s, msg, sizeof msg), CKR_OPERATION_NOT_INITIALIZED);
	expect("SignFinal without SignInit", p->C_SignFinal(s, sig, &siglen), CKR_OPERATION_NOT_INITIALIZED);
	expect("SignInit(unknown mechanism)", p->C_SignInit(s, &bad, key), CKR_MECHANISM_INVALID);
	expect("SignInit(invalid key)", p->C_SignInit(s, &m, 0xdead), CKR_KEY_HANDLE_INVALID);
	expect("SignInit(certificate as key)", p->C_SignInit(s, &m, cert), CKR_KEY_HANDLE_INVALID);
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA1, 32};
	CK_MECHANISM pssm = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
	expect("SignInit(PSS, MGF of another hash)", p->C_SignInit(s, &pssm, key), CKR_MECHANISM_PARAM_INVALID);
	pssm.ulParameterLen = 3;
	expect("SignInit(PSS, short parameter)", p->C_SignInit(s, &pssm, key), CKR_MECHANISM_PARAM_INVALID);
	expect("SignInit", p->C_SignInit(s, &m, key), CKR_OK);
	expect("SignInit while one is active", p->C_SignInit(s, &m, key), CKR_OPERATION_ACTIVE);
	expect("Sign(signature length NULL)", p->C_Sign(s, msg, sizeof msg, sig, NULL), CKR_ARGUMENTS_BAD);
	/* The standard ends the operation on any error but
	 * CKR_BUFFER_TOO_SMALL; SoftHSM and OpenSC reject NULL arguments
	 * before looking at the operation and leave it active, and so does
	 * pkcs11mod (its differential test against SoftHSM holds it to that).
	 * Either way C_SignInit(NULL) ends it (PKCS#11 3.0). */
	expect2("SignInit after a NULL length", p->C_SignInit(s, &m, key), CKR_OK, CKR_OPERATION_ACTIVE);
	expect("SignInit(NULL mechanism) ends the operation", p->C_SignInit(s, NULL, key), CKR_OK);
	expect("SignInit after the cancel", p->C_SignInit(s, &m, key), CKR_OK);
	siglen = 0;
	expect("Sign(length query)", p->C_Sign(s, msg, sizeof msg, NULL, &siglen), CKR_OK);
	truth("signature length is 256", siglen == 256);
	siglen = 10;
	expect("Sign(short buffer)", p->C_Sign(s, msg, sizeof msg, sig, &siglen), CKR_BUFFER_TOO_SMALL);
	truth("short buffer gives the length", siglen == 256);
	siglen = sizeof sig;
	expect("Sign(buffer big enough, operation still active)", p->C_Sign(s, msg, sizeof msg, sig, &siglen), CKR_OK);
	expect("Sign once more", p->C_Sign(s, msg, sizeof msg, sig, &siglen), CKR_OPERATION_NOT_INITIALIZED);
	CK_MECHANISM raw = {CKM_RSA_PKCS, NULL, 0};
	expect("SignInit(CKM_RSA_PKCS)", p->C_SignInit(s, &raw, key), CKR_OK);
	CK_BYTE toolong[300] = {0};
	siglen = sizeof sig;
	expect("Sign(CKM_RSA_PKCS, data longer than the modulus allows)", p->C_Sign(s, toolong, sizeof toolong, sig, &siglen), CKR_DATA_LEN_RANGE);
	expect("Sign after a failure ended the operation", p->C_Sign(s, msg, sizeof msg, sig, &siglen), CKR_OPERATION_NOT_INITIALIZED);
	expect("SignInit(CKM_RSA_PKCS) again", p->C_SignInit(s, &raw, key), CKR_OK);
	expect("Sign(data NULL, length 5)", p->C_Sign(s, NULL, 5, sig, &siglen), CKR_ARGUMENTS_BAD);
	expect("SignInit(NULL mechanism) ends it", p->C_SignInit(s, NULL, key), CKR_OK);

	/* Decryption with the signing key's mate (key 2 decrypts). */
	CK_OBJECT_HANDLE dkey = find1(s, CKO_PRIVATE_KEY, 2);
	CK_MECHANISM dm = {CKM_RSA_PKCS, NULL, 0};
	CK_BYTE pt[512];
	CK_ULONG ptlen = sizeof pt;
	expect("Decrypt without DecryptInit", p->C_Decrypt(s, toolong, 256, pt, &ptlen), CKR_OPERATION_NOT_INITIALIZED);
	expect("DecryptInit", p->C_DecryptInit(s, &dm, dkey), CKR_OK);
	expect("Decrypt(wrong ciphertext length)", p->C_Decrypt(s, toolong, 100, pt, &ptlen), CKR_ENCRYPTED_DATA_LEN_RANGE);

	/* Random, unsupported functions. */
	expect("GenerateRandom(NULL, 8)", p->C_GenerateRandom(s, NULL, 8), CKR_ARGUMENTS_BAD);
	expect("GenerateRandom(16)", p->C_GenerateRandom(s, buf, 16), CKR_OK);
	CK_OBJECT_CLASS dc = CKO_DATA;
	CK_ATTRIBUTE dt[] = {{CKA_CLASS, &dc, sizeof dc}};
	expect2("CreateObject", p->C_CreateObject(s, dt, 1, &h), CKR_FUNCTION_NOT_SUPPORTED, CKR_SESSION_READ_ONLY);
	/* CoolKey has no security officer: the PIN is reset by the TPS. */
	expect2("InitPIN in a user session", p->C_InitPIN(s, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_USER_NOT_LOGGED_IN, CKR_FUNCTION_NOT_SUPPORTED);
	expect("SetPIN in a read-only session", p->C_SetPIN(s, (CK_UTF8CHAR_PTR)pin, strlen(pin), (CK_UTF8CHAR_PTR) "whatever-new", 12), CKR_SESSION_READ_ONLY);
	expect("GetOperationState", p->C_GetOperationState(s, NULL, &n), CKR_FUNCTION_NOT_SUPPORTED);

	/* Logout, close, finalize. */
	expect("Logout", p->C_Logout(s), CKR_OK);
	expect("Logout twice", p->C_Logout(s), CKR_USER_NOT_LOGGED_IN);
	/* The private key is invisible again. */
	expect2("SignInit after logout", p->C_SignInit(s, &m, key), CKR_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN);
	expect("OpenSession for CloseAllSessions", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s2), CKR_OK);
	expect("CloseAllSessions", p->C_CloseAllSessions(slot), CKR_OK);
	expect("GetSessionInfo after CloseAllSessions", p->C_GetSessionInfo(s, &ssi), CKR_SESSION_HANDLE_INVALID);
	expect("GetTokenInfo", p->C_GetTokenInfo(slot, &ti), CKR_OK);
	truth("no session open", ti.ulSessionCount == 0 && ti.ulRwSessionCount == 0);
	expect("OpenSession before Finalize", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	expect("Finalize", p->C_Finalize(NULL), CKR_OK);

	/* After C_Finalize. */
	expect("Finalize twice", p->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("GetInfo after Finalize", p->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("CloseSession after Finalize", p->C_CloseSession(s), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("GetSessionInfo after Finalize", p->C_GetSessionInfo(s, &ssi), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("Sign after Finalize", p->C_Sign(s, msg, sizeof msg, sig, &siglen), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect("Initialize after Finalize", p->C_Initialize(NULL), CKR_OK);
	expect("session from before Finalize", p->C_GetSessionInfo(s, &ssi), CKR_SESSION_HANDLE_INVALID);
	n = 8;
	expect("GetSlotList after re-initialization", p->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	expect("OpenSession after re-initialization", p->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	expect("Login after re-initialization", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	CK_OBJECT_HANDLE key2 = find1(s, CKO_PRIVATE_KEY, 1);
	truth("object handles are not reused across C_Finalize", key2 != CK_INVALID_HANDLE && key2 != key);
	expect("SignInit with the old key handle", p->C_SignInit(s, &m, key), CKR_KEY_HANDLE_INVALID);
	expect("Finalize at the end", p->C_Finalize(NULL), CKR_OK);

	printf("%d checks, %d failed\n", checks, failures);
	return failures > 100 ? 100 : failures;
}
