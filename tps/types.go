package tps

import "fmt"

// MsgType is the msg_type field. The numbering is shared by the Java TPS,
// the ESC and tpsclient; 0 and 1 are unused.
type MsgType int

const (
	MsgBeginOp               MsgType = 2
	MsgLoginRequest          MsgType = 3
	MsgLoginResponse         MsgType = 4
	MsgSecureIDRequest       MsgType = 5
	MsgSecureIDResponse      MsgType = 6
	MsgASQRequest            MsgType = 7
	MsgASQResponse           MsgType = 8
	MsgTokenPDURequest       MsgType = 9
	MsgTokenPDUResponse      MsgType = 10
	MsgNewPINRequest         MsgType = 11
	MsgNewPINResponse        MsgType = 12
	MsgEndOp                 MsgType = 13
	MsgStatusUpdateRequest   MsgType = 14
	MsgStatusUpdateResponse  MsgType = 15
	MsgExtendedLoginRequest  MsgType = 16
	MsgExtendedLoginResponse MsgType = 17
)

var msgTypeNames = map[MsgType]string{
	MsgBeginOp:               "BEGIN_OP",
	MsgLoginRequest:          "LOGIN_REQUEST",
	MsgLoginResponse:         "LOGIN_RESPONSE",
	MsgSecureIDRequest:       "SECUREID_REQUEST",
	MsgSecureIDResponse:      "SECUREID_RESPONSE",
	MsgASQRequest:            "ASQ_REQUEST",
	MsgASQResponse:           "ASQ_RESPONSE",
	MsgTokenPDURequest:       "TOKEN_PDU_REQUEST",
	MsgTokenPDUResponse:      "TOKEN_PDU_RESPONSE",
	MsgNewPINRequest:         "NEW_PIN_REQUEST",
	MsgNewPINResponse:        "NEW_PIN_RESPONSE",
	MsgEndOp:                 "END_OP",
	MsgStatusUpdateRequest:   "STATUS_UPDATE_REQUEST",
	MsgStatusUpdateResponse:  "STATUS_UPDATE_RESPONSE",
	MsgExtendedLoginRequest:  "EXTENDED_LOGIN_REQUEST",
	MsgExtendedLoginResponse: "EXTENDED_LOGIN_RESPONSE",
}

func (t MsgType) String() string {
	if n, ok := msgTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("MsgType(%d)", int(t))
}

// Op is the operation a session performs (BEGIN_OP and END_OP "operation").
type Op int

const (
	OpEnroll   Op = 1
	OpUnblock  Op = 2 // not implemented by the Java TPS
	OpResetPIN Op = 3
	OpRenew    Op = 4 // not implemented by the Java TPS; renewal happens inside OpEnroll
	OpFormat   Op = 5
)

