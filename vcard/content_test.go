package vcard

import (
	"bytes"
	"crypto/sha1"
	"testing"

	"github.com/coolkey-go/coolkey-go/internal/loadfile"
)

var (
	coolKeyPkgAID = []byte{0x62, 0x76, 0x01, 0xFF, 0x00, 0x00}
	testLoadFile  = loadfile.File{PackageAID: coolKeyPkgAID, AppletAID: DefaultAppletAID, Major: 1, Minor: 5, BuildID: 0x01020304, FillerSize: 500}
)

// lv is a length-prefixed field.
func lv(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// loadBlocks is the load file behind C4, cut into LOAD commands of n
// bytes.
func loadBlocks(t *testing.T, f loadfile.File, n int) [][]byte {
	t.Helper()
	file, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	blob := append([]byte{0xC4, 0x82, byte(len(file) >> 8), byte(len(file))}, file...)
	var cmds [][]byte
	for i := 0; i*n < len(blob); i++ {
		p1 := byte(0)
		if (i+1)*n >= len(blob) {
			p1 = 0x80
		}
		cmds = append(cmds, cmd(0x84, 0xE8, p1, byte(i), blob[i*n:min(len(blob), (i+1)*n)]))
	}
	return cmds
}

func installForLoadData(aid, sd []byte) []byte {
	return cat(lv(aid), lv(sd), lv(nil), lv([]byte{0xEF, 0x04, 0xC6, 0x02, 0x10, 0x00}), lv(nil))
}

func installCmdData(pkg, module, aid, privileges, params []byte) []byte {
	return cat(lv(pkg), lv(module), lv(aid), lv(privileges), lv(params), lv(nil))
}

// tpsInstallParams are Dogtag's: an 18000-byte quota, a 5000-byte heap.
var tpsInstallParams = []byte{0xEF, 0x04, 0xC8, 0x02, 0x46, 0x50, 0xC9, 0x04, 0x00, 0x02, 0x13, 0x88}

// TestContentManagement walks DELETE, INSTALL and LOAD through their
// success and failure cases, each answer exact, with a gp host channel.
func TestContentManagement(t *testing.T) {
	store := &countingStore{}
	c := newTestCard(t, testImage(t), Options{Store: store})
	mustOK(t, c, "00 A4 04 00 00")

	// without a channel
	for _, apdu := range []string{"80 E4 00 00 09 4F07627601FF000000", "80 E6 02 00 00", "80 E8 80 00 01 00", "80 F2 40 00 02 4F00", "80 D8 00 81 00"} {
		if _, sw := txHex(t, c, apdu); sw != 0x6982 {
			t.Fatalf("%s without a channel: %04X", apdu, sw)
		}
	}
	if _, sw := txHex(t, c, "84 E4 00 00 11 4F07627601FF000000 0000000000000000"); sw != 0x6982 {
		t.Fatalf("84 E4 without a channel: %04X", sw)
	}

	_, send := gpHost(t, c, 0)
	step := func(name string, apdu []byte, wantSW uint16, wantData ...byte) {
		t.Helper()
		data, sw := send(apdu)
		if sw != wantSW || wantSW == 0x9000 && !bytes.Equal(data, wantData) {
			t.Fatalf("%s: % X %04X, want % X %04X", name, data, sw, wantData, wantSW)
		}
	}
	del := func(p2 byte, aid []byte) []byte { return cmd(0x84, 0xE4, 0x00, p2, []byte{0x4F, byte(len(aid))}, aid) }

	step("DELETE of the security domain", del(0x00, DefaultISDAID), 0x6985)
	step("DELETE of an unknown AID", del(0x00, []byte{0xA0, 0, 0, 0, 0x99}), 0x6A88)
	step("DELETE by a partial AID", del(0x00, DefaultAppletAID[:6]), 0x6985) // the package AID: it has an instance
	step("DELETE with a short AID", del(0x00, []byte{1, 2, 3}), 0x6A80)
	step("DELETE without 4F", cmd(0x84, 0xE4, 0x00, 0x00, []byte{0x4E, 0x05, 1, 2, 3, 4, 5}), 0x6A80)
	step("DELETE with P2 01", del(0x01, DefaultAppletAID), 0x6A86)
	step("DELETE of the package with an instance", del(0x00, coolKeyPkgAID), 0x6985)
	if c.applet == nil || c.pkg == nil {
		t.Fatal("a refused DELETE removed something")
	}
	saves := store.saves
	step("DELETE of the package and its instance", del(0x80, coolKeyPkgAID), 0x9000, 0x00)
	if c.applet != nil || c.pkg != nil || store.saves != saves+1 || store.last.Package != nil || store.last.Applet != nil {
		t.Fatalf("after DELETE: applet %v package %v, image %+v", c.applet != nil, c.pkg != nil, store.last)
	}
	step("DELETE again", del(0x80, coolKeyPkgAID), 0x6A88)

	// LOAD needs INSTALL [for load] right before it
	blocks := loadBlocks(t, testLoadFile, 200)
	step("LOAD without INSTALL [for load]", blocks[0], 0x6985)
	step("INSTALL [for load] with another security domain", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, []byte{0xA0, 0, 0, 0, 0x99})), 0x6A88)
	step("INSTALL [for load] with a short AID", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData([]byte{1, 2}, nil)), 0x6A80)
	step("INSTALL [for load] with trailing bytes", cmd(0x84, 0xE6, 0x02, 0x00, append(installForLoadData(coolKeyPkgAID, nil), 0)), 0x6A80)
	step("INSTALL [for load] with a 7-byte hash", cmd(0x84, 0xE6, 0x02, 0x00, cat(lv(coolKeyPkgAID), lv(nil), lv(make([]byte, 7)), lv(nil), lv(nil))), 0x6A80)
	step("INSTALL [for load] with P2 01", cmd(0x84, 0xE6, 0x02, 0x01, installForLoadData(coolKeyPkgAID, nil)), 0x6A86)
	step("INSTALL [for load] asking for 1 MB of code", cmd(0x84, 0xE6, 0x02, 0x00, cat(lv(coolKeyPkgAID), lv(nil), lv(nil), lv([]byte{0xEF, 0x06, 0xC6, 0x04, 0x00, 0x10, 0x00, 0x00}), lv(nil))), 0x6A84)
	step("INSTALL [for load]", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, DefaultISDAID)), 0x9000, 0x00)
	step("LOAD block 1 first", blocks[1], 0x6A86)
	step("LOAD after a failed block", blocks[0], 0x6985)
	step("INSTALL [for load]", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, nil)), 0x9000, 0x00)
	step("LOAD block 0", blocks[0], 0x9000, 0x00)
	step("GET DATA in the middle of a load", unhex(t, "80 CA 9F 7F 00"), 0x9000, append([]byte{0x9F, 0x7F, 0x2A}, testCPLC...)...)
	step("LOAD after another command", blocks[1], 0x6985)

	// a load file that fails its checks leaves no package
	loadAll := func(name string, blocks [][]byte, lastSW uint16) {
		t.Helper()
		for i, b := range blocks {
			if i < len(blocks)-1 {
				step(name, b, 0x9000, 0x00)
			} else {
				step(name, b, lastSW, 0x00)
			}
		}
	}
	bad := loadBlocks(t, testLoadFile, 200)
	bad[len(bad)-1][len(bad[len(bad)-1])-1] ^= 1 // inside the SHA-256 trailer
	step("INSTALL [for load]", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, nil)), 0x9000, 0x00)
	loadAll("LOAD of a corrupt file", bad, 0x6A80)
	other := testLoadFile
	other.PackageAID = []byte{0xA0, 0, 0, 0, 0x99, 0x01}
	step("INSTALL [for load]", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, nil)), 0x9000, 0x00)
	loadAll("LOAD of another package", loadBlocks(t, other, 200), 0x6A80)
	file, _ := testLoadFile.Encode()
	wrongHash := sha1.Sum(append(file, 0))
	step("INSTALL [for load] with a hash", cmd(0x84, 0xE6, 0x02, 0x00, cat(lv(coolKeyPkgAID), lv(nil), lv(wrongHash[:]), lv(nil), lv(nil))), 0x9000, 0x00)
	loadAll("LOAD with the wrong hash", loadBlocks(t, testLoadFile, 200), 0x6A80)
	notC4 := loadBlocks(t, testLoadFile, 200)
	notC4[0][5] = 0xC3
	step("INSTALL [for load]", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, nil)), 0x9000, 0x00)
	loadAll("LOAD without the C4 tag", notC4, 0x6A80)
	if c.pkg != nil {
		t.Fatal("a failed load left a package")
	}

	// a good load, with the right hash
	hash := sha1.Sum(file)
	step("INSTALL [for load] with a hash", cmd(0x84, 0xE6, 0x02, 0x00, cat(lv(coolKeyPkgAID), lv(nil), lv(hash[:]), lv(nil), lv(nil))), 0x9000, 0x00)
	for i, b := range blocks {
		step("LOAD", b, 0x9000, 0x00)
		if i < len(blocks)-1 && c.pkg != nil {
			t.Fatal("package present before the last block")
		}
	}
	if c.pkg == nil || c.pkg.Major != 1 || c.pkg.Minor != 5 || c.pkg.BuildID != 0x01020304 || store.last.Package == nil || store.last.Package.Version != "1.5" {
		t.Fatalf("package after LOAD: %+v", c.pkg)
	}
	step("INSTALL [for load] of a loaded package", cmd(0x84, 0xE6, 0x02, 0x00, installForLoadData(coolKeyPkgAID, nil)), 0x6985)

	inst := func(p1 byte, data []byte) []byte { return cmd(0x84, 0xE6, p1, 0x00, data) }
	for _, tc := range []struct {
		name string
		data []byte
		sw   uint16
	}{
		{"unknown load file", installCmdData([]byte{0xA0, 0, 0, 0, 0x99}, DefaultAppletAID, DefaultAppletAID, []byte{0}, tpsInstallParams), 0x6A88},
		{"unknown module", installCmdData(coolKeyPkgAID, []byte{0xA0, 0, 0, 0, 0x99}, DefaultAppletAID, []byte{0}, tpsInstallParams), 0x6A88},
		{"instance AID of the security domain", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultISDAID, []byte{0}, tpsInstallParams), 0x6985},
		{"short instance AID", installCmdData(coolKeyPkgAID, DefaultAppletAID, []byte{1, 2}, []byte{0}, tpsInstallParams), 0x6A80},
		{"two privilege bytes", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0, 0}, tpsInstallParams), 0x6A80},
		{"security domain privilege", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0x80}, tpsInstallParams), 0x6A80},
		{"unknown parameter tag", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, []byte{0xC7, 0x01, 0x00}), 0x6A80},
		{"truncated parameters", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, []byte{0xC9, 0x05, 0x00}), 0x6A80},
		{"heap over the quota", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, []byte{0xEF, 0x04, 0xC8, 0x02, 0x03, 0xE8, 0xC9, 0x04, 0x00, 0x02, 0x13, 0x88}), 0x6A84},
		{"negative issuer info length", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, []byte{0xC9, 0x02, 0x80, 0x00}), 0x6A80},
		{"install data over 127 bytes", installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, append([]byte{0xC9, 0x76, 0x70}, make([]byte, 0x75)...)), 0x6A80},
	} {
		step("INSTALL [for install]: "+tc.name, inst(0x0C, tc.data), tc.sw)
	}
	if c.applet != nil {
		t.Fatal("a failed INSTALL created an instance")
	}

	// INSTALL [for install] alone leaves the instance unselectable
	params := []byte{0xC9, 0x0D, 0x06, 'h', 't', 't', 'p', ':', '/', 0x02, 0x10, 0x00, 0x01, 0x01, 0x00}
	step("INSTALL [for install]", inst(0x04, installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, params)), 0x9000, 0x00)
	step("a second instance", inst(0x0C, installCmdData(coolKeyPkgAID, DefaultAppletAID, append(bytes.Clone(DefaultAppletAID), 1), []byte{0}, nil)), 0x6A84)
	step("the same instance again", inst(0x0C, installCmdData(coolKeyPkgAID, DefaultAppletAID, DefaultAppletAID, []byte{0}, nil)), 0x6985)
	if a := store.last.Applet; a == nil || a.LifeCycle != 0x03 || a.HeapSize != 4096 || a.IssuerInfo != "http:/" || a.ACLChangeEnabled != 1 {
		t.Fatalf("instance image: %+v", a)
	}
	if _, sw := txHex(t, c, selectCoolKey); sw != 0x6A82 {
		t.Fatalf("SELECT of an INSTALLED instance: %04X", sw)
	}
	_, send = gpHost(t, c, 0)
	step("INSTALL [for make selectable] of another AID", inst(0x08, installCmdData(nil, nil, coolKeyPkgAID, []byte{0}, nil)), 0x6A88)
	step("INSTALL [for make selectable]", inst(0x08, installCmdData(nil, nil, DefaultAppletAID, []byte{0}, nil)), 0x9000, 0x00)
	step("INSTALL with P1 10", inst(0x10, installCmdData(nil, nil, DefaultAppletAID, []byte{0}, nil)), 0x6A86)

	// the registry
	step("GET STATUS of the security domain", unhex(t, "80 F2 80 00 02 4F00"), 0x9000, cat(lv(DefaultISDAID), []byte{0x0F, 0x9E})...)
	step("GET STATUS of the applications", unhex(t, "80 F2 40 00 02 4F00"), 0x9000, cat(lv(DefaultAppletAID), []byte{0x07, 0x00})...)
	step("GET STATUS of the load files", unhex(t, "80 F2 20 00 02 4F00"), 0x9000, cat(lv(coolKeyPkgAID), []byte{0x01, 0x00})...)
	step("GET STATUS of the load files and modules", unhex(t, "80 F2 10 00 02 4F00"), 0x9000, cat(lv(coolKeyPkgAID), []byte{0x01, 0x00, 0x01}, lv(DefaultAppletAID))...)
	step("GET STATUS in GP 2.2 form", unhex(t, "80 F2 40 02 02 4F00"), 0x9000,
		cat([]byte{0xE3, 0x24}, []byte{0x4F, 0x07}, DefaultAppletAID, []byte{0x9F, 0x70, 0x01, 0x07, 0xC5, 0x03, 0x00, 0x00, 0x00, 0xC4, 0x06}, coolKeyPkgAID, []byte{0xCC, 0x08}, DefaultISDAID)...)
	step("GET STATUS by AID prefix", unhex(t, "80 F2 40 00 05 4F03 627601"), 0x9000, cat(lv(DefaultAppletAID), []byte{0x07, 0x00})...)
	step("GET STATUS of an absent AID", unhex(t, "80 F2 40 00 05 4F03 A00000"), 0x6A88)
	step("GET STATUS next occurrence", unhex(t, "80 F2 40 01 02 4F00"), 0x6A88)
	step("GET STATUS with P1 01", unhex(t, "80 F2 01 00 02 4F00"), 0x6A86)
	step("GET STATUS without criteria", unhex(t, "80 F2 40 00"), 0x6A80)

	if _, sw := txHex(t, c, selectCoolKey); sw != 0x9000 {
		t.Fatalf("SELECT of the new instance: %04X", sw)
	}
	// the new instance lets SET BUILTIN ACL through (bitmask bit 0)
	_, send = gpHost(t, c, 0)
	step("SET BUILTIN ACL", unhex(t, "84 F8 00 00 07 0001 0001 4000 00"), 0x9000)
}

