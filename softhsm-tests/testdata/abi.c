/*
 * abi.c - a PKCS#11 client that exercises the corners of the C ABI which
 * ordinary tools rarely touch, printing one deterministic line per check.
 * The differential tests run it against SoftHSM directly and through the
 * pkcs11mod pass-through; the transcripts must be identical.
 *
 * usage: abi MODULE.so common   the differential transcript
 *        abi MODULE.so ours     checks of what SoftHSM 2.6 lacks (3.0 interface,
 *                               NSS LibraryParameters), expected output in Go
 *
 * The token must be labelled "test" with user PIN 1234 and hold an RSA key
 * pair and certificate with CKA_ID 01 and an EC P-256 key pair with CKA_ID 02.
 * Random values (signatures other than RSA PKCS#1 v1.5, handles) are never
 * printed; lengths and return values are.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkcs11.h"
#include "pkcs11-nss.h"

static CK_FUNCTION_LIST_PTR p;

static const char *rvname(CK_RV rv)
{
	static char buf[32];
	switch (rv) {
#define N(x) case x: return #x;
	N(CKR_OK) N(CKR_HOST_MEMORY) N(CKR_SLOT_ID_INVALID) N(CKR_GENERAL_ERROR)
	N(CKR_FUNCTION_FAILED) N(CKR_ARGUMENTS_BAD) N(CKR_NO_EVENT)
	N(CKR_ATTRIBUTE_SENSITIVE) N(CKR_ATTRIBUTE_TYPE_INVALID)
	N(CKR_ATTRIBUTE_VALUE_INVALID) N(CKR_DATA_LEN_RANGE)
	N(CKR_ENCRYPTED_DATA_LEN_RANGE) N(CKR_FUNCTION_NOT_PARALLEL)
	N(CKR_FUNCTION_NOT_SUPPORTED) N(CKR_KEY_HANDLE_INVALID)
	N(CKR_KEY_TYPE_INCONSISTENT) N(CKR_KEY_FUNCTION_NOT_PERMITTED)
	N(CKR_MECHANISM_INVALID) N(CKR_MECHANISM_PARAM_INVALID)
	N(CKR_OBJECT_HANDLE_INVALID) N(CKR_OPERATION_ACTIVE)
	N(CKR_OPERATION_NOT_INITIALIZED) N(CKR_PIN_INCORRECT) N(CKR_PIN_LEN_RANGE)
	N(CKR_SESSION_HANDLE_INVALID) N(CKR_SESSION_PARALLEL_NOT_SUPPORTED)
	N(CKR_SESSION_READ_ONLY) N(CKR_SESSION_EXISTS)
	N(CKR_SESSION_READ_ONLY_EXISTS) N(CKR_SIGNATURE_INVALID)
	N(CKR_SIGNATURE_LEN_RANGE) N(CKR_TEMPLATE_INCONSISTENT)
	N(CKR_TOKEN_NOT_PRESENT) N(CKR_USER_ALREADY_LOGGED_IN)
	N(CKR_USER_NOT_LOGGED_IN) N(CKR_USER_TYPE_INVALID)
	N(CKR_BUFFER_TOO_SMALL) N(CKR_CRYPTOKI_NOT_INITIALIZED)
	N(CKR_CRYPTOKI_ALREADY_INITIALIZED) N(CKR_RANDOM_NO_RNG)
#undef N
	}
	snprintf(buf, sizeof buf, "CKR_0x%lX", rv);
	return buf;
}

/* ulen prints a length, naming CK_UNAVAILABLE_INFORMATION. */
static const char *ulen(CK_ULONG n)
{
	static char bufs[4][32];
	static int i;
	char *b = bufs[i++ % 4];
	if (n == CK_UNAVAILABLE_INFORMATION)
		return "UNAVAILABLE";
	snprintf(b, 32, "%lu", n);
	return b;
}

static void check(const char *what, CK_RV rv) { printf("%s: %s\n", what, rvname(rv)); }

static void hex(const char *what, const CK_BYTE *b, CK_ULONG n)
{
	printf("%s: ", what);
	for (CK_ULONG i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static CK_SLOT_ID token_slot(void)
{
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	if (p->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		exit(2);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (p->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, "test ", 5) == 0)
			return slots[i];
	}
	fprintf(stderr, "no token labelled test\n");
	exit(2);
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_BYTE id)
{
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &id, 1}};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ULONG n = 0;
	p->C_FindObjectsInit(s, t, 2);
	p->C_FindObjects(s, &h, 1, &n);
	p->C_FindObjectsFinal(s);
	return n == 1 ? h : CK_INVALID_HANDLE;
}

/* count_found runs a search with the given template and chunk size. */
static void count_found(const char *what, CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG nt, CK_ULONG chunk)
{
	CK_OBJECT_HANDLE hs[64];
	CK_ULONG total = 0, n, calls = 0;
	CK_RV rv = p->C_FindObjectsInit(s, t, nt);
	if (rv != CKR_OK) {
		printf("find %s: init %s\n", what, rvname(rv));
		return;
	}
	do {
		n = 12345;
		rv = p->C_FindObjects(s, hs, chunk, &n);
		calls++;
		if (rv != CKR_OK)
			break;
		total += n;
	} while (n > 0 && chunk > 0 && calls < 100);
	printf("find %s (chunk %lu): %s, %lu objects, last count %lu\n", what, chunk, rvname(rv), total, n);
	check("  final", p->C_FindObjectsFinal(s));
}

