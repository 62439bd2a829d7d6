/*
 * hammer.c - many threads hammering one PKCS#11 token at once: sessions
 * opened and closed, searches, attribute reads (two-pass), signatures,
 * session/slot/token info, for a fixed time. Every signature is printed so
 * that the caller can verify it; every failure is printed and counted.
 *
 * usage: hammer MODULE.so THREADS SECONDS PIN     (module loaded with dlopen)
 *        hammer - THREADS SECONDS PIN             (built with -DSTATIC, linked
 *                                                  against a c-archive)
 *
 * Output lines:
 *   SIG <key id> <message hex> <signature hex>
 *   ERR <thread> <operation> <CK_RV hex>
 *   OPS <operation> <count>
 *   SESSIONS <count>      (token's session count once the threads are done)
 * Exit status: 0 when no call failed.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR p;
static CK_SLOT_ID slot;
static time_t deadline;
static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;

enum { OP_SESSION, OP_FIND, OP_ATTRS, OP_SIGN, OP_INFO, OP_COUNT };
static const char *opnames[OP_COUNT] = {"session", "find", "attrs", "sign", "info"};
static unsigned long ops[OP_COUNT], errors;

static void fail(int thread, int op, CK_RV rv)
{
	pthread_mutex_lock(&out);
	printf("ERR %d %s 0x%lx\n", thread, opnames[op], rv);
	errors++;
	pthread_mutex_unlock(&out);
}

static void hex(const CK_BYTE *b, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++)
		printf("%02x", b[i]);
}

/* find returns up to max handles of the given class (and ID, if id > 0). */
static CK_ULONG find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, int id, CK_OBJECT_HANDLE *hs, CK_ULONG max, CK_RV *rv)
{
	CK_BYTE idb = (CK_BYTE)id;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &idb, 1}};
	CK_ULONG n = 0, total = 0;
	if ((*rv = p->C_FindObjectsInit(s, t, id > 0 ? 2 : 1)) != CKR_OK)
		return 0;
	do {
		*rv = p->C_FindObjects(s, hs + total, max - total > 2 ? 2 : max - total, &n);
		total += n;
	} while (*rv == CKR_OK && n > 0 && total < max);
	CK_RV frv = p->C_FindObjectsFinal(s);
	if (*rv == CKR_OK)
		*rv = frv;
	return total;
}

/* attrs reads attributes of an object the way NSS does: lengths first,
 * then values. */
