package cardedge

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFuzzSeeds regenerates the checked-in seed corpora under
// testdata/fuzz from the encoders. Run with COOLKEY_WRITE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("COOLKEY_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set COOLKEY_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	cuid, _ := ParseCUID("534E0650004200500229")
	cert := pattern(300, 0x30)
	recs := []Record{
		{ID: NewObjectID('c', 1), Fixed: mustFixed(t, CKO_CERTIFICATE, 1, CKA_TOKEN),
			Attributes: []Attribute{StringAttr(CKA_LABEL, "signing key for jjelen"), BytesAttr(CKA_VALUE, cert)}},
		{ID: NewObjectID('k', 3), Fixed: mustFixed(t, CKO_PUBLIC_KEY, 1, CKA_TOKEN, CKA_VERIFY, CKA_VERIFY_RECOVER)},
		{ID: NewObjectID('k', 2), Fixed: mustFixed(t, CKO_PRIVATE_KEY, 1, CKA_TOKEN, CKA_PRIVATE, CKA_SIGN, CKA_SIGN_RECOVER, CKA_SENSITIVE),
			Attributes: []Attribute{UlongAttr(CKA_KEY_TYPE, CKK_RSA), BoolAttr(CKA_DECRYPT, false), BoolAttr(CKA_UNWRAP, true)}},
	}
	var z0s [][]byte
	for _, unc := range []bool{false, true} {
		b, err := (&Combined{ObjectVersion: 71, CUID: cuid, Uncompressed: unc, TokenName: "jjelen", Records: recs}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		z0s = append(z0s, b)
	}
	empty, _ := (&Combined{TokenName: ""}).Encode()
	z0s = append(z0s, empty, combinedWith(1, zlibBytes(make([]byte, 70000))), append(combinedWith(1, zlibBytes([]byte{0, 5, 0, 0, 0})), 1))
	write(t, "FuzzDecodeCombined", z0s...)
	write(t, "FuzzParseCombinedHeader", z0s[0][:20], z0s[1][:20])

	v0, _ := EncodeV0(Object{ID: NewObjectID('k', 2), Attributes: []Attribute{UlongAttr(CKA_CLASS, CKO_PRIVATE_KEY),
		UlongAttr(CKA_KEY_TYPE, CKK_RSA), StringAttr(CKA_LABEL, "key"), BytesAttr(CKA_ID, []byte{1})}})
	v0c, _ := EncodeV0(Object{ID: NewObjectID('c', 1), Attributes: []Attribute{UlongAttr(CKA_CLASS, CKO_CERTIFICATE),
		UlongAttr(CKA_CERTIFICATE_TYPE, CKC_X_509), BytesAttr(CKA_VALUE, cert)}})
	writeV0(t, [][2]any{{uint32(NewObjectID('k', 2)), v0}, {uint32(NewObjectID('c', 1)), v0c}, {uint32(0x63320000), v0c}})

	write(t, "FuzzParseCPLC", CPLCForCUID(cuid).Encode(), CPLC{ICFabricator: 0x4090, ICPersoEquipmentID: 7}.Encode())
	write(t, "FuzzParseObjectInfo", ObjectInfo{ID: CombinedObjectID, Size: 0x526, ACL: TPSObjectACL}.Encode())
	write(t, "FuzzParseKeyInfo", KeyInfo{Number: 2, Type: KeyRSAPrivateCRT, Partner: 3, Bits: 1024, Write: 0x4000, Use: 1}.Encode())
	write(t, "FuzzParseCryptResult", append([]byte{0, 0x80}, pattern(128, 1)...), []byte{0, 0}, []byte{1, 0, 1})
	writeArgs(t, "FuzzECDSASignatureRaw", [][]string{
		{quote(Hex(t, "3006020101020102")), "int(32)"},
		{quote(Hex(t, "3045022100FF00000000000000000000000000000000000000000000000000000000000001022001")), "int(32)"},
	})
	writeArgs(t, "FuzzCardResponses", [][]string{
		{quote([]byte{0x90, 0x00}), "byte('\\x00')"},
		{quote(append(pattern(16, 1), 0x90, 0x00)), "byte('\\x00')"},
		{quote([]byte{0x0F, 0x01, 0x01, 0x01, 0x90, 0x00}), "byte('\\x04')"},
		{quote([]byte{0x61, 0x00}), "byte('\\x03')"},
		{quote([]byte{0x6C, 0x0E}), "byte('\\x02')"},
		{quote(append(z0s[0][:255], 0x90, 0x00)), "byte('\\x05')"},
		{quote([]byte{0x9C, 0x12}), "byte('\\x06')"},
		{quote(append(pattern(8, 1), 0x90, 0x00)), "byte('\\x07')"},
	})
	write(t, "FuzzParseTLV", CPLCForCUID(cuid).Encode(), Hex(t, "4F07627601FF000000"), Hex(t, "5FC10581800000"))
	write(t, "FuzzParseCommand", Hex(t, "00A4040007627601FF000000"), Hex(t, "B0F2000004"), Hex(t, "B0710000"),
		Hex(t, "B056000011 7A300000 00000000 FF 0000000000000000"))
}

func quote(b []byte) string { return fmt.Sprintf("[]byte(%q)", b) }

func write(t *testing.T, target string, seeds ...[]byte) {
	var args [][]string
	for _, s := range seeds {
		args = append(args, []string{quote(s)})
	}
	writeArgs(t, target, args)
}

func writeV0(t *testing.T, seeds [][2]any) {
	var args [][]string
	for _, s := range seeds {
		args = append(args, []string{fmt.Sprintf("uint32(%d)", s[0]), quote(s[1].([]byte))})
	}
	writeArgs(t, "FuzzDecodeV0", args)
}

func writeArgs(t *testing.T, target string, seeds [][]string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range seeds {
		body := "go test fuzz v1\n" + strings.Join(args, "\n") + "\n"
		name := fmt.Sprintf("seed-%x", sha256.Sum256([]byte(body)))[:21]
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
