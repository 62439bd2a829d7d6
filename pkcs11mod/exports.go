package pkcs11mod

// The C_* entry points. Each converts its C arguments, calls the Go logic in
// library.go/session.go through call (panic recovery, error mapping) and
// converts the results back. C_GetFunctionList, C_GetInterfaceList and
// C_GetInterface are in functions.c.

/*
#include "pkcs11.h"
*/
import "C"

import "unsafe"

// ---- general purpose ----

//export C_Initialize
func C_Initialize(pInitArgs C.CK_VOID_PTR) C.CK_RV {
	return call("C_Initialize", false, func() error {
		var a initArgs
		if pInitArgs != nil {
			args := (*C.CK_C_INITIALIZE_ARGS)(unsafe.Pointer(pInitArgs))
			a.mutexes = [4]bool{args.CreateMutex != nil, args.DestroyMutex != nil, args.LockMutex != nil, args.UnlockMutex != nil}
			a.flags = uint(args.flags)
			if args.pReserved != nil {
				// NSS's CK_NSS_C_INITIALIZE_ARGS puts its module
				// parameter string here.
				a.libraryParameters = cString(unsafe.Pointer(args.pReserved))
			}
		}
		return lib.initialize(a)
	})
}

//export C_Finalize
func C_Finalize(pReserved C.CK_VOID_PTR) C.CK_RV {
	return call("C_Finalize", true, func() error {
		if pReserved != nil {
			return CKR_ARGUMENTS_BAD
		}
		return lib.finalize()
	})
}

//export C_GetInfo
func C_GetInfo(pInfo C.CK_INFO_PTR) C.CK_RV {
	return call("C_GetInfo", true, func() error {
		if pInfo == nil {
			return CKR_ARGUMENTS_BAD
		}
		li, err := lib.info()
		if err != nil {
			return err
		}
		pInfo.cryptokiVersion = cVersion(cryptokiVersion)
		padCopy(text(pInfo.manufacturerID[:]), li.Manufacturer)
		pInfo.flags = 0
		padCopy(text(pInfo.libraryDescription[:]), li.Description)
		pInfo.libraryVersion = cVersion(li.LibraryVersion)
		return nil
	})
}

// ---- slots and tokens ----

//export C_GetSlotList
func C_GetSlotList(tokenPresent C.CK_BBOOL, pSlotList C.CK_SLOT_ID_PTR, pulCount C.CK_ULONG_PTR) C.CK_RV {
	return call("C_GetSlotList", true, func() error {
		if pulCount == nil {
			return CKR_ARGUMENTS_BAD
		}
		slots, err := lib.slotList(tokenPresent != C.CK_FALSE)
		if err != nil {
			return err
		}
		fits, err := deliverCount(len(slots), pSlotList == nil, ulongPtr(pulCount))
		if fits {
			dst := unsafe.Slice(pSlotList, len(slots))
			for i, id := range slots {
				dst[i] = C.CK_SLOT_ID(id)
			}
		}
		return err
	})
}

//export C_GetSlotInfo
func C_GetSlotInfo(slotID C.CK_SLOT_ID, pInfo C.CK_SLOT_INFO_PTR) C.CK_RV {
	return call("C_GetSlotInfo", true, func() error {
		if pInfo == nil {
			return CKR_ARGUMENTS_BAD
		}
		si, err := lib.slotInfo(SlotID(slotID))
		if err != nil {
			return err
		}
		padCopy(text(pInfo.slotDescription[:]), si.Description)
		padCopy(text(pInfo.manufacturerID[:]), si.Manufacturer)
		pInfo.flags = C.CK_FLAGS(si.Flags)
		pInfo.hardwareVersion = cVersion(si.HardwareVersion)
		pInfo.firmwareVersion = cVersion(si.FirmwareVersion)
		return nil
	})
}

