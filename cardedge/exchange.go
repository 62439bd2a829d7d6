package cardedge

import (
	"fmt"
)

// Limits on what a card can make Exchange do: it will not collect more than
// maxResponseData bytes through GET RESPONSE, nor follow more than
// maxGetResponses 61xx answers, however the card answers.
const (
	maxResponseData = 64 << 10
	maxGetResponses = 300
)

// Exchange sends cmd over t and returns the complete response, doing the T=0
// work once for every transport:
//
//   - 61xx: the card has xx (00 = 256) more bytes; they are fetched with
//     GET RESPONSE 00 C0 00 00 xx and appended, as often as the card asks.
//   - 6Cxx: the card wants Le = xx; the command is sent once more with that
//     Le (the reference host does not do this).
//
// The status word is returned, not interpreted; see (SW).Err.
func Exchange(t Transport, cmd Command) (Response, error) { return exchange(t, cmd, true) }

// exchangeOnce is Exchange without the 6Cxx re-send, for commands that
// carry a PIN: 6Cxx means nothing for a command without Le, and following
// it would hand the card the PIN a second time — and a card that had
// already counted a wrong PIN would count it again.
func exchangeOnce(t Transport, cmd Command) (Response, error) { return exchange(t, cmd, false) }

func exchange(t Transport, cmd Command, resend bool) (Response, error) {
	raw, err := cmd.Encode()
	if err != nil {
		return Response{}, err
	}
	resp, err := transmit(t, raw)
	if err != nil {
		return Response{}, err
	}
	if resp.SW.SW1() == 0x6C && resend {
		cmd.Le = leValue(resp.SW.SW2())
		if raw, err = cmd.Encode(); err != nil {
			return Response{}, err
		}
		if resp, err = transmit(t, raw); err != nil {
			return Response{}, err
		}
	}
	data := resp.Data
	for n := 0; resp.SW.SW1() == 0x61; n++ {
		if n == maxGetResponses {
			return Response{}, fmt.Errorf("%w: more than %d GET RESPONSE rounds", ErrMalformedResponse, maxGetResponses)
		}
		getResponse := []byte{0x00, 0xC0, 0x00, 0x00, resp.SW.SW2()}
		if resp, err = transmit(t, getResponse); err != nil {
			return Response{}, err
		}
		if len(data)+len(resp.Data) > maxResponseData {
			return Response{}, fmt.Errorf("%w: response longer than %d bytes", ErrMalformedResponse, maxResponseData)
		}
		data = append(data, resp.Data...)
	}
	return Response{Data: data, SW: resp.SW}, nil
}

func transmit(t Transport, raw []byte) (Response, error) {
	b, err := t.Transmit(raw)
	if err != nil {
		return Response{}, err
	}
	return ParseResponse(b)
}
