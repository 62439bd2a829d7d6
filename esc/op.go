package esc

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/tps"
)

// ErrCancelled is what a Prompter returns when the user declines to
// answer.
var ErrCancelled = errors.New("cancelled by the user")

// LoginPrompt is a request for credentials: EXTENDED_LOGIN_REQUEST as
// sent, or LOGIN_REQUEST presented the same way (UID and PASSWORD).
type LoginPrompt struct {
	Title, Description       string
	Params                   []tps.AuthParam
	InvalidPassword, Blocked bool
}

// Prompter supplies what the TPS asks of the user. Implementations must
// never log or echo a secret.
type Prompter interface {
	// Login returns a value for each requested parameter ID.
	Login(ctx context.Context, p LoginPrompt) (map[string]string, error)
	// NewPIN returns the card's new PIN, between min and max bytes (max 0:
	// no upper bound given).
	NewPIN(ctx context.Context, min, max int) (string, error)
}

// OpRequest is one operation against a TPS.
type OpRequest struct {
	Op     tps.Op
	Reader string
	TPSURL string
	// CUID is the card's CUID when the caller has just read the card
	// (Client.Card); Run then does not identify it again. It is used only
	// for the log and the BUSY marker.
	CUID string
	// TokenType is BEGIN_OP's tokenType (default userKey).
	TokenType string
	Prompter  Prompter
	// Progress receives STATUS_UPDATE percentages and task names (after
	// the echo has gone out). May be nil.
	Progress func(percent int, task string)
	// MessageTimeout bounds the wait for each TPS message; there is no
	// overall timeout (key generation on a card can take minutes).
	MessageTimeout time.Duration
}

// DefaultTokenType is the ESC's default profile.
const DefaultTokenType = "userKey"

// plainLoginParams presents LOGIN_REQUEST like an extended login.
var plainLoginParams = []tps.AuthParam{
	{ID: "UID", Name: "User ID", Type: "string"},
	{ID: "PASSWORD", Name: "Password", Type: "password"},
}

// maxRelayedResponse bounds what GET RESPONSE chaining may collect.
const maxRelayedResponse = 64 << 10