static void before_initialize(void)
{
	CK_INFO info;
	CK_ULONG n = 0;
	check("GetInfo before Initialize", p->C_GetInfo(&info));
	check("GetSlotList before Initialize", p->C_GetSlotList(CK_FALSE, NULL, &n));
	check("Finalize before Initialize", p->C_Finalize(NULL));
	check("OpenSession before Initialize", p->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &n));
}

static CK_RV dummy_mutex(CK_VOID_PTR m) { (void)m; return CKR_OK; }

static void initialize(void)
{
	CK_C_INITIALIZE_ARGS partial = {0};
	partial.LockMutex = dummy_mutex;
	check("Initialize with one mutex callback", p->C_Initialize(&partial));
	CK_C_INITIALIZE_ARGS args = {0};
	args.flags = CKF_OS_LOCKING_OK;
	check("Initialize OS locking", p->C_Initialize(&args));
	check("Initialize again", p->C_Initialize(NULL));
	check("Finalize with reserved", p->C_Finalize(&args));
	for (int i = 0; i < 3; i++) {
		check("Finalize (cycle)", p->C_Finalize(NULL));
		check("Initialize (cycle)", p->C_Initialize(i < 2 ? NULL : &args));
	}
}

static void lists(CK_SLOT_ID slot)
{
	CK_ULONG n, need;
	CK_SLOT_ID slots[16];
	CK_MECHANISM_TYPE mechs[256];

	check("GetSlotList NULL count", p->C_GetSlotList(CK_FALSE, slots, NULL));
	for (int present = 0; present < 2; present++) {
		n = 999;
		CK_RV rv = p->C_GetSlotList(present, NULL, &n);
		need = n;
		printf("GetSlotList(%d) NULL: %s count %lu\n", present, rvname(rv), n);
		n = need - 1;
		rv = p->C_GetSlotList(present, slots, &n);
		printf("GetSlotList(%d) short: %s count %lu\n", present, rvname(rv), n);
		n = 16;
		rv = p->C_GetSlotList(present, slots, &n);
		printf("GetSlotList(%d) big: %s count %lu\n", present, rvname(rv), n);
	}
	n = 999;
	CK_RV rv = p->C_GetMechanismList(slot, NULL, &n);
	need = n;
	printf("GetMechanismList NULL: %s count %lu\n", rvname(rv), n);
	n = need - 1;
	rv = p->C_GetMechanismList(slot, mechs, &n);
	printf("GetMechanismList short: %s count %lu\n", rvname(rv), n);
	n = 0;
	rv = p->C_GetMechanismList(slot, mechs, &n);
	printf("GetMechanismList zero: %s count %lu\n", rvname(rv), n);
	n = need;
	rv = p->C_GetMechanismList(slot, mechs, &n);
	printf("GetMechanismList exact: %s count %lu\n", rvname(rv), n);
	for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++) {
		/* Zeroed: SoftHSM 2.6.1 ORs some flags into the caller's
		 * uninitialised structure. */
		CK_MECHANISM_INFO mi = {0};
		CK_RV r = p->C_GetMechanismInfo(slot, mechs[i], &mi);
		printf("  mech 0x%lx: %s %lu..%lu flags 0x%lx\n", mechs[i], rvname(r), mi.ulMinKeySize, mi.ulMaxKeySize, mi.flags);
	}
	CK_MECHANISM_INFO mi;
	check("GetMechanismInfo unknown", p->C_GetMechanismInfo(slot, CKM_VENDOR_DEFINED | 0x1234, &mi));
	check("GetMechanismList bad slot", p->C_GetMechanismList(0x7777, NULL, &n));
	CK_TOKEN_INFO ti;
	check("GetTokenInfo bad slot", p->C_GetTokenInfo(0x7777, &ti));
	CK_SLOT_INFO si;
	check("GetSlotInfo bad slot", p->C_GetSlotInfo(0x7777, &si));
	check("GetSlotInfo NULL", p->C_GetSlotInfo(slot, NULL));
}

