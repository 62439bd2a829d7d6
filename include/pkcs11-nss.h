/*
 * pkcs11-nss.h - the NSS vendor-defined PKCS#11 constants that coolkey-go
 * meets: NSS searches every token for its trust and root-list objects, and
 * passes module parameters to C_Initialize in a structure of its own.
 *
 * Written for this project from NSS's documented values. Include after
 * pkcs11.h.
 */
#ifndef COOLKEY_PKCS11_NSS_H
#define COOLKEY_PKCS11_NSS_H 1

/* "NSCP" in ASCII: the vendor code NSS adds to the *_VENDOR_DEFINED bases. */
#define NSSCK_VENDOR_NSS 0x4E534350UL

/* Object classes */
#define CKO_NSS (CKO_VENDOR_DEFINED | NSSCK_VENDOR_NSS)
#define CKO_NSS_CRL (CKO_NSS + 1UL)
#define CKO_NSS_SMIME (CKO_NSS + 2UL)
#define CKO_NSS_TRUST (CKO_NSS + 3UL)
#define CKO_NSS_BUILTIN_ROOT_LIST (CKO_NSS + 4UL)
#define CKO_NSS_NEWSLOT (CKO_NSS + 5UL)
#define CKO_NSS_DELSLOT (CKO_NSS + 6UL)

/* Attributes */
#define CKA_NSS (CKA_VENDOR_DEFINED | NSSCK_VENDOR_NSS)
#define CKA_NSS_URL (CKA_NSS + 1UL)
#define CKA_NSS_EMAIL (CKA_NSS + 2UL)
#define CKA_NSS_SMIME_INFO (CKA_NSS + 3UL)
#define CKA_NSS_SMIME_TIMESTAMP (CKA_NSS + 4UL)
#define CKA_NSS_PKCS8_SALT (CKA_NSS + 5UL)
#define CKA_NSS_PASSWORD_CHECK (CKA_NSS + 6UL)
#define CKA_NSS_EXPIRES (CKA_NSS + 7UL)
#define CKA_NSS_KRL (CKA_NSS + 8UL)
#define CKA_NSS_MOZILLA_CA_POLICY (CKA_NSS + 34UL)

/* Trust object attributes (CKO_NSS_TRUST) */
#define CKA_TRUST (CKA_NSS + 0x2000UL)
#define CKA_TRUST_DIGITAL_SIGNATURE (CKA_TRUST + 1UL)
#define CKA_TRUST_NON_REPUDIATION (CKA_TRUST + 2UL)
#define CKA_TRUST_KEY_ENCIPHERMENT (CKA_TRUST + 3UL)
#define CKA_TRUST_DATA_ENCIPHERMENT (CKA_TRUST + 4UL)
#define CKA_TRUST_KEY_AGREEMENT (CKA_TRUST + 5UL)
#define CKA_TRUST_KEY_CERT_SIGN (CKA_TRUST + 6UL)
#define CKA_TRUST_CRL_SIGN (CKA_TRUST + 7UL)
#define CKA_TRUST_SERVER_AUTH (CKA_TRUST + 8UL)
#define CKA_TRUST_CLIENT_AUTH (CKA_TRUST + 9UL)
#define CKA_TRUST_CODE_SIGNING (CKA_TRUST + 10UL)
#define CKA_TRUST_EMAIL_PROTECTION (CKA_TRUST + 11UL)
#define CKA_TRUST_IPSEC_END_SYSTEM (CKA_TRUST + 12UL)
#define CKA_TRUST_IPSEC_TUNNEL (CKA_TRUST + 13UL)
#define CKA_TRUST_IPSEC_USER (CKA_TRUST + 14UL)
#define CKA_TRUST_TIME_STAMPING (CKA_TRUST + 15UL)
#define CKA_TRUST_STEP_UP_APPROVED (CKA_TRUST + 16UL)
#define CKA_CERT_SHA1_HASH (CKA_TRUST + 100UL)
#define CKA_CERT_MD5_HASH (CKA_TRUST + 101UL)

/* Trust values */
#define CKT_VENDOR_DEFINED 0x80000000UL
#define CKT_NSS (CKT_VENDOR_DEFINED | NSSCK_VENDOR_NSS)
#define CKT_NSS_TRUSTED (CKT_NSS + 1UL)
#define CKT_NSS_TRUSTED_DELEGATOR (CKT_NSS + 2UL)
#define CKT_NSS_MUST_VERIFY_TRUST (CKT_NSS + 3UL)
#define CKT_NSS_TRUST_UNKNOWN (CKT_NSS + 5UL)
#define CKT_NSS_NOT_TRUSTED (CKT_NSS + 10UL)
#define CKT_NSS_VALID_DELEGATOR (CKT_NSS + 11UL)

/* The C_Initialize argument structure NSS passes when the module has a
 * "parameters=" string: LibraryParameters takes the place of the standard
 * pReserved and points at that NUL-terminated string. pReserved only exists
 * when LibraryParameters is set, so a module must not read it otherwise. */
typedef struct CK_NSS_C_INITIALIZE_ARGS {
	CK_CREATEMUTEX CreateMutex;
	CK_DESTROYMUTEX DestroyMutex;
	CK_LOCKMUTEX LockMutex;
	CK_UNLOCKMUTEX UnlockMutex;
	CK_FLAGS flags;
	CK_CHAR_PTR *LibraryParameters;
	CK_VOID_PTR pReserved;
} CK_NSS_C_INITIALIZE_ARGS;
typedef CK_NSS_C_INITIALIZE_ARGS CK_PTR CK_NSS_C_INITIALIZE_ARGS_PTR;

#endif /* COOLKEY_PKCS11_NSS_H */
