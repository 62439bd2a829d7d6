package coolkey

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// PIN lengths the applet accepts (its CheckPINPolicy and OwnerPIN size). A
// PIN outside them can never be right, and sending it would still log every
// process out of the PIN, so it is refused without asking the card.
const (
	minPINLen = 4
	maxPINLen = 16
)

// identity is what tells one token apart from another, or from a rewritten
// version of itself, after a reset.
type identity struct {
	atr       []byte
	cuid      cardedge.CUID
	lifeCycle cardedge.LifeCycle
	// z0 is set when the token has a combined object: its version and the
	// first bytes read (header and the start of the compressed data).
	z0        bool
	z0Version uint16
	z0Prefix  []byte
}

func identityOf(id *cardedge.Identity) identity {
	ident := identity{atr: bytes.Clone(id.ATR), cuid: id.CUID, lifeCycle: id.LifeCycle}
	if h := id.CombinedHeader; h != nil {
		ident.z0, ident.z0Version, ident.z0Prefix = true, h.ObjectVersion, bytes.Clone(id.CombinedPrefix)
	}
	return ident
}

func (a identity) same(b identity) bool {
	return bytes.Equal(a.atr, b.atr) && a.cuid == b.cuid && a.lifeCycle == b.lifeCycle &&
		a.z0 == b.z0 && a.z0Version == b.z0Version && bytes.Equal(a.z0Prefix, b.z0Prefix)
}

// token is what was read from one card insertion: its identity, token info
// and object table, which never change, plus the login and PIN state, which
// do. When the card goes, gone is set and every session on it is dead.
type token struct {
	slot     *slot
	ident    identity
	applet   bool // the CoolKey applet answered
	name     string
	info     p11.TokenInfo // without the PIN flags, which live in pinFlags
	objects  []*object
	byHandle map[p11.ObjectHandle]*object
	keys     tableInfo
	hasRSA   bool
	hasEC    bool

	gone     atomic.Bool
	loggedIn atomic.Bool
	pinFlags atomic.Uint64 // CKF_USER_PIN_COUNT_LOW, _FINAL_TRY, _LOCKED

	// Session objects (ECDH results), by handle.
	sessMu      sync.RWMutex
	sessObjects map[p11.ObjectHandle]*object
}

// tokenInfo is the token's CK_TOKEN_INFO, built as the reference module
// builds it (label, serial, model, manufacturer and versions from the CUID
// and the z0 token name) so that ESC-style tools read the same values, but
// with the PIN-count flags, CKF_RNG and honest memory fields.
func buildTokenInfo(ident identity, applet bool, name, certLabel string) p11.TokenInfo {
	cuid := ident.cuid
	serial := hex.EncodeToString(cuid[6:10])
	label := name
	switch {
	case label != "":
	case certLabel != "":
		label = "CoolKey for " + certLabel
	default:
		label = "CoolKey " + serial
	}
	manufacturer := fmt.Sprintf("%04x", cuid.Fabricator())
	if n := cuid.FabricatorName(); n != "" {
		manufacturer += " " + n
	}
	flags := uint(p11.CKF_WRITE_PROTECTED)
	if ident.lifeCycle.Personalized() {
		flags |= p11.CKF_TOKEN_INITIALIZED
	}
	if ident.lifeCycle.NeedsLogin() {
		flags |= p11.CKF_LOGIN_REQUIRED | p11.CKF_USER_PIN_INITIALIZED
	}
	if applet {
		// GET RANDOM is wired to C_GenerateRandom.
		flags |= p11.CKF_RNG
	}
	return p11.TokenInfo{
		Label:        label,
		Manufacturer: manufacturer,
		Model:        hex.EncodeToString(cuid[2:6]) + serial,
		SerialNumber: serial,
		Flags:        flags,
		// Sessions are not limited; the module cannot write to the card.
		MaxSessionCount:   p11.CK_EFFECTIVELY_INFINITE,
		MaxRwSessionCount: p11.CK_EFFECTIVELY_INFINITE,
		MaxPinLen:         maxPINLen,
		MinPinLen:         minPINLen,
		// Free memory would cost a GET STATUS on every insertion, and the
		// module cannot use it anyway: report it as unknown rather than
		// invent it (the reference module returns uninitialised values).
		TotalPublicMemory:  p11.CK_UNAVAILABLE_INFORMATION,
		FreePublicMemory:   p11.CK_UNAVAILABLE_INFORMATION,
		TotalPrivateMemory: p11.CK_UNAVAILABLE_INFORMATION,
		FreePrivateMemory:  p11.CK_UNAVAILABLE_INFORMATION,
		HardwareVersion:    p11.Version{Major: cuid[4], Minor: cuid[5]},
		FirmwareVersion:    p11.Version{Major: ident.lifeCycle.ProtocolMajor, Minor: ident.lifeCycle.ProtocolMinor},
	}
}