static void sessions(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE a, b, c;
	CK_SESSION_INFO si;

	check("OpenSession without serial flag", p->C_OpenSession(slot, 0, NULL, NULL, &a));
	check("OpenSession NULL handle", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL));
	check("OpenSession bad slot", p->C_OpenSession(0x7777, CKF_SERIAL_SESSION, NULL, NULL, &a));
	check("OpenSession ro", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &a));
	check("OpenSession rw", p->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &b));
	check("GetSessionInfo bad handle", p->C_GetSessionInfo(0x7777, &si));
	check("GetSessionInfo NULL", p->C_GetSessionInfo(a, NULL));
	check("Logout not logged in", p->C_Logout(a));
	check("Login bad user type", p->C_Login(a, 7, (CK_UTF8CHAR_PTR) "1234", 4));
	check("Login SO beside ro session", p->C_Login(b, CKU_SO, (CK_UTF8CHAR_PTR) "12345678", 8));
	check("Login wrong PIN", p->C_Login(a, CKU_USER, (CK_UTF8CHAR_PTR) "9999", 4));
	check("Login", p->C_Login(a, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	check("Login again", p->C_Login(b, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	check("OpenSession after login", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &c));
	CK_SESSION_HANDLE all[] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		CK_RV rv = p->C_GetSessionInfo(all[i], &si);
		printf("session %d: %s state %lu flags 0x%lx\n", i, rvname(rv), si.state, si.flags);
	}
	check("CloseSession a", p->C_CloseSession(a));
	check("CloseSession a again", p->C_CloseSession(a));
	check("GetSessionInfo closed", p->C_GetSessionInfo(a, &si));
	p->C_GetSessionInfo(b, &si);
	printf("b still logged in: state %lu\n", si.state);
	check("CloseAllSessions bad slot", p->C_CloseAllSessions(0x7777));
	check("CloseAllSessions", p->C_CloseAllSessions(slot));
	check("GetSessionInfo after CloseAllSessions", p->C_GetSessionInfo(c, &si));
	check("OpenSession after CloseAllSessions", p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &a));
	p->C_GetSessionInfo(a, &si);
	printf("new session after all closed: state %lu (logged out)\n", si.state);
	p->C_CloseSession(a);
}

static void find(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE cert)
{
	CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY, certc = CKO_CERTIFICATE, trust = CKO_NSS_TRUST, profile = CKO_PROFILE;
	CK_BYTE id1 = 1;
	CK_BBOOL yes = CK_TRUE;
	char label[] = "rsa";
	CK_ATTRIBUTE all[] = {{0, NULL, 0}};
	CK_ATTRIBUTE bypriv[] = {{CKA_CLASS, &priv, sizeof priv}};
	CK_ATTRIBUTE bycert[] = {{CKA_CLASS, &certc, sizeof certc}};
	CK_ATTRIBUTE bytrust[] = {{CKA_CLASS, &trust, sizeof trust}};
	CK_ATTRIBUTE byprofile[] = {{CKA_TOKEN, &yes, 1}, {CKA_CLASS, &profile, sizeof profile}};
	CK_ATTRIBUTE bylabel[] = {{CKA_LABEL, label, 3}};
	CK_ATTRIBUTE bylabelnul[] = {{CKA_LABEL, label, 4}};
	CK_ATTRIBUTE byid[] = {{CKA_ID, &id1, 1}};
	CK_ATTRIBUTE byvendor[] = {{CKA_VENDOR_DEFINED | 0x4242, &id1, 1}};
	CK_ATTRIBUTE emptyvalue[] = {{CKA_ID, NULL, 0}};

	count_found("all (NULL template)", s, NULL, 0, 16);
	count_found("all (one chunk)", s, all, 0, 64);
	count_found("all", s, NULL, 0, 1);
	count_found("all", s, NULL, 0, 0);
	count_found("private keys", s, bypriv, 1, 16);
	count_found("certificates", s, bycert, 1, 16);
	count_found("NSS trust", s, bytrust, 1, 16);
	count_found("profile", s, byprofile, 2, 16);
	count_found("label", s, bylabel, 1, 16);
	count_found("label with NUL", s, bylabelnul, 1, 16);
	count_found("id 01", s, byid, 1, 16);
	count_found("vendor attribute", s, byvendor, 1, 16);
	count_found("empty id", s, emptyvalue, 1, 16);

	/* The certificate by its full DER value, as PK11_FindObjectForCert does. */
	CK_ATTRIBUTE v = {CKA_VALUE, NULL, 0};
	p->C_GetAttributeValue(s, cert, &v, 1);
	v.pValue = malloc(v.ulValueLen);
	p->C_GetAttributeValue(s, cert, &v, 1);
	CK_ATTRIBUTE byder[] = {{CKA_CLASS, &certc, sizeof certc}, v};
	count_found("certificate by DER", s, byder, 2, 16);
	free(v.pValue);

	CK_OBJECT_HANDLE h;
	CK_ULONG n;
	check("FindObjects without init", p->C_FindObjects(s, &h, 1, &n));
	check("FindObjectsFinal without init", p->C_FindObjectsFinal(s));
	check("FindObjectsInit NULL template with count", p->C_FindObjectsInit(s, NULL, 1));
	check("FindObjectsInit", p->C_FindObjectsInit(s, NULL, 0));
	check("FindObjectsInit twice", p->C_FindObjectsInit(s, NULL, 0));
	check("FindObjects NULL count", p->C_FindObjects(s, &h, 1, NULL));
	check("FindObjects NULL handles", p->C_FindObjects(s, NULL, 1, &n));
	check("FindObjectsFinal", p->C_FindObjectsFinal(s));
}

