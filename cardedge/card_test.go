package cardedge

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/cardedge/cardtest"
	"github.com/google/go-cmp/cmp"
)

type step = cardtest.Step

const zeroNonce = "0000000000000000"
const testNonce = "A1A2A3A4A5A6A7A8"

func hexOf(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// loggedIn returns the steps that log a card in with testNonce.
func login() []step {
	return []step{{Cmd: "B0 42 00 00 04 31323334", Resp: testNonce + "9000"}}
}

func TestExchangeT0(t *testing.T) {
	tests := []struct {
		name     string
		cmd      Command
		steps    []step
		wantData string
		wantSW   SW
		wantErr  error
	}{
		{
			name:     "61xx GET RESPONSE",
			cmd:      Command{CLA: 0xB0, INS: 0x3C, Le: 16},
			steps:    []step{{Cmd: "B03C000010", Resp: "6110"}, {Cmd: "00C0000010", Resp: hexOf(pattern(16, 1)) + "9000"}},
			wantData: hexOf(pattern(16, 1)), wantSW: 0x9000,
		},
		{
			name: "61xx chained, 6100 means 256",
			cmd:  Command{CLA: 0xB0, INS: 0x56, Data: []byte{1}},
			steps: []step{
				{Cmd: "B0560000 01 01", Resp: "AA 6100"},
				{Cmd: "00C0000000", Resp: hexOf(make([]byte, 256)) + "6102"},
				{Cmd: "00C0000002", Resp: "BBCC 9C07"},
			},
			wantData: "AA" + hexOf(make([]byte, 256)) + "BBCC", wantSW: 0x9C07,
		},
		{
			name:     "6Cxx case 1 gets an Le",
			cmd:      Command{CLA: 0xB0, INS: 0x71},
			steps:    []step{{Cmd: "B0710000", Resp: "6C02"}, {Cmd: "B071000002", Resp: "0102 9000"}},
			wantData: "0102", wantSW: 0x9000,
		},
		{
			name:     "6Cxx case 2 replaces Le, then 61xx",
			cmd:      Command{CLA: 0xB0, INS: 0xF2, Le: 4},
			steps:    []step{{Cmd: "B0F2000004", Resp: "6C01"}, {Cmd: "B0F2000001", Resp: "6101"}, {Cmd: "00C0000001", Resp: "07 9000"}},
			wantData: "07", wantSW: 0x9000,
		},
		{
			name:     "6Cxx case 3 appends Le",
			cmd:      Command{CLA: 0x80, INS: 0xCA, P1: 0x9F, P2: 0x7F, Data: []byte{0xAA}},
			steps:    []step{{Cmd: "80CA9F7F01AA", Resp: "6C03"}, {Cmd: "80CA9F7F01AA03", Resp: "010203 9000"}},
			wantData: "010203", wantSW: 0x9000,
		},
		{
			name:   "6Cxx twice is returned",
			cmd:    Command{CLA: 0xB0, INS: 0x71},
			steps:  []step{{Cmd: "B0710000", Resp: "6C02"}, {Cmd: "B071000002", Resp: "6C03"}},
			wantSW: 0x6C03,
		},
		{
			name:    "1-byte response",
			cmd:     Command{CLA: 0xB0, INS: 0x71},
			steps:   []step{{Cmd: "B0710000", Resp: "90"}},
			wantErr: ErrMalformedResponse,
		},
		{
			name:    "transport error",
			cmd:     Command{CLA: 0xB0, INS: 0x71},
			steps:   []step{{Cmd: "B0710000", Err: ErrNoCard}},
			wantErr: ErrNoCard,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := cardtest.New(t, tt.steps...)
			r, err := Exchange(ft, tt.cmd)
			ft.Done()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hexOf(r.Data) != strings.ReplaceAll(tt.wantData, " ", "") || r.SW != tt.wantSW {
				t.Errorf("got %X %s, want %s %s", r.Data, r.SW, tt.wantData, tt.wantSW)
			}
		})
	}
}