// Run performs the operation: it takes the card (a PC/SC transaction for
// the whole operation, so no other program interleaves APDUs with the
// TPS's secure channel), opens the full-duplex exchange with the TPS and
// relays until END_OP. After a format or enroll the card is reset so that
// PKCS#11 users see its new state.
func (c *Client) Run(ctx context.Context, req OpRequest) (err error) {
	if req.Prompter == nil {
		return newErr(KindInternal, 0, nil, "no prompter")
	}
	if req.TokenType == "" {
		req.TokenType = DefaultTokenType
	}
	if req.MessageTimeout <= 0 {
		req.MessageTimeout = c.Config.MessageTimeout()
	}
	u, err := parseHTTPURL(req.TPSURL)
	if err != nil {
		return newErr(KindUser, 0, err, "TPS URL")
	}

	t, err := c.Source.Connect(req.Reader)
	if err != nil {
		return newErr(KindCard, tps.StatusErrCannotPerformOperation, err, "connecting to the card in %q", req.Reader)
	}
	defer t.Close()
	cuid := req.CUID
	if cuid == "" {
		// Before taking the card: identification brackets its own
		// transaction.
		cuid = cardCUID(t)
	}
	if err := beginTransaction(t); err != nil {
		return newErr(KindCard, tps.StatusErrCannotPerformOperation, err, "taking the card")
	}
	inTx := true
	defer func() {
		if inTx {
			t.EndTransaction()
		}
	}()
	unlock, err := lockReader(c.Paths.RuntimeDir, req.Reader, busyInfo{CUID: cuid, Op: req.Op.String(), PID: os.Getpid()})
	if err != nil {
		if errors.Is(err, errBusy) {
			return newErr(KindUser, 0, err, "reader %q", req.Reader)
		}
		return newErr(KindInternal, 0, err, "marking the reader busy")
	}
	defer unlock()

	c.Log.Event("op-start", "op", req.Op, "reader", req.Reader, "cuid", cuid, "tps", u.Host)
	defer func() {
		if err == nil {
			c.Log.Event("op-success", "op", req.Op, "cuid", cuid)
			return
		}
		var e *Error
		errors.As(err, &e)
		if e == nil {
			e = &Error{Kind: KindInternal}
		}
		c.Log.Event("op-failure", "op", req.Op, "cuid", cuid, "kind", e.Kind, "code", int(e.Status), "error", err)
	}()

	conn, err := dialTPS(ctx, u, c.Trust)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	bw := bufio.NewWriter(conn)
	x := &exchange{
		c: c, req: req, conn: conn, card: t, ctx: ctx,
		cw: tps.NewChunkWriter(bw), // shares bw: the header goes out with BEGIN_OP
	}
	ext := tps.Extensions{
		{Name: tps.ExtTokenType, Value: req.TokenType},
		{Name: tps.ExtClientVersion, Value: c.clientVersion()},
		{Name: tps.ExtStatusUpdate, Value: "true"},
		{Name: tps.ExtExtendedLoginRequest, Value: "true"},
	}
	if atr := t.ATR(); len(atr) > 0 {
		ext = append(ext, tps.Param{Name: tps.ExtTokenATR, Value: strings.ToUpper(hex.EncodeToString(atr))})
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	if err := x.arm(conn.SetWriteDeadline); err != nil {
		return err
	}
	if err := tps.WriteRequestHeader(bw, u.Host, path, c.userAgent()); err != nil {
		return newErr(KindUser, 0, err, "TPS URL")
	}
	if err := x.send(tps.BeginOp{Op: req.Op, Extensions: ext}); err != nil {
		return err
	}
	end, err := x.relay()
	if err != nil {
		return err
	}
	// Done with the card's secure channel; a reset makes every PKCS#11
	// user re-read the token (the ESC does the same).
	t.EndTransaction()
	inTx = false
	if req.Op == tps.OpEnroll || req.Op == tps.OpFormat {
		if rerr := t.Reset(); rerr != nil {
			c.Log.Event("card-reset-failed", "error", rerr)
		}
	}
	if end.Result != tps.ResultOK {
		c.Log.Event("tps-error", "op", req.Op, "cuid", cuid, "code", int(end.Status), "status", end.Status.Name())
		return &Error{Kind: KindRefused, Status: end.Status, Msg: fmt.Sprintf("the TPS refused the %s: %s (code %d, %s)", req.Op, end.Status.Text(), int(end.Status), end.Status.Name())}
	}
	return nil
}

func (c *Client) userAgent() string {
	if c.Version == "" {
		return "coolkey-go"
	}
	return "coolkey-go/" + c.Version
}

func (c *Client) clientVersion() string {
	if c.Version == "" {
		return "coolkey-go"
	}
	return "coolkey-go " + c.Version
}

// beginTransaction takes the card, once more if another program reset it
// in between (the transport has reconnected by then).
func beginTransaction(t cardedge.Transport) error {
	err := t.BeginTransaction()
	if errors.Is(err, cardedge.ErrCardReset) {
		err = t.BeginTransaction()
	}
	return err
}

// cardCUID reads the CUID for the log and the BUSY marker; failure is not
// an error (the TPS reads it again anyway).
func cardCUID(t cardedge.Transport) string {
	id, err := cardedge.NewCard(t).Identify(cardedge.IdentifyOptions{})
	if err != nil || id.CUID.IsZero() {
		return ""
	}
	return hex.EncodeToString(id.CUID[:])
}

// dialTPS connects to the TPS (TLS for https) and classifies failures.
func dialTPS(ctx context.Context, u *url.URL, trust Trust) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, newErr(KindCancelled, 0, ctx.Err(), "connecting to the TPS")
		}
		return nil, newErr(KindConnection, tps.StatusErrConnLost, err, "cannot connect to the TPS at %s", host)
	}
	if u.Scheme != "https" {
		return raw, nil
	}
	cfg, err := trust.TLSConfig()
	if err != nil {
		raw.Close()
		return nil, err
	}
	cfg.ServerName = u.Hostname()
	tc := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		if isTrustError(err) {
			return nil, newErr(KindTrust, 0, err, "the TPS certificate is not trusted (if this is your organisation's TPS, import its CA with 'coolkey trust add CA.pem' or pass --ca)")
		}
		if ctx.Err() != nil {
			return nil, newErr(KindCancelled, 0, ctx.Err(), "connecting to the TPS")
		}
		return nil, newErr(KindConnection, tps.StatusErrConnLost, err, "TLS handshake with the TPS at %s", host)
	}
	return tc, nil
}