static void print_template(const char *what, CK_RV rv, CK_ATTRIBUTE *t, int n)
{
	printf("%s: %s", what, rvname(rv));
	for (int i = 0; i < n; i++)
		printf(" [0x%lx %s]", t[i].type, ulen(t[i].ulValueLen));
	printf("\n");
}

static void attributes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE cert)
{
	CK_BYTE buf[8][512];
	CK_ATTRIBUTE t[8];
	CK_RV rv;

	/* Lengths only: one sensitive, one unknown, one absent, two fine. */
	CK_ATTRIBUTE_TYPE types[] = {CKA_LABEL, CKA_PRIVATE_EXPONENT, CKA_VENDOR_DEFINED | 0x77, CKA_MODULUS, CKA_ID, CKA_VALUE};
	int nt = 6;
	for (int i = 0; i < nt; i++)
		t[i] = (CK_ATTRIBUTE){types[i], NULL, 0};
	rv = p->C_GetAttributeValue(s, priv, t, nt);
	print_template("private key lengths", rv, t, nt);

	/* Values with exact buffers, except the modulus buffer one byte short. */
	for (int i = 0; i < nt; i++)
		t[i] = (CK_ATTRIBUTE){types[i], buf[i], 512};
	t[3].ulValueLen = 255;
	rv = p->C_GetAttributeValue(s, priv, t, nt);
	print_template("private key values, short modulus", rv, t, nt);
	printf("  label: %.*s\n", (int)t[0].ulValueLen, (char *)buf[0]);

	/* Only a short buffer: CKR_BUFFER_TOO_SMALL, others still filled. */
	t[0] = (CK_ATTRIBUTE){CKA_LABEL, buf[0], 1};
	t[1] = (CK_ATTRIBUTE){CKA_ID, buf[1], 512};
	t[2] = (CK_ATTRIBUTE){CKA_KEY_TYPE, buf[2], sizeof(CK_KEY_TYPE)};
	rv = p->C_GetAttributeValue(s, priv, t, 3);
	print_template("short label", rv, t, 3);
	hex("  id", buf[1], t[1].ulValueLen);

	/* Zero-length buffers that are not NULL. */
	t[0] = (CK_ATTRIBUTE){CKA_LABEL, buf[0], 0};
	t[1] = (CK_ATTRIBUTE){CKA_CLASS, buf[1], 0};
	rv = p->C_GetAttributeValue(s, priv, t, 2);
	print_template("zero-length buffers", rv, t, 2);

	/* Unknown attribute alone, sensitive alone. */
	t[0] = (CK_ATTRIBUTE){CKA_VENDOR_DEFINED | 0x77, NULL, 0};
	print_template("unknown alone", p->C_GetAttributeValue(s, priv, t, 1), t, 1);
	t[0] = (CK_ATTRIBUTE){CKA_PRIME_1, buf[0], 512};
	print_template("sensitive alone", p->C_GetAttributeValue(s, priv, t, 1), t, 1);

	/* Certificate attributes NSS reads. */
	CK_ATTRIBUTE_TYPE ctypes[] = {CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_ID, CKA_CERTIFICATE_TYPE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_VALUE};
	CK_ATTRIBUTE ct[10];
	for (int i = 0; i < 10; i++)
		ct[i] = (CK_ATTRIBUTE){ctypes[i], NULL, 0};
	rv = p->C_GetAttributeValue(s, cert, ct, 10);
	print_template("certificate lengths", rv, ct, 10);

	check("GetAttributeValue NULL template", p->C_GetAttributeValue(s, priv, NULL, 1));
	t[0] = (CK_ATTRIBUTE){CKA_LABEL, NULL, 0};
	check("GetAttributeValue bad object", p->C_GetAttributeValue(s, 0x777777, t, 1));
	check("GetAttributeValue bad session", p->C_GetAttributeValue(0x777777, priv, t, 1));
}