//export C_GetTokenInfo
func C_GetTokenInfo(slotID C.CK_SLOT_ID, pInfo C.CK_TOKEN_INFO_PTR) C.CK_RV {
	return call("C_GetTokenInfo", true, func() error {
		if pInfo == nil {
			return CKR_ARGUMENTS_BAD
		}
		ti, err := lib.tokenInfo(SlotID(slotID))
		if err != nil {
			return err
		}
		padCopy(text(pInfo.label[:]), ti.Label)
		padCopy(text(pInfo.manufacturerID[:]), ti.Manufacturer)
		padCopy(text(pInfo.model[:]), ti.Model)
		padCopy(text(pInfo.serialNumber[:]), ti.SerialNumber)
		pInfo.flags = C.CK_FLAGS(ti.Flags)
		pInfo.ulMaxSessionCount = C.CK_ULONG(ti.MaxSessionCount)
		pInfo.ulSessionCount = C.CK_ULONG(ti.SessionCount)
		pInfo.ulMaxRwSessionCount = C.CK_ULONG(ti.MaxRwSessionCount)
		pInfo.ulRwSessionCount = C.CK_ULONG(ti.RwSessionCount)
		pInfo.ulMaxPinLen = C.CK_ULONG(ti.MaxPinLen)
		pInfo.ulMinPinLen = C.CK_ULONG(ti.MinPinLen)
		pInfo.ulTotalPublicMemory = C.CK_ULONG(ti.TotalPublicMemory)
		pInfo.ulFreePublicMemory = C.CK_ULONG(ti.FreePublicMemory)
		pInfo.ulTotalPrivateMemory = C.CK_ULONG(ti.TotalPrivateMemory)
		pInfo.ulFreePrivateMemory = C.CK_ULONG(ti.FreePrivateMemory)
		pInfo.hardwareVersion = cVersion(ti.HardwareVersion)
		pInfo.firmwareVersion = cVersion(ti.FirmwareVersion)
		padCopy(text(pInfo.utcTime[:]), ti.UTCTime)
		return nil
	})
}

//export C_GetMechanismList
func C_GetMechanismList(slotID C.CK_SLOT_ID, pMechanismList C.CK_MECHANISM_TYPE_PTR, pulCount C.CK_ULONG_PTR) C.CK_RV {
	return call("C_GetMechanismList", true, func() error {
		if pulCount == nil {
			return CKR_ARGUMENTS_BAD
		}
		mechs, err := lib.mechanismList(SlotID(slotID))
		if err != nil {
			return err
		}
		fits, err := deliverCount(len(mechs), pMechanismList == nil, ulongPtr(pulCount))
		if fits {
			dst := unsafe.Slice(pMechanismList, len(mechs))
			for i, m := range mechs {
				dst[i] = C.CK_MECHANISM_TYPE(m)
			}
		}
		return err
	})
}

//export C_GetMechanismInfo
func C_GetMechanismInfo(slotID C.CK_SLOT_ID, typ C.CK_MECHANISM_TYPE, pInfo C.CK_MECHANISM_INFO_PTR) C.CK_RV {
	return call("C_GetMechanismInfo", true, func() error {
		if pInfo == nil {
			return CKR_ARGUMENTS_BAD
		}
		mi, err := lib.mechanismInfo(SlotID(slotID), MechanismType(typ))
		if err != nil {
			return err
		}
		pInfo.ulMinKeySize = C.CK_ULONG(mi.MinKeySize)
		pInfo.ulMaxKeySize = C.CK_ULONG(mi.MaxKeySize)
		pInfo.flags = C.CK_FLAGS(mi.Flags)
		return nil
	})
}

//export C_InitToken
func C_InitToken(slotID C.CK_SLOT_ID, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG, pLabel C.CK_UTF8CHAR_PTR) C.CK_RV {
	return call("C_InitToken", true, func() error {
		if pLabel == nil {
			return CKR_ARGUMENTS_BAD
		}
		pin, err := secret(pPin, ulPinLen)
		if err != nil {
			return err
		}
		defer wipe(pin)
		label := trimBlank(view(unsafe.Pointer(pLabel), 32))
		return lib.initToken(SlotID(slotID), pin, label)
	})
}

//export C_InitPIN
func C_InitPIN(hSession C.CK_SESSION_HANDLE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) C.CK_RV {
	return call("C_InitPIN", true, func() error {
		pin, err := secret(pPin, ulPinLen)
		if err != nil {
			return err
		}
		defer wipe(pin)
		return lib.initPIN(SessionHandle(hSession), pin)
	})
}

//export C_SetPIN
func C_SetPIN(hSession C.CK_SESSION_HANDLE, pOldPin C.CK_UTF8CHAR_PTR, ulOldLen C.CK_ULONG, pNewPin C.CK_UTF8CHAR_PTR, ulNewLen C.CK_ULONG) C.CK_RV {
	return call("C_SetPIN", true, func() error {
		oldPIN, err := secret(pOldPin, ulOldLen)
		if err != nil {
			return err
		}
		defer wipe(oldPIN)
		newPIN, err := secret(pNewPin, ulNewLen)
		if err != nil {
			return err
		}
		defer wipe(newPIN)
		return lib.setPIN(SessionHandle(hSession), oldPIN, newPIN)
	})
}

