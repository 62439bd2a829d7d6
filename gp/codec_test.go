package gp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Command
		err  bool
	}{
		{"case 1", "84F00F00", Command{CLA: 0x84, INS: 0xF0, P1: 0x0F}, false},
		{"case 2", "80CA9F7F2D", Command{CLA: 0x80, INS: 0xCA, P1: 0x9F, P2: 0x7F, HasLe: true, Le: 0x2D}, false},
		{"case 3", "8050000008" + "0102030405060708", Command{CLA: 0x80, INS: 0x50, Data: unhex(t, "0102030405060708")}, false},
		{"case 4", "00A4040007627601FF00000000", Command{CLA: 0x00, INS: 0xA4, P1: 0x04, Data: unhex(t, "627601FF000000"), HasLe: true}, false},
		{"too short", "84F00F", Command{}, true},
		{"Lc too long", "8050000009" + "0102030405060708", Command{}, true},
		{"extra bytes", "805000000201020304", Command{}, true},
		{"extended length", "800000000000020102", Command{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(unhex(t, tc.in))
			if tc.err {
				if !errors.Is(err, ErrLength) {
					t.Fatalf("err %v, want ErrLength", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			back, err := got.Encode()
			if err != nil || !bytes.Equal(back, unhex(t, tc.in)) {
				t.Errorf("Encode = %X, %v; want %s", back, err, tc.in)
			}
		})
	}
	if _, err := (Command{Data: make([]byte, 256)}).Encode(); !errors.Is(err, ErrLength) {
		t.Errorf("256 data bytes: %v", err)
	}
}

func TestInitializeUpdateResponseCodec(t *testing.T) {
	tests := []struct {
		name  string
		proto Protocol // passed to the parser
		in    string
		want  InitializeUpdateResponse
		err   bool
	}{
		{name: "SCP01", proto: SCP01,
			in: "A00192030405060708C9 0101 BD6D19856E540FCD A3BA811B31D3337D",
			want: InitializeUpdateResponse{KDD: [10]byte(unhex(t, "A00192030405060708C9")), KeyVersion: 1, Protocol: SCP01,
				CardChallenge: unhex(t, "BD6D19856E540FCD"), CardCryptogram: [8]byte(unhex(t, "A3BA811B31D3337D"))}},
		{name: "SCP01 inferred, key index byte 05", proto: 0,
			in: "A00192030405060708C9 FF05 BD6D19856E540FCD A3BA811B31D3337D",
			want: InitializeUpdateResponse{KDD: [10]byte(unhex(t, "A00192030405060708C9")), KeyVersion: 0xFF, Protocol: 5,
				CardChallenge: unhex(t, "BD6D19856E540FCD"), CardCryptogram: [8]byte(unhex(t, "A3BA811B31D3337D"))}},
		{name: "SCP02 inferred", proto: 0,
			in: "00010203040506070809 0102 000B 112233445566 B902ACB07D523196",
			want: InitializeUpdateResponse{KDD: [10]byte(unhex(t, gpproKDD)), KeyVersion: 1, Protocol: SCP02,
				SequenceCounter: []byte{0, 0x0B}, CardChallenge: unhex(t, "112233445566"), CardCryptogram: [8]byte(unhex(t, "B902ACB07D523196"))}},
		{name: "SCP03 random", proto: SCP03,
			in: "00010203040506070809 010300 1122334455667788 C9FEDCE39B144A90",
			want: InitializeUpdateResponse{KDD: [10]byte(unhex(t, gpproKDD)), KeyVersion: 1, Protocol: SCP03,
				CardChallenge: unhex(t, "1122334455667788"), CardCryptogram: [8]byte(unhex(t, "C9FEDCE39B144A90"))}},
		{name: "SCP03 pseudo-random with counter", proto: 0,
			in: "00010203040506070809 010370 1122334455667788 C9FEDCE39B144A90 00002A",
			want: InitializeUpdateResponse{KDD: [10]byte(unhex(t, gpproKDD)), KeyVersion: 1, Protocol: SCP03, Param: 0x70,
				SequenceCounter: []byte{0, 0, 0x2A}, CardChallenge: unhex(t, "1122334455667788"), CardCryptogram: [8]byte(unhex(t, "C9FEDCE39B144A90"))}},
		{name: "SCP01 29 bytes", proto: SCP01, in: "A00192030405060708C9 0101 BD6D19856E540FCD A3BA811B31D3337D 00", err: true},
		{name: "SCP02 27 bytes", proto: SCP02, in: "00010203040506070809 0102 000B 112233445566 B902ACB07D5231", err: true},
		{name: "SCP03 missing counter", proto: SCP03, in: "00010203040506070809 010370 1122334455667788 C9FEDCE39B144A90", err: true},
		{name: "SCP02 expected, card says 01", proto: SCP02, in: "00010203040506070809 0101 000B 112233445566 B902ACB07D523196", err: true},
		{name: "SCP01 expected, card says 02", proto: SCP01, in: "00010203040506070809 0102 000B 112233445566 B902ACB07D523196", err: true},
		{name: "too short", proto: 0, in: "0001020304050607080901", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseInitializeUpdateResponse(unhex(t, tc.in), tc.proto)
			if tc.err {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			back, err := got.Encode()
			if err != nil || !bytes.Equal(back, unhex(t, tc.in)) {
				t.Errorf("Encode = %X, %v", back, err)
			}
		})
	}
}

func TestInitializeUpdateCommand(t *testing.T) {
	iu := InitializeUpdate{KeyVersion: 2, KeyIndex: 0, HostChallenge: [8]byte(unhex(t, "0102030405060708")), WithLe: true}
	b := iu.Encode()
	if want := unhex(t, "80 50 02 00 08 0102030405060708 00"); !bytes.Equal(b, want) {
		t.Errorf("Encode = %X, want %X", b, want)
	}
	back, err := ParseInitializeUpdate(b)
	if err != nil || back != iu {
		t.Errorf("Parse = %+v, %v", back, err)
	}
	for _, bad := range []string{"80 50 00 00 07 01020304050607", "80 50 00 00", "80 52 00 00 08 0102030405060708"} {
		if _, err := ParseInitializeUpdate(unhex(t, bad)); err == nil {
			t.Errorf("%s accepted", bad)
		} else if _, ok := StatusWord(err); !ok {
			t.Errorf("%s: %v carries no status word", bad, err)
		}
	}
}

// The SCP01 length-byte quirk: Lc ‖ data, padded only when not aligned.
func TestSCP01EncryptionLayout(t *testing.T) {
	ch := channel{proto: SCP01, level: LevelMACEnc, keys: SessionKeys{ENC: DeveloperKeySet().ENC}}
	for _, tc := range []struct{ data, enc int }{{1, 8}, {7, 8}, {8, 16}, {15, 16}, {16, 24}, {23, 24}} {
		data := bytes.Repeat([]byte{0xA5}, tc.data)
		enc := ch.encrypt(data)
		if len(enc) != tc.enc {
			t.Errorf("%d data bytes → %d encrypted, want %d", tc.data, len(enc), tc.enc)
		}
		plain := cbcDecrypt(tdesBlock(ch.keys.ENC.b), nil, enc)
		if int(plain[0]) != tc.data || !bytes.Equal(plain[1:1+tc.data], data) {
			t.Errorf("%d: plaintext %X", tc.data, plain)
		}
		if back, err := ch.decrypt(enc); err != nil || !bytes.Equal(back, data) {
			t.Errorf("%d: decrypt %X, %v", tc.data, back, err)
		}
	}
	// Malformed plaintexts the card must refuse.
	for _, plain := range []string{
		"09 01020304050607",                   // length byte beyond the data
		"03 010203 80000000 0000000000000000", // a whole block of padding
		"03 010203 81000000",                  // bad padding byte
		"03 010203 80000100",                  // non-zero after 80
		"07 01020304050607 8000000000000000",  // aligned, but padded anyway
	} {
		enc := cbcEncrypt(tdesBlock(ch.keys.ENC.b), nil, unhex(t, plain))
		if _, err := ch.decrypt(enc); !errors.Is(err, ErrBadPadding) {
			t.Errorf("%s: %v, want ErrBadPadding", plain, err)
		}
	}
	if _, err := ch.decrypt(make([]byte, 12)); !errors.Is(err, ErrLength) {
		t.Errorf("12-byte ciphertext: %v", err)
	}
}

// SCP02 and SCP03: no length byte, always padded.
func TestSCP02SCP03EncryptionLayout(t *testing.T) {
	for _, tc := range []struct {
		ch         channel
		data, want int
	}{
		{channel{proto: SCP02, keys: SessionKeys{ENC: DeveloperKeySet().ENC}}, 7, 8},
		{channel{proto: SCP02, keys: SessionKeys{ENC: DeveloperKeySet().ENC}}, 8, 16},
		{channel{proto: SCP03, keys: SessionKeys{ENC: DeveloperKeySetAES().ENC}}, 15, 16},
		{channel{proto: SCP03, keys: SessionKeys{ENC: DeveloperKeySetAES().ENC}}, 16, 32},
	} {
		data := bytes.Repeat([]byte{0x5A}, tc.data)
		enc := tc.ch.encrypt(data)
		if len(enc) != tc.want {
			t.Errorf("%v: %d bytes → %d, want %d", tc.ch.proto, tc.data, len(enc), tc.want)
		}
		if back, err := tc.ch.decrypt(enc); err != nil || !bytes.Equal(back, data) {
			t.Errorf("%v: decrypt %X, %v", tc.ch.proto, back, err)
		}
	}
}

func TestKeyBlockCodec(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want KeyBlock
	}{
		{"DES with KCV", "81 10 B4BAA89A8CD0292B45210E1BC84B1C31 03 8BAF47",
			KeyBlock{Type: 0x81, Wrapped: unhex(t, "B4BAA89A8CD0292B45210E1BC84B1C31"), Check: unhex(t, "8BAF47")}},
		{"challenge", "00 10 6260E7C6A3E3376E21B427EF79471763 00",
			KeyBlock{Type: 0x00, Wrapped: unhex(t, "6260E7C6A3E3376E21B427EF79471763"), Check: []byte{}}},
		{"AES-128", "88 11 10 000102030405060708090A0B0C0D0E0F 03 504A77",
			KeyBlock{Type: 0x88, Wrapped: unhex(t, "000102030405060708090A0B0C0D0E0F"), Check: unhex(t, "504A77")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.in)
			got, n, err := ParseKeyBlock(append(in, 0xEE))
			if err != nil || n != len(in) {
				t.Fatalf("parse: %v, %d bytes", err, n)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			back, err := got.Encode()
			if err != nil || !bytes.Equal(back, in) {
				t.Errorf("Encode = %X, %v", back, err)
			}
		})
	}
	for _, bad := range []string{"81", "81 10 0102", "81 02 0102", "81 02 0102 03 01", "88 11 0F 00", "88 00"} {
		if _, _, err := ParseKeyBlock(unhex(t, bad)); !errors.Is(err, ErrBadKeyData) {
			t.Errorf("%s: %v, want ErrBadKeyData", bad, err)
		}
	}
}

// SCP03 PUT KEY data as Dogtag's createKeySetData lays it out.
func TestSCP03PutKeyLayout(t *testing.T) {
	p, err := NewPutKey(DeveloperKeySetAES().KEK, 1, KeySet{Version: 2, ENC: DeveloperKeySetAES().ENC,
		MAC: DeveloperKeySetAES().MAC, KEK: DeveloperKeySetAES().KEK}, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Command()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Data) != 1+3*(3+16+4) || c.Data[0] != 2 || !bytes.Equal(c.Data[1:4], []byte{0x88, 0x11, 0x10}) ||
		!bytes.Equal(c.Data[20:24], []byte{0x03, 0x50, 0x4A, 0x77}) {
		t.Errorf("PUT KEY data %X", c.Data)
	}
	back, err := ParsePutKey(c)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := back.Unwrap(DeveloperKeySetAES().KEK)
	if err != nil || !ks.ENC.Equal(DeveloperKeySetAES().ENC) || ks.Version != 2 {
		t.Errorf("unwrap: %v %v", ks, err)
	}
}

func TestImportKeyEncryptedCodec(t *testing.T) {
	in := unhex(t, "FFFFFFFF 81 10 B4BAA89A8CD0292B45210E1BC84B1C31 03 8BAF47 08 0102030405060708 41 04AB")
	d, rest, err := ParseImportKeyEncrypted(in)
	if err != nil {
		t.Fatal(err)
	}
	if d.ObjectID != 0xFFFFFFFF || d.Key.Type != 0x81 || !bytes.Equal(d.IV, unhex(t, "0102030405060708")) ||
		!bytes.Equal(rest, unhex(t, "4104AB")) {
		t.Errorf("parsed %+v rest %X", d, rest)
	}
	enc, err := d.Encode()
	if err != nil || !bytes.Equal(append(enc, rest...), in) {
		t.Errorf("Encode %X, %v", enc, err)
	}
	for _, bad := range []string{"FFFF", "FFFFFFFF 81 10 01", "FFFFFFFF 80 01 AA 00", "FFFFFFFF 80 01 AA 00 08 0102"} {
		if _, _, err := ParseImportKeyEncrypted(unhex(t, bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestDiversifyErrors(t *testing.T) {
	if _, err := Diversify(DeveloperKeySet(), DiversifyVISA2, make([]byte, 9)); err == nil {
		t.Error("9-byte KDD accepted")
	}
	if _, err := Diversify(DeveloperKeySetAES(), DiversifyEMV, make([]byte, 10)); err == nil {
		t.Error("EMV with AES master accepted")
	}
	if _, err := Diversify(DeveloperKeySet(), DiversifyKDF3, make([]byte, 10)); err == nil {
		t.Error("KDF3 with 3DES master accepted")
	}
	for _, d := range []Diversification{DiversifyNone, DiversifyVISA2, DiversifyEMV, DiversifyKDF3} {
		if back, err := ParseDiversification(d.String()); err != nil || back != d {
			t.Errorf("ParseDiversification(%q) = %v, %v", d.String(), back, err)
		}
	}
	if _, err := ParseDiversification("gpkmc"); err == nil {
		t.Error("unknown name accepted")
	}
}

func TestNewKeyLengths(t *testing.T) {
	for _, tc := range []struct {
		t  KeyType
		n  int
		ok bool
	}{{DES3, 16, true}, {DES3, 24, true}, {DES3, 8, false}, {DES3, 32, false},
		{AES, 16, true}, {AES, 24, true}, {AES, 32, true}, {AES, 20, false}, {0, 16, false}} {
		_, err := NewKey(tc.t, make([]byte, tc.n))
		if (err == nil) != tc.ok {
			t.Errorf("NewKey(%v, %d bytes): %v", tc.t, tc.n, err)
		}
	}
	// The key copies its input.
	b := DeveloperKeyBytes()
	k, _ := NewKey(DES3, b)
	b[0] ^= 0xFF
	if !k.Equal(DeveloperKeySet().ENC) {
		t.Error("key aliases its input slice")
	}
}