static void sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM pkcs = {CKM_RSA_PKCS, NULL, 0};
	CK_MECHANISM sha256 = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_BYTE data[] = "data to be signed";
	CK_BYTE sig[512], sig2[512];
	CK_ULONG n;
	CK_RV rv;

	check("Sign without init", p->C_Sign(s, data, 17, NULL, &n));
	check("SignInit NULL mechanism", p->C_SignInit(s, NULL, priv));
	check("SignInit bad key", p->C_SignInit(s, &pkcs, 0x777777));
	check("SignInit", p->C_SignInit(s, &pkcs, priv));
	check("SignInit twice", p->C_SignInit(s, &pkcs, priv));
	check("Sign NULL length pointer", p->C_Sign(s, data, 17, sig, NULL));
	check("SignInit after argument error", p->C_SignInit(s, &pkcs, priv));
	n = 0;
	rv = p->C_Sign(s, data, 17, NULL, &n);
	printf("Sign NULL: %s %lu\n", rvname(rv), n);
	rv = p->C_Sign(s, data, 17, NULL, &n);
	printf("Sign NULL again: %s %lu\n", rvname(rv), n);
	n = 255;
	rv = p->C_Sign(s, data, 17, sig, &n);
	printf("Sign short: %s %lu\n", rvname(rv), n);
	n = 0;
	rv = p->C_Sign(s, data, 17, sig, &n);
	printf("Sign zero: %s %lu\n", rvname(rv), n);
	n = sizeof sig;
	rv = p->C_Sign(s, data, 17, sig, &n);
	printf("Sign big: %s %lu\n", rvname(rv), n);
	hex("  signature", sig, n);
	check("Sign after done", p->C_Sign(s, data, 17, sig, &n));

	/* Multi-part, with the Final length protocol. */
	check("SignInit sha256", p->C_SignInit(s, &sha256, priv));
	check("SignUpdate 1", p->C_SignUpdate(s, data, 5));
	check("SignUpdate 2", p->C_SignUpdate(s, data + 5, 12));
	check("SignUpdate empty", p->C_SignUpdate(s, data, 0));
	rv = p->C_SignFinal(s, NULL, &n);
	printf("SignFinal NULL: %s %lu\n", rvname(rv), n);
	n = 10;
	rv = p->C_SignFinal(s, sig2, &n);
	printf("SignFinal short: %s %lu\n", rvname(rv), n);
	n = sizeof sig2;
	rv = p->C_SignFinal(s, sig2, &n);
	printf("SignFinal: %s %lu\n", rvname(rv), n);
	hex("  signature", sig2, n);
	check("SignFinal after done", p->C_SignFinal(s, sig2, &n));

	/* One-part signature equals the multi-part one. */
	check("SignInit sha256 one-part", p->C_SignInit(s, &sha256, priv));
	n = sizeof sig;
	check("Sign sha256 one-part", p->C_Sign(s, data, 17, sig, &n));
	printf("one-part == multi-part: %d\n", memcmp(sig, sig2, n) == 0);

	/* A one-part call cannot finish a multi-part operation. */
	check("SignInit sha256 mixed", p->C_SignInit(s, &sha256, priv));
	check("SignUpdate mixed", p->C_SignUpdate(s, data, 5));
	n = sizeof sig;
	check("Sign after SignUpdate", p->C_Sign(s, data, 17, sig, &n));
	check("SignUpdate after that", p->C_SignUpdate(s, data, 5));
	check("SignInit after that", p->C_SignInit(s, &pkcs, priv));
	n = sizeof sig;
	check("Sign after that", p->C_Sign(s, data, 17, sig, &n));

	/* Verification of what was signed. */
	check("VerifyInit", p->C_VerifyInit(s, &sha256, pub));
	check("Verify good", p->C_Verify(s, data, 17, sig2, 256));
	check("VerifyInit", p->C_VerifyInit(s, &sha256, pub));
	sig2[7] ^= 1;
	check("Verify bad", p->C_Verify(s, data, 17, sig2, 256));
	check("VerifyInit", p->C_VerifyInit(s, &sha256, pub));
	check("VerifyUpdate", p->C_VerifyUpdate(s, data, 17));
	sig2[7] ^= 1;
	check("VerifyFinal good", p->C_VerifyFinal(s, sig2, 256));

	/* PSS: random, so only lengths and verification. */
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM mpss = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
	check("SignInit PSS", p->C_SignInit(s, &mpss, priv));
	n = sizeof sig;
	rv = p->C_Sign(s, data, 17, sig, &n);
	printf("Sign PSS: %s %lu\n", rvname(rv), n);
	check("VerifyInit PSS", p->C_VerifyInit(s, &mpss, pub));
	check("Verify PSS", p->C_Verify(s, data, 17, sig, n));
}

static void ecdsa(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
	CK_BYTE hash[32] = {1, 2, 3};
	CK_BYTE sig[128];
	CK_ULONG n = 0;
	CK_RV rv;

	check("SignInit ECDSA", p->C_SignInit(s, &m, priv));
	rv = p->C_Sign(s, hash, 32, NULL, &n);
	printf("Sign ECDSA NULL: %s %lu\n", rvname(rv), n);
	n = 63;
	rv = p->C_Sign(s, hash, 32, sig, &n);
	printf("Sign ECDSA short: %s %lu\n", rvname(rv), n);
	n = sizeof sig;
	rv = p->C_Sign(s, hash, 32, sig, &n);
	printf("Sign ECDSA: %s %lu\n", rvname(rv), n);
	check("VerifyInit ECDSA", p->C_VerifyInit(s, &m, pub));
	check("Verify ECDSA", p->C_Verify(s, hash, 32, sig, n));
}

