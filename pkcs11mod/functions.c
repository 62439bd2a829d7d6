// The function tables and the entry points that hand them out. They are C
// data so that the host never holds a pointer into Go memory. Every other
// C_* function is exported from Go (exports.go).

#include <pthread.h>
#include <string.h>
#include "pkcs11.h"

#define CK_2_40_FUNCTIONS \
	C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, \
	C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, \
	C_InitToken, C_InitPIN, C_SetPIN, C_OpenSession, C_CloseSession, \
	C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState, \
	C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, \
	C_DestroyObject, C_GetObjectSize, C_GetAttributeValue, \
	C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, \
	C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate, \
	C_EncryptFinal, C_DecryptInit, C_Decrypt, C_DecryptUpdate, \
	C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, \
	C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, \
	C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, \
	C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover, \
	C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, \
	C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey, \
	C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom, \
	C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent

static CK_FUNCTION_LIST function_list_2_40 = {
	{2, 40},
	CK_2_40_FUNCTIONS
};

static CK_FUNCTION_LIST_3_0 function_list_3_0 = {
	{3, 0},
	CK_2_40_FUNCTIONS,
	C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
	C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin,
	C_EncryptMessageNext, C_MessageEncryptFinal,
	C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin,
	C_DecryptMessageNext, C_MessageDecryptFinal,
	C_MessageSignInit, C_SignMessage, C_SignMessageBegin, C_SignMessageNext,
	C_MessageSignFinal,
	C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin,
	C_VerifyMessageNext, C_MessageVerifyFinal
};

static CK_CHAR interface_name[] = "PKCS 11";

// The default (first) interface is 3.0. No interface claims
// CKF_INTERFACE_FORK_SAFE: the Go runtime does not survive fork.
static CK_INTERFACE interfaces[] = {
	{interface_name, &function_list_3_0, 0},
	{interface_name, &function_list_2_40, 0},
};

#define INTERFACE_COUNT (sizeof(interfaces) / sizeof(interfaces[0]))

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &function_list_2_40;
	return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	if (pInterfacesList == NULL_PTR) {
		*pulCount = INTERFACE_COUNT;
		return CKR_OK;
	}
	if (*pulCount < INTERFACE_COUNT) {
		*pulCount = INTERFACE_COUNT;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(pInterfacesList, interfaces, sizeof(interfaces));
	*pulCount = INTERFACE_COUNT;
	return CKR_OK;
}

// C_GetInterface returns the first interface matching the name (NULL: any),
// the version (NULL: any) and carrying every requested flag. When none
// matches it fails with CKR_ARGUMENTS_BAD and leaves *ppInterface alone, as
// OpenSC does: NSS asks for CKF_INTERFACE_FORK_SAFE first and retries with no
// flags. It never returns CKR_OK without an interface.
CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
	CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	size_t i;

	if (ppInterface == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < INTERFACE_COUNT; i++) {
		CK_INTERFACE *iface = &interfaces[i];
		CK_VERSION *v = (CK_VERSION *)iface->pFunctionList;

		if (pInterfaceName != NULL_PTR &&
		    strcmp((const char *)pInterfaceName, (const char *)iface->pInterfaceName) != 0)
			continue;
		if (pVersion != NULL_PTR &&
		    (pVersion->major != v->major || pVersion->minor != v->minor))
			continue;
		if ((iface->flags & flags) != flags)
			continue;
		*ppInterface = iface;
		return CKR_OK;
	}
	return CKR_ARGUMENTS_BAD;
}

/*
 * pkcs11mod_forks counts the forks that led to this process: a child's count
 * is one more than its parent's at the time of the fork. Every PKCS#11 call
 * compares it with the count at C_Initialize to tell a forked child, which
 * is cheaper than getpid(), a system call, on every call. Children made
 * without the atfork handlers (_Fork, raw clone) are still caught by the pid
 * check in C_Initialize and C_Finalize.
 */
__attribute__((visibility("hidden"))) unsigned int pkcs11mod_forks;

static void pkcs11mod_forked(void)
{
	__atomic_add_fetch(&pkcs11mod_forks, 1, __ATOMIC_SEQ_CST);
}

__attribute__((constructor)) static void pkcs11mod_watch_forks(void)
{
	pthread_atfork(NULL, NULL, pkcs11mod_forked);
}