//export C_WaitForSlotEvent
func C_WaitForSlotEvent(flags C.CK_FLAGS, pSlot C.CK_SLOT_ID_PTR, pReserved C.CK_VOID_PTR) C.CK_RV {
	return call("C_WaitForSlotEvent", true, func() error {
		if pSlot == nil || pReserved != nil {
			return CKR_ARGUMENTS_BAD
		}
		slot, err := lib.waitForSlotEvent(flags&C.CKF_DONT_BLOCK != 0)
		if err != nil {
			return err
		}
		*pSlot = C.CK_SLOT_ID(slot)
		return nil
	})
}

// ---- sessions ----

//export C_OpenSession
func C_OpenSession(slotID C.CK_SLOT_ID, flags C.CK_FLAGS, pApplication C.CK_VOID_PTR, notify C.CK_NOTIFY, phSession C.CK_SESSION_HANDLE_PTR) C.CK_RV {
	return call("C_OpenSession", true, func() error {
		// Notify callbacks are never made (PKCS#11 allows that), so
		// pApplication and notify are not kept.
		if phSession == nil {
			return CKR_ARGUMENTS_BAD
		}
		h, err := lib.openSession(SlotID(slotID), uint(flags))
		if err != nil {
			return err
		}
		*phSession = C.CK_SESSION_HANDLE(h)
		return nil
	})
}

//export C_CloseSession
func C_CloseSession(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return call("C_CloseSession", true, func() error {
		return lib.closeSession(SessionHandle(hSession))
	})
}

//export C_CloseAllSessions
func C_CloseAllSessions(slotID C.CK_SLOT_ID) C.CK_RV {
	return call("C_CloseAllSessions", true, func() error {
		return lib.closeAllSessions(SlotID(slotID))
	})
}

//export C_GetSessionInfo
func C_GetSessionInfo(hSession C.CK_SESSION_HANDLE, pInfo C.CK_SESSION_INFO_PTR) C.CK_RV {
	return call("C_GetSessionInfo", true, func() error {
		if pInfo == nil {
			return CKR_ARGUMENTS_BAD
		}
		st, err := lib.sessionInfo(SessionHandle(hSession))
		if err != nil {
			return err
		}
		pInfo.slotID = C.CK_SLOT_ID(st.slot)
		pInfo.state = C.CK_STATE(st.state)
		pInfo.flags = C.CK_FLAGS(st.flags)
		pInfo.ulDeviceError = 0
		return nil
	})
}

//export C_SessionCancel
func C_SessionCancel(hSession C.CK_SESSION_HANDLE, flags C.CK_FLAGS) C.CK_RV {
	return call("C_SessionCancel", true, func() error {
		return lib.sessionCancel(SessionHandle(hSession), uint(flags))
	})
}

// Operation state cannot be saved: the operations live partly in the
// backend (and on a card).

//export C_GetOperationState
func C_GetOperationState(hSession C.CK_SESSION_HANDLE, pOperationState C.CK_BYTE_PTR, pulOperationStateLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_GetOperationState", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_SetOperationState
func C_SetOperationState(hSession C.CK_SESSION_HANDLE, pOperationState C.CK_BYTE_PTR, ulOperationStateLen C.CK_ULONG, hEncryptionKey, hAuthenticationKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_SetOperationState", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_Login
func C_Login(hSession C.CK_SESSION_HANDLE, userType C.CK_USER_TYPE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG) C.CK_RV {
	return call("C_Login", true, func() error {
		pin, err := secret(pPin, ulPinLen)
		if err != nil {
			return err
		}
		defer wipe(pin)
		return lib.login(SessionHandle(hSession), UserType(userType), pin)
	})
}

//export C_LoginUser
func C_LoginUser(hSession C.CK_SESSION_HANDLE, userType C.CK_USER_TYPE, pPin C.CK_UTF8CHAR_PTR, ulPinLen C.CK_ULONG, pUsername C.CK_UTF8CHAR_PTR, ulUsernameLen C.CK_ULONG) C.CK_RV {
	return call("C_LoginUser", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_Logout
func C_Logout(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return call("C_Logout", true, func() error {
		return lib.logout(SessionHandle(hSession))
	})
}

// ---- objects ----

//export C_CreateObject
func C_CreateObject(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phObject C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return call("C_CreateObject", true, func() error {
		if phObject == nil {
			return CKR_ARGUMENTS_BAD
		}
		tmpl, err := template(pTemplate, ulCount)
		if err != nil {
			return err
		}
		return lib.objectManager(SessionHandle(hSession), func(om ObjectManager) error {
			h, err := om.CreateObject(tmpl)
			if err == nil {
				*phObject = C.CK_OBJECT_HANDLE(h)
			}
			return err
		})
	})
}

//export C_CopyObject
func C_CopyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phNewObject C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return call("C_CopyObject", true, func() error {
		if phNewObject == nil {
			return CKR_ARGUMENTS_BAD
		}
		tmpl, err := template(pTemplate, ulCount)
		if err != nil {
			return err
		}
		return lib.objectManager(SessionHandle(hSession), func(om ObjectManager) error {
			h, err := om.CopyObject(ObjectHandle(hObject), tmpl)
			if err == nil {
				*phNewObject = C.CK_OBJECT_HANDLE(h)
			}
			return err
		})
	})
}

//export C_DestroyObject
func C_DestroyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_DestroyObject", true, func() error {
		return lib.objectManager(SessionHandle(hSession), func(om ObjectManager) error {
			return om.DestroyObject(ObjectHandle(hObject))
		})
	})
}