static void crypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
	CK_BYTE msg[] = "secret";
	CK_BYTE ct[512], pt[512];
	CK_ULONG n, ctlen, plen;
	CK_RV rv;

	check("EncryptInit", p->C_EncryptInit(s, &m, pub));
	rv = p->C_Encrypt(s, msg, 6, NULL, &n);
	printf("Encrypt NULL: %s len>=256 %d\n", rvname(rv), n >= 256);
	ctlen = sizeof ct;
	check("Encrypt", p->C_Encrypt(s, msg, 6, ct, &ctlen));
	printf("ciphertext length %lu\n", ctlen);

	/* SoftHSM bounds the plaintext by the modulus size; pkcs11mod's
	 * pass-through decrypts and reports the exact length. Both are
	 * allowed, so print what must hold, not the number. */
	check("DecryptInit", p->C_DecryptInit(s, &m, priv));
	plen = 0;
	rv = p->C_Decrypt(s, ct, ctlen, NULL, &plen);
	printf("Decrypt NULL: %s len>=6 %d\n", rvname(rv), plen >= 6);
	n = 3;
	rv = p->C_Decrypt(s, ct, ctlen, pt, &n);
	printf("Decrypt short: %s len>=6 %d\n", rvname(rv), n >= 6);
	n = sizeof pt;
	rv = p->C_Decrypt(s, ct, ctlen, pt, &n);
	printf("Decrypt: %s %lu %.*s\n", rvname(rv), n, (int)n, (char *)pt);
	check("Decrypt after done", p->C_Decrypt(s, ct, ctlen, pt, &n));

	check("DecryptInit", p->C_DecryptInit(s, &m, priv));
	n = sizeof pt;
	check("Decrypt bad length", p->C_Decrypt(s, ct, 17, pt, &n));
	check("Decrypt after failure", p->C_Decrypt(s, ct, ctlen, pt, &n));
}

static void digest(CK_SESSION_HANDLE s)
{
	CK_MECHANISM m = {CKM_SHA256, NULL, 0};
	CK_BYTE d[64];
	CK_ULONG n;
	CK_RV rv;

	check("DigestInit", p->C_DigestInit(s, &m));
	rv = p->C_Digest(s, (CK_BYTE_PTR) "abc", 3, NULL, &n);
	printf("Digest NULL: %s %lu\n", rvname(rv), n);
	rv = p->C_Digest(s, (CK_BYTE_PTR) "abc", 3, NULL, &n);
	printf("Digest NULL again: %s %lu\n", rvname(rv), n);
	n = 31;
	rv = p->C_Digest(s, (CK_BYTE_PTR) "abc", 3, d, &n);
	printf("Digest short: %s %lu\n", rvname(rv), n);
	n = sizeof d;
	rv = p->C_Digest(s, (CK_BYTE_PTR) "abc", 3, d, &n);
	printf("Digest: %s %lu\n", rvname(rv), n);
	hex("  sha256(abc)", d, n);
	check("DigestInit multi", p->C_DigestInit(s, &m));
	check("DigestUpdate", p->C_DigestUpdate(s, (CK_BYTE_PTR) "a", 1));
	check("DigestUpdate", p->C_DigestUpdate(s, (CK_BYTE_PTR) "bc", 2));
	rv = p->C_DigestFinal(s, NULL, &n);
	printf("DigestFinal NULL: %s %lu\n", rvname(rv), n);
	n = 1;
	rv = p->C_DigestFinal(s, d, &n);
	printf("DigestFinal short: %s %lu\n", rvname(rv), n);
	n = sizeof d;
	rv = p->C_DigestFinal(s, d, &n);
	printf("DigestFinal: %s %lu\n", rvname(rv), n);
	hex("  sha256(abc)", d, n);
	CK_MECHANISM bad = {CKM_VENDOR_DEFINED | 9, NULL, 0};
	check("DigestInit unknown mechanism", p->C_DigestInit(s, &bad));
}

static void misc(CK_SESSION_HANDLE s)
{
	CK_BYTE r[64];
	CK_ULONG n;
	check("GenerateRandom", p->C_GenerateRandom(s, r, sizeof r));
	check("SeedRandom", p->C_SeedRandom(s, r, 16));
	check("GetOperationState", p->C_GetOperationState(s, NULL, &n));
	check("GetFunctionStatus", p->C_GetFunctionStatus(s));
	check("CancelFunction", p->C_CancelFunction(s));
	check("DigestEncryptUpdate", p->C_DigestEncryptUpdate(s, r, 1, r, &n));
	CK_FUNCTION_LIST_PTR q;
	check("GetFunctionList NULL", p->C_GetFunctionList(NULL));
	check("GetFunctionList", p->C_GetFunctionList(&q));
	printf("function list version %d.%d, same table %d\n", q->version.major, q->version.minor, q == p);
}

struct worker {
	CK_SLOT_ID slot;
	CK_OBJECT_HANDLE key;
	int fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
	for (int i = 0; i < 25; i++) {
		CK_SESSION_HANDLE s;
		CK_BYTE sig[512];
		CK_ULONG n = sizeof sig, found = 0;
		CK_OBJECT_HANDLE hs[16];
		if (p->C_OpenSession(w->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
			w->fails++;
			continue;
		}
		if (p->C_FindObjectsInit(s, NULL, 0) != CKR_OK || p->C_FindObjects(s, hs, 16, &found) != CKR_OK ||
		    p->C_FindObjectsFinal(s) != CKR_OK || found == 0)
			w->fails++;
		if (p->C_SignInit(s, &m, w->key) != CKR_OK || p->C_Sign(s, (CK_BYTE_PTR) "x", 1, sig, &n) != CKR_OK || n != 256)
			w->fails++;
		if (p->C_CloseSession(s) != CKR_OK)
			w->fails++;
	}
	return NULL;
}

static void threads(CK_SLOT_ID slot, CK_OBJECT_HANDLE key)
{
	pthread_t t[6];
	struct worker w[6];
	int fails = 0;
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){slot, key, 0};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		fails += w[i].fails;
	}
	printf("6 threads x 25 sessions (find, sign, close): %d failures\n", fails);
}

