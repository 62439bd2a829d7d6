package vcard

import "fmt"

// SW is a status word. As an error it makes the card answer with that status
// word and no data; handlers and SecureChannelProvider implementations return
// it to fail a command.
type SW uint16

func (s SW) Error() string { return fmt.Sprintf("vcard: status word %04X", uint16(s)) }

// ISO 7816-4 and GlobalPlatform status words.
const (
	SWOK                      SW = 0x9000
	SWWrongLength             SW = 0x6700
	SWSecurityNotSatisfied    SW = 0x6982
	SWAuthMethodBlocked       SW = 0x6983
	SWConditionsNotSatisfied  SW = 0x6985
	SWWrongData               SW = 0x6A80
	SWFunctionNotSupported    SW = 0x6A81
	SWFileNotFound            SW = 0x6A82
	SWNotEnoughMemory         SW = 0x6A84
	SWIncorrectP1P2           SW = 0x6A86
	SWReferencedDataNotFound  SW = 0x6A88
	SWINSNotSupported         SW = 0x6D00
	SWCLANotSupported         SW = 0x6E00
	SWUnknown                 SW = 0x6F00
	SWMemoryFailure           SW = 0x6581
	swCorrectLengthBase       SW = 0x6C00 // 6Cxx: wrong Le, xx is the right one
	swCryptoIllegalValueCoded SW = 0x0001 // CryptoException.ILLEGAL_VALUE rethrown as a status word
)

// CoolKey applet status words (CardEdge.java SW_*).
const (
	swNoMemoryLeft         SW = 0x9C01
	swAuthFailed           SW = 0x9C02
	swOperationNotAllowed  SW = 0x9C03
	swUnsupportedFeature   SW = 0x9C05
	swUnauthorized         SW = 0x9C06
	swObjectNotFound       SW = 0x9C07
	swObjectExists         SW = 0x9C08
	swIncorrectAlg         SW = 0x9C09
	swSignatureInvalid     SW = 0x9C0B
	swIdentityBlocked      SW = 0x9C0C
	swInvalidParameter     SW = 0x9C0F
	swIncorrectP1          SW = 0x9C10
	swIncorrectP2          SW = 0x9C11
	swSequenceEnd          SW = 0x9C12
	swDirectionUnsupported SW = 0x9C13
	swDirectionInvalid     SW = 0x9C14
	swLocationInvalid      SW = 0x9C16
	swKeyTypeUnsupported   SW = 0x9C17
	swKeyTypeInvalid       SW = 0x9C18
	swDataChunkSizeError   SW = 0x9C19
	swKeySizeError         SW = 0x9C1A
	swCiphModeUnsupported  SW = 0x9C1B
	swCiphModeInvalid      SW = 0x9C1C
	swOutBufTooSmall       SW = 0x9C1D
	swInconstantKeyPairing SW = 0x9C1E
	swInBufTooSmall        SW = 0x9C1F
	swBadWrappedKey        SW = 0x9C20
	swBadAlgIDForKey       SW = 0x9C21
	swBadWrappedPrivKey    SW = 0x9C22
	swInternalError        SW = 0x9CFF
)
