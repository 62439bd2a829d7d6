package gp_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/coolkey-go/coolkey-go/gp"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// A TPS (host) and a virtual card open an SCP01 channel with the developer
// keys and exchange two commands. The challenges are fixed here so that the
// output is Dogtag's self-test transcript (docs/tps.md §3.9 C); in real use
// leave Rand nil.
func Example() {
	host, _ := gp.NewHostSession(gp.HostConfig{
		Protocol: gp.SCP01,
		Keys:     gp.DeveloperKeySet(),
		Rand:     bytes.NewReader(mustHex("775762E45E23667D")),
	})
	card, _ := gp.NewCardSession(gp.CardConfig{
		Protocol: gp.SCP01,
		Keys:     gp.DeveloperKeySet(),
		KDD:      [10]byte(mustHex("A00192030405060708C9")),
		Rand:     bytes.NewReader(mustHex("BD6D19856E540FCD")),
	})

	iu, _ := host.InitializeUpdate()
	resp, _ := card.InitializeUpdate(iu) // the card appends 90 00
	ea, _ := host.ExternalAuthenticate(append(resp, 0x90, 0x00))
	if err := card.ExternalAuthenticate(ea); err != nil {
		fmt.Println("card:", err)
		return
	}
	for _, cmd := range [][]byte{{0x84, 0xF0, 0x0F, 0x00}} { // SET LIFECYCLE 0F
		w, _ := host.Wrap(cmd)
		if _, err := card.Unwrap(w); err != nil {
			fmt.Println("card:", err)
		}
	}
	wire, _ := host.Wrap(append([]byte{0x84, 0x04, 0x00, 0x00, 0x08}, "password"...))
	plain, _ := card.Unwrap(wire)

	fmt.Printf("INITIALIZE UPDATE    %X\n", iu)
	fmt.Printf("answer               %X\n", resp)
	fmt.Printf("EXTERNAL AUTHENTICATE %X\n", ea)
	fmt.Printf("SET PIN (wire)       %X\n", wire)
	fmt.Printf("SET PIN (card sees)  %X\n", plain)

	// A replay ends the channel with the status word the card must answer.
	_, err := card.Unwrap(wire)
	var se *gp.StatusError
	fmt.Println(errors.As(err, &se), errors.Is(err, gp.ErrBadMAC), fmt.Sprintf("%04X", se.SW), card.IsOpen())
	// Output:
	// INITIALIZE UPDATE    8050000008775762E45E23667D
	// answer               A00192030405060708C90101BD6D19856E540FCDA3BA811B31D3337D
	// EXTERNAL AUTHENTICATE 848203001040A14AD953A5B545E7C1A51FDDAAC75E
	// SET PIN (wire)       8404000018163CC6B20F794D5AC7BFB3AA988B1E12D4C79B7B849411E7
	// SET PIN (card sees)  840400000870617373776F7264
	// true true 6982 false
}