func TestExchangeEndless61(t *testing.T) {
	steps := []step{{Cmd: "B0710000", Resp: "6101"}}
	for i := 0; i < maxGetResponses; i++ {
		steps = append(steps, step{Cmd: "00C0000001", Resp: "00 6101"})
	}
	ft := cardtest.New(t, steps...)
	if _, err := Exchange(ft, Command{CLA: 0xB0, INS: 0x71}); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("err = %v", err)
	}
	ft.Done()
}

// TestStatusWords checks every status word of the fact sheet's table (and
// the ISO ones we meet) against the sentinels it must match.
func TestStatusWords(t *testing.T) {
	tests := []struct {
		sw   SW
		want []error
	}{
		{0x9C01, []error{ErrNoMemory}},
		{0x9C02, []error{ErrAuthFailed}},
		{0x9C03, []error{ErrOperationNotAllowed}},
		{0x9C05, []error{ErrUnsupportedFeature}},
		{0x9C06, []error{ErrUnauthorized}},
		{0x9C07, []error{ErrNotFound}},
		{0x9C08, []error{ErrObjectExists}},
		{0x9C09, []error{ErrIncorrectAlgorithm}},
		{0x9C0B, []error{ErrSignatureInvalid}},
		{0x9C0C, []error{ErrBlocked}},
		{0x9C0D, []error{ErrUnspecified}},
		{0x9C0F, []error{ErrInvalidParameter}},
		{0x9C10, []error{ErrIncorrectP1}},
		{0x9C11, []error{ErrIncorrectP2}},
		{0x9C12, []error{ErrSequenceEnd}},
		{0x9C13, []error{ErrDirectionUnsupported}},
		{0x9C14, []error{ErrDirectionInvalid}},
		{0x9C15, []error{ErrLocationUnsupported}},
		{0x9C16, []error{ErrLocationInvalid}},
		{0x9C17, []error{ErrKeyTypeUnsupported}},
		{0x9C18, []error{ErrKeyTypeInvalid}},
		{0x9C19, []error{ErrDataChunkSize}},
		{0x9C1A, []error{ErrKeySize}},
		{0x9C1B, []error{ErrCipherModeUnsupported}},
		{0x9C1C, []error{ErrCipherModeInvalid}},
		{0x9C1D, []error{ErrOutputBufferTooSmall}},
		{0x9C1E, []error{ErrInconsistentKeyPairing}},
		{0x9C1F, []error{ErrInputBufferTooSmall}},
		{0x9C20, []error{ErrBadWrappedKey}},
		{0x9C21, []error{ErrBadAlgIDForKey}},
		{0x9C22, []error{ErrBadWrappedPrivateKey}},
		{0x9CFF, []error{ErrInternal}},
		{0x6700, []error{ErrWrongLength}},
		{0x6D00, []error{ErrINSNotSupported}},
		{0x6E00, []error{ErrCLANotSupported}},
		{0x6982, []error{ErrSecurityStatus, ErrUnauthorized}},
		{0x6985, []error{ErrConditionsNotSatisfied, ErrUnauthorized}},
		{0x6984, []error{ErrDataInvalid}},
		{0x6983, []error{ErrBlocked}},
		{0x6A82, []error{ErrFileNotFound, ErrNotFound}},
		{0x6F00, []error{ErrUnspecified}},
		{0x6300, []error{ErrAuthFailed}},
		{0x63C2, []error{ErrAuthFailed}},
		{0x6C10, []error{ErrWrongLength}},
		{0x6381, nil}, // a warning we do not treat as success
		{0x9C04, nil}, // not defined by the applet
	}
	all := []error{}
	for _, s := range swSentinels {
		all = append(all, s...)
	}
	for _, tt := range tests {
		t.Run(tt.sw.String(), func(t *testing.T) {
			steps := []step{{Cmd: "B03C000010", Resp: tt.sw.String()}}
			if tt.sw.SW1() == 0x6C { // re-sent once with the Le it asks for
				steps = append(steps, steps[0])
			}
			ft := cardtest.New(t, steps...)
			_, err := NewCard(ft).Status()
			var se *StatusError
			if !errors.As(err, &se) || se.SW != tt.sw || se.INS != 0x3C {
				t.Fatalf("err = %v, want a *StatusError %s", err, tt.sw)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("errors.Is(%v, %v) = false", err, w)
				}
			}
			for _, s := range all {
				want := false
				for _, w := range tt.want {
					want = want || s == w
				}
				if !want && errors.Is(err, s) {
					t.Errorf("%s also matches %v", tt.sw, s)
				}
			}
			if !errors.Is(err, &StatusError{SW: tt.sw}) {
				t.Error("does not match a StatusError with the same SW")
			}
			if !strings.Contains(err.Error(), tt.sw.String()) {
				t.Errorf("message %q lacks the SW", err)
			}
		})
	}
	e := &StatusError{SW: 0x63C2}
	if n, ok := e.TriesLeft(); !ok || n != 2 {
		t.Errorf("TriesLeft = %d %v", n, ok)
	}
	if SWSuccess.Err() != nil {
		t.Error("9000 is an error")
	}
}