//export C_GetObjectSize
func C_GetObjectSize(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pulSize C.CK_ULONG_PTR) C.CK_RV {
	return call("C_GetObjectSize", true, func() error {
		if pulSize == nil {
			return CKR_ARGUMENTS_BAD
		}
		return lib.objectManager(SessionHandle(hSession), func(om ObjectManager) error {
			n, err := om.ObjectSize(ObjectHandle(hObject))
			if err == nil {
				*pulSize = C.CK_ULONG(n)
			}
			return err
		})
	})
}

//export C_GetAttributeValue
func C_GetAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) C.CK_RV {
	return call("C_GetAttributeValue", true, func() error {
		if pTemplate == nil || ulCount > 1<<20 {
			return CKR_ARGUMENTS_BAD
		}
		cs := unsafe.Slice(pTemplate, ulCount)
		types := make([]AttributeType, len(cs))
		slots := make([]attrSlot, len(cs))
		for i := range cs {
			types[i] = AttributeType(cs[i]._type)
			slots[i] = attrSlot{
				buf:  view(unsafe.Pointer(cs[i].pValue), cs[i].ulValueLen),
				null: cs[i].pValue == nil,
				size: ulongPtr(&cs[i].ulValueLen),
			}
		}
		return lib.getAttributeValue(SessionHandle(hSession), ObjectHandle(hObject), types, slots)
	})
}

//export C_SetAttributeValue
func C_SetAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) C.CK_RV {
	return call("C_SetAttributeValue", true, func() error {
		if pTemplate == nil {
			return CKR_ARGUMENTS_BAD
		}
		tmpl, err := template(pTemplate, ulCount)
		if err != nil {
			return err
		}
		return lib.objectManager(SessionHandle(hSession), func(om ObjectManager) error {
			return om.SetAttributes(ObjectHandle(hObject), tmpl)
		})
	})
}

//export C_FindObjectsInit
func C_FindObjectsInit(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) C.CK_RV {
	return call("C_FindObjectsInit", true, func() error {
		tmpl, err := template(pTemplate, ulCount)
		if err != nil {
			return err
		}
		return lib.findObjectsInit(SessionHandle(hSession), tmpl)
	})
}

//export C_FindObjects
func C_FindObjects(hSession C.CK_SESSION_HANDLE, phObject C.CK_OBJECT_HANDLE_PTR, ulMaxObjectCount C.CK_ULONG, pulObjectCount C.CK_ULONG_PTR) C.CK_RV {
	return call("C_FindObjects", true, func() error {
		if phObject == nil || pulObjectCount == nil {
			return CKR_ARGUMENTS_BAD
		}
		found, err := lib.findObjects(SessionHandle(hSession), int(min(uint(ulMaxObjectCount), 1<<30)))
		if err != nil {
			return err
		}
		dst := unsafe.Slice(phObject, len(found))
		for i, h := range found {
			dst[i] = C.CK_OBJECT_HANDLE(h)
		}
		*pulObjectCount = C.CK_ULONG(len(found))
		return nil
	})
}