// exchange is one operation's message loop.
type exchange struct {
	c    *Client
	req  OpRequest
	ctx  context.Context
	conn net.Conn
	card cardedge.Transport
	cw   *tps.ChunkWriter
	r    *tps.MessageReader
}

// arm sets the deadline for the next message with set (the connection's
// SetReadDeadline or SetWriteDeadline) and then checks for cancellation.
// Cancelling moves the deadline into the past, which a deadline set
// afterwards would undo: without the check, a cancel that came while a
// callback ran (the user still in a dialog) would be lost.
func (x *exchange) arm(set func(time.Time) error) error {
	set(time.Now().Add(x.req.MessageTimeout))
	if err := x.ctx.Err(); err != nil {
		return newErr(KindCancelled, tps.StatusErrCannotPerformOperation, err, "operation cancelled")
	}
	return nil
}

func (x *exchange) send(m tps.Message) error {
	if err := x.arm(x.conn.SetWriteDeadline); err != nil {
		return err
	}
	if err := x.cw.WriteMessage(m); err != nil {
		var ee *tps.EncodeError
		if errors.As(err, &ee) {
			return newErr(KindUser, 0, err, "")
		}
		return x.connErr(err, "sending to the TPS")
	}
	return nil
}

func (x *exchange) connErr(err error, what string) error {
	if x.ctx.Err() != nil {
		return newErr(KindCancelled, tps.StatusErrCannotPerformOperation, x.ctx.Err(), "%s", what)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		x.c.Log.Event("tps-timeout", "after", x.req.MessageTimeout)
		return newErr(KindConnection, tps.StatusErrConnLost, nil, "%s: the TPS sent nothing for %v", what, x.req.MessageTimeout)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		x.c.Log.Event("connection-lost")
		return newErr(KindConnection, tps.StatusErrConnLost, nil, "%s: the TPS closed the connection before the operation finished", what)
	}
	x.c.Log.Event("connection-lost", "error", err)
	return newErr(KindConnection, tps.StatusErrConnLost, err, "%s", what)
}

