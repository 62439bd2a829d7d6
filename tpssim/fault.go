package tpssim

import (
	"errors"
	"fmt"
	"time"

	"github.com/coolkey-go/coolkey-go/tps"
)

// FaultKind is a way for the test TPS to break an operation on purpose.
type FaultKind int

const (
	// FaultGarbage sends a chunk that is not a message.
	FaultGarbage FaultKind = iota + 1
	// FaultOversize sends a message header announcing a body far beyond
	// the size limit.
	FaultOversize
	// FaultWrongMessage sends a well-formed message only a client sends
	// (TOKEN_PDU_RESPONSE).
	FaultWrongMessage
	// FaultBadAPDU sends a TOKEN_PDU_REQUEST whose APDU is one byte long.
	FaultBadAPDU
	// FaultBadChunk breaks the HTTP chunked encoding itself.
	FaultBadChunk
	// FaultClose closes the connection without END_OP.
	FaultClose
	// FaultStall stops talking for Stall, then closes the connection.
	FaultStall
)

func (k FaultKind) String() string {
	switch k {
	case FaultGarbage:
		return "garbage"
	case FaultOversize:
		return "oversize"
	case FaultWrongMessage:
		return "wrong message"
	case FaultBadAPDU:
		return "bad APDU"
	case FaultBadChunk:
		return "bad chunk"
	case FaultClose:
		return "close"
	case FaultStall:
		return "stall"
	}
	return fmt.Sprintf("fault(%d)", int(k))
}

// Fault makes every operation of a test TPS misbehave once it has sent
// After messages normally: the next message it would send is replaced by
// the fault, and the operation ends there without END_OP. Tests of clients
// use it to check that they fail cleanly and leave the card usable.
type Fault struct {
	Kind  FaultKind
	After int
	// Stall is how long FaultStall stays silent (past the client's
	// message timeout); 0 means a minute.
	Stall time.Duration
}

// errFaulted ends an operation the fault broke; nothing more is sent.
var errFaulted = errors.New("tpssim: operation broken on purpose")

// intercept is called before the session sends its n-th message (from 1).
// It reports whether the fault took the message's place, and the error
// that ends the operation.
func (f *Fault) intercept(s *session, n int) (bool, error) {
	if f == nil || n <= f.After {
		return false, nil
	}
	s.log.Info("breaking the operation on purpose", "fault", f.Kind.String(), "message", n)
	var err error
	switch f.Kind {
	case FaultGarbage:
		body := "msg_type=&&&&=%zz%&pdu_data"
		err = s.w.WriteChunk([]byte(fmt.Sprintf("s=%d&%s", len(body), body)))
	case FaultOversize:
		err = s.w.WriteChunk([]byte("s=99999999&msg_type=9&pdu_size=1&pdu_data=00"))
	case FaultWrongMessage:
		err = s.w.WriteMessage(tps.TokenPDUResponse{Response: []byte{0x90, 0x00}})
	case FaultBadAPDU:
		body := fmt.Sprintf("msg_type=%d&pdu_size=1&pdu_data=%%00", int(tps.MsgTokenPDURequest))
		err = s.w.WriteChunk([]byte(fmt.Sprintf("s=%d&%s", len(body), body)))
	case FaultBadChunk:
		_, err = s.conn.Write([]byte("zz\r\nnot a chunk\r\n"))
	case FaultClose:
	case FaultStall:
		d := f.Stall
		if d <= 0 {
			d = time.Minute
		}
		time.Sleep(d)
	}
	s.conn.Close()
	if err == nil {
		err = errFaulted
	}
	return true, &connError{err}
}
