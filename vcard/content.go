package vcard

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"

	"github.com/coolkey-go/coolkey-go/internal/loadfile"
)

// Card content management in the issuer security domain: DELETE, INSTALL
// and LOAD as a Dogtag TPS sends them to format a card (tps.md §2.3), under
// the secure channel. The card holds at most one load file (the CoolKey
// package) and one applet instance, which is all a CoolKey token carries;
// asking for a second answers 6A84 (not enough memory).
//
// Status words follow GlobalPlatform's card specification: 6A80 for
// malformed command data, 6A86 for wrong P1/P2 (and an out-of-order LOAD
// block), 6A88 for an AID, load file, module or security domain that is not
// there, 6985 when the target exists but the operation is not allowed (a
// package with an instance, the security domain itself, an AID already in
// use, LOAD without INSTALL [for load]), 6A84 when the card has no room.
// Successful DELETE, INSTALL and LOAD answer the single byte 00.

const (
	insDelete      = 0xE4
	insInstall     = 0xE6
	insLoad        = 0xE8
	insGPGetStatus = 0xF2
)

// INSTALL P1 bits.
const (
	installForLoad           = 0x02
	installForInstall        = 0x04
	installForMakeSelectable = 0x08
)

// maxLoadData bounds what LOAD accepts: the C4 tag and a 3-byte length
// around the largest load file internal/loadfile parses. It stands for the
// card's free code memory.
const maxLoadData = 4 + loadfile.MaxSize

// javaCardMaxInstallData is the largest install() parameter block Java Card
// hands an applet: instance AID, privileges and application data with
// their length bytes (bLength is at most 127).
const javaCardMaxInstallData = 127

// gpDone is the one-byte response data of DELETE, INSTALL and LOAD.
var gpDone = []byte{0x00}

// loadSession is a load in progress: INSTALL [for load] was accepted and
// LOAD blocks are being received. It lives in RAM and ends with the secure
// channel, or with any command other than LOAD.
type loadSession struct {
	aid  []byte // load file AID from INSTALL [for load]
	hash []byte // load file data block hash, when the host sent one
	next int    // the block number the next LOAD must carry
	data []byte
}

// contentManagement handles the content management commands, already
// unwrapped from the secure channel.
func (c *Card) contentManagement(plain Command) ([]byte, error) {
	switch plain.INS {
	case insDelete:
		return c.delete(plain)
	case insInstall:
		return c.install(plain)
	case insLoad:
		return c.loadBlock(plain)
	case insGPGetStatus:
		return c.getStatusRegistry(plain)
	}
	return nil, SWINSNotSupported
}

// delete is DELETE (E4) of an applet instance or a load file, named by a
// 4F TLV. P2 80 also deletes what depends on the target: deleting the
// package then takes its instance with it. Deleting the instance removes
// everything the applet kept (PINs, keys, objects, issuer info).
func (c *Card) delete(plain Command) ([]byte, error) {
	if plain.P1&^0x80 != 0 || plain.P2 != 0x00 && plain.P2 != 0x80 {
		return nil, SWIncorrectP1P2
	}
	aid, err := deleteTarget(plain.Data)
	if err != nil {
		return nil, err
	}
	withRelated := plain.P2 == 0x80
	switch {
	case bytes.Equal(aid, c.sd.AID):
		return nil, SWConditionsNotSatisfied
	case c.applet != nil && bytes.Equal(aid, c.applet.aid):
		c.applet = nil
	case c.pkg != nil && bytes.Equal(aid, c.pkg.AID):
		if c.applet != nil {
			if !withRelated {
				return nil, SWConditionsNotSatisfied
			}
			c.applet = nil
		}
		c.pkg = nil
	default:
		return nil, SWReferencedDataNotFound
	}
	c.markDirty()
	return gpDone, nil
}

// deleteTarget parses DELETE's data: 4F AID, optionally followed by a
// delete token (9E) or control reference template (B6), which a card
// without delegated management ignores.
func deleteTarget(data []byte) ([]byte, error) {
	tag, aid, rest, ok := nextTLV(data)
	if !ok || tag != 0x4F || len(aid) < 5 || len(aid) > 16 {
		return nil, SWWrongData
	}
	for len(rest) > 0 {
		if tag, _, rest, ok = nextTLV(rest); !ok || tag != 0x9E && tag != 0xB6 {
			return nil, SWWrongData
		}
	}
	return aid, nil
}