// TestCoolKeyInstallData pins the applet constructor's parsing quirks.
func TestCoolKeyInstallData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   string
		issuer string
		heap   int
		acl    byte
		err    bool
	}{
		{"empty", "", "", 5000, 0, false},
		{"TPS: no issuer, heap", "00 02 1388", "", 5000, 0, false},
		{"TPS: heap 6000", "00 02 1770", "", 6000, 0, false},
		{"issuer only: stops after it", "03 616263", "abc", 5000, 0, false},
		{"issuer and heap", "03 616263 02 1000", "abc", 4096, 0, false},
		{"all three", "03 616263 02 1000 01 01", "abc", 4096, 1, false},
		{"bitmask as the last byte is ignored", "00 02 1000 01", "", 4096, 0, false},
		{"bitmask bit 1 only", "00 02 1000 01 02", "", 4096, 0, false},
		{"memory length 1: the next byte is the bitmask length", "00 01 01 01", "", 5000, 1, false},
		{"negative heap keeps the default", "00 02 8000 01 01", "", 5000, 1, false},
		{"zero heap keeps the default", "00 02 0000", "", 5000, 0, false},
		{"issuer length past the data stops", "09 6162", "", 5000, 0, false},
		{"lone issuer length stops", "05", "", 5000, 0, false},
		{"negative issuer length throws", "F0 6162", "", 0, 0, true},
		{"tiny heap", "00 02 0002", "", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseCoolKeyInstallData(unhex(t, tc.data))
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				return
			}
			if string(p.issuerInfo) != tc.issuer || p.heapSize != tc.heap || p.aclChange != tc.acl {
				t.Fatalf("got issuer %q heap %d acl %d", p.issuerInfo, p.heapSize, p.aclChange)
			}
		})
	}
}