static CK_RV attrs(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE *types, int n)
{
	CK_ATTRIBUTE t[8];
	for (int i = 0; i < n; i++) {
		t[i].type = types[i];
		t[i].pValue = NULL;
		t[i].ulValueLen = 0;
	}
	CK_RV rv = p->C_GetAttributeValue(s, h, t, n);
	if (rv != CKR_OK)
		return rv;
	for (int i = 0; i < n; i++)
		t[i].pValue = malloc(t[i].ulValueLen ? t[i].ulValueLen : 1);
	rv = p->C_GetAttributeValue(s, h, t, n);
	for (int i = 0; i < n; i++)
		free(t[i].pValue);
	return rv;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	unsigned int seed = (unsigned int)id * 7919u + 1;
	CK_SESSION_HANDLE s;
	CK_RV rv = p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		fail(id, OP_SESSION, rv);
		return NULL;
	}
	unsigned long iter = 0, mine[OP_COUNT] = {0};
	while (time(NULL) < deadline) {
		int op = rand_r(&seed) % OP_COUNT;
		CK_OBJECT_HANDLE hs[8];
		switch (op) {
		case OP_SESSION: {
			CK_SESSION_HANDLE t;
			CK_SESSION_INFO si;
			if ((rv = p->C_OpenSession(slot, CKF_SERIAL_SESSION | (iter & 1 ? CKF_RW_SESSION : 0), NULL, NULL, &t)) == CKR_OK) {
				/* Login is per application: a new session is logged in. */
				if ((rv = p->C_GetSessionInfo(t, &si)) == CKR_OK && si.state != CKS_RO_USER_FUNCTIONS && si.state != CKS_RW_USER_FUNCTIONS)
					rv = CKR_USER_NOT_LOGGED_IN;
				CK_RV crv = p->C_CloseSession(t);
				if (rv == CKR_OK)
					rv = crv;
			}
			break;
		}
		case OP_FIND: {
			CK_ULONG n = find(s, CKO_CERTIFICATE, 0, hs, 8, &rv);
			if (rv == CKR_OK && n != 2)
				rv = CKR_GENERAL_ERROR;
			if (rv == CKR_OK) {
				CK_ATTRIBUTE_TYPE ts[] = {CKA_VALUE, CKA_LABEL, CKA_ID, CKA_SUBJECT};
				rv = attrs(s, hs[iter % n], ts, 4);
			}
			break;
		}
		case OP_ATTRS: {
			CK_ULONG n = find(s, CKO_PRIVATE_KEY, 0, hs, 8, &rv);
			if (rv == CKR_OK && n != 2)
				rv = CKR_GENERAL_ERROR;
			if (rv == CKR_OK) {
				CK_ATTRIBUTE_TYPE ts[] = {CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_ID, CKA_LABEL, CKA_KEY_TYPE, CKA_SIGN};
				rv = attrs(s, hs[iter % n], ts, 6);
			}
			break;
		}
		case OP_SIGN: {
			int key = 1; /* key 2 is the encryption key: no CKA_SIGN */
			CK_ULONG n = find(s, CKO_PRIVATE_KEY, key, hs, 1, &rv);
			if (rv == CKR_OK && n != 1)
				rv = CKR_GENERAL_ERROR;
			if (rv != CKR_OK)
				break;
			CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
			CK_BYTE msg[48], sig[512];
			int len = snprintf((char *)msg, sizeof msg, "thread %d iteration %lu", id, iter);
			CK_ULONG siglen = 0;
			if ((rv = p->C_SignInit(s, &m, hs[0])) != CKR_OK)
				break;
			/* The length query, then the signature. */
			if ((rv = p->C_Sign(s, msg, len, NULL, &siglen)) != CKR_OK)
				break;
			if (siglen > sizeof sig) {
				rv = CKR_GENERAL_ERROR;
				break;
			}
			if ((rv = p->C_Sign(s, msg, len, sig, &siglen)) != CKR_OK)
				break;
			pthread_mutex_lock(&out);
			printf("SIG %d ", key);
			hex(msg, len);
			printf(" ");
			hex(sig, siglen);
			printf("\n");
			pthread_mutex_unlock(&out);
			break;
		}
		case OP_INFO: {
			CK_SESSION_INFO si;
			CK_SLOT_INFO sl;
			CK_TOKEN_INFO ti;
			if ((rv = p->C_GetSessionInfo(s, &si)) == CKR_OK && (rv = p->C_GetSlotInfo(slot, &sl)) == CKR_OK)
				rv = p->C_GetTokenInfo(slot, &ti);
			if (rv == CKR_OK && !(sl.flags & CKF_TOKEN_PRESENT))
				rv = CKR_TOKEN_NOT_PRESENT;
			break;
		}
		}
		if (rv != CKR_OK)
			fail(id, op, rv);
		mine[op]++;
		iter++;
	}
	rv = p->C_CloseSession(s);
	if (rv != CKR_OK)
		fail(id, OP_SESSION, rv);
	pthread_mutex_lock(&out);
	for (int i = 0; i < OP_COUNT; i++)
		ops[i] += mine[i];
	pthread_mutex_unlock(&out);
	return NULL;
}

#ifdef STATIC
extern CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR);
#endif

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: hammer MODULE.so|- THREADS SECONDS PIN\n");
		return 2;
	}
	CK_C_GetFunctionList gfl;
#ifdef STATIC
	gfl = C_GetFunctionList;
#else
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	if (!gfl) {
		fprintf(stderr, "no C_GetFunctionList\n");
		return 2;
	}
#endif
	int threads = atoi(argv[2]);
	if (threads < 1 || threads > 256)
		threads = 16;
	if (gfl(&p) != CKR_OK)
		return 2;
	CK_C_INITIALIZE_ARGS args = {0};
	args.flags = CKF_OS_LOCKING_OK;
	CK_RV rv = p->C_Initialize(&args);
	if (rv != CKR_OK) {
		fprintf(stderr, "C_Initialize: 0x%lx\n", rv);
		return 2;
	}
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	if ((rv = p->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK || n == 0) {
		fprintf(stderr, "no token: 0x%lx, %lu slots\n", rv, n);
		return 2;
	}
	slot = slots[0];
	CK_SESSION_HANDLE main_s;
	if ((rv = p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &main_s)) != CKR_OK ||
	    (rv = p->C_Login(main_s, CKU_USER, (CK_UTF8CHAR_PTR)argv[4], strlen(argv[4]))) != CKR_OK) {
		fprintf(stderr, "open/login: 0x%lx\n", rv);
		return 2;
	}
	deadline = time(NULL) + atoi(argv[3]);
	pthread_t tids[256];
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, worker, (void *)(long)i);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	for (int i = 0; i < OP_COUNT; i++)
		printf("OPS %s %lu\n", opnames[i], ops[i]);
	CK_TOKEN_INFO ti;
	if ((rv = p->C_GetTokenInfo(slot, &ti)) != CKR_OK) {
		fprintf(stderr, "C_GetTokenInfo: 0x%lx\n", rv);
		errors++;
	} else {
		printf("SESSIONS %lu\n", ti.ulSessionCount);
	}
	p->C_Logout(main_s);
	p->C_CloseSession(main_s);
	if ((rv = p->C_Finalize(NULL)) != CKR_OK) {
		fprintf(stderr, "C_Finalize: 0x%lx\n", rv);
		errors++;
	}
	fflush(stdout);
	return errors ? 1 : 0;
}
