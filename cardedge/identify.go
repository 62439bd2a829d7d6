package cardedge

import (
	"errors"
	"fmt"
)

// CardState is what the Enterprise Security Client shows for a card.
type CardState int

const (
	// StateNoApplet: no CoolKey applet answers (the TPS can install one).
	StateNoApplet CardState = iota
	// StateUninitialized: the applet answers but the token is not
	// personalized (life cycle ≠ 0F).
	StateUninitialized
	// StateEnrolled: the TPS finished enrolling the token (life cycle 0F).
	StateEnrolled
)

func (s CardState) String() string {
	switch s {
	case StateNoApplet:
		return "NO_APPLET"
	case StateUninitialized:
		return "UNINITIALIZED"
	case StateEnrolled:
		return "ENROLLED"
	}
	return fmt.Sprintf("CardState(%d)", int(s))
}

// CUIDSource says where Identity.CUID came from.
type CUIDSource int

const (
	CUIDUnknown  CUIDSource = iota
	CUIDFromZ0              // the z0 header
	CUIDFromCPLC            // GET DATA CPLC from the card manager
)

// IdentifyOptions asks Identify for more than the PKCS#11 module needs.
// Each costs one APDU.
type IdentifyOptions struct {
	Status     bool // GET STATUS: applet version, memory, key count
	BuildID    bool // GET BUILD ID
	IssuerInfo bool // GET ISSUER INFO: the TPS phone-home URL
	// CPLC reads the CPLC data even when z0 gives the CUID (for the MSN).
	CPLC bool
}

// Identity is what Identify learned about a card.
type Identity struct {
	ATR           []byte
	AppletPresent bool
	State         CardState
	LifeCycle     LifeCycle // zero without an applet
	CUID          CUID
	CUIDSource    CUIDSource
	// CPLC is set when it was read (no z0, or IdentifyOptions.CPLC).
	CPLC *CPLC

	Status     *Status // IdentifyOptions.Status
	BuildID    *uint32 // IdentifyOptions.BuildID
	IssuerInfo []byte  // IdentifyOptions.IssuerInfo; see TrimIssuerInfo

	// CombinedHeader and CombinedPrefix are set when the token has a z0:
	// its header and the first bytes read (up to 255), which
	// ReadCombined continues from.
	CombinedHeader *CombinedHeader
	CombinedPrefix []byte
}

// Identify finds out what the card is, in one transaction and as few APDUs
// as the answers allow. For an enrolled token that is 3 (SELECT, GET LIFE
// CYCLE, READ OBJECT z0 0..255, whose header carries the CUID); the reference
// host sends 5 before it starts reading z0 (SELECT PIV, SELECT, GET LIFE
// CYCLE, SELECT, READ). Without a usable z0 the CUID comes from the card
// manager's CPLC data, after which the applet is selected again.
//
// Identify leaves the CoolKey applet selected when it is present. Status
// words from the card are not errors here (they decide the state); transport
// errors are.
func (c *Card) Identify(opts IdentifyOptions) (*Identity, error) {
	id := &Identity{ATR: append([]byte(nil), c.ATR()...)}
	err := c.Transact(func() error {
		err := c.SelectApplet()
		if err != nil {
			if !isCardAnswer(err) {
				return err
			}
			id.State = StateNoApplet
			return c.identifyCPLC(id, false)
		}
		if id.LifeCycle, err = c.LifeCycle(); err != nil {
			if !isCardAnswer(err) {
				return err
			}
			// Some card OSes answer 9000 to a SELECT of any AID (OpenSC
			// issue 1483); an "applet" that cannot say its life cycle is
			// not CoolKey.
			id.LifeCycle = LifeCycle{}
			id.State = StateNoApplet
			return c.identifyCPLC(id, false)
		}
		id.AppletPresent = true
		id.State = StateUninitialized
		if id.LifeCycle.Personalized() {
			id.State = StateEnrolled
		}
		if opts.Status {
			st, err := c.Status()
			if err != nil {
				return err
			}
			id.Status = &st
		}
		if opts.BuildID {
			b, err := c.BuildID()
			if err != nil && !isCardAnswer(err) {
				return err
			}
			if err == nil {
				id.BuildID = &b
			}
		}
		if opts.IssuerInfo {
			b, err := c.IssuerInfo()
			if err != nil && !isCardAnswer(err) {
				return err
			}
			id.IssuerInfo = b
		}
		if id.State == StateEnrolled {
			prefix, err := c.ReadObjectChunk(CombinedObjectID, 0, MaxReadChunk)
			switch {
			case err == nil:
				h, herr := ParseCombinedHeader(prefix)
				if herr == nil {
					id.CombinedHeader, id.CombinedPrefix = &h, prefix
					id.CUID, id.CUIDSource = h.CUID, CUIDFromZ0
				}
			case !isCardAnswer(err):
				return err
			}
		}
		if id.CUIDSource == CUIDUnknown || opts.CPLC {
			return c.identifyCPLC(id, true)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return id, nil
}

// identifyCPLC reads the CPLC data from the card manager, as the reference
// host does (SELECT with an empty AID), then reselects the applet if asked.
// A card manager that will not answer leaves the CUID unknown.
func (c *Card) identifyCPLC(id *Identity, reselect bool) error {
	err := c.SelectCardManager()
	if err == nil {
		var cplc CPLC
		if cplc, err = c.CPLC(); err == nil {
			id.CPLC = &cplc
			if id.CUIDSource == CUIDUnknown {
				id.CUID, id.CUIDSource = cplc.CUID(), CUIDFromCPLC
			}
		}
	}
	if err != nil && !isCardAnswer(err) && !errors.Is(err, ErrMalformedResponse) {
		return err
	}
	if reselect {
		return c.SelectApplet()
	}
	return nil
}

// ReadCombined returns the whole z0 object (header and data as the header
// sizes them), reading on from prefix, the bytes already read from offset 0
// (nil to start afresh). A z0 that claims more than the applet can hold is
// an error.
func (c *Card) ReadCombined(prefix []byte) ([]byte, error) {
	if len(prefix) < CombinedHeaderSize {
		var err error
		if prefix, err = c.ReadObjectChunk(CombinedObjectID, 0, MaxReadChunk); err != nil {
			return nil, err
		}
	}
	h, err := ParseCombinedHeader(prefix)
	if err != nil {
		return nil, err
	}
	if h.Size() > MaxObjectSize {
		return nil, malformed("z0 header claims %d bytes", h.Size())
	}
	if h.Size() <= len(prefix) {
		return prefix[:h.Size()], nil
	}
	rest, err := c.ReadObject(CombinedObjectID, uint32(len(prefix)), h.Size()-len(prefix))
	if err != nil {
		return nil, err
	}
	return append(append([]byte(nil), prefix...), rest...), nil
}

// isCardAnswer reports whether err is the card answering (a status word or a
// malformed response) rather than the transport failing.
func isCardAnswer(err error) bool {
	var se *StatusError
	return errors.As(err, &se) || errors.Is(err, ErrMalformedResponse)
}
