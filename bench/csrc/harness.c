/*
 * harness.c - drives one PKCS#11 module through one benchmark scenario and
 * prints what it measured. Compiled at run time by the bench command
 * (go run ./bench) with gcc against the project's include/ headers.
 *
 *   harness MODULE enum                  load, init, slots, session, find all
 *                                        objects, read their attributes, finalize
 *   harness MODULE sign N rsa|ec         login (PIN from BENCH_PIN), N signatures
 *                                        (CKM_RSA_PKCS over a SHA-256 DigestInfo,
 *                                        or CKM_ECDSA over a 32-byte hash)
 *   harness MODULE getattr N             N C_GetAttributeValue calls on a cert
 *   harness MODULE load                  load + init + finalize time, RSS
 *   harness LIBRARY loadraw SYMBOL       dlopen and call void SYMBOL(void), RSS
 *
 * Output on stdout: "RESULT key=value" lines; "pcscd" results (requests to
 * pcscd) only when run with scardcount.c as libpcsclite.so.1. With BENCH_SYNC=1 in the
 * environment it also prints "SYNC name" at phase boundaries and waits for a
 * line on stdin, so that the caller can read the card's APDU counter there.
 * Errors go to stderr with exit status 1.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR p11;
static void *lib;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time (user + system) this process has used. */
static long long cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* Resident set size in bytes, from /proc/self/statm. */
static long long rss_bytes(void)
{
	long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

/*
 * PC/SC requests made so far, when the counting stand-in for
 * libpcsclite.so.1 (scardcount.c) is loaded; -1 otherwise.
 */
static long pcscd_requests(void)
{
	unsigned long (*f)(void);
	void *h = dlopen("libpcsclite.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL)
		return -1;
	f = (unsigned long (*)(void))dlsym(h, "scardcount_requests");
	dlclose(h);
	return f == NULL ? -1 : (long)f();
}

static const char *rv_name(CK_RV rv)
{
	switch (rv) {
	case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
	case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
	case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
	case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
	case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
	case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
	case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
	case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
	case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
	case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
	case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
	case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
	case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
	default: return "CKR";
	}
}

static void die(const char *what, CK_RV rv)
{
	fprintf(stderr, "harness: %s: %s (0x%lx)\n", what, rv_name(rv), (unsigned long)rv);
	exit(1);
}

static void check(const char *what, CK_RV rv)
{
	if (rv != CKR_OK)
		die(what, rv);
}

static void sync_point(const char *name)
{
	char line[64];
	const char *s = getenv("BENCH_SYNC");
	if (s == NULL || strcmp(s, "1") != 0)
		return;
	printf("SYNC %s\n", name);
	fflush(stdout);
	if (fgets(line, sizeof line, stdin) == NULL) {
		fprintf(stderr, "harness: no answer to SYNC %s\n", name);
		exit(1);
	}
}

static void load(const char *path)
{
	CK_C_GetFunctionList get;
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		fprintf(stderr, "harness: dlopen %s: %s\n", path, dlerror());
		exit(1);
	}
	get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (get == NULL) {
		fprintf(stderr, "harness: %s has no C_GetFunctionList\n", path);
		exit(1);
	}
	check("C_GetFunctionList", get(&p11));
}

/* The first slot with a token, after listing all slots as a client does. */
static CK_SLOT_ID token_slot(void)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;
	CK_SLOT_INFO si;
	check("C_GetSlotList(all)", p11->C_GetSlotList(CK_FALSE, slots, &n));
	for (i = 0; i < n; i++)
		check("C_GetSlotInfo", p11->C_GetSlotInfo(slots[i], &si));
	n = 64;
	check("C_GetSlotList(present)", p11->C_GetSlotList(CK_TRUE, slots, &n));
	if (n == 0) {
		fprintf(stderr, "harness: no token\n");
		exit(1);
	}
	return slots[0];
}

static CK_SESSION_HANDLE open_session(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s;
	CK_TOKEN_INFO ti;
	check("C_GetTokenInfo", p11->C_GetTokenInfo(slot, &ti));
	check("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	return s;
}

static CK_ULONG find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
	CK_ULONG got = 0, total = 0;
	check("C_FindObjectsInit", p11->C_FindObjectsInit(s, tmpl, n));
	do {
		check("C_FindObjects", p11->C_FindObjects(s, out + total, max - total, &got));
		total += got;
	} while (got > 0 && total < max);
	check("C_FindObjectsFinal", p11->C_FindObjectsFinal(s));
	return total;
}