// install is INSTALL (E6): [for load], [for install] (with or without
// [make selectable]) and [for make selectable].
func (c *Card) install(plain Command) ([]byte, error) {
	if plain.P2 != 0x00 {
		return nil, SWIncorrectP1P2
	}
	fields := 6
	if plain.P1 == installForLoad {
		fields = 5
	}
	f, err := parseInstallData(plain.Data, fields)
	if err != nil {
		return nil, err
	}
	switch plain.P1 {
	case installForLoad:
		return c.installForLoad(f)
	case installForInstall, installForInstall | installForMakeSelectable:
		return c.installForInstall(f, plain.P1&installForMakeSelectable != 0)
	case installForMakeSelectable:
		return c.makeSelectable(f)
	}
	return nil, SWIncorrectP1P2
}

// installData is INSTALL's data field: length-prefixed fields whose
// meaning depends on P1.
//
//	for load:    load file AID, security domain AID, load file data block
//	             hash, load parameters, token
//	for install: load file AID, module AID, application AID, privileges,
//	             install parameters, token
//	for make selectable: the same six, the first two and the fifth empty
type installData struct {
	fields [6][]byte
}

func parseInstallData(data []byte, n int) (installData, error) {
	var f installData
	p := data
	for i := 0; i < n; i++ {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return installData{}, SWWrongData
		}
		f.fields[i], p = p[1:1+int(p[0])], p[1+int(p[0]):]
	}
	if len(p) != 0 {
		return installData{}, SWWrongData
	}
	return f, nil
}

func (c *Card) installForLoad(f installData) ([]byte, error) {
	aid, sdAID, hash, params := f.fields[0], f.fields[1], f.fields[2], f.fields[3]
	if len(aid) < 5 || len(aid) > 16 {
		return nil, SWWrongData
	}
	// GP 2.0.1 hosts leave the security domain empty; GP 2.1.1 ones name
	// the ISD (Dogtag sends A000000003000000).
	if len(sdAID) != 0 && !bytes.Equal(sdAID, c.sd.AID) {
		return nil, SWReferencedDataNotFound
	}
	switch len(hash) {
	case 0, sha1.Size, sha256.Size:
	default:
		return nil, SWWrongData
	}
	sys, err := systemParameters(params)
	if err != nil {
		return nil, err
	}
	if code, ok := sys[0xC6]; ok && code > maxLoadData {
		return nil, SWNotEnoughMemory
	}
	switch {
	case bytes.Equal(aid, c.sd.AID) || c.applet != nil && bytes.Equal(aid, c.applet.aid):
		return nil, SWConditionsNotSatisfied
	case c.pkg != nil && bytes.Equal(aid, c.pkg.AID):
		return nil, SWConditionsNotSatisfied // delete it first
	case c.pkg != nil:
		return nil, SWNotEnoughMemory // room for one load file only
	}
	c.loading = &loadSession{aid: bytes.Clone(aid), hash: bytes.Clone(hash)}
	return gpDone, nil
}

// loadBlock is LOAD (E8): P2 numbers the blocks from 00, P1 80 marks the
// last one. The blocks together are the load file behind a C4 tag; the
// last block makes the card check it and keep the package.
func (c *Card) loadBlock(plain Command) ([]byte, error) {
	l := c.loading
	if l == nil {
		return nil, SWConditionsNotSatisfied
	}
	// Any failure abandons the load; the host starts over with INSTALL
	// [for load].
	c.loading = nil
	if plain.P1 != 0x00 && plain.P1 != 0x80 || int(plain.P2) != l.next {
		return nil, SWIncorrectP1P2
	}
	if len(plain.Data) == 0 {
		return nil, SWWrongData
	}
	if len(l.data)+len(plain.Data) > maxLoadData {
		return nil, SWNotEnoughMemory
	}
	l.data = append(l.data, plain.Data...)
	l.next++
	if plain.P1 == 0x00 {
		if l.next > 0xFF {
			return nil, SWNotEnoughMemory // no block number left for the rest
		}
		c.loading = l
		return gpDone, nil
	}
	pkg, err := l.finish()
	if err != nil {
		return nil, err
	}
	c.pkg = pkg
	c.markDirty()
	return gpDone, nil
}