static CK_SESSION_HANDLE open_session(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s;
	if (p->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
		exit(2);
	return s;
}

/* Each section gets its own session, so that one section's leftovers (an
 * operation still active) cannot change the next one's results. */
#define SECTION(call) do { CK_SESSION_HANDLE s_ = open_session(slot); call; p->C_CloseSession(s_); } while (0)

static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE cert, rsa, rsapub, ec, ecpub;

static void find_keys(CK_SESSION_HANDLE s)
{
	cert = find_one(s, CKO_CERTIFICATE, 1);
	rsa = find_one(s, CKO_PRIVATE_KEY, 1);
	rsapub = find_one(s, CKO_PUBLIC_KEY, 1);
	ec = find_one(s, CKO_PRIVATE_KEY, 2);
	ecpub = find_one(s, CKO_PUBLIC_KEY, 2);
	printf("objects found: %d %d %d %d %d\n", cert != 0, rsa != 0, rsapub != 0, ec != 0, ecpub != 0);
}

static void common(void)
{
	before_initialize();
	initialize();
	slot = token_slot();
	lists(slot);
	sessions(slot);

	CK_SESSION_HANDLE s = open_session(slot);
	CK_OBJECT_HANDLE c = find_one(s, CKO_CERTIFICATE, 1);
	printf("private key visible before login: %d\n", find_one(s, CKO_PRIVATE_KEY, 1) != CK_INVALID_HANDLE);
	find(s, c);
	check("Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	find_keys(s);
	SECTION(find(s_, cert));
	SECTION(attributes(s_, rsa, cert));
	SECTION(sign(s_, rsa, rsapub));
	SECTION(ecdsa(s_, ec, ecpub));
	SECTION(crypt(s_, rsa, rsapub));
	SECTION(digest(s_));
	SECTION(misc(s_));
	threads(slot, rsa);
	check("Logout", p->C_Logout(s));
	check("CloseSession", p->C_CloseSession(s));
	check("Finalize", p->C_Finalize(NULL));
	CK_INFO info;
	check("GetInfo after Finalize", p->C_GetInfo(&info));
}

static void events(void);

/* ours: checks of what SoftHSM 2.6 does not have. */
static void ours(void *lib)
{
	CK_C_GetInterface getif = (CK_C_GetInterface)dlsym(lib, "C_GetInterface");
	CK_C_GetInterfaceList getlist = (CK_C_GetInterfaceList)dlsym(lib, "C_GetInterfaceList");
	if (!getif || !getlist) {
		printf("no C_GetInterface\n");
		return;
	}
	CK_INTERFACE_PTR iface = (CK_INTERFACE_PTR)0x1;
	CK_RV rv;

	/* NSS's sequence: fork-safe first, then no flags. */
	rv = getif((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &iface, CKF_INTERFACE_FORK_SAFE);
	printf("GetInterface fork-safe: %s untouched %d\n", rvname(rv), iface == (CK_INTERFACE_PTR)0x1);
	rv = getif((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &iface, 0);
	CK_FUNCTION_LIST_3_0_PTR f3 = iface->pFunctionList;
	printf("GetInterface: %s name %s version %d.%d flags %lu\n", rvname(rv), iface->pInterfaceName,
	       f3->version.major, f3->version.minor, iface->flags);
	CK_VERSION v240 = {2, 40}, v30 = {3, 0}, v21 = {2, 11};
	rv = getif(NULL, &v240, &iface, 0);
	printf("GetInterface 2.40: %s version %d.%d same as C_GetFunctionList %d\n", rvname(rv),
	       ((CK_VERSION *)iface->pFunctionList)->major, ((CK_VERSION *)iface->pFunctionList)->minor,
	       iface->pFunctionList == (void *)p);
	rv = getif(NULL, &v30, &iface, 0);
	printf("GetInterface 3.0: %s\n", rvname(rv));
	check("GetInterface 2.11", getif(NULL, &v21, &iface, 0));
	check("GetInterface other name", getif((CK_UTF8CHAR_PTR) "Vendor NSS FIPS Interface", NULL, &iface, 0));
	check("GetInterface NULL out", getif(NULL, NULL, NULL, 0));

	CK_INTERFACE list[4];
	CK_ULONG n = 0;
	rv = getlist(NULL, &n);
	printf("GetInterfaceList NULL: %s %lu\n", rvname(rv), n);
	n = 1;
	rv = getlist(list, &n);
	printf("GetInterfaceList short: %s %lu\n", rvname(rv), n);
	n = 4;
	rv = getlist(list, &n);
	printf("GetInterfaceList: %s %lu\n", rvname(rv), n);
	for (CK_ULONG i = 0; i < n; i++)
		printf("  %s %d.%d\n", list[i].pInterfaceName, ((CK_VERSION *)list[i].pFunctionList)->major,
		       ((CK_VERSION *)list[i].pFunctionList)->minor);
	check("GetInterfaceList NULL count", getlist(list, NULL));

	/* The 3.0 table works, and its new functions answer. */
	CK_C_INITIALIZE_ARGS nss = {0};
	nss.flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	nss.CreateMutex = (CK_CREATEMUTEX)dummy_mutex;
	nss.DestroyMutex = dummy_mutex;
	nss.LockMutex = dummy_mutex;
	nss.UnlockMutex = dummy_mutex;
	nss.pReserved = "configdir='sql:/nonexistent' flags=readOnly";
	check("3.0 Initialize as NSS does, with LibraryParameters", f3->C_Initialize(&nss));
	slot = token_slot();
	CK_SESSION_HANDLE s;
	check("3.0 OpenSession", f3->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
	check("3.0 SessionCancel", f3->C_SessionCancel(s, CKF_SIGN | CKF_FIND_OBJECTS));
	check("3.0 LoginUser", f3->C_LoginUser(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4, (CK_UTF8CHAR_PTR) "u", 1));
	check("3.0 MessageSignInit", f3->C_MessageSignInit(s, NULL, 0));
	check("3.0 MessageEncryptFinal bad session", f3->C_MessageEncryptFinal(0x7777));
	check("Login", p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4));
	find_keys(s);

	/* The session counts are pkcs11mod's own (SoftHSM reports them as
	 * unavailable). */
	CK_SESSION_HANDLE rw;
	p->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw);
	CK_TOKEN_INFO ti;
	p->C_GetTokenInfo(slot, &ti);
	printf("token sessions: %lu rw %lu\n", ti.ulSessionCount, ti.ulRwSessionCount);

	/* A PSS parameter of the wrong size is CKR_MECHANISM_PARAM_INVALID
	 * (SoftHSM says CKR_ARGUMENTS_BAD). */
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM badpss = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss - 1};
	check("SignInit PSS short parameter", p->C_SignInit(s, &badpss, rsa));
	CK_MECHANISM nopss = {CKM_SHA256_RSA_PKCS_PSS, NULL, 8};
	check("SignInit PSS NULL parameter with length", p->C_SignInit(s, &nopss, rsa));

	/* C_SignInit(NULL) ends an operation (3.0); the next init works. */
	CK_MECHANISM pkcs = {CKM_RSA_PKCS, NULL, 0};
	check("SignInit", p->C_SignInit(s, &pkcs, rsa));
	check("SignInit NULL cancels", p->C_SignInit(s, NULL, rsa));
	check("SignInit after cancel", p->C_SignInit(s, &pkcs, rsa));
	check("SessionCancel sign", f3->C_SessionCancel(s, CKF_SIGN));
	check("SignInit after SessionCancel", p->C_SignInit(s, &pkcs, rsa));
	check("Finalize", f3->C_Finalize(NULL));
	check("3.0 MessageVerifyFinal after Finalize", f3->C_MessageVerifyFinal(s));
	events();
}

static void *waiter(void *arg)
{
	CK_SLOT_ID sl;
	*(CK_RV *)arg = p->C_WaitForSlotEvent(0, &sl, NULL);
	return NULL;
}

/* events needs PASSTHROUGH_SYNTHETIC_EVENTS=1: polls find nothing and
 * blocking waits last until C_Finalize, which must wake them (NSS's
 * SECMOD_CancelWait finalizes and re-initializes at once). */
static void events(void)
{
	CK_C_INITIALIZE_ARGS args = {0};
	args.flags = CKF_OS_LOCKING_OK;
	CK_SLOT_ID sl;
	check("Initialize", p->C_Initialize(&args));
	check("WaitForSlotEvent dont-block", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &sl, NULL));
	check("WaitForSlotEvent NULL slot", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL));
	check("WaitForSlotEvent reserved", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &sl, &sl));
	pthread_t t[3];
	CK_RV rv[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, waiter, &rv[i]);
	struct timespec pause = {0, 200 * 1000 * 1000};
	nanosleep(&pause, NULL);
	printf("waiters still blocked after 200ms: %d\n", rv[0] == 0 && rv[1] == 0 && rv[2] == 0);
	check("Finalize while waiting", p->C_Finalize(NULL));
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		check("  waiter woke with", rv[i]);
	}
	check("Initialize again at once", p->C_Initialize(&args));
	check("WaitForSlotEvent dont-block", p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &sl, NULL));
	check("Finalize", p->C_Finalize(NULL));
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: abi MODULE common|ours\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (!gfl || gfl(&p) != CKR_OK)
		return 2;
	if (strcmp(argv[2], "ours") == 0)
		ours(lib);
	else
		common();
	return 0;
}