func (o Op) String() string {
	switch o {
	case OpEnroll:
		return "enroll"
	case OpUnblock:
		return "unblock"
	case OpResetPIN:
		return "reset-pin"
	case OpRenew:
		return "renew"
	case OpFormat:
		return "format"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// END_OP result values.
const (
	ResultOK    = 0
	ResultError = 1
)

// Status is the END_OP "message" field: the TPS's reason code (Dogtag's
// TPSStatus). Codes 44 and 45 mean something else when a client raises them
// itself (the ESC reused them for local failures); this package only uses
// them in the server's sense.
type Status int

const (
	StatusOK                            Status = 0
	StatusErrSNAC                       Status = 1
	StatusErrSecInitUpdate              Status = 2
	StatusErrCreateCardMgr              Status = 3
	StatusErrMACResetPINPDU             Status = 4
	StatusErrMACCertPDU                 Status = 5
	StatusErrMACLifecyclePDU            Status = 6
	StatusErrMACEnrollPDU               Status = 7
	StatusErrCannotPerformOperation     Status = 8
	StatusErrBadStatus                  Status = 9
	StatusErrCAResponse                 Status = 10
	StatusErrReadBufferOverflow         Status = 11
	StatusErrTokenResetPINFailed        Status = 12
	StatusErrConnection                 Status = 13
	StatusErrLogin                      Status = 14
	StatusErrDB                         Status = 15
	StatusErrUnknownToken               Status = 16
	StatusErrSecureChannel              Status = 17
	StatusErrMisconfiguration           Status = 18
	StatusErrUpgradeApplet              Status = 19
	StatusErrKeyChangeOver              Status = 20
	StatusErrExternalAuth               Status = 21
	StatusErrMappingResolverFailed      Status = 22
	StatusErrMappingResolverParams      Status = 23
	StatusErrPublish                    Status = 24
	StatusErrLDAPConn                   Status = 25
	StatusErrDisabledToken              Status = 26
	StatusErrNotPINResettable           Status = 27
	StatusErrConnLost                   Status = 28
	StatusErrCreateTUSTokenEntry        Status = 29
	StatusErrNoSuchTokenState           Status = 30
	StatusErrNoSuchLostReason           Status = 31
	StatusErrUnusableTokenKeyCompromise Status = 32
	StatusErrInactiveTokenNotFound      Status = 33
	StatusErrHasActiveToken             Status = 34
	StatusErrTokenTerminated            Status = 35
	StatusRecoveryIsProcessed           Status = 36
	StatusErrRecoveryFailed             Status = 37 // also renewal failed
	StatusErrNoOperationOnLostToken     Status = 38
	StatusErrKeyArchiveOff              Status = 39
	StatusErrNoTKSConnID                Status = 40
	StatusErrUpdateTokenDBFailed        Status = 41
	StatusErrRevokeCertificatesFailed   Status = 42
	StatusErrNotTokenOwner              Status = 43
	StatusRenewalIsProcessed            Status = 44
	StatusErrCannotEstablishComm        Status = 45
	StatusErrSymKey256Upgrade           Status = 46
)

type statusInfo struct{ name, text string }

// statusTable gives each code its Dogtag name and the sentence a user sees
// (after the ESC's messages, reworded).
var statusTable = map[Status]statusInfo{
	0:  {"NO_ERROR", "operation completed successfully"},
	1:  {"ERROR_SNAC", "internal server error"},
	2:  {"ERROR_SEC_INIT_UPDATE", "internal server error (secure channel initialisation)"},
	3:  {"ERROR_CREATE_CARDMGR", "the card cannot perform the operation"},
	4:  {"ERROR_MAC_RESET_PIN_PDU", "cannot reset the card password"},
	5:  {"ERROR_MAC_CERT_PDU", "internal server error (certificate write)"},
	6:  {"ERROR_MAC_LIFECYCLE_PDU", "cannot finalize the enrollment"},
	7:  {"ERROR_MAC_ENROLL_PDU", "cannot import the certificates"},
	8:  {"ERROR_CANNOT_PERFORM_OPERATION", "the card cannot perform the operation"},
	9:  {"ERROR_BAD_STATUS", "internal server error (bad status)"},
	10: {"ERROR_CA_RESPONSE", "internal server error (certificate authority)"},
	11: {"ERROR_READ_BUFFER_OVERFLOW", "internal server error (read buffer overflow)"},
	12: {"ERROR_TOKEN_RESET_PIN_FAILED", "internal server error (PIN reset failed)"},
	13: {"ERROR_CONNECTION", "cannot terminate the secure connection"},
	14: {"ERROR_LOGIN", "the credentials are not valid"},
	15: {"ERROR_DB", "internal server error (database)"},
	16: {"ERROR_UNKNOWN_TOKEN", "the server does not know this card"},
	17: {"ERROR_SECURE_CHANNEL", "cannot establish a secure channel with the card"},
	18: {"ERROR_MISCONFIGURATION", "the server is misconfigured"},
	19: {"ERROR_UPGRADE_APPLET", "cannot upgrade the card software"},
	20: {"ERROR_KEY_CHANGE_OVER", "internal server error (key changeover)"},
	21: {"ERROR_EXTERNAL_AUTH", "the card cannot identify the server"},
	22: {"ERROR_MAPPING_RESOLVER_FAILED", "the requested token type is not recognised"},
	23: {"ERROR_MAPPING_RESOLVER_PARAMS_NOT_FOUND", "the token type's parameters are misconfigured"},
	24: {"ERROR_PUBLISH", "cannot publish the certificates"},
	25: {"ERROR_LDAP_CONN", "the server cannot connect to its internal database"},
	26: {"ERROR_DISABLED_TOKEN", "this operation is not allowed with this card"},
	27: {"ERROR_NOT_PIN_RESETABLE", "resetting the password of this card is not allowed"},
	28: {"ERROR_CONN_LOST", "the connection to the server was lost"},
	29: {"ERROR_CREATE_TUS_TOKEN_ENTRY", "cannot add the card to the database"},
	30: {"ERROR_NO_SUCH_TOKEN_STATE", "unknown card status"},
	31: {"ERROR_NO_SUCH_LOST_REASON", "unknown lost-card reason"},
	32: {"ERROR_UNUSABLE_TOKEN_KEYCOMPROMISE", "this card was reported stolen"},
	33: {"ERROR_INACTIVE_TOKEN_NOT_FOUND", "cannot restore the keys"},
	34: {"ERROR_HAS_AT_LEAST_ONE_ACTIVE_TOKEN", "the user already has an enrolled card"},
	35: {"ERROR_TOKEN_TERMINATED", "this card was terminated"},
	36: {"RECOVERY_IS_PROCESSED", "key recovery processed"},
	37: {"ERROR_RECOVERY_FAILED", "cannot restore or renew the keys"},
	38: {"ERROR_NO_OPERATION_ON_LOST_TOKEN", "this card was reported lost"},
	39: {"ERROR_KEY_ARCHIVE_OFF", "key archival is misconfigured"},
	40: {"ERROR_NO_TKS_CONNID", "the server cannot contact its key server"},
	41: {"ERROR_UPDATE_TOKENDB_FAILED", "cannot update the card's status"},
	42: {"ERROR_REVOKE_CERTIFICATES_FAILED", "cannot revoke the certificates"},
	43: {"ERROR_NOT_TOKEN_OWNER", "this card belongs to another user"},
	44: {"RENEWAL_IS_PROCESSED", "certificate renewal processed"},
	45: {"ERROR_CANNOT_ESTABLISH_COMMUNICATION", "cannot establish communication with the card"},
	46: {"ERROR_SYMKEY_256_UPGRADE", "cannot upgrade the card keys to 256 bits"},
}

// Name returns Dogtag's name for the code, e.g. "ERROR_LOGIN".
func (s Status) Name() string {
	if i, ok := statusTable[s]; ok {
		return i.name
	}
	return fmt.Sprintf("STATUS_%d", int(s))
}

// Text returns the sentence to show a user.
func (s Status) Text() string {
	if i, ok := statusTable[s]; ok {
		return i.text
	}
	return fmt.Sprintf("unknown server status %d", int(s))
}

func (s Status) String() string { return fmt.Sprintf("%d %s", int(s), s.Name()) }

// Names of the BEGIN_OP extensions the Java TPS reads.
const (
	ExtTokenType            = "tokenType"
	ExtClientVersion        = "clientVersion"
	ExtTokenATR             = "tokenATR"
	ExtStatusUpdate         = "statusUpdate"         // only "true" enables STATUS_UPDATE
	ExtExtendedLoginRequest = "extendedLoginRequest" // presence selects EXTENDED_LOGIN
	ExtLocale               = "locale"
	ExtKeySet               = "keySet"
)

// Progress task names the Java TPS sends in STATUS_UPDATE_REQUEST.
const (
	TaskAppletBlock            = "PROGRESS_APPLET_BLOCK"
	TaskDone                   = "PROGRESS_DONE"
	TaskProcessProfile         = "PROGRESS_PROCESS_PROFILE"
	TaskKeyGeneration          = "PROGRESS_KEY_GENERATION"
	TaskEnrollCert             = "PROGRESS_ENROLL_CERT"
	TaskWriteObjects           = "PROGRESS_WRITE_OBJECTS"
	TaskIssuerInfo             = "PROGRESS_ISSUER_INFO"
	TaskSetLifecycle           = "PROGRESS_SET_LIFECYCLE"
	TaskDoneEnrollment         = "PROGRESS_DONE_ENROLLMENT"
	TaskStartPINReset          = "PROGRESS_START_PIN_RESET"
	TaskPINResetResolveProfile = "PROGRESS_PIN_RESET_RESOLVE_PROFILE"
	TaskPINResetComplete       = "PROGRESS_PIN_RESET_COMPLETE"
)