// finish checks the received load file and returns the package it holds.
func (l *loadSession) finish() (*Package, error) {
	tag, block, rest, ok := nextTLV(l.data)
	if !ok || tag != 0xC4 || len(rest) != 0 {
		return nil, SWWrongData
	}
	switch len(l.hash) {
	case sha1.Size:
		if h := sha1.Sum(block); !bytes.Equal(h[:], l.hash) {
			return nil, SWWrongData
		}
	case sha256.Size:
		if h := sha256.Sum256(block); !bytes.Equal(h[:], l.hash) {
			return nil, SWWrongData
		}
	}
	f, err := loadfile.Parse(block)
	if err != nil || !bytes.Equal(f.PackageAID, l.aid) {
		return nil, SWWrongData
	}
	return &Package{
		AID:       bytes.Clone(f.PackageAID),
		ModuleAID: bytes.Clone(f.AppletAID),
		Major:     f.Major,
		Minor:     f.Minor,
		BuildID:   f.BuildID,
	}, nil
}

// installForInstall creates an applet instance from the loaded package
// with the CoolKey install parameters, selectable (07) when asked, else
// INSTALLED (03) until INSTALL [for make selectable].
func (c *Card) installForInstall(f installData, selectable bool) ([]byte, error) {
	lfAID, moduleAID, aid, privileges, params := f.fields[0], f.fields[1], f.fields[2], f.fields[3], f.fields[4]
	if c.pkg == nil || !bytes.Equal(lfAID, c.pkg.AID) || !bytes.Equal(moduleAID, c.pkg.moduleAID()) {
		return nil, SWReferencedDataNotFound
	}
	if len(aid) < 5 || len(aid) > 16 {
		return nil, SWWrongData
	}
	// One privilege byte (GP 2.1.1) or three (GP 2.2). The CoolKey applet
	// is no security domain.
	if len(privileges) != 1 && len(privileges) != 3 || privileges[0]&0x80 != 0 {
		return nil, SWWrongData
	}
	switch {
	case bytes.Equal(aid, c.sd.AID) || bytes.Equal(aid, c.pkg.AID):
		return nil, SWConditionsNotSatisfied
	case c.applet != nil && bytes.Equal(aid, c.applet.aid):
		return nil, SWConditionsNotSatisfied
	case c.applet != nil:
		return nil, SWNotEnoughMemory // room for one instance only
	}
	appData, sys, err := installParameters(params)
	if err != nil {
		return nil, err
	}
	if 3+len(aid)+len(privileges)+len(appData) > javaCardMaxInstallData {
		return nil, SWWrongData
	}
	p, err := parseCoolKeyInstallData(appData)
	if err != nil {
		return nil, err
	}
	// C8 is the instance's non-volatile memory quota; the object heap
	// is the bulk of what the applet allocates.
	if quota, ok := sys[0xC8]; ok && p.heapSize > quota {
		return nil, SWNotEnoughMemory
	}
	a := newApplet(c, *c.pkg, aid, p.heapSize)
	copy(a.issuerInfo[:], p.issuerInfo)
	a.enableACLChange = p.aclChange
	a.lifeCycle = LifeCycleInstalled
	if selectable {
		a.lifeCycle = LifeCycleSelectable
	}
	c.applet = a
	c.markDirty()
	return gpDone, nil
}

// makeSelectable is INSTALL [for make selectable]: the instance named in
// the application AID field moves from INSTALLED to SELECTABLE.
func (c *Card) makeSelectable(f installData) ([]byte, error) {
	if len(f.fields[0]) != 0 || len(f.fields[1]) != 0 || len(f.fields[4]) != 0 {
		return nil, SWWrongData
	}
	if c.applet == nil || !bytes.Equal(f.fields[2], c.applet.aid) {
		return nil, SWReferencedDataNotFound
	}
	if c.applet.lifeCycle == LifeCycleInstalled {
		c.applet.lifeCycle = LifeCycleSelectable
		c.markDirty()
	}
	return gpDone, nil
}

// installParameters splits INSTALL's install parameters field into the
// application-specific parameters (C9), which the applet's install()
// receives, and the system parameters (EF). EA (UICC parameters) is
// accepted and ignored.
func installParameters(params []byte) (appData []byte, sys map[byte]int, err error) {
	sys = map[byte]int{}
	seen := map[byte]bool{}
	for p := params; len(p) > 0; {
		tag, v, rest, ok := nextTLV(p)
		if !ok || seen[tag] {
			return nil, nil, SWWrongData
		}
		seen[tag] = true
		switch tag {
		case 0xC9:
			appData = v
		case 0xEF:
			if sys, err = systemParameters(v); err != nil {
				return nil, nil, err
			}
		case 0xEA:
		default:
			return nil, nil, SWWrongData
		}
		p = rest
	}
	return appData, sys, nil
}