//export C_FindObjectsFinal
func C_FindObjectsFinal(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return call("C_FindObjectsFinal", true, func() error {
		return lib.findObjectsFinal(SessionHandle(hSession))
	})
}

// ---- encryption ----

//export C_EncryptInit
func C_EncryptInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_EncryptInit", true, func() error {
		mech, err := mechanism(pMechanism)
		if err != nil {
			return err
		}
		return opInit(&lib, SessionHandle(hSession), encryptSlot, mech, func(s *session, m Mechanism) (EncryptOperation, error) {
			e, ok := s.be.(Encrypter)
			if !ok {
				return nil, CKR_FUNCTION_NOT_SUPPORTED
			}
			return e.EncryptInit(m, ObjectHandle(hKey))
		})
	})
}

//export C_Encrypt
func C_Encrypt(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pEncryptedData C.CK_BYTE_PTR, pulEncryptedDataLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_Encrypt", true, func() error {
		data, err := input(pData, ulDataLen)
		if err != nil {
			return err
		}
		out, err := output(pEncryptedData, pulEncryptedDataLen)
		if err != nil {
			return err
		}
		return opSingle(&lib, SessionHandle(hSession), encryptSlot, out,
			func(op EncryptOperation) int { return op.MaxCiphertextLength(len(data)) },
			func(op EncryptOperation) ([]byte, error) { return op.Encrypt(data) })
	})
}

//export C_EncryptUpdate
func C_EncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_EncryptUpdate", true, func() error {
		part, err := input(pPart, ulPartLen)
		if err != nil {
			return err
		}
		out, err := output(pEncryptedPart, pulEncryptedPartLen)
		if err != nil {
			return err
		}
		return opUpdateOutput(&lib, SessionHandle(hSession), encryptSlot, out,
			func(op EncryptOperation) int { return op.MaxCiphertextLength(len(part)) },
			func(op EncryptOperation) ([]byte, error) { return op.Update(part) })
	})
}

//export C_EncryptFinal
func C_EncryptFinal(hSession C.CK_SESSION_HANDLE, pLastEncryptedPart C.CK_BYTE_PTR, pulLastEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_EncryptFinal", true, func() error {
		out, err := output(pLastEncryptedPart, pulLastEncryptedPartLen)
		if err != nil {
			return err
		}
		return opFinal(&lib, SessionHandle(hSession), encryptSlot, out, noHint[EncryptOperation], EncryptOperation.Final)
	})
}

// ---- decryption ----

//export C_DecryptInit
func C_DecryptInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_DecryptInit", true, func() error {
		mech, err := mechanism(pMechanism)
		if err != nil {
			return err
		}
		return opInit(&lib, SessionHandle(hSession), decryptSlot, mech, func(s *session, m Mechanism) (DecryptOperation, error) {
			return s.be.DecryptInit(m, ObjectHandle(hKey))
		})
	})
}

//export C_Decrypt
func C_Decrypt(hSession C.CK_SESSION_HANDLE, pEncryptedData C.CK_BYTE_PTR, ulEncryptedDataLen C.CK_ULONG, pData C.CK_BYTE_PTR, pulDataLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_Decrypt", true, func() error {
		ct, err := input(pEncryptedData, ulEncryptedDataLen)
		if err != nil {
			return err
		}
		out, err := output(pData, pulDataLen)
		if err != nil {
			return err
		}
		return opSingle(&lib, SessionHandle(hSession), decryptSlot, out,
			func(op DecryptOperation) int { return op.MaxPlaintextLength(len(ct)) },
			func(op DecryptOperation) ([]byte, error) { return op.Decrypt(ct) })
	})
}

//export C_DecryptUpdate
func C_DecryptUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_DecryptUpdate", true, func() error {
		part, err := input(pEncryptedPart, ulEncryptedPartLen)
		if err != nil {
			return err
		}
		out, err := output(pPart, pulPartLen)
		if err != nil {
			return err
		}
		return opUpdateOutput(&lib, SessionHandle(hSession), decryptSlot, out,
			func(op DecryptOperation) int { return op.MaxPlaintextLength(len(part)) },
			func(op DecryptOperation) ([]byte, error) { return op.Update(part) })
	})
}

//export C_DecryptFinal
func C_DecryptFinal(hSession C.CK_SESSION_HANDLE, pLastPart C.CK_BYTE_PTR, pulLastPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_DecryptFinal", true, func() error {
		out, err := output(pLastPart, pulLastPartLen)
		if err != nil {
			return err
		}
		return opFinal(&lib, SessionHandle(hSession), decryptSlot, out, noHint[DecryptOperation], DecryptOperation.Final)
	})
}