// instructionTests are the instructions with the exact APDUs they must send.
// Where the fact sheet gives the reference host's APDU, ours is
// byte-identical (marked "reference").
func TestInstructions(t *testing.T) {
	in128 := pattern(128, 0x10)
	out128 := pattern(128, 0x80)
	in256 := pattern(256, 0x20)
	out256 := pattern(256, 0x90)

	tests := []struct {
		name  string
		steps []step
		run   func(c *Card) (any, error)
		want  any
	}{
		{
			name:  "SELECT applet (reference)",
			steps: []step{{Cmd: "00A4040007627601FF000000", Resp: "9000"}},
			run:   func(c *Card) (any, error) { return nil, c.SelectApplet() },
		},
		{
			name:  "SELECT card manager, empty AID (reference)",
			steps: []step{{Cmd: "00A4040000", Resp: "6F10 8407A0000000030000 9000"}},
			run:   func(c *Card) (any, error) { return nil, c.SelectCardManager() },
		},
		{
			name:  "SELECT card manager by AID",
			steps: []step{{Cmd: "00A4040007A0000000030000", Resp: "9000"}},
			run:   func(c *Card) (any, error) { _, err := c.Select(CardManagerAID); return nil, err },
		},
		{
			name:  "GET STATUS",
			steps: []step{{Cmd: "B03C000010", Resp: "01010105 00001388 00000400 01 04 0001 9000"}},
			run:   func(c *Card) (any, error) { return c.Status() },
			want: Status{ProtocolMajor: 1, ProtocolMinor: 1, AppletMajor: 1, AppletMinor: 5, TotalMemory: 5000,
				FreeMemory: 1024, PINCount: 1, KeyCount: 4, LoggedIn: 1},
		},
		{
			name:  "GET LIFE CYCLE 4-byte",
			steps: []step{{Cmd: "B0F2000004", Resp: "0F010101 9000"}},
			run:   func(c *Card) (any, error) { return c.LifeCycle() },
			want:  LifeCycle{State: 0x0F, PINs: 1, ProtocolMajor: 1, ProtocolMinor: 1},
		},
		{
			name: "GET LIFE CYCLE V2 fallback on a 1-byte answer",
			steps: []step{
				{Cmd: "B0F2000004", Resp: "07 9000"},
				{Cmd: "B0F2000001", Resp: "07 9000"},
				{Cmd: "B03C000010", Resp: "01000100 00001388 00000400 02 00 0000 9000"},
			},
			run:  func(c *Card) (any, error) { return c.LifeCycle() },
			want: LifeCycle{State: 0x07, PINs: 2, ProtocolMajor: 1, ProtocolMinor: 0},
		},
		{
			name: "GET LIFE CYCLE V2 fallback on 6700",
			steps: []step{
				{Cmd: "B0F2000004", Resp: "6700"},
				{Cmd: "B0F2000001", Resp: "0F 9000"},
				{Cmd: "B03C000010", Resp: "01010104 00001388 00000400 01 00 0000 9000"},
			},
			run:  func(c *Card) (any, error) { return c.LifeCycle() },
			want: LifeCycle{State: 0x0F, PINs: 1, ProtocolMajor: 1, ProtocolMinor: 1},
		},
		{
			name:  "GET BUILD ID",
			steps: []step{{Cmd: "B070000004", Resp: "65CBF5A6 9000"}},
			run:   func(c *Card) (any, error) { return c.BuildID() },
			want:  uint32(0x65CBF5A6),
		},
		{
			name:  "GET ISSUER INFO",
			steps: []step{{Cmd: "B0F60000E0", Resp: hexOf(append([]byte("http://tps/phoneHome"), make([]byte, 204)...)) + "9000"}},
			run: func(c *Card) (any, error) {
				b, err := c.IssuerInfo()
				return TrimIssuerInfo(b), err
			},
			want: "http://tps/phoneHome",
		},
		{
			name:  "GET BUILTIN ACL",
			steps: []step{{Cmd: "B0FA000007", Resp: "40004000400000 9000"}},
			run:   func(c *Card) (any, error) { return c.BuiltinACL() },
			want:  BuiltinACL{CreateObject: 0x4000, CreateKey: 0x4000, CreatePIN: 0x4000},
		},
		{
			name: "LIST OBJECTS",
			steps: []step{
				{Cmd: "B05800000E", Resp: "7A300000 00000526 FFFF 4000 4000 9000"},
				{Cmd: "B05801000E", Resp: "6B320000 00000040 0001 4000 4000 9000"},
				{Cmd: "B05801000E", Resp: "9C12"},
			},
			run: func(c *Card) (any, error) { return c.ListObjects() },
			want: []ObjectInfo{
				{ID: CombinedObjectID, Size: 0x526, ACL: TPSObjectACL},
				{ID: NewObjectID('k', 2), Size: 0x40, ACL: ACL{1, 0x4000, 0x4000}},
			},
		},
		{
			name: "LIST KEYS ends with 9000 and no data",
			steps: []step{
				{Cmd: "B03A00000B", Resp: "02 03 03 0400 0000 4000 0001 9000"},
				{Cmd: "B03A01000B", Resp: "9000"},
			},
			run:  func(c *Card) (any, error) { return c.ListKeys() },
			want: []KeyInfo{{Number: 2, Type: KeyRSAPrivateCRT, Partner: 3, Bits: 1024, Write: 0x4000, Use: 1}},
		},
		{
			name: "LIST KEYS ends with 9C12",
			steps: []step{
				{Cmd: "B03A00000B", Resp: "9C12"},
			},
			run:  func(c *Card) (any, error) { return c.ListKeys() },
			want: []KeyInfo(nil),
		},
		{
			name:  "READ OBJECT z0 first 255 bytes, zero nonce (reference)",
			steps: []step{{Cmd: "B056000011 7A300000 00000000 FF" + zeroNonce, Resp: hexOf(pattern(255, 0)) + "9000"}},
			run:   func(c *Card) (any, error) { return c.ReadObjectChunk(CombinedObjectID, 0, 255) },
			want:  pattern(255, 0),
		},
		{
			name: "READ OBJECT chunked at 255",
			steps: []step{
				{Cmd: "B056000011 63310000 00000010 FF" + zeroNonce, Resp: hexOf(pattern(255, 0)) + "9000"},
				{Cmd: "B056000011 63310000 0000010F 2D" + zeroNonce, Resp: hexOf(pattern(45, 255)) + "9000"},
			},
			run:  func(c *Card) (any, error) { return c.ReadObject(NewObjectID('c', 1), 16, 300) },
			want: append(pattern(255, 0), pattern(45, 255)...),
		},
		{
			name: "WRITE OBJECT chunked at 238, with the login nonce",
			steps: append(login(),
				step{Cmd: "B05400 00FF 64300000 00000000 EE" + hexOf(pattern(238, 0)) + testNonce, Resp: "9000"},
				step{Cmd: "B05400 0016 64300000 000000EE 05" + hexOf(pattern(5, 238)) + testNonce, Resp: "9000"},
			),
			run: func(c *Card) (any, error) {
				c.VerifyPIN(0, []byte("1234"))
				return nil, c.WriteObject(NewObjectID('d', 0), 0, pattern(243, 0))
			},
		},
		{
			name:  "CREATE OBJECT",
			steps: []step{{Cmd: "B05A000016 64300000 00000100 FFFF40004000" + zeroNonce, Resp: "9000"}},
			run:   func(c *Card) (any, error) { return nil, c.CreateObject(NewObjectID('d', 0), 256, TPSObjectACL) },
		},
		{
			name:  "DELETE OBJECT, zero flag in P2",
			steps: []step{{Cmd: "B05200010C 64300000" + zeroNonce, Resp: "9000"}},
			run:   func(c *Card) (any, error) { return nil, c.DeleteObject(NewObjectID('d', 0), true) },
		},
		{
			name:  "VERIFY PIN (reference) then READ with the nonce",
			steps: append(login(), step{Cmd: "B056000011 7A300000 00000000 01" + testNonce, Resp: "AA9000"}),
			run: func(c *Card) (any, error) {
				if err := c.VerifyPIN(0, []byte("1234")); err != nil {
					return nil, err
				}
				return c.ReadObjectChunk(CombinedObjectID, 0, 1)
			},
			want: []byte{0xAA},
		},
		{
			name:  "CHANGE PIN with 1-byte lengths",
			steps: []step{{Cmd: "B04400000B 04 31323334 05 3536373839", Resp: "9000"}},
			run:   func(c *Card) (any, error) { return nil, c.ChangePIN(0, []byte("1234"), []byte("56789")) },
		},
		{
			name:  "LOGOUT sends and forgets the nonce",
			steps: append(login(), step{Cmd: "B061000008" + testNonce, Resp: "9000"}, step{Cmd: "B056000011 7A300000 00000000 01" + zeroNonce, Resp: "AA9000"}),
			run: func(c *Card) (any, error) {
				c.VerifyPIN(0, []byte("1234"))
				if err := c.Logout(0); err != nil {
					return nil, err
				}
				if c.LoggedIn() {
					return nil, fmt.Errorf("still logged in")
				}
				return c.ReadObjectChunk(CombinedObjectID, 0, 1)
			},
			want: []byte{0xAA},
		},
		{
			name:  "LIST PINS",
			steps: []step{{Cmd: "B048000002", Resp: "0001 9000"}},
			run:   func(c *Card) (any, error) { return c.ListPINs() },
			want:  uint16(1),
		},
		{
			name:  "GET PIN REMAINING TRIES",
			steps: []step{{Cmd: "B04A000001", Resp: "7F 9000"}},
			run:   func(c *Card) (any, error) { return c.PINTriesLeft(0) },
			want:  127,
		},
		{
			name:  "CREATE PIN",
			steps: []step{{Cmd: "B040007F0C 31323334" + zeroNonce, Resp: "9000"}},
			run:   func(c *Card) (any, error) { return nil, c.CreatePIN(0, 0x7F, []byte("1234")) },
		},
		{
			name: "GET RANDOM in 255-byte chunks",
			steps: []step{
				{Cmd: "B0720000FF", Resp: hexOf(pattern(255, 0)) + "9000"},
				{Cmd: "B07200002D", Resp: hexOf(pattern(45, 0)) + "9000"},
			},
			run:  func(c *Card) (any, error) { return c.GetRandom(300) },
			want: append(pattern(255, 0), pattern(45, 0)...),
		},
		{
			name: "SEED RANDOM",
			steps: []step{
				{Cmd: "B0730000FF" + hexOf(pattern(255, 0)), Resp: "9000"},
				{Cmd: "B073000001" + "FF", Resp: "9000"},
			},
			run: func(c *Card) (any, error) { return nil, c.SeedRandom(pattern(256, 0)) },
		},
		{
			name:  "GET DATA CPLC",
			steps: []step{{Cmd: "80CA9F7F2D", Resp: hexOf(CPLCForCUID(CUID{0x40, 0x90, 0x7A, 0x01, 0, 0x42, 0x12, 0x34, 0x56, 0x78}).Encode()) + "9000"}},
			run: func(c *Card) (any, error) {
				cplc, err := c.CPLC()
				return cplc.CUID().String(), err
			},
			want: "40907A01004212345678",
		},
		{
			name:  "NOP",
			steps: []step{{Cmd: "B0710000", Resp: "9000"}},
			run:   func(c *Card) (any, error) { return nil, c.NOP() },
		},
		{
			name: "COMPUTE CRYPT RSA-1024 sign, one step in the APDU (reference)",
			steps: append(login(), step{
				Cmd:  "B0360204 8D 00 03 01 0080" + hexOf(in128) + testNonce,
				Resp: "0080" + hexOf(out128) + "9000",
			}),
			run: func(c *Card) (any, error) {
				c.VerifyPIN(0, []byte("1234"))
				return c.ComputeCrypt(2, DirectionEncrypt, in128)
			},
			want: out128,
		},
		{
			name: "COMPUTE CRYPT 9C11 falls back to INIT + FINAL",
			steps: []step{
				{Cmd: "B0360404 8D 00 04 01 0080" + hexOf(in128) + zeroNonce, Resp: "9C11"},
				{Cmd: "B0360401 0D 00 04 01 0000" + zeroNonce, Resp: "9000"},
				{Cmd: "B0360403 8B 01 0080" + hexOf(in128) + zeroNonce, Resp: "0080" + hexOf(out128) + "9000"},
			},
			run:  func(c *Card) (any, error) { return c.ComputeCrypt(4, DirectionDecrypt, in128) },
			want: out128,
		},
		{
			name: "COMPUTE CRYPT RSA-2048 through the I/O buffer in 5 APDUs (reference: 7)",
			steps: append(login(),
				step{Cmd: "B0540000FF FFFFFFFF 00000000 EE 0100" + hexOf(in256[:236]) + testNonce, Resp: "9000"},
				step{Cmd: "B054000025 FFFFFFFF 000000EE 14" + hexOf(in256[236:]) + testNonce, Resp: "9000"},
				step{Cmd: "B0360204 0D 00 03 02 0000" + testNonce, Resp: "9000"},
				step{Cmd: "B056000011 FFFFFFFF 00000000 FF" + testNonce, Resp: "0100" + hexOf(out256[:253]) + "9000"},
				step{Cmd: "B056000011 FFFFFFFF 000000FF 03" + testNonce, Resp: hexOf(out256[253:]) + "9000"},
			),
			run: func(c *Card) (any, error) {
				c.VerifyPIN(0, []byte("1234"))
				return c.ComputeCrypt(2, DirectionEncrypt, in256)
			},
			want: out256,
		},
		{
			name: "COMPUTE CRYPT I/O result shorter than guessed",
			steps: []step{
				{Cmd: "B0540000FF FFFFFFFF 00000000 EE 0100" + hexOf(in256[:236]) + zeroNonce, Resp: "9000"},
				{Cmd: "B054000025 FFFFFFFF 000000EE 14" + hexOf(in256[236:]) + zeroNonce, Resp: "9000"},
				{Cmd: "B0360404 0D 00 04 02 0000" + zeroNonce, Resp: "9000"},
				{Cmd: "B056000011 FFFFFFFF 00000000 FF" + zeroNonce, Resp: "9C0F"},
				{Cmd: "B056000011 FFFFFFFF 00000000 02" + zeroNonce, Resp: "0003 9000"},
				{Cmd: "B056000011 FFFFFFFF 00000002 03" + zeroNonce, Resp: "010203 9000"},
			},
			run:  func(c *Card) (any, error) { return c.ComputeCrypt(4, DirectionDecrypt, in256) },
			want: []byte{1, 2, 3},
		},
		{
			name: "COMPUTE ECC SIGNATURE is INS 37",
			steps: []step{{
				Cmd:  "B0370404 2B 01 0020" + hexOf(pattern(32, 0)) + zeroNonce,
				Resp: "0008 3006020101020102 9000",
			}},
			run:  func(c *Card) (any, error) { return c.ComputeECCSignature(4, pattern(32, 0)) },
			want: Hex(t, "3006020101020102"),
		},
		{
			name: "COMPUTE ECC KEY AGREEMENT is INS 38",
			steps: []step{{
				Cmd:  "B0380404 4C 01 0041" + hexOf(pattern(65, 4)) + zeroNonce,
				Resp: "0020" + hexOf(pattern(32, 9)) + "9000",
			}},
			run:  func(c *Card) (any, error) { return c.ComputeECCKeyAgreement(4, pattern(65, 4)) },
			want: pattern(32, 9),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := cardtest.New(t, tt.steps...)
			got, err := tt.run(NewCard(ft))
			if err != nil {
				t.Fatal(err)
			}
			ft.Done()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWrongResponseLengths: every fixed-length answer is checked exactly, as
// the reference host does.
func TestWrongResponseLengths(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		resp string
		run  func(c *Card) error
	}{
		{"GET STATUS 15", "B03C000010", hexOf(make([]byte, 15)), func(c *Card) error { _, err := c.Status(); return err }},
		{"GET BUILD ID 5", "B070000004", "0102030405", func(c *Card) error { _, err := c.BuildID(); return err }},
		{"ISSUER INFO 223", "B0F60000E0", hexOf(make([]byte, 223)), func(c *Card) error { _, err := c.IssuerInfo(); return err }},
		{"LIST PINS 1", "B048000002", "01", func(c *Card) error { _, err := c.ListPINs(); return err }},
		{"PIN TRIES 0", "B04A000001", "", func(c *Card) error { _, err := c.PINTriesLeft(0); return err }},
		{"BUILTIN ACL 6", "B0FA000007", "400040004000", func(c *Card) error { _, err := c.BuiltinACL(); return err }},
		{"LIST OBJECTS 13", "B05800000E", hexOf(make([]byte, 13)), func(c *Card) error { _, err := c.ListObjects(); return err }},
		{"LIST KEYS 12", "B03A00000B", hexOf(make([]byte, 12)), func(c *Card) error { _, err := c.ListKeys(); return err }},
		{"CPLC 44", "80CA9F7F2D", hexOf(make([]byte, 44)), func(c *Card) error { _, err := c.CPLC(); return err }},
		{"VERIFY 7", "B04200000431323334", hexOf(make([]byte, 7)), func(c *Card) error { return c.VerifyPIN(0, []byte("1234")) }},
		{"READ 2 of 3", "B056000011 7A300000 00000000 03" + zeroNonce, "0102", func(c *Card) error {
			_, err := c.ReadObjectChunk(CombinedObjectID, 0, 3)
			return err
		}},
		{"GET RANDOM 3 of 4", "B072000004", "010203", func(c *Card) error { _, err := c.GetRandom(4); return err }},
		{"LIFE CYCLE 1 of 1 from 1-byte form 2", "B0F2000001", "0101", func(c *Card) error { _, err := c.LifeCycleState(); return err }},
		{"COMPUTE CRYPT length field lies", "*", "0081" + hexOf(make([]byte, 128)), func(c *Card) error {
			_, err := c.ComputeCrypt(2, DirectionEncrypt, make([]byte, 128))
			return err
		}},
		{"ECC result shorter than 2", "*", "00", func(c *Card) error { _, err := c.ComputeECCSignature(2, make([]byte, 32)); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := cardtest.New(t, step{Cmd: tt.cmd, Resp: tt.resp + "9000"})
			err := tt.run(NewCard(ft))
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err = %v, want ErrMalformedResponse", err)
			}
			ft.Done()
		})
	}
}

func TestVerifyPINFailures(t *testing.T) {
	for _, tt := range []struct {
		sw   string
		want error
	}{{"9C02", ErrAuthFailed}, {"9C0C", ErrBlocked}, {"9C10", ErrIncorrectP1}, {"63C1", ErrAuthFailed}} {
		ft := cardtest.New(t, append(login(), step{Cmd: "B04200000431323335", Resp: tt.sw})...)
		c := NewCard(ft)
		c.VerifyPIN(0, []byte("1234"))
		err := c.VerifyPIN(0, []byte("1235"))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v", tt.sw, err)
		}
		// A wrong PIN logs everyone out of it on the card; we follow.
		if wantOut := tt.want == ErrAuthFailed || tt.want == ErrBlocked; c.LoggedIn() == wantOut {
			t.Errorf("%s: logged in = %v", tt.sw, c.LoggedIn())
		}
		if strings.Contains(err.Error(), "1235") || strings.Contains(err.Error(), "31323335") {
			t.Errorf("PIN in error message %q", err)
		}
	}
	if err := NewCard(cardtest.New(t)).VerifyPIN(0, nil); err == nil {
		t.Error("empty PIN sent")
	}
}

