package tpssim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/tps"
)

// opError ends an operation with END_OP result=1 and a status code.
type opError struct {
	status tps.Status
	msg    string
	err    error
}

func (e *opError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s (%v): %s: %v", e.status.Name(), int(e.status), e.msg, e.err)
	}
	return fmt.Sprintf("%s (%v): %s", e.status.Name(), int(e.status), e.msg)
}

func (e *opError) Unwrap() error { return e.err }

func fail(st tps.Status, format string, args ...any) error {
	return &opError{status: st, msg: fmt.Sprintf(format, args...)}
}

func failErr(st tps.Status, err error, format string, args ...any) error {
	var oe *opError
	if errors.As(err, &oe) {
		return err // keep the innermost, most precise status
	}
	var ce *connError
	if errors.As(err, &ce) {
		return err
	}
	return &opError{status: st, msg: fmt.Sprintf(format, args...), err: err}
}

// connError is a failure of the connection itself: nothing more can be
// sent, not even END_OP.
type connError struct{ err error }

func (e *connError) Error() string { return "connection: " + e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// session is one operation on one connection. Its methods are the message
// state machine: each server request is followed by exactly the reply it
// calls for, and anything else ends the operation.
type session struct {
	srv     *Server
	conn    net.Conn
	r       *tps.MessageReader
	w       *tps.ChunkWriter
	timeout time.Duration
	log     *slog.Logger

	op            tps.Op
	ext           tps.Extensions
	statusUpdates bool
	extendedLogin bool

	// Learned during the operation, for the activity log.
	cuid string
	user string

	sent int // messages sent, for Config.Fault
}

func (s *session) send(m tps.Message) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return &connError{err}
	}
	s.sent++
	if broke, err := s.srv.cfg.Fault.intercept(s, s.sent); broke {
		return err
	}
	if err := s.w.WriteMessage(m); err != nil {
		var ee *tps.EncodeError
		if errors.As(err, &ee) {
			return failErr(tps.StatusErrSNAC, err, "encoding %v", m.Type())
		}
		return &connError{err}
	}
	s.log.Debug("sent", "msg", m)
	return nil
}

// recv reads the client's next message. A malformed message is ended with
// status st (the code the step it belongs to would fail with).
func (s *session) recv(st tps.Status) (tps.Message, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(s.timeout)); err != nil {
		return nil, &connError{err}
	}
	m, err := s.r.Read()
	if err != nil {
		var de *tps.DecodeError
		var fe *tps.FrameError
		switch {
		case errors.As(err, &de):
			return nil, failErr(st, err, "malformed message from the client")
		case errors.As(err, &fe):
			// The stream is out of step; nothing after this can be
			// trusted, but END_OP can still go out.
			return nil, failErr(st, err, "malformed message from the client")
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &connError{fmt.Errorf("client closed the connection: %w", err)}
		default:
			return nil, &connError{err}
		}
	}
	s.log.Debug("received", "msg", m)
	return m, nil
}

// exchange sends req and returns the reply, which must be of type want.
func (s *session) exchange(req tps.Message, want tps.MsgType, st tps.Status) (tps.Message, error) {
	if err := s.send(req); err != nil {
		return nil, err
	}
	m, err := s.recv(st)
	if err != nil {
		return nil, err
	}
	if m.Type() != want {
		return nil, fail(st, "client answered %v with %v, want %v", req.Type(), m.Type(), want)
	}
	return m, nil
}

// transmit relays one APDU to the card through the client.
func (s *session) transmit(apdu []byte) (cardedge.Response, error) {
	m, err := s.exchange(tps.TokenPDURequest{APDU: apdu}, tps.MsgTokenPDUResponse, tps.StatusErrCannotPerformOperation)
	if err != nil {
		return cardedge.Response{}, err
	}
	resp, err := cardedge.ParseResponse(m.(tps.TokenPDUResponse).Response)
	if err != nil {
		return cardedge.Response{}, failErr(tps.StatusErrCannotPerformOperation, err, "card response")
	}
	return resp, nil
}

// progress sends a STATUS_UPDATE when the client asked for them; the Java
// TPS waits for the echo and ignores its content.
func (s *session) progress(percent int, task string) error {
	if !s.statusUpdates {
		return nil
	}
	_, err := s.exchange(tps.StatusUpdateRequest{Percent: percent, Task: task}, tps.MsgStatusUpdateResponse, tps.StatusErrSNAC)
	return err
}

// authenticate asks for credentials (EXTENDED_LOGIN when the client said
// it understands it, LOGIN otherwise) and checks them. Like Dogtag, one
// attempt.
func (s *session) authenticate() (string, error) {
	var uid, password string
	if s.extendedLogin {
		m, err := s.exchange(tps.ExtendedLoginRequest{
			Title:       "LDAP Authentication",
			Description: "This authenticates user against the LDAP directory.",
			Params: []tps.AuthParam{
				{ID: "UID", Name: "LDAP User ID", Description: "LDAP User ID", Type: "string"},
				{ID: "PASSWORD", Name: "LDAP Password", Description: "LDAP Password", Type: "password"},
			},
		}, tps.MsgExtendedLoginResponse, tps.StatusErrLogin)
		if err != nil {
			return "", err
		}
		r := m.(tps.ExtendedLoginResponse)
		uid, _ = r.Get("UID")
		password, _ = r.Get("PASSWORD")
	} else {
		m, err := s.exchange(tps.LoginRequest{}, tps.MsgLoginResponse, tps.StatusErrLogin)
		if err != nil {
			return "", err
		}
		r := m.(tps.LoginResponse)
		uid, password = r.ScreenName, r.Password
	}
	if !s.srv.users.Authenticate(uid, password) {
		s.user = uid
		return "", fail(tps.StatusErrLogin, "authentication failed for user %q", uid)
	}
	s.user = uid
	return uid, nil
}

// newPIN asks the client for the card's new PIN and checks its length, as
// TPSProcessor.requestNewPin does (failing with the default status).
func (s *session) newPIN(minLen, maxLen int) ([]byte, error) {
	m, err := s.exchange(tps.NewPINRequest{MinLen: minLen, MaxLen: maxLen}, tps.MsgNewPINResponse, tps.StatusErrSNAC)
	if err != nil {
		return nil, err
	}
	pin := m.(tps.NewPINResponse).PIN
	if len(pin) < minLen || len(pin) > maxLen {
		return nil, fail(tps.StatusErrSNAC, "new PIN length %d outside %d..%d", len(pin), minLen, maxLen)
	}
	return []byte(pin), nil
}