/* Every attribute a client may ask a certificate, key or data object for. */
static const CK_ATTRIBUTE_TYPE every_attribute[] = {
	CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_APPLICATION, CKA_VALUE, CKA_OBJECT_ID,
	CKA_CERTIFICATE_TYPE, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_TRUSTED, CKA_CERTIFICATE_CATEGORY,
	CKA_CHECK_VALUE, CKA_SUBJECT, CKA_ID, CKA_KEY_TYPE, CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT,
	CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_SIGN_RECOVER, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_DERIVE,
	CKA_START_DATE, CKA_END_DATE, CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT,
	CKA_EXTRACTABLE, CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_KEY_GEN_MECHANISM,
	CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE, CKA_EC_PARAMS, CKA_EC_POINT,
	CKA_ALWAYS_AUTHENTICATE, CKA_WRAP_WITH_TRUSTED, CKA_PUBLIC_KEY_INFO,
};

/*
 * Reads every attribute of the object, one at a time with the two-call
 * pattern (length, then value), as pkcs11-tool does. Returns how many had
 * a value.
 */
static int read_all(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	size_t i;
	int got = 0;
	unsigned char buf[16384];
	for (i = 0; i < sizeof every_attribute / sizeof every_attribute[0]; i++) {
		CK_ATTRIBUTE a = {every_attribute[i], NULL, 0};
		CK_RV rv = p11->C_GetAttributeValue(s, o, &a, 1);
		if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > sizeof buf)
			continue;
		a.pValue = buf;
		if (p11->C_GetAttributeValue(s, o, &a, 1) == CKR_OK)
			got++;
	}
	return got;
}

static int run_enum(const char *path)
{
	long long t0 = now_ns(), t1;
	CK_OBJECT_HANDLE objs[256];
	CK_ULONG n, i;
	CK_SESSION_HANDLE s;
	int attrs = 0;
	load(path);
	check("C_Initialize", p11->C_Initialize(NULL));
	s = open_session(token_slot());
	n = find(s, NULL, 0, objs, 256);
	for (i = 0; i < n; i++)
		attrs += read_all(s, objs[i]);
	check("C_CloseSession", p11->C_CloseSession(s));
	check("C_Finalize", p11->C_Finalize(NULL));
	t1 = now_ns();
	if (pcscd_requests() >= 0)
		printf("RESULT pcscd=%ld\n", pcscd_requests());
	printf("RESULT objects=%lu\nRESULT attributes=%d\nRESULT ns=%lld\nRESULT cpu_ns=%lld\n", (unsigned long)n, attrs, t1 - t0, cpu_ns());
	return 0;
}

/* SHA-256 DigestInfo prefix; the hash itself is arbitrary here. */
static const unsigned char digest_info[51] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static int run_sign(const char *path, int count, const char *kind)
{
	const char *pin = getenv("BENCH_PIN");
	int ec = strcmp(kind, "ec") == 0;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = ec ? CKK_EC : CKK_RSA;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}};
	CK_MECHANISM mech = {ec ? CKM_ECDSA : CKM_RSA_PKCS, NULL, 0};
	const unsigned char *data = ec ? digest_info + 19 : digest_info;
	CK_ULONG dlen = ec ? 32 : sizeof digest_info;
	CK_OBJECT_HANDLE keys[16];
	CK_SESSION_HANDLE s;
	unsigned char sig[1024];
	long long t0, t1, tl, c0, c1;
	long r0, r1;
	int i;
	CK_RV rv;

	if (pin == NULL) {
		fprintf(stderr, "harness: set BENCH_PIN\n");
		return 2;
	}
	load(path);
	check("C_Initialize", p11->C_Initialize(NULL));
	s = open_session(token_slot());
	sync_point("login");
	tl = now_ns();
	rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_USER_ALREADY_LOGGED_IN)
		check("C_Login", rv);
	tl = now_ns() - tl;
	if (find(s, tmpl, 2, keys, 16) == 0) {
		fprintf(stderr, "harness: no %s private key\n", kind);
		return 1;
	}
	sync_point("sign");
	r0 = pcscd_requests();
	c0 = cpu_ns();
	t0 = now_ns();
	for (i = 0; i < count; i++) {
		CK_ULONG slen = sizeof sig;
		check("C_SignInit", p11->C_SignInit(s, &mech, keys[0]));
		check("C_Sign", p11->C_Sign(s, (CK_BYTE_PTR)data, dlen, sig, &slen));
	}
	t1 = now_ns();
	c1 = cpu_ns();
	r1 = pcscd_requests();
	sync_point("signed");
	if (r0 >= 0)
		printf("RESULT pcscd=%ld\n", r1 - r0);
	check("C_Finalize", p11->C_Finalize(NULL));
	printf("RESULT login_ns=%lld\nRESULT ns=%lld\nRESULT cpu_ns=%lld\nRESULT signatures=%d\n", tl, t1 - t0, c1 - c0, count);
	return 0;
}

