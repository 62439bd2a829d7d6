package gp

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// Vectors from docs/tps.md §3.9. A: GlobalPlatformPro's TestPlaintextKeys
// (KCV vectors). B: Dogtag's TKS known-session-key self-test. C: full
// handshake transcripts.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustKey(t testing.TB, typ KeyType, s string) Key {
	t.Helper()
	k, err := NewKey(typ, unhex(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func kcvHex(k Key) string {
	kcv := k.KCV()
	return fmt.Sprintf("%X", kcv[:])
}

const (
	devKeyHex = "404142434445464748494A4B4C4D4E4F"
	gpproKDD  = "00010203040506070809"
)

func keySetOf(k Key) KeySet { return KeySet{Version: 1, ENC: k, MAC: k, KEK: k} }

// §3.9 A: every KCV vector of GlobalPlatformPro.
func TestGPProKCVVectors(t *testing.T) {
	kdd := unhex(t, gpproKDD)
	des := mustKey(t, DES3, devKeyHex)
	aes16 := mustKey(t, AES, devKeyHex)
	aes24 := mustKey(t, AES, "404142434445464748494A4B4C4D4E4F5051525354555657")
	aes32 := mustKey(t, AES, "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F")

	diversified := func(master Key, d Diversification) []Key {
		ks, err := Diversify(keySetOf(master), d, kdd)
		if err != nil {
			t.Fatal(err)
		}
		return []Key{ks.ENC, ks.MAC, ks.KEK}
	}
	scp01, err := SCP01SessionKeys(keySetOf(des), make([]byte, 8), make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	scp02, err := SCP02SessionKeys(keySetOf(des), []byte{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	// GPPro's SCP03 session-key vector uses the 10-byte KDD as context.
	scp03 := scp03SessionKeysContext(keySetOf(aes16), kdd)

	tests := []struct {
		name string
		keys []Key
		want []string
	}{
		{"static DEK KCV", []Key{des}, []string{"8BAF47"}},
		{"VISA2 ENC/MAC/DEK", diversified(des, DiversifyVISA2), []string{"2BE598", "58DA38", "3C328E"}},
		{"EMV ENC/MAC/DEK", diversified(des, DiversifyEMV), []string{"C33013", "6F4CA6", "BB8179"}},
		{"SCP01 session ENC/MAC, static DEK", []Key{scp01.ENC, scp01.MAC, scp01.DEK}, []string{"FDDAF8", "FDDAF8", "8BAF47"}},
		{"SCP02 session ENC/MAC/DEK/RMAC", []Key{scp02.ENC, scp02.MAC, scp02.DEK, scp02.RMAC}, []string{"F2DCDD", "5FCC69", "85272E", "9F749A"}},
		{"SCP03 session ENC/MAC/RMAC, static DEK", []Key{scp03.ENC, scp03.MAC, scp03.RMAC, scp03.DEK}, []string{"C25559", "0E12CC", "9ACB9C", "504A77"}},
		{"generic SCP03 KDF", []Key{{typ: AES, b: kdfCounter(aes16.b, make([]byte, 16), make([]byte, 16), 16)}}, []string{"BD8165"}},
		{"KDF3 AES-128", diversified(aes16, DiversifyKDF3), []string{"E79C05", "D1BD77", "3FDE8C"}},
		{"KDF3 AES-192", diversified(aes24, DiversifyKDF3), []string{"1DE8EA", "47C00C", "C04D76"}},
		{"KDF3 AES-256", diversified(aes32, DiversifyKDF3), []string{"2972D2", "036F94", "5D57B8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.keys) != len(tc.want) {
				t.Fatalf("table error: %d keys, %d KCVs", len(tc.keys), len(tc.want))
			}
			for i, k := range tc.keys {
				if got := kcvHex(k); got != tc.want[i] {
					t.Errorf("key %d: KCV %s, want %s", i, got, tc.want[i])
				}
			}
		})
	}
}

// §3.9 A: key encryption vectors.
func TestGPProKeyEncryptionVectors(t *testing.T) {
	des := mustKey(t, DES3, devKeyHex)
	scp02, err := SCP02SessionKeys(keySetOf(des), []byte{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		kek  Key
		want string
	}{
		{"SCP01: static DEK", des, "B4BAA89A8CD0292B45210E1BC84B1C31"},
		{"SCP02: S-DEK of sequence 0000", scp02.DEK, "EFBEE6C6D99D7B70BDE9D7E927F020AF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := WrapKey(tc.kek, des)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%X", b.Wrapped); got != tc.want {
				t.Errorf("wrapped %s, want %s", got, tc.want)
			}
			if got := fmt.Sprintf("%X", b.Check); got != "8BAF47" {
				t.Errorf("check value %s, want 8BAF47", got)
			}
			back, err := UnwrapKey(tc.kek, b)
			if err != nil || !back.Equal(des) {
				t.Errorf("unwrap: %v, equal %v", err, back.Equal(des))
			}
		})
	}
}

// §3.9 A: KDF3 with an external master key; the sheet gives the derived key.
func TestGPProKDF3ExternalVector(t *testing.T) {
	master := mustKey(t, AES, "8C72C72CF908411653018807950D82FBAD947562F0828A0B10B8B9606ABF3BCD")
	ks, err := Diversify(keySetOf(master), DiversifyKDF3, unhex(t, "D9B1DE5D0362DEDCE4FB"))
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "9AAC5D0B3601F89438A0D9D0B6B256CFB47E6462DFA5228D3420C4AC7C224781")
	if !bytes.Equal(ks.ENC.b, want) {
		t.Errorf("derived ENC key %X, want %X", ks.ENC.b, want)
	}
}

// §3.9 B: Dogtag TKS self-test (TKSKnownSessionKey), SCP01 MAC session key
// from the developer key, no diversification.
func TestDogtagKnownSessionKey(t *testing.T) {
	// CUID = KDD = A00192030405060708C9 (not an input of SCP01 derivation).
	sk, err := SCP01SessionKeys(DeveloperKeySet(), unhex(t, "775762E45E23667D"), unhex(t, "BD6D19856E540FCD"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%X", sk.MAC.b), "D1BEB826DC5620258C93E7DEF0AB4F5B"; got != want {
		t.Errorf("S-MAC %s, want %s", got, want)
	}
}

// RFC 4493 test vectors for the AES-CMAC underneath SCP03.
func TestAESCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	tests := []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(aesCMAC(key, msg[:tc.n])); got != tc.want {
			t.Errorf("CMAC of %d bytes = %s, want %s", tc.n, got, tc.want)
		}
	}
}

// A deterministic source of challenges for the transcripts.
func fixedRand(t testing.TB, s string) *bytes.Reader { return bytes.NewReader(unhex(t, s)) }

type transcriptStep struct {
	name  string
	plain string // the command before wrapping
	wire  string // the wrapped command, byte for byte
}

type transcript struct {
	name     string
	protocol Protocol
	keys     KeySet
	kdd      string
	seq      uint16
	param    byte
	hc, cc   string // host challenge; card challenge (6 bytes for SCP02)

	initUpdate, initUpdateResp string
	sENC, sMAC, sDEK, sRMAC    string // empty: not checked
	cardCrypto, hostCrypto     string
	extAuth                    string
	chainAfterExtAuth          string // empty: not checked
	steps                      []transcriptStep
}

// §3.9 C, the three handshakes.
var transcripts = []transcript{
	{
		name: "SCP01 (Dogtag self-test inputs)", protocol: SCP01, keys: DeveloperKeySet(),
		kdd: "A00192030405060708C9", hc: "775762E45E23667D", cc: "BD6D19856E540FCD",
		initUpdate:     "80 50 00 00 08 775762E45E23667D",
		initUpdateResp: "A00192030405060708C9 0101 BD6D19856E540FCD A3BA811B31D3337D",
		sENC:           "D1BEB826DC5620258C93E7DEF0AB4F5B",
		sMAC:           "D1BEB826DC5620258C93E7DEF0AB4F5B",
		sDEK:           devKeyHex,
		cardCrypto:     "A3BA811B31D3337D", hostCrypto: "40A14AD953A5B545",
		extAuth:           "84 82 03 00 10 40A14AD953A5B545 E7C1A51FDDAAC75E",
		chainAfterExtAuth: "E7C1A51FDDAAC75E",
		steps: []transcriptStep{
			{"SET LIFECYCLE (no data)", "84 F0 0F 00", "84 F0 0F 00 08 40E9D22FCCABB559"},
			{"SET PIN password", "84 04 00 00 08 70617373776F7264",
				"84 04 00 00 18 163CC6B20F794D5AC7BFB3AA988B1E12 D4C79B7B849411E7"},
		},
	},
	{
		name: "SCP02 i=15", protocol: SCP02, keys: DeveloperKeySet(),
		kdd: gpproKDD, seq: 0x000B, hc: "0102030405060708", cc: "112233445566",
		initUpdate:     "80 50 00 00 08 0102030405060708",
		initUpdateResp: "00010203040506070809 0102 000B 112233445566 B902ACB07D523196",
		sENC:           "3359D88B08CF080BCC7C233016AB9535",
		sMAC:           "3780B42F985E5E079E92A5582FB9D057",
		sDEK:           "2F30D4F35BFE97F5C55DCC57B0783663",
		sRMAC:          "7CA23F77C7E9AB44A3F6A3A7C76A9724",
		cardCrypto:     "B902ACB07D523196", hostCrypto: "12ED749F950E0AA6",
		extAuth:           "84 82 03 00 10 12ED749F950E0AA6 CE274220F37E90BE",
		chainAfterExtAuth: "CE274220F37E90BE",
		steps: []transcriptStep{
			{"SET PIN password", "84 04 00 00 08 70617373776F7264",
				"84 04 00 00 18 0FD3C2D8D0F696F8FC72D754847D84C1 486F1498EE5C5131"},
		},
	},
	{
		name: "SCP03 AES-128", protocol: SCP03, keys: DeveloperKeySetAES(),
		kdd: gpproKDD, param: 0x00, hc: "0102030405060708", cc: "1122334455667788",
		initUpdate:     "80 50 00 00 08 0102030405060708",
		initUpdateResp: "00010203040506070809 010300 1122334455667788 C9FEDCE39B144A90",
		sENC:           "C72081FA050D03F8952FB161C0A0837E",
		sMAC:           "D284493AFFD4EFFD154AF9A30C9030A5",
		sDEK:           devKeyHex,
		sRMAC:          "EC1C0B9AADC05B606932A2165338892D",
		cardCrypto:     "C9FEDCE39B144A90", hostCrypto: "DE473C9D1F1A1BD8",
		extAuth:           "84 82 03 00 10 DE473C9D1F1A1BD8 4438AF2E3CDEBDC8",
		chainAfterExtAuth: "4438AF2E3CDEBDC8771A75A697DF4E9F",
		steps: []transcriptStep{
			{"SET PIN password (counter 1)", "84 04 00 00 08 70617373776F7264",
				"84 04 00 00 18 E3223ACC10778CB2F1747EC93BE0F4E9 32543357687FB165"},
		},
	},
}

func TestHandshakeTranscripts(t *testing.T) {
	for _, tc := range transcripts {
		t.Run(tc.name, func(t *testing.T) {
			eq := func(what string, got []byte, want string) {
				t.Helper()
				if w := unhex(t, want); !bytes.Equal(got, w) {
					t.Errorf("%s:\n got %X\nwant %X", what, got, w)
				}
			}
			host, err := NewHostSession(HostConfig{Protocol: tc.protocol, Keys: tc.keys, Rand: fixedRand(t, tc.hc)})
			if err != nil {
				t.Fatal(err)
			}
			card, err := NewCardSession(CardConfig{Protocol: tc.protocol, Keys: tc.keys,
				KDD: [KDDLen]byte(unhex(t, tc.kdd)), SequenceCounter: tc.seq, Param: tc.param, Rand: fixedRand(t, tc.cc)})
			if err != nil {
				t.Fatal(err)
			}

			iu, err := host.InitializeUpdate()
			if err != nil {
				t.Fatal(err)
			}
			eq("INITIALIZE UPDATE", iu, tc.initUpdate)
			resp, err := card.InitializeUpdate(iu)
			if err != nil {
				t.Fatal(err)
			}
			eq("INITIALIZE UPDATE answer", resp, tc.initUpdateResp)

			ea, err := host.ExternalAuthenticate(append(resp, 0x90, 0x00))
			if err != nil {
				t.Fatal(err)
			}
			sk := host.SessionKeys()
			for _, k := range []struct {
				what string
				key  Key
				want string
			}{{"S-ENC", sk.ENC, tc.sENC}, {"S-MAC", sk.MAC, tc.sMAC}, {"DEK", sk.DEK, tc.sDEK}, {"S-RMAC", sk.RMAC, tc.sRMAC}} {
				if k.want != "" {
					eq(k.what, k.key.b, k.want)
				}
			}
			r := host.CardResponse()
			card1, host1 := cryptograms(tc.protocol, sk, unhex(t, tc.hc), r)
			eq("card cryptogram", card1, tc.cardCrypto)
			eq("host cryptogram", host1, tc.hostCrypto)
			eq("EXTERNAL AUTHENTICATE", ea, tc.extAuth)
			if tc.chainAfterExtAuth != "" {
				eq("MAC chain after EXTERNAL AUTHENTICATE", host.ch.chain, tc.chainAfterExtAuth)
			}
			if err := card.ExternalAuthenticate(ea); err != nil {
				t.Fatalf("card rejected EXTERNAL AUTHENTICATE: %v", err)
			}
			if !card.SessionKeys().ENC.Equal(sk.ENC) || !card.SessionKeys().MAC.Equal(sk.MAC) {
				t.Error("card and host session keys differ")
			}

			for _, st := range tc.steps {
				w, err := host.Wrap(unhex(t, st.plain))
				if err != nil {
					t.Fatalf("%s: wrap: %v", st.name, err)
				}
				eq(st.name+" (wire)", w, st.wire)
				p, err := card.Unwrap(w)
				if err != nil {
					t.Fatalf("%s: card unwrap: %v", st.name, err)
				}
				eq(st.name+" (unwrapped)", p, st.plain)
			}
		})
	}
}

// §3.9 C, SCP02: the ICV of the first command after EXTERNAL AUTHENTICATE.
func TestSCP02EncryptedICVVector(t *testing.T) {
	smac := unhex(t, "3780B42F985E5E079E92A5582FB9D057")
	got := ecbEncrypt(desBlock(smac), unhex(t, "CE274220F37E90BE"))
	if want := unhex(t, "049F43EEFF999840"); !bytes.Equal(got, want) {
		t.Errorf("ICV %X, want %X", got, want)
	}
}

// §3.9 C, SCP01: the enrollment challenge under the static KEK; and the
// SCP03 static-key KCV.
func TestChallengeAndSCP03KCVVectors(t *testing.T) {
	ch := unhex(t, "00112233445566778899AABBCCDDEEFF")
	w, err := WrapChallenge(DeveloperKeySet().KEK, ch)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "6260E7C6A3E3376E21B427EF79471763"); !bytes.Equal(w, want) {
		t.Errorf("wrapped challenge %X, want %X", w, want)
	}
	back, err := UnwrapChallenge(DeveloperKeySet().KEK, w)
	if err != nil || !bytes.Equal(back, ch) {
		t.Errorf("unwrap: %X, %v", back, err)
	}
	if got := kcvHex(DeveloperKeySetAES().KEK); got != "504A77" {
		t.Errorf("KCVAES(developer key) %s, want 504A77", got)
	}
}