// ---- digests ----

//export C_DigestInit
func C_DigestInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR) C.CK_RV {
	return call("C_DigestInit", true, func() error {
		mech, err := mechanism(pMechanism)
		if err != nil {
			return err
		}
		return opInit(&lib, SessionHandle(hSession), digestSlot, mech, func(s *session, m Mechanism) (DigestOperation, error) {
			d, ok := s.be.(Digester)
			if !ok {
				return nil, CKR_FUNCTION_NOT_SUPPORTED
			}
			return d.DigestInit(m)
		})
	})
}

//export C_Digest
func C_Digest(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_Digest", true, func() error {
		data, err := input(pData, ulDataLen)
		if err != nil {
			return err
		}
		out, err := output(pDigest, pulDigestLen)
		if err != nil {
			return err
		}
		return opSingle(&lib, SessionHandle(hSession), digestSlot, out, DigestOperation.DigestLength,
			func(op DigestOperation) ([]byte, error) { return op.Digest(data) })
	})
}

//export C_DigestUpdate
func C_DigestUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return call("C_DigestUpdate", true, func() error {
		part, err := input(pPart, ulPartLen)
		if err != nil {
			return err
		}
		return opUpdate(&lib, SessionHandle(hSession), digestSlot, func(op DigestOperation) error { return op.Update(part) })
	})
}

//export C_DigestKey
func C_DigestKey(hSession C.CK_SESSION_HANDLE, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_DigestKey", true, func() error {
		return opUpdate(&lib, SessionHandle(hSession), digestSlot, func(op DigestOperation) error { return op.UpdateKey(ObjectHandle(hKey)) })
	})
}

//export C_DigestFinal
func C_DigestFinal(hSession C.CK_SESSION_HANDLE, pDigest C.CK_BYTE_PTR, pulDigestLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_DigestFinal", true, func() error {
		out, err := output(pDigest, pulDigestLen)
		if err != nil {
			return err
		}
		return opFinal(&lib, SessionHandle(hSession), digestSlot, out, DigestOperation.DigestLength, DigestOperation.Final)
	})
}

// ---- signatures ----

//export C_SignInit
func C_SignInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_SignInit", true, func() error {
		mech, err := mechanism(pMechanism)
		if err != nil {
			return err
		}
		return opInit(&lib, SessionHandle(hSession), signSlot, mech, func(s *session, m Mechanism) (SignOperation, error) {
			return s.be.SignInit(m, ObjectHandle(hKey))
		})
	})
}

//export C_Sign
func C_Sign(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_Sign", true, func() error {
		data, err := input(pData, ulDataLen)
		if err != nil {
			return err
		}
		out, err := output(pSignature, pulSignatureLen)
		if err != nil {
			return err
		}
		return opSingle(&lib, SessionHandle(hSession), signSlot, out, SignOperation.SignatureLength,
			func(op SignOperation) ([]byte, error) { return op.Sign(data) })
	})
}

//export C_SignUpdate
func C_SignUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return call("C_SignUpdate", true, func() error {
		part, err := input(pPart, ulPartLen)
		if err != nil {
			return err
		}
		return opUpdate(&lib, SessionHandle(hSession), signSlot, func(op SignOperation) error { return op.Update(part) })
	})
}

//export C_SignFinal
func C_SignFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_SignFinal", true, func() error {
		out, err := output(pSignature, pulSignatureLen)
		if err != nil {
			return err
		}
		return opFinal(&lib, SessionHandle(hSession), signSlot, out, SignOperation.SignatureLength, SignOperation.Final)
	})
}

//export C_SignRecoverInit
func C_SignRecoverInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_SignRecoverInit", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_SignRecover
func C_SignRecover(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, pulSignatureLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_SignRecover", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

// ---- verification ----

//export C_VerifyInit
func C_VerifyInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_VerifyInit", true, func() error {
		mech, err := mechanism(pMechanism)
		if err != nil {
			return err
		}
		return opInit(&lib, SessionHandle(hSession), verifySlot, mech, func(s *session, m Mechanism) (VerifyOperation, error) {
			v, ok := s.be.(Verifier)
			if !ok {
				return nil, CKR_FUNCTION_NOT_SUPPORTED
			}
			return v.VerifyInit(m, ObjectHandle(hKey))
		})
	})
}