func TestTransact(t *testing.T) {
	ft := cardtest.New(t, append(login(), step{Cmd: "B0710000", Resp: "9000"}, step{Cmd: "B0710000", Resp: "9000"})...)
	c := NewCard(ft)
	err := c.Transact(func() error {
		if err := c.VerifyPIN(0, []byte("1234")); err != nil {
			return err
		}
		return c.Transact(func() error { return c.NOP() }) // joins the outer one
	})
	if err != nil || ft.Begins != 1 || ft.Ends != 1 {
		t.Fatalf("err %v, begins %d ends %d", err, ft.Begins, ft.Ends)
	}
	// A reset reported at BeginTransaction loses the login, and the next
	// transaction proceeds.
	ft.BeginErrs = []error{fmt.Errorf("pcsc: %w", ErrCardReset)}
	if err := c.Transact(func() error { return nil }); !errors.Is(err, ErrCardReset) {
		t.Fatalf("err = %v", err)
	}
	if c.LoggedIn() {
		t.Error("still logged in after a reset")
	}
	if err := c.Transact(c.NOP); err != nil {
		t.Fatal(err)
	}
	ft.Done()
	// A reset reported by Transmit loses it too.
	ft = cardtest.New(t, append(login(), step{Cmd: "B0710000", Err: ErrCardReset})...)
	c = NewCard(ft)
	c.VerifyPIN(0, []byte("1234"))
	if err := c.NOP(); !errors.Is(err, ErrCardReset) || c.LoggedIn() {
		t.Errorf("err %v, logged in %v", err, c.LoggedIn())
	}
}