// tokenInfo returns the token info with the current PIN flags.
func (t *token) tokenInfo() p11.TokenInfo {
	ti := t.info
	ti.Flags |= uint(t.pinFlags.Load())
	return ti
}

// setTriesLeft records what GET PIN REMAINING TRIES said after a failed
// attempt: any failure since the last success is COUNT_LOW.
func (t *token) setTriesLeft(n int) {
	var f uint
	switch {
	case n <= 0:
		f = p11.CKF_USER_PIN_LOCKED
	case n == 1:
		f = p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY
	default:
		f = p11.CKF_USER_PIN_COUNT_LOW
	}
	t.pinFlags.Store(uint64(f))
}

// lookup returns the object with handle h, token or session object, if this
// session may see it.
func (t *token) lookup(h p11.ObjectHandle) *object {
	o := t.byHandle[h]
	if o == nil {
		t.sessMu.RLock()
		o = t.sessObjects[h]
		t.sessMu.RUnlock()
	}
	if o == nil || o.private && !t.privateVisible() {
		return nil
	}
	return o
}

// privateVisible reports whether private objects are shown: after login, or
// always on a token that has no PIN (and so can never log in).
func (t *token) privateVisible() bool {
	return t.loggedIn.Load() || !t.ident.lifeCycle.NeedsLogin()
}

// find returns the handles of the visible objects matching template.
func (t *token) find(template []p11.Attribute) []p11.ObjectHandle {
	loggedIn := t.privateVisible()
	wantsHidden := false
	for _, a := range template {
		if a.Type == p11.CKA_CLASS {
			if v, err := a.ULong(); err == nil && p11.ObjectClass(v) == ckoMozReader {
				wantsHidden = true
			}
		}
	}
	var out []p11.ObjectHandle
	match := func(o *object) {
		if o.private && !loggedIn || o.hidden && !wantsHidden {
			return
		}
		if p11.Matches(template, o.attrs) {
			out = append(out, o.handle)
		}
	}
	for _, o := range t.objects {
		match(o)
	}
	t.sessMu.RLock()
	defer t.sessMu.RUnlock()
	var sess []*object
	for _, o := range t.sessObjects {
		sess = append(sess, o)
	}
	sortObjects(sess)
	for _, o := range sess {
		match(o)
	}
	return out
}

func sortObjects(objs []*object) {
	for i := 1; i < len(objs); i++ {
		for j := i; j > 0 && objs[j].handle < objs[j-1].handle; j-- {
			objs[j], objs[j-1] = objs[j-1], objs[j]
		}
	}
}

func (t *token) addSessionObject(o *object) {
	t.sessMu.Lock()
	defer t.sessMu.Unlock()
	if t.sessObjects == nil {
		t.sessObjects = map[p11.ObjectHandle]*object{}
	}
	t.sessObjects[o.handle] = o
}

// dropSessionObjects destroys the session objects s created.
func (t *token) dropSessionObjects(s *session) {
	t.sessMu.Lock()
	defer t.sessMu.Unlock()
	for h, o := range t.sessObjects {
		if o.owner == s {
			clearAttrs(o)
			delete(t.sessObjects, h)
		}
	}
}

// dropAllSessionObjects destroys every session object (the card went).
func (t *token) dropAllSessionObjects() {
	t.sessMu.Lock()
	defer t.sessMu.Unlock()
	for h, o := range t.sessObjects {
		clearAttrs(o)
		delete(t.sessObjects, h)
	}
}

// clearAttrs zeroes a session object's secret value.
func clearAttrs(o *object) {
	clear(o.attrs[p11.CKA_VALUE])
}

// describe is a one-line summary for the log.
func (t *token) describe() string {
	var classes []string
	counts := map[p11.ObjectClass]int{}
	for _, o := range t.objects {
		counts[o.class]++
	}
	for _, c := range []p11.ObjectClass{p11.CKO_CERTIFICATE, p11.CKO_PUBLIC_KEY, p11.CKO_PRIVATE_KEY, p11.CKO_DATA} {
		if counts[c] > 0 {
			classes = append(classes, fmt.Sprintf("%d %v", counts[c], c))
		}
	}
	return strings.Join(classes, ", ")
}