//export C_Verify
func C_Verify(hSession C.CK_SESSION_HANDLE, pData C.CK_BYTE_PTR, ulDataLen C.CK_ULONG, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) C.CK_RV {
	return call("C_Verify", true, func() error {
		data, err := input(pData, ulDataLen)
		if err != nil {
			return err
		}
		sig, err := input(pSignature, ulSignatureLen)
		if err != nil {
			return err
		}
		return opCheck(&lib, SessionHandle(hSession), verifySlot, false, func(op VerifyOperation) error { return op.Verify(data, sig) })
	})
}

//export C_VerifyUpdate
func C_VerifyUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG) C.CK_RV {
	return call("C_VerifyUpdate", true, func() error {
		part, err := input(pPart, ulPartLen)
		if err != nil {
			return err
		}
		return opUpdate(&lib, SessionHandle(hSession), verifySlot, func(op VerifyOperation) error { return op.Update(part) })
	})
}

//export C_VerifyFinal
func C_VerifyFinal(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG) C.CK_RV {
	return call("C_VerifyFinal", true, func() error {
		sig, err := input(pSignature, ulSignatureLen)
		if err != nil {
			return err
		}
		return opCheck(&lib, SessionHandle(hSession), verifySlot, true, func(op VerifyOperation) error { return op.Final(sig) })
	})
}

//export C_VerifyRecoverInit
func C_VerifyRecoverInit(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hKey C.CK_OBJECT_HANDLE) C.CK_RV {
	return call("C_VerifyRecoverInit", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_VerifyRecover
func C_VerifyRecover(hSession C.CK_SESSION_HANDLE, pSignature C.CK_BYTE_PTR, ulSignatureLen C.CK_ULONG, pData C.CK_BYTE_PTR, pulDataLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_VerifyRecover", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

// ---- dual-function operations (not supported) ----

//export C_DigestEncryptUpdate
func C_DigestEncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_DigestEncryptUpdate", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_DecryptDigestUpdate
func C_DecryptDigestUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_DecryptDigestUpdate", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_SignEncryptUpdate
func C_SignEncryptUpdate(hSession C.CK_SESSION_HANDLE, pPart C.CK_BYTE_PTR, ulPartLen C.CK_ULONG, pEncryptedPart C.CK_BYTE_PTR, pulEncryptedPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_SignEncryptUpdate", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

//export C_DecryptVerifyUpdate
func C_DecryptVerifyUpdate(hSession C.CK_SESSION_HANDLE, pEncryptedPart C.CK_BYTE_PTR, ulEncryptedPartLen C.CK_ULONG, pPart C.CK_BYTE_PTR, pulPartLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_DecryptVerifyUpdate", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_SUPPORTED)
	})
}

// ---- keys ----

//export C_GenerateKey
func C_GenerateKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return call("C_GenerateKey", true, func() error {
		if phKey == nil {
			return CKR_ARGUMENTS_BAD
		}
		mech, err := requiredMechanism(pMechanism)
		if err != nil {
			return err
		}
		tmpl, err := template(pTemplate, ulCount)
		if err != nil {
			return err
		}
		return lib.keyGenerator(SessionHandle(hSession), func(kg KeyGenerator) error {
			h, err := kg.GenerateKey(mech, tmpl)
			if err == nil {
				*phKey = C.CK_OBJECT_HANDLE(h)
			}
			return err
		})
	})
}

//export C_GenerateKeyPair
func C_GenerateKeyPair(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, pPublicKeyTemplate C.CK_ATTRIBUTE_PTR, ulPublicKeyAttributeCount C.CK_ULONG, pPrivateKeyTemplate C.CK_ATTRIBUTE_PTR, ulPrivateKeyAttributeCount C.CK_ULONG, phPublicKey, phPrivateKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return call("C_GenerateKeyPair", true, func() error {
		if phPublicKey == nil || phPrivateKey == nil {
			return CKR_ARGUMENTS_BAD
		}
		mech, err := requiredMechanism(pMechanism)
		if err != nil {
			return err
		}
		pub, err := template(pPublicKeyTemplate, ulPublicKeyAttributeCount)
		if err != nil {
			return err
		}
		priv, err := template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)
		if err != nil {
			return err
		}
		return lib.keyGenerator(SessionHandle(hSession), func(kg KeyGenerator) error {
			hPub, hPriv, err := kg.GenerateKeyPair(mech, pub, priv)
			if err == nil {
				*phPublicKey = C.CK_OBJECT_HANDLE(hPub)
				*phPrivateKey = C.CK_OBJECT_HANDLE(hPriv)
			}
			return err
		})
	})
}

