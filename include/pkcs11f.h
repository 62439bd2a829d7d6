/*
 * pkcs11f.h - PKCS#11 3.0 functions for coolkey-go: for every function
 * C_Xxx a prototype and a pointer type CK_C_Xxx.
 *
 * Written for this project from the OASIS PKCS#11 Base Specification
 * Version 3.0. Include pkcs11.h rather than this file.
 */
#ifndef COOLKEY_PKCS11F_H
#define COOLKEY_PKCS11F_H 1

/* CK_CRYPTOKI_FUNCTION(C_Xxx, (args)) declares C_Xxx and the CK_C_Xxx
 * pointer type from one parameter list, so the two can never disagree. */
#define CK_CRYPTOKI_FUNCTION(name, params) \
	extern CK_DECLARE_FUNCTION(CK_RV, name) params; \
	typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_##name) params;

/* General purpose */
CK_CRYPTOKI_FUNCTION(C_Initialize, (CK_VOID_PTR pInitArgs))
CK_CRYPTOKI_FUNCTION(C_Finalize, (CK_VOID_PTR pReserved))
CK_CRYPTOKI_FUNCTION(C_GetInfo, (CK_INFO_PTR pInfo))
CK_CRYPTOKI_FUNCTION(C_GetFunctionList, (CK_FUNCTION_LIST_PTR_PTR ppFunctionList))
CK_CRYPTOKI_FUNCTION(C_GetInterfaceList, (CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount))
CK_CRYPTOKI_FUNCTION(C_GetInterface, (CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
	CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags))

/* Slots and tokens */
CK_CRYPTOKI_FUNCTION(C_GetSlotList, (CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount))
CK_CRYPTOKI_FUNCTION(C_GetSlotInfo, (CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo))
CK_CRYPTOKI_FUNCTION(C_GetTokenInfo, (CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo))
CK_CRYPTOKI_FUNCTION(C_GetMechanismList, (CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
	CK_ULONG_PTR pulCount))
CK_CRYPTOKI_FUNCTION(C_GetMechanismInfo, (CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
	CK_MECHANISM_INFO_PTR pInfo))
CK_CRYPTOKI_FUNCTION(C_InitToken, (CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
	CK_UTF8CHAR_PTR pLabel))
CK_CRYPTOKI_FUNCTION(C_InitPIN, (CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen))
CK_CRYPTOKI_FUNCTION(C_SetPIN, (CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
	CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen))
CK_CRYPTOKI_FUNCTION(C_WaitForSlotEvent, (CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved))

/* Sessions */
CK_CRYPTOKI_FUNCTION(C_OpenSession, (CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
	CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession))
CK_CRYPTOKI_FUNCTION(C_CloseSession, (CK_SESSION_HANDLE hSession))
CK_CRYPTOKI_FUNCTION(C_CloseAllSessions, (CK_SLOT_ID slotID))
CK_CRYPTOKI_FUNCTION(C_GetSessionInfo, (CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo))
CK_CRYPTOKI_FUNCTION(C_SessionCancel, (CK_SESSION_HANDLE hSession, CK_FLAGS flags))
CK_CRYPTOKI_FUNCTION(C_GetOperationState, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
	CK_ULONG_PTR pulOperationStateLen))
CK_CRYPTOKI_FUNCTION(C_SetOperationState, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
	CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey, CK_OBJECT_HANDLE hAuthenticationKey))
CK_CRYPTOKI_FUNCTION(C_Login, (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
	CK_ULONG ulPinLen))
CK_CRYPTOKI_FUNCTION(C_LoginUser, (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
	CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen))
CK_CRYPTOKI_FUNCTION(C_Logout, (CK_SESSION_HANDLE hSession))

/* Objects */
CK_CRYPTOKI_FUNCTION(C_CreateObject, (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
	CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject))
CK_CRYPTOKI_FUNCTION(C_CopyObject, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject))
CK_CRYPTOKI_FUNCTION(C_DestroyObject, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject))
CK_CRYPTOKI_FUNCTION(C_GetObjectSize, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	CK_ULONG_PTR pulSize))
CK_CRYPTOKI_FUNCTION(C_GetAttributeValue, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount))
CK_CRYPTOKI_FUNCTION(C_SetAttributeValue, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount))
CK_CRYPTOKI_FUNCTION(C_FindObjectsInit, (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
	CK_ULONG ulCount))
CK_CRYPTOKI_FUNCTION(C_FindObjects, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
	CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount))
CK_CRYPTOKI_FUNCTION(C_FindObjectsFinal, (CK_SESSION_HANDLE hSession))

/* Encryption and decryption */
CK_CRYPTOKI_FUNCTION(C_EncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_Encrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen))
CK_CRYPTOKI_FUNCTION(C_EncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
	CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen))
