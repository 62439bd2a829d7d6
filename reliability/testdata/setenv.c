/*
 * setenv.c - a host that configures the module with setenv() before it
 * loads it, as scripts and launchers do: the module must see COOLKEY_SIM.
 *
 * usage: setenv MODULE.so ADDR    prints "tokens N"; exit status 0 when N is 1
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "pkcs11.h"

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	setenv("COOLKEY_SIM", argv[2], 1);
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	CK_FUNCTION_LIST_PTR p;
	if (!gfl || gfl(&p) != CKR_OK || p->C_Initialize(NULL) != CKR_OK)
		return 2;
	CK_ULONG n = 0;
	CK_RV rv = p->C_GetSlotList(CK_TRUE, NULL, &n);
	printf("tokens %lu (0x%lx)\n", n, rv);
	p->C_Finalize(NULL);
	return n == 1 ? 0 : 1;
}
