package tpssim

import (
	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/loadfile"
	"github.com/coolkey-go/coolkey-go/tps"
)

// defaultTokenType is the profile clients ask for when they name none.
const defaultTokenType = "userKey"

// keySpec is one key pair a profile generates (op.enroll.<type>.keyGen.<k>).
type keySpec struct {
	name     string // "signing", "encryption"
	usage    certUsage
	certID   int  // n in c<n>/C<n>, also the 1-byte CKA_ID
	privSlot byte // privateKeyNumber: z0 object k<priv>, applet key slot
	pubSlot  byte
	label    string // "$userid$" is replaced
	privBool []cardedge.AttributeType
	pubBool  []cardedge.AttributeType
}

// profile is a token type (Dogtag's op.enroll.userKey.*, with the defaults
// of its CS.cfg and the key size raised to 2048).
type profile struct {
	name       string
	keys       []keySpec
	pinMin     int
	pinMax     int
	pinRetries byte
	// initialPIN is what CREATE PIN sets before SET PIN replaces it
	// (create_pin.string).
	initialPIN string
	// appletMemory and instanceSize go into INSTALL [for install].
	appletMemory int
	instanceSize int
}

var profiles = map[string]*profile{
	"userKey": {
		name: "userKey",
		keys: []keySpec{
			{
				name: "signing", usage: usageSigning, certID: 1, privSlot: 2, pubSlot: 3,
				label:    "signing key for $userid$",
				privBool: []cardedge.AttributeType{cardedge.CKA_TOKEN, cardedge.CKA_PRIVATE, cardedge.CKA_SIGN, cardedge.CKA_SIGN_RECOVER, cardedge.CKA_SENSITIVE},
				pubBool:  []cardedge.AttributeType{cardedge.CKA_TOKEN, cardedge.CKA_VERIFY, cardedge.CKA_VERIFY_RECOVER},
			},
			{
				name: "encryption", usage: usageEncryption, certID: 2, privSlot: 4, pubSlot: 5,
				label:    "encryption key for $userid$",
				privBool: []cardedge.AttributeType{cardedge.CKA_TOKEN, cardedge.CKA_PRIVATE, cardedge.CKA_DECRYPT, cardedge.CKA_UNWRAP, cardedge.CKA_SENSITIVE},
				pubBool:  []cardedge.AttributeType{cardedge.CKA_TOKEN, cardedge.CKA_ENCRYPT, cardedge.CKA_WRAP},
			},
		},
		pinMin: 4, pinMax: 10, pinRetries: 0x7F,
		initialPIN:   "password",
		appletMemory: 5000,
		instanceSize: 18000,
	},
}

// lookupProfile resolves BEGIN_OP's tokenType (the mapping resolver).
func (s *session) lookupProfile() (*profile, error) {
	name, ok := s.ext.Get(tps.ExtTokenType)
	if !ok {
		name = defaultTokenType
	}
	p, ok := profiles[name]
	if !ok {
		return nil, fail(tps.StatusErrMappingResolverFailed, "unknown token type %q", name)
	}
	return p, nil
}

// The applet this TPS installs: the CoolKey applet at the version the
// virtual card implements (the SC650 branch, 1.4 build 5875566E).
var installedApplet = loadfile.File{
	PackageAID: aidCoolKeyPackage,
	AppletAID:  aidCoolKey,
	Major:      1,
	Minor:      4,
	BuildID:    0x5875566E,
	// About the size of the real applet's .ijc, so a format sends a
	// realistic number of LOAD blocks.
	FillerSize: 3000,
}