// systemParameters reads the memory quotas in system-specific parameters
// (the value of EF, or INSTALL [for load]'s load parameters, EF TLV and
// all): C6 non-volatile code, C7 volatile data, C8 non-volatile data, each
// 2 or 4 bytes. Other tags are accepted and ignored.
func systemParameters(b []byte) (map[byte]int, error) {
	out := map[byte]int{}
	if len(b) > 0 && b[0] == 0xEF {
		tag, v, rest, ok := nextTLV(b)
		if !ok || tag != 0xEF || len(rest) != 0 {
			return nil, SWWrongData
		}
		b = v
	}
	for len(b) > 0 {
		tag, v, rest, ok := nextTLV(b)
		if !ok {
			return nil, SWWrongData
		}
		switch tag {
		case 0xC6, 0xC7, 0xC8:
			if len(v) != 2 && len(v) != 4 {
				return nil, SWWrongData
			}
			n := 0
			for _, x := range v {
				n = n<<8 | int(x)
			}
			out[tag] = n
		}
		b = rest
	}
	return out, nil
}

// coolKeyInstall is what the applet takes from its install data.
type coolKeyInstall struct {
	issuerInfo []byte
	heapSize   int
	aclChange  byte
}

// parseCoolKeyInstallData reads the CoolKey applet's application data
// (cardedge.md §2.6) as its constructor does, including its quirks: the
// lengths are signed bytes, parsing stops quietly at the first field that
// does not fit (keeping the defaults for the rest), the memory size is used
// only when its length byte is 2 and it is positive, and the bitmask is
// applied only when a byte follows it. What makes the constructor throw — a
// negative issuer-info length — fails the install with 6A80.
func parseCoolKeyInstallData(d []byte) (coolKeyInstall, error) {
	p := coolKeyInstall{heapSize: defaultHeapSize}
	at := func(i int) int8 {
		if i < len(d) {
			return int8(d[i])
		}
		return 0 // past the data the applet would read stale buffer bytes
	}
	remaining := len(d)
	off := 0
	if remaining <= 0 {
		return p, nil
	}
	issuerLen := int(at(off))
	if issuerLen > remaining {
		return p, nil
	}
	off++
	remaining--
	if remaining <= 0 {
		return p, nil
	}
	if issuerLen < 0 {
		return coolKeyInstall{}, SWWrongData // arrayCopy with a negative length
	}
	if issuerLen > 0 {
		p.issuerInfo = make([]byte, issuerLen)
		for i := range p.issuerInfo {
			p.issuerInfo[i] = byte(at(off + i))
		}
	}
	off += issuerLen
	remaining -= issuerLen
	if remaining <= 0 {
		return p, nil
	}
	memSizeLen := int(at(off))
	if memSizeLen > remaining {
		return p, nil
	}
	off++
	remaining--
	if remaining <= 0 {
		return p, nil
	}
	if memSizeLen == 2 {
		if size := int(int16(uint16(byte(at(off)))<<8 | uint16(byte(at(off+1))))); size > 0 {
			p.heapSize = size
		}
		off += 2
		remaining -= 2
	}
	if p.heapSize < heapMinBlock {
		// The applet's MemoryManager needs room for one block header;
		// the card image cannot describe a smaller heap.
		return coolKeyInstall{}, SWWrongData
	}
	if remaining <= 0 {
		return p, nil
	}
	bitMaskLen := int(at(off))
	if bitMaskLen > remaining {
		return p, nil
	}
	var mask byte
	if bitMaskLen > 0 {
		off++
		remaining--
		mask = byte(at(off))
	}
	if remaining <= 0 {
		return p, nil
	}
	if mask != 0 {
		p.aclChange = mask & 0x01
	}
	return p, nil
}

// nextTLV reads one BER-TLV with a one-byte tag and a short, 81 or 82
// length.
func nextTLV(b []byte) (tag byte, value, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	n, hdr := int(b[1]), 2
	switch {
	case n < 0x80:
	case n == 0x81 && len(b) >= 3:
		n, hdr = int(b[2]), 3
	case n == 0x82 && len(b) >= 4:
		n, hdr = int(b[2])<<8|int(b[3]), 4
	default:
		return 0, nil, nil, false
	}
	if len(b)-hdr < n {
		return 0, nil, nil, false
	}
	return tag, b[hdr : hdr+n], b[hdr+n:], true
}