// TestPutKeyAddsAndReplaces: P1 00 adds a key set, unless the card still
// has its initial FF set, which it replaces; a version in use is refused.
func TestPutKeyAddsAndReplaces(t *testing.T) {
	for _, tc := range []struct {
		name       string
		initial    uint8
		p1         byte
		newVersion byte
		sw         uint16
		versions   []uint8
	}{
		{"replace version 1", 1, 0x01, 2, 0x9000, []uint8{2}},
		{"add to version 1", 1, 0x00, 2, 0x9000, []uint8{1, 2}},
		{"replace the initial FF set", 0xFF, 0x00, 2, 0x9000, []uint8{2}},
		{"add a set with the version in use", 1, 0x00, 1, 0x6A80, []uint8{1}},
		{"replace a version the card lacks", 1, 0x03, 2, 0x6A88, []uint8{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := testImage(t)
			img.CardManager.KeySets[0].Version = tc.initial
			store := &countingStore{}
			c := newTestCard(t, img, Options{Store: store})
			h, send := gpHost(t, c, 0)
			ks := h.CardKeys()
			ks.Version = tc.newVersion
			put, err := h.PutKey(ks)
			if err != nil {
				t.Fatal(err)
			}
			put.P1 = tc.p1
			plain, _ := put.Encode()
			if _, sw := send(plain); sw != tc.sw {
				t.Fatalf("PUT KEY: %04X, want %04X", sw, tc.sw)
			}
			var got []uint8
			for _, k := range c.Image().CardManager.KeySets {
				got = append(got, k.Version)
			}
			if !bytes.Equal(got, tc.versions) {
				t.Fatalf("key set versions % X, want % X", got, tc.versions)
			}
		})
	}
}