CK_CRYPTOKI_FUNCTION(C_EncryptFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
	CK_ULONG_PTR pulLastEncryptedPartLen))
CK_CRYPTOKI_FUNCTION(C_DecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_Decrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
	CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen))
CK_CRYPTOKI_FUNCTION(C_DecryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
	CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen))
CK_CRYPTOKI_FUNCTION(C_DecryptFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
	CK_ULONG_PTR pulLastPartLen))

/* Message-based encryption and decryption (3.0) */
CK_CRYPTOKI_FUNCTION(C_MessageEncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_EncryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
	CK_BYTE_PTR pPlaintext, CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
	CK_ULONG_PTR pulCiphertextLen))
CK_CRYPTOKI_FUNCTION(C_EncryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen))
CK_CRYPTOKI_FUNCTION(C_EncryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
	CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags))
CK_CRYPTOKI_FUNCTION(C_MessageEncryptFinal, (CK_SESSION_HANDLE hSession))
CK_CRYPTOKI_FUNCTION(C_MessageDecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_DecryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
	CK_BYTE_PTR pCiphertext, CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
	CK_ULONG_PTR pulPlaintextLen))
CK_CRYPTOKI_FUNCTION(C_DecryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen))
CK_CRYPTOKI_FUNCTION(C_DecryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen,
	CK_BYTE_PTR pPlaintextPart, CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags))
CK_CRYPTOKI_FUNCTION(C_MessageDecryptFinal, (CK_SESSION_HANDLE hSession))

/* Digests */
CK_CRYPTOKI_FUNCTION(C_DigestInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism))
CK_CRYPTOKI_FUNCTION(C_Digest, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen))
CK_CRYPTOKI_FUNCTION(C_DigestUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen))
CK_CRYPTOKI_FUNCTION(C_DigestKey, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_DigestFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
	CK_ULONG_PTR pulDigestLen))

/* Signatures and MACs */
CK_CRYPTOKI_FUNCTION(C_SignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_Sign, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_SignUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen))
CK_CRYPTOKI_FUNCTION(C_SignFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	CK_ULONG_PTR pulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_SignRecoverInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_SignRecover, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_VerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_Verify, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_VerifyUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen))
CK_CRYPTOKI_FUNCTION(C_VerifyFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	CK_ULONG ulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_VerifyRecoverInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_VerifyRecover, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen))

/* Message-based signatures (3.0) */
CK_CRYPTOKI_FUNCTION(C_MessageSignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_SignMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
	CK_ULONG_PTR pulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_SignMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen))
CK_CRYPTOKI_FUNCTION(C_SignMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
	CK_ULONG_PTR pulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_MessageSignFinal, (CK_SESSION_HANDLE hSession))
CK_CRYPTOKI_FUNCTION(C_MessageVerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey))
CK_CRYPTOKI_FUNCTION(C_VerifyMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
	CK_ULONG ulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_VerifyMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen))
CK_CRYPTOKI_FUNCTION(C_VerifyMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
	CK_ULONG ulSignatureLen))
CK_CRYPTOKI_FUNCTION(C_MessageVerifyFinal, (CK_SESSION_HANDLE hSession))

/* Dual-function operations */
CK_CRYPTOKI_FUNCTION(C_DigestEncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen))
CK_CRYPTOKI_FUNCTION(C_DecryptDigestUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
	CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen))
CK_CRYPTOKI_FUNCTION(C_SignEncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen))
CK_CRYPTOKI_FUNCTION(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
	CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen))

/* Keys */
CK_CRYPTOKI_FUNCTION(C_GenerateKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey))
CK_CRYPTOKI_FUNCTION(C_GenerateKeyPair, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
	CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
	CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey))
CK_CRYPTOKI_FUNCTION(C_WrapKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey,
	CK_ULONG_PTR pulWrappedKeyLen))
CK_CRYPTOKI_FUNCTION(C_UnwrapKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey))
CK_CRYPTOKI_FUNCTION(C_DeriveKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
	CK_OBJECT_HANDLE_PTR phKey))

/* Random numbers */
CK_CRYPTOKI_FUNCTION(C_SeedRandom, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen))
CK_CRYPTOKI_FUNCTION(C_GenerateRandom, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
	CK_ULONG ulRandomLen))

/* Legacy parallel functions (always CKR_FUNCTION_NOT_PARALLEL) */
CK_CRYPTOKI_FUNCTION(C_GetFunctionStatus, (CK_SESSION_HANDLE hSession))
CK_CRYPTOKI_FUNCTION(C_CancelFunction, (CK_SESSION_HANDLE hSession))

#undef CK_CRYPTOKI_FUNCTION

#endif /* COOLKEY_PKCS11F_H */
