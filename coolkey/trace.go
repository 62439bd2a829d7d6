package coolkey

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/coolkey-go/coolkey-go/cardedge"
	p11 "github.com/coolkey-go/coolkey-go/pkcs11mod"
)

// apduCount counts every command APDU this process sent to any card
// (GET RESPONSE included: it is an APDU on the wire).
var apduCount atomic.Uint64

// APDUCount returns how many command APDUs the module has sent since the
// process started. Benchmarks and end-to-end tests read it to compare the
// module's APDU economy with the reference modules'. Out of process, set the
// environment variable COOLKEY_APDU_COUNT_FILE to a path: the module writes
// the count there, as a decimal number and a newline, at the end of every
// card transaction and at C_Finalize.
func APDUCount() uint64 { return apduCount.Load() }

// countFileEnv names the file that receives the APDU count.
const countFileEnv = "COOLKEY_APDU_COUNT_FILE"

// writeAPDUCount stores the count in the file named by COOLKEY_APDU_COUNT_FILE,
// if set. It is a debugging aid: failures are ignored.
func writeAPDUCount() {
	path := p11.Getenv(countFileEnv)
	if path == "" {
		return
	}
	os.WriteFile(path, []byte(strconv.FormatUint(apduCount.Load(), 10)+"\n"), 0o600)
}

// tracedTransport counts the APDUs going to one card and, at
// pkcs11mod.LevelTrace, logs them with secrets masked.
type tracedTransport struct {
	cardedge.Transport
	log    *slog.Logger
	reader string
}

func newTracedTransport(t cardedge.Transport, log *slog.Logger, reader string) *tracedTransport {
	return &tracedTransport{Transport: t, log: log, reader: reader}
}

func (t *tracedTransport) Transmit(cmd []byte) ([]byte, error) {
	apduCount.Add(1)
	resp, err := t.Transport.Transmit(cmd)
	if t.log.Enabled(context.Background(), p11.LevelTrace) {
		c, r := describeAPDU(cmd, resp)
		if err != nil {
			r = "error: " + err.Error()
		}
		t.log.Log(context.Background(), p11.LevelTrace, "apdu", "reader", t.reader, "cmd", c, "resp", r)
	}
	return resp, err
}

func (t *tracedTransport) EndTransaction() error {
	err := t.Transport.EndTransaction()
	writeAPDUCount()
	return err
}

// Instructions whose command data (less the trailing nonce) and response
// data hold nothing secret, so the trace shows them in full. Everything else
// is shown as lengths only: PINs (VERIFY, CHANGE PIN, CREATE PIN), the login
// nonce (VERIFY's answer and the tail of guarded commands), decrypted data
// and shared secrets (COMPUTE CRYPT, ECC, the I/O buffer), random numbers.
var traceableINS = map[byte]bool{
	0xA4: true, // SELECT
	0xF2: true, // GET LIFE CYCLE
	0x3C: true, // GET STATUS
	0x58: true, // LIST OBJECTS
	0x3A: true, // LIST KEYS
	0x4A: true, // GET PIN REMAINING TRIES
	0x48: true, // LIST PINS
	0x70: true, // GET BUILD ID
	0xCA: true, // GET DATA (CPLC)
}

// nonceINS are the card-edge instructions whose last 8 command bytes are the
// login nonce.
var nonceINS = map[byte]bool{0x36: true, 0x37: true, 0x38: true, 0x40: true, 0x52: true, 0x54: true, 0x56: true, 0x5A: true, 0x61: true}

// describeAPDU renders a command and its response for the trace.
func describeAPDU(cmd, resp []byte) (string, string) {
	if len(cmd) < 4 {
		return fmt.Sprintf("%d bytes", len(cmd)), ""
	}
	ins := cmd[1]
	c := fmt.Sprintf("%02X %02X %02X %02X", cmd[0], cmd[1], cmd[2], cmd[3])
	if len(cmd) > 4 {
		rest := cmd[4:]
		switch {
		case traceableINS[ins]:
			c += " " + hex.EncodeToString(rest)
		case ins == 0x56 && cmd[0] == cardedge.ClaCardEdge && len(rest) == 1+4+4+1+cardedge.NonceSize:
			// READ OBJECT: id, offset and length are harmless; the
			// nonce is not.
			c += fmt.Sprintf(" %02X %s <nonce>", rest[0], hex.EncodeToString(rest[1:10]))
		case nonceINS[ins] && cmd[0] == cardedge.ClaCardEdge:
			c += fmt.Sprintf(" Lc=%d <data and nonce>", len(rest)-1)
		default:
			c += fmt.Sprintf(" Lc/Le=%02X <masked>", rest[0])
		}
	}
	if len(resp) < 2 {
		return c, fmt.Sprintf("%d bytes", len(resp))
	}
	sw := resp[len(resp)-2:]
	data := resp[:len(resp)-2]
	r := fmt.Sprintf("%02X%02X", sw[0], sw[1])
	if len(data) > 0 {
		if traceableINS[ins] {
			r = hex.EncodeToString(data) + " " + r
		} else if ins == 0x56 && len(cmd) >= 9 && !isIOBuffer(cmd[5:9]) {
			r = fmt.Sprintf("%d bytes ", len(data)) + r
		} else {
			r = fmt.Sprintf("<%d bytes masked> ", len(data)) + r
		}
	}
	return c, r
}

func isIOBuffer(id []byte) bool {
	return id[0] == 0xFF && id[1] == 0xFF && id[2] == 0xFF && (id[3] == 0xFF || id[3] == 0xFE)
}