// relay reads the HTTP answer and then serves TPS requests until END_OP.
func (x *exchange) relay() (tps.EndOp, error) {
	if err := x.arm(x.conn.SetReadDeadline); err != nil {
		return tps.EndOp{}, err
	}
	br := bufio.NewReader(x.conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	if err != nil {
		return tps.EndOp{}, x.connErr(err, "reading the TPS's answer")
	}
	// resp.Body is not closed: closing drains it to the end, which a
	// server in mid-operation never sends. Closing the connection (Run
	// does) releases everything.
	if resp.StatusCode != http.StatusOK {
		x.c.Log.Event("tps-http-error", "status", resp.StatusCode)
		return tps.EndOp{}, newErr(KindConnection, 0, nil, "the TPS answered HTTP %d (%s); is %s the TPS's operation URL?", resp.StatusCode, http.StatusText(resp.StatusCode), x.req.TPSURL)
	}
	x.r = tps.NewMessageReader(resp.Body, tps.DefaultMaxMessageSize)
	for {
		if err := x.arm(x.conn.SetReadDeadline); err != nil {
			return tps.EndOp{}, err
		}
		m, err := x.r.Read()
		if err != nil {
			var de *tps.DecodeError
			var fe *tps.FrameError
			if errors.As(err, &de) || errors.As(err, &fe) {
				return tps.EndOp{}, newErr(KindConnection, tps.StatusErrConnLost, err, "bad message from the TPS")
			}
			return tps.EndOp{}, x.connErr(err, "waiting for the TPS")
		}
		switch m := m.(type) {
		case tps.TokenPDURequest:
			resp, err := relayAPDU(x.card, m.APDU)
			if err != nil {
				x.c.Log.Event("card-failure", "error", err)
				return tps.EndOp{}, newErr(KindCard, tps.StatusErrCannotPerformOperation, err, "card exchange failed")
			}
			if err := x.send(tps.TokenPDUResponse{Response: resp}); err != nil {
				return tps.EndOp{}, err
			}
		case tps.StatusUpdateRequest:
			// Echo first: the TPS waits for it.
			if err := x.send(tps.StatusUpdateResponse{Percent: m.Percent}); err != nil {
				return tps.EndOp{}, err
			}
			if x.req.Progress != nil {
				x.req.Progress(min(max(m.Percent, 0), 100), printable(m.Task))
			}
		case tps.LoginRequest:
			vals, err := x.prompt(LoginPrompt{Title: "Login", Params: plainLoginParams, InvalidPassword: m.InvalidPassword, Blocked: m.Blocked})
			if err != nil {
				return tps.EndOp{}, err
			}
			if err := x.send(tps.LoginResponse{ScreenName: vals["UID"], Password: vals["PASSWORD"]}); err != nil {
				return tps.EndOp{}, err
			}
		case tps.ExtendedLoginRequest:
			p := LoginPrompt{Title: printable(m.Title), Description: printable(m.Description), Params: m.Params, InvalidPassword: m.InvalidPassword, Blocked: m.Blocked}
			vals, err := x.prompt(p)
			if err != nil {
				return tps.EndOp{}, err
			}
			var out []tps.Param
			for _, ap := range m.Params {
				if v, ok := vals[ap.ID]; ok {
					out = append(out, tps.Param{Name: ap.ID, Value: v})
				}
			}
			if err := x.send(tps.ExtendedLoginResponse{Params: out}); err != nil {
				return tps.EndOp{}, err
			}
		case tps.NewPINRequest:
			pin, err := x.newPIN(m.MinLen, m.MaxLen)
			if err != nil {
				return tps.EndOp{}, err
			}
			if err := x.send(tps.NewPINResponse{PIN: pin}); err != nil {
				return tps.EndOp{}, err
			}
		case tps.EndOp:
			return m, nil
		case tps.SecureIDRequest, tps.ASQRequest:
			return tps.EndOp{}, newErr(KindUser, tps.StatusErrCannotPerformOperation, nil, "the TPS asked for %v, which this client does not support", m.Type())
		default:
			return tps.EndOp{}, newErr(KindConnection, tps.StatusErrConnLost, nil, "the TPS sent %v, a client's message", m.Type())
		}
	}
}

func (x *exchange) prompt(p LoginPrompt) (map[string]string, error) {
	vals, err := x.req.Prompter.Login(x.ctx, p)
	if err != nil {
		return nil, promptErr(err, "credentials")
	}
	return vals, nil
}

func (x *exchange) newPIN(minLen, maxLen int) (string, error) {
	pin, err := x.req.Prompter.NewPIN(x.ctx, minLen, maxLen)
	if err != nil {
		return "", promptErr(err, "new PIN")
	}
	if err := CheckNewPIN(pin, minLen, maxLen); err != nil {
		return "", newErr(KindUser, 0, err, "")
	}
	return pin, nil
}

// CheckNewPIN applies the TPS's length limits and what the protocol can
// carry; the error never contains the PIN.
func CheckNewPIN(pin string, minLen, maxLen int) error {
	if len(pin) < minLen || (maxLen > 0 && len(pin) > maxLen) {
		if maxLen > 0 {
			return fmt.Errorf("the new PIN must be %d to %d characters long", minLen, maxLen)
		}
		return fmt.Errorf("the new PIN must be at least %d characters long", minLen)
	}
	return tps.ValidateRawPIN(pin)
}

func promptErr(err error, what string) error {
	if errors.Is(err, ErrCancelled) || errors.Is(err, context.Canceled) {
		return newErr(KindCancelled, tps.StatusErrCannotPerformOperation, err, "%s", what)
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return newErr(KindUser, 0, err, "%s", what)
}

// relayAPDU sends one APDU unchanged and answers 61xx with GET RESPONSE,
// as the ESC does. 6Cxx goes back to the TPS, which re-sends itself.
func relayAPDU(t cardedge.Transport, apdu []byte) ([]byte, error) {
	resp, err := t.Transmit(apdu)
	if err != nil {
		return nil, err
	}
	var data []byte
	for {
		n := len(resp)
		if n < 2 {
			return nil, fmt.Errorf("card answered %d bytes, no status word", n)
		}
		if resp[n-2] != 0x61 {
			return append(data, resp...), nil
		}
		data = append(data, resp[:n-2]...)
		if len(data) > maxRelayedResponse {
			return nil, errors.New("card response too long")
		}
		if resp, err = t.Transmit([]byte{0x00, 0xC0, 0x00, 0x00, resp[n-1]}); err != nil {
			return nil, err
		}
	}
}
