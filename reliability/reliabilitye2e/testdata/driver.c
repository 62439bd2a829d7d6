/*
 * driver.c - one long-lived PKCS#11 client driven line by line on stdin, so
 * that a test can pull the card, restart pcscd and so on between its calls
 * while the module stays loaded and initialized.
 *
 * usage: driver MODULE.so
 * Commands (one per line) and answers (one line each):
 *   slots READER       OK <slot> if a token is in the slot whose description
 *                      starts with READER, else NONE
 *   token SLOT         OK <sessions> <rw sessions> | RV <hex>
 *   open SLOT          OK <session> | RV <hex>
 *   login S PIN        OK | RV <hex>
 *   state S            OK <session state> | RV <hex>
 *   sign S             OK <message hex> <signature hex> | RV <hex>   (key 1,
 *                      CKM_SHA256_RSA_PKCS)
 *   close S            OK | RV <hex>
 *   quit               C_Finalize, then exit
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR p;

static void answer(CK_RV rv)
{
	if (rv == CKR_OK)
		printf("OK\n");
	else
		printf("RV 0x%lx\n", rv);
}

static CK_RV sign(CK_SESSION_HANDLE s)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BYTE id = 1;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &id, 1}};
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0;
	CK_RV rv = p->C_FindObjectsInit(s, t, 2);
	if (rv != CKR_OK)
		return rv;
	rv = p->C_FindObjects(s, &key, 1, &n);
	p->C_FindObjectsFinal(s);
	if (rv != CKR_OK)
		return rv;
	if (n != 1)
		return CKR_KEY_HANDLE_INVALID;
	static unsigned counter;
	CK_BYTE msg[64], sig[512];
	int len = snprintf((char *)msg, sizeof msg, "driver message %u", counter++);
	CK_ULONG siglen = sizeof sig;
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
	if ((rv = p->C_SignInit(s, &m, key)) != CKR_OK)
		return rv;
	if ((rv = p->C_Sign(s, msg, len, sig, &siglen)) != CKR_OK)
		return rv;
	printf("OK ");
	for (int i = 0; i < len; i++)
		printf("%02x", msg[i]);
	printf(" ");
	for (CK_ULONG i = 0; i < siglen; i++)
		printf("%02x", sig[i]);
	printf("\n");
	return CKR_OK;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2)
		return 2;
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	if (!gfl || gfl(&p) != CKR_OK)
		return 2;
	CK_RV rv = p->C_Initialize(NULL);
	if (rv != CKR_OK) {
		fprintf(stderr, "C_Initialize: 0x%lx\n", rv);
		return 2;
	}
	char line[512], arg[256];
	unsigned long a, b;
	while (fgets(line, sizeof line, stdin)) {
		if (sscanf(line, "slots %255[^\n]", arg) == 1) {
			CK_SLOT_ID slots[32];
			CK_ULONG n = 32;
			if ((rv = p->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
				answer(rv);
				continue;
			}
			int found = 0;
			for (CK_ULONG i = 0; i < n && !found; i++) {
				CK_SLOT_INFO si;
				if (p->C_GetSlotInfo(slots[i], &si) == CKR_OK && strncmp((char *)si.slotDescription, arg, strlen(arg)) == 0) {
					printf("OK %lu\n", slots[i]);
					found = 1;
				}
			}
			if (!found)
				printf("NONE\n");
		} else if (sscanf(line, "token %lu", &a) == 1) {
			CK_TOKEN_INFO ti;
			if ((rv = p->C_GetTokenInfo(a, &ti)) == CKR_OK)
				printf("OK %lu %lu\n", ti.ulSessionCount, ti.ulRwSessionCount);
			else
				answer(rv);
		} else if (sscanf(line, "open %lu", &a) == 1) {
			CK_SESSION_HANDLE s;
			if ((rv = p->C_OpenSession(a, CKF_SERIAL_SESSION, NULL, NULL, &s)) == CKR_OK)
				printf("OK %lu\n", s);
			else
				answer(rv);
		} else if (sscanf(line, "login %lu %255s", &a, arg) == 2) {
			answer(p->C_Login(a, CKU_USER, (CK_UTF8CHAR_PTR)arg, strlen(arg)));
		} else if (sscanf(line, "state %lu", &a) == 1) {
			CK_SESSION_INFO si;
			if ((rv = p->C_GetSessionInfo(a, &si)) == CKR_OK)
				printf("OK %lu\n", si.state);
			else
				answer(rv);
		} else if (sscanf(line, "sign %lu", &a) == 1) {
			if ((rv = sign(a)) != CKR_OK)
				answer(rv);
		} else if (sscanf(line, "close %lu", &a) == 1) {
			answer(p->C_CloseSession(a));
		} else if (strncmp(line, "quit", 4) == 0) {
			answer(p->C_Finalize(NULL));
			return 0;
		} else {
			(void)b;
			printf("ERR unknown command\n");
		}
	}
	p->C_Finalize(NULL);
	return 0;
}