//export C_WrapKey
func C_WrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hWrappingKey, hKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, pulWrappedKeyLen C.CK_ULONG_PTR) C.CK_RV {
	return call("C_WrapKey", true, func() error {
		mech, err := requiredMechanism(pMechanism)
		if err != nil {
			return err
		}
		out, err := output(pWrappedKey, pulWrappedKeyLen)
		if err != nil {
			return err
		}
		return lib.wrapKey(SessionHandle(hSession), mech, ObjectHandle(hWrappingKey), ObjectHandle(hKey), out)
	})
}

//export C_UnwrapKey
func C_UnwrapKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hUnwrappingKey C.CK_OBJECT_HANDLE, pWrappedKey C.CK_BYTE_PTR, ulWrappedKeyLen C.CK_ULONG, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return call("C_UnwrapKey", true, func() error {
		if phKey == nil {
			return CKR_ARGUMENTS_BAD
		}
		mech, err := requiredMechanism(pMechanism)
		if err != nil {
			return err
		}
		wrapped, err := input(pWrappedKey, ulWrappedKeyLen)
		if err != nil {
			return err
		}
		tmpl, err := template(pTemplate, ulAttributeCount)
		if err != nil {
			return err
		}
		return lib.keyWrapper(SessionHandle(hSession), func(kw KeyWrapper) error {
			h, err := kw.UnwrapKey(mech, ObjectHandle(hUnwrappingKey), wrapped, tmpl)
			if err == nil {
				*phKey = C.CK_OBJECT_HANDLE(h)
			}
			return err
		})
	})
}

//export C_DeriveKey
func C_DeriveKey(hSession C.CK_SESSION_HANDLE, pMechanism C.CK_MECHANISM_PTR, hBaseKey C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulAttributeCount C.CK_ULONG, phKey C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return call("C_DeriveKey", true, func() error {
		if phKey == nil {
			return CKR_ARGUMENTS_BAD
		}
		mech, err := requiredMechanism(pMechanism)
		if err != nil {
			return err
		}
		tmpl, err := template(pTemplate, ulAttributeCount)
		if err != nil {
			return err
		}
		return lib.keyDeriver(SessionHandle(hSession), func(kd KeyDeriver) error {
			h, err := kd.DeriveKey(mech, ObjectHandle(hBaseKey), tmpl)
			if err == nil {
				*phKey = C.CK_OBJECT_HANDLE(h)
			}
			return err
		})
	})
}

// ---- random numbers ----

//export C_SeedRandom
func C_SeedRandom(hSession C.CK_SESSION_HANDLE, pSeed C.CK_BYTE_PTR, ulSeedLen C.CK_ULONG) C.CK_RV {
	return call("C_SeedRandom", true, func() error {
		seed, err := input(pSeed, ulSeedLen)
		if err != nil {
			return err
		}
		return lib.randomSource(SessionHandle(hSession), func(rs RandomSource) error { return rs.SeedRandom(seed) })
	})
}

//export C_GenerateRandom
func C_GenerateRandom(hSession C.CK_SESSION_HANDLE, pRandomData C.CK_BYTE_PTR, ulRandomLen C.CK_ULONG) C.CK_RV {
	return call("C_GenerateRandom", true, func() error {
		if pRandomData == nil && ulRandomLen != 0 || ulRandomLen > 1<<30 {
			return CKR_ARGUMENTS_BAD
		}
		return lib.randomSource(SessionHandle(hSession), func(rs RandomSource) error {
			r, err := rs.GenerateRandom(int(ulRandomLen))
			if err != nil {
				return err
			}
			if len(r) != int(ulRandomLen) {
				return CKR_GENERAL_ERROR
			}
			copy(view(unsafe.Pointer(pRandomData), ulRandomLen), r)
			return nil
		})
	})
}

// ---- legacy parallel functions ----

//export C_GetFunctionStatus
func C_GetFunctionStatus(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return call("C_GetFunctionStatus", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_PARALLEL)
	})
}

//export C_CancelFunction
func C_CancelFunction(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return call("C_CancelFunction", true, func() error {
		return lib.sessionOnly(SessionHandle(hSession), CKR_FUNCTION_NOT_PARALLEL)
	})
}