// GET STATUS P1 values: which part of the registry to list.
const (
	statusISD             = 0x80
	statusApplications    = 0x40
	statusLoadFiles       = 0x20
	statusLoadFilesModule = 0x10
)

// Registry life-cycle state of a load file, and the privileges reported.
const (
	loadFileLoaded = 0x01
	isdPrivileges  = 0x9E // security domain, card lock, card terminate, default selected
)

// getStatusRegistry is GlobalPlatform's GET STATUS (80 F2): the registry
// entries of the security domain, the applications or the load files
// whose AID starts with the one in the search criteria (4F 00 matches
// all). P2 00 answers in the GP 2.1.1 format (AID length, AID, life
// cycle, privileges[, modules]), P2 02 in GP 2.2's E3 templates. The
// registry is small enough for one response, so there is never a "more
// data" 6310, and a request for the next occurrence (P2 bit 0) finds
// nothing (6A88).
func (c *Card) getStatusRegistry(plain Command) ([]byte, error) {
	switch plain.P1 {
	case statusISD, statusApplications, statusLoadFiles, statusLoadFilesModule:
	default:
		return nil, SWIncorrectP1P2
	}
	if plain.P2&^0x03 != 0 {
		return nil, SWIncorrectP1P2
	}
	tlvFormat := plain.P2&0x02 != 0
	tag, prefix, rest, ok := nextTLV(plain.Data)
	if !ok || tag != 0x4F || len(rest) != 0 {
		return nil, SWWrongData
	}
	if plain.P2&0x01 != 0 {
		return nil, SWReferencedDataNotFound
	}
	type entry struct {
		aid       []byte
		lifeCycle byte
		privs     []byte // applications and security domains only
		loadFile  []byte // an application's load file
		version   []byte // a load file's version
		modules   [][]byte
	}
	var entries []entry
	switch plain.P1 {
	case statusISD:
		entries = append(entries, entry{aid: c.sd.AID, lifeCycle: c.cardLifeCycle, privs: []byte{isdPrivileges}})
	case statusApplications:
		if c.applet != nil {
			entries = append(entries, entry{aid: c.applet.aid, lifeCycle: c.applet.lifeCycle, privs: []byte{0x00}, loadFile: c.pkg.AID})
		}
	case statusLoadFiles, statusLoadFilesModule:
		if c.pkg != nil {
			e := entry{aid: c.pkg.AID, lifeCycle: loadFileLoaded, version: []byte{c.pkg.Major, c.pkg.Minor}}
			if plain.P1 == statusLoadFilesModule {
				e.modules = [][]byte{c.pkg.moduleAID()}
			}
			entries = append(entries, e)
		}
	}
	var out []byte
	for _, e := range entries {
		if !bytes.HasPrefix(e.aid, prefix) {
			continue
		}
		if !tlvFormat {
			out = append(out, byte(len(e.aid)))
			out = append(out, e.aid...)
			out = append(out, e.lifeCycle, 0x00)
			if e.privs != nil {
				out[len(out)-1] = e.privs[0]
			}
			if plain.P1 == statusLoadFilesModule {
				out = append(out, byte(len(e.modules)))
				for _, m := range e.modules {
					out = append(append(out, byte(len(m))), m...)
				}
			}
			continue
		}
		v := tlv(0x4F, e.aid)
		v = append(v, tlv(0x9F70, []byte{e.lifeCycle})...)
		if e.privs != nil {
			v = append(v, tlv(0xC5, []byte{e.privs[0], 0x00, 0x00})...)
		}
		if e.loadFile != nil {
			v = append(v, tlv(0xC4, e.loadFile)...)
		}
		if e.version != nil {
			v = append(v, tlv(0xCE, e.version)...)
		}
		for _, m := range e.modules {
			v = append(v, tlv(0x84, m)...)
		}
		if !bytes.Equal(e.aid, c.sd.AID) {
			v = append(v, tlv(0xCC, c.sd.AID)...)
		}
		out = append(out, tlv(0xE3, v)...)
	}
	if len(out) == 0 {
		return nil, SWReferencedDataNotFound
	}
	return out, nil
}