func TestExchangeRaw(t *testing.T) {
	ft := cardtest.New(t, step{Cmd: "84F00F0008 0102030405060708", Resp: "6101"}, step{Cmd: "00C0000001", Resp: "AA 9000"})
	b, err := NewCard(ft).ExchangeRaw(Hex(t, "84F00F0008 0102030405060708"))
	if err != nil || !bytes.Equal(b, Hex(t, "AA9000")) {
		t.Errorf("ExchangeRaw = %X %v", b, err)
	}
	if _, err := NewCard(ft).ExchangeRaw([]byte{1}); !errors.Is(err, ErrMalformedCommand) {
		t.Errorf("err = %v", err)
	}
}

func TestECDSASignatureRaw(t *testing.T) {
	raw, err := ECDSASignatureRaw(Hex(t, "3008 0202 00FF 0202 0102"), 32)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 64)
	want[31], want[62], want[63] = 0xFF, 1, 2
	if !bytes.Equal(raw, want) {
		t.Errorf("raw = %X", raw)
	}
	for _, bad := range []string{"3006020101020102 00", "3006 0201FF 020101", "3003020101", "0400"} {
		if _, err := ECDSASignatureRaw(Hex(t, bad), 32); !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
	if _, err := ECDSASignatureRaw(Hex(t, "3006020101020102"), 0); err == nil {
		t.Error("size 0 accepted")
	}
}