static int run_getattr(const char *path, long count)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE, got_cls;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}};
	unsigned char id[128], label[256];
	CK_OBJECT_HANDLE certs[16];
	CK_SESSION_HANDLE s;
	long long t0, t1, c0, c1;
	long i, r0, r1;

	load(path);
	check("C_Initialize", p11->C_Initialize(NULL));
	s = open_session(token_slot());
	if (find(s, tmpl, 1, certs, 16) == 0) {
		fprintf(stderr, "harness: no certificate\n");
		return 1;
	}
	r0 = pcscd_requests();
	c0 = cpu_ns();
	t0 = now_ns();
	for (i = 0; i < count; i++) {
		CK_ATTRIBUTE a[] = {{CKA_CLASS, &got_cls, sizeof got_cls}, {CKA_ID, id, sizeof id}, {CKA_LABEL, label, sizeof label}};
		check("C_GetAttributeValue", p11->C_GetAttributeValue(s, certs[0], a, 3));
	}
	t1 = now_ns();
	c1 = cpu_ns();
	r1 = pcscd_requests();
	if (r0 >= 0)
		printf("RESULT pcscd=%ld\n", r1 - r0);
	check("C_Finalize", p11->C_Finalize(NULL));
	printf("RESULT calls=%ld\nRESULT ns=%lld\nRESULT cpu_ns=%lld\n", count, t1 - t0, c1 - c0);
	return 0;
}

static int run_load(const char *path)
{
	long long r0, r1, r2, t0, t1, t2, t3;
	r0 = rss_bytes();
	t0 = now_ns();
	load(path);
	t1 = now_ns();
	check("C_Initialize", p11->C_Initialize(NULL));
	t2 = now_ns();
	r1 = rss_bytes();
	check("C_Finalize", p11->C_Finalize(NULL));
	t3 = now_ns();
	r2 = rss_bytes();
	printf("RESULT dlopen_ns=%lld\nRESULT init_ns=%lld\nRESULT final_ns=%lld\n", t1 - t0, t2 - t1, t3 - t2);
	printf("RESULT rss_before=%lld\nRESULT rss_init=%lld\nRESULT rss_final=%lld\n", r0, r1, r2);
	return 0;
}

/* A library that is not a PKCS#11 module: dlopen and call one function. */
static int run_loadraw(const char *path, const char *sym)
{
	long long r0, r1, t0, t1;
	void (*f)(void);
	r0 = rss_bytes();
	t0 = now_ns();
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		fprintf(stderr, "harness: dlopen %s: %s\n", path, dlerror());
		return 1;
	}
	f = (void (*)(void))dlsym(lib, sym);
	if (f == NULL) {
		fprintf(stderr, "harness: %s has no %s\n", path, sym);
		return 1;
	}
	f();
	t1 = now_ns();
	r1 = rss_bytes();
	printf("RESULT dlopen_ns=%lld\nRESULT rss_before=%lld\nRESULT rss_init=%lld\n", t1 - t0, r0, r1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "enum") == 0)
		return run_enum(argv[1]);
	if (argc >= 5 && strcmp(argv[2], "sign") == 0)
		return run_sign(argv[1], atoi(argv[3]), argv[4]);
	if (argc >= 4 && strcmp(argv[2], "getattr") == 0)
		return run_getattr(argv[1], atol(argv[3]));
	if (argc >= 3 && strcmp(argv[2], "load") == 0)
		return run_load(argv[1]);
	if (argc >= 4 && strcmp(argv[2], "loadraw") == 0)
		return run_loadraw(argv[1], argv[3]);
	fprintf(stderr, "usage: harness MODULE enum | sign N rsa|ec | getattr N | load; harness LIB loadraw SYMBOL\n");
	return 2;
}
