package tps

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Message is one protocol message. The concrete types are the structs in
// this file; their String methods never show a password or PIN, so a
// message can be logged as it is.
type Message interface {
	Type() MsgType
	// fields returns the wire fields after msg_type, values already
	// encoded, in the order they are sent.
	fields() ([]field, error)
}

type field struct{ name, value string }

// Param is a name and a decoded value: a BEGIN_OP extension, or a credential
// in EXTENDED_LOGIN_RESPONSE.
type Param struct{ Name, Value string }

// Extensions are the BEGIN_OP extensions, in the order sent.
type Extensions []Param

// Get returns the value of the named extension.
func (e Extensions) Get(name string) (string, bool) {
	for _, p := range e {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// BeginOp (2, client→server) opens an operation.
type BeginOp struct {
	Op         Op
	Extensions Extensions
}

// LoginRequest (3, server→client) asks for a screen name and password.
type LoginRequest struct{ InvalidPassword, Blocked bool }

// LoginResponse (4, client→server).
type LoginResponse struct{ ScreenName, Password string }

// SecureIDRequest (5, server→client); the Java TPS never sends it.
type SecureIDRequest struct{ PINRequired, NextValue bool }

// SecureIDResponse (6, client→server). Both values travel raw.
type SecureIDResponse struct{ Value, PIN string }

// ASQRequest (7, server→client): a challenge question; unused by Dogtag.
type ASQRequest struct{ Question string }

// ASQResponse (8, client→server), as tpsclient sends it.
type ASQResponse struct{ Answer string }

// TokenPDURequest (9, server→client): a command APDU for the card.
type TokenPDURequest struct{ APDU []byte }

// TokenPDUResponse (10, client→server): the card's response, data ‖ SW1 SW2.
type TokenPDUResponse struct{ Response []byte }

// NewPINRequest (11, server→client) asks for the card's new PIN.
type NewPINRequest struct{ MinLen, MaxLen int }

// NewPINResponse (12, client→server). The PIN travels unencoded (the TPS
// takes the raw string), so it may not contain '&', '=' or line breaks;
// see ValidateRawPIN.
type NewPINResponse struct{ PIN string }

// EndOp (13, server→client) ends the operation.
type EndOp struct {
	Op     Op
	Result int // ResultOK or ResultError
	Status Status
}

// StatusUpdateRequest (14, server→client): progress. The server waits for
// the echo before it goes on.
type StatusUpdateRequest struct {
	Percent int
	Task    string // e.g. TaskKeyGeneration
}

// StatusUpdateResponse (15, client→server) echoes Percent.
type StatusUpdateResponse struct{ Percent int }

// AuthParam is one credential an EXTENDED_LOGIN_REQUEST asks for.
type AuthParam struct {
	ID          string // the name to answer under, e.g. "UID", "PASSWORD"
	Name        string // label, e.g. "LDAP User ID"
	Description string
	Type        string // "string" or "password"
	Option      string
}

// Secret reports whether the answer must not be echoed or logged.
func (p AuthParam) Secret() bool { return strings.EqualFold(p.Type, "password") }

// ExtendedLoginRequest (16, server→client) describes the credentials wanted.
type ExtendedLoginRequest struct {
	InvalidPassword, Blocked bool
	Title, Description       string
	Params                   []AuthParam
}

// ExtendedLoginResponse (17, client→server): one value per requested
// parameter ID, e.g. UID and PASSWORD.
type ExtendedLoginResponse struct{ Params []Param }

// Get returns the value answered for id.
func (m ExtendedLoginResponse) Get(id string) (string, bool) {
	for _, p := range m.Params {
		if p.Name == id {
			return p.Value, true
		}
	}
	return "", false
}

func (BeginOp) Type() MsgType               { return MsgBeginOp }
func (LoginRequest) Type() MsgType          { return MsgLoginRequest }
func (LoginResponse) Type() MsgType         { return MsgLoginResponse }
func (SecureIDRequest) Type() MsgType       { return MsgSecureIDRequest }
func (SecureIDResponse) Type() MsgType      { return MsgSecureIDResponse }
func (ASQRequest) Type() MsgType            { return MsgASQRequest }
func (ASQResponse) Type() MsgType           { return MsgASQResponse }
func (TokenPDURequest) Type() MsgType       { return MsgTokenPDURequest }
func (TokenPDUResponse) Type() MsgType      { return MsgTokenPDUResponse }
func (NewPINRequest) Type() MsgType         { return MsgNewPINRequest }
func (NewPINResponse) Type() MsgType        { return MsgNewPINResponse }
func (EndOp) Type() MsgType                 { return MsgEndOp }
func (StatusUpdateRequest) Type() MsgType   { return MsgStatusUpdateRequest }
func (StatusUpdateResponse) Type() MsgType  { return MsgStatusUpdateResponse }
func (ExtendedLoginRequest) Type() MsgType  { return MsgExtendedLoginRequest }
func (ExtendedLoginResponse) Type() MsgType { return MsgExtendedLoginResponse }

// EncodeError reports a value that cannot be sent as it is. It names the
// field, never the value.
type EncodeError struct {
	Field  string
	Reason string
}

func (e *EncodeError) Error() string { return "tps: cannot encode " + e.Field + ": " + e.Reason }

// DecodeError reports a malformed message. It names the field, never the
// value (which could be a password).
type DecodeError struct {
	Field  string // "" when the message as a whole is at fault
	Reason string
	Err    error // a sentinel such as ErrUnknownType, or nil
}

func (e *DecodeError) Unwrap() error { return e.Err }

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "tps: malformed message: " + e.Reason
	}
	return "tps: malformed message: field " + e.Field + ": " + e.Reason
}

// ErrUnknownType is wrapped by the DecodeError for a msg_type outside 2–17.
var ErrUnknownType = errors.New("unknown message type")

// Encode returns the wire form "s=<N>&msg_type=<T>&…".
func Encode(m Message) ([]byte, error) {
	fs, err := m.fields()
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	body.WriteString("msg_type=")
	body.WriteString(strconv.Itoa(int(m.Type())))
	for _, f := range fs {
		body.WriteByte('&')
		body.WriteString(f.name)
		body.WriteByte('=')
		body.WriteString(f.value)
	}
	out := make([]byte, 0, body.Len()+8)
	out = append(out, "s="...)
	out = strconv.AppendInt(out, int64(body.Len()), 10)
	out = append(out, '&')
	return append(out, body.Bytes()...), nil
}

// Decode parses a whole message, "s=<N>&" included; N must match.
func Decode(b []byte) (Message, error) {
	if !bytes.HasPrefix(b, []byte("s=")) {
		return nil, &DecodeError{Reason: `does not start with "s="`}
	}
	amp := bytes.IndexByte(b, '&')
	if amp < 0 {
		return nil, &DecodeError{Field: "s", Reason: "no '&' after the length"}
	}
	n, err := parseCount(string(b[2:amp]))
	if err != nil {
		return nil, &DecodeError{Field: "s", Reason: err.Error()}
	}
	body := b[amp+1:]
	if n != len(body) {
		return nil, &DecodeError{Field: "s", Reason: fmt.Sprintf("length %d but %d bytes follow", n, len(body))}
	}
	return DecodeBody(body)
}

// DecodeBody parses the part of a message after "s=<N>&".
//
// Like the Java TPS it splits on '&' and then '=', and skips pairs with no
// value; unlike it, it rejects a repeated field rather than letting the last
// one win.
func DecodeBody(body []byte) (Message, error) {
	fs, err := splitFields(string(body))
	if err != nil {
		return nil, err
	}
	ts, ok := fs.take("msg_type")
	if !ok {
		return nil, &DecodeError{Field: "msg_type", Reason: "missing"}
	}
	t, err := parseCount(ts)
	if err != nil {
		return nil, &DecodeError{Field: "msg_type", Reason: err.Error()}
	}
	dec, ok := decoders[MsgType(t)]
	if !ok {
		return nil, &DecodeError{Field: "msg_type", Reason: fmt.Sprintf("unknown message type %d", t), Err: ErrUnknownType}
	}
	return dec(fs)
}

// fieldSet is a decoded body: raw (still encoded) values by name, plus the
// order the names came in.
type fieldSet struct {
	vals  map[string]string
	order []string
}

func splitFields(body string) (*fieldSet, error) {
	fs := &fieldSet{vals: map[string]string{}}
	for _, seg := range strings.Split(body, "&") {
		name, value, ok := strings.Cut(seg, "=")
		if !ok || name == "" || value == "" {
			continue
		}
		if _, dup := fs.vals[name]; dup {
			return nil, &DecodeError{Field: printableName(name), Reason: "repeated"}
		}
		fs.vals[name] = value
		fs.order = append(fs.order, name)
	}
	return fs, nil
}

// printableName keeps a hostile field name from smuggling control
// characters into an error message.
func printableName(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

func (fs *fieldSet) take(name string) (string, bool) {
	v, ok := fs.vals[name]
	delete(fs.vals, name)
	return v, ok
}

func (fs *fieldSet) int(name string, required bool) (int, error) {
	v, ok := fs.take(name)
	if !ok {
		if required {
			return 0, &DecodeError{Field: name, Reason: "missing"}
		}
		return 0, nil
	}
	n, err := parseCount(v)
	if err != nil {
		return 0, &DecodeError{Field: name, Reason: err.Error()}
	}
	return n, nil
}

func (fs *fieldSet) flag(name string) (bool, error) {
	n, err := fs.int(name, false)
	return n != 0, err
}

func (fs *fieldSet) form(name string) (string, error) {
	v, ok := fs.take(name)
	if !ok {
		return "", nil
	}
	s, err := formDecode(v)
	if err != nil {
		return "", &DecodeError{Field: name, Reason: err.Error()}
	}
	return s, nil
}

func (fs *fieldSet) raw(name string) string {
	v, _ := fs.take(name)
	return v
}

// pdu decodes pdu_data and checks it against pdu_size, as the Java TPS does.
func (fs *fieldSet) pdu(min int) ([]byte, error) {
	size, err := fs.int("pdu_size", true)
	if err != nil {
		return nil, err
	}
	v, ok := fs.take("pdu_data")
	if !ok {
		return nil, &DecodeError{Field: "pdu_data", Reason: "missing"}
	}
	data, err := percentDecode(v)
	if err != nil {
		return nil, &DecodeError{Field: "pdu_data", Reason: err.Error()}
	}
	if len(data) != size {
		return nil, &DecodeError{Field: "pdu_size", Reason: fmt.Sprintf("says %d but pdu_data has %d bytes", size, len(data))}
	}
	if len(data) < min {
		return nil, &DecodeError{Field: "pdu_data", Reason: fmt.Sprintf("%d bytes, need at least %d", len(data), min)}
	}
	return data, nil
}

// maxCount bounds every decimal field: no legitimate value comes near it,
// and it keeps int arithmetic on decoded values far from overflow.
const maxCount = 99_999_999

var errBadNumber = errors.New("not a decimal number")

func parseCount(s string) (int, error) {
	if s == "" || len(s) > 8 {
		return 0, errBadNumber
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errBadNumber
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func checkCount(name string, n int) error {
	if n < 0 || n > maxCount {
		return &EncodeError{Field: name, Reason: "out of range"}
	}
	return nil
}

// wireUnsafe is what the Java decoder splits on, plus line breaks (the ESC
// ends a message at LF) and NUL.
const wireUnsafe = "&=\r\n\x00"

// ValidateRawPIN reports whether pin can travel in NEW_PIN_RESPONSE, which
// is sent unencoded: it must be non-empty and free of '&', '=', CR, LF and
// NUL. The error does not contain the PIN.
func ValidateRawPIN(pin string) error {
	if pin == "" {
		return &EncodeError{Field: "new_pin", Reason: "empty"}
	}
	if strings.ContainsAny(pin, wireUnsafe) {
		return &EncodeError{Field: "new_pin", Reason: "contains '&', '=', a line break or NUL, which the TPS protocol cannot carry"}
	}
	return nil
}

// --- encoders ---

func (m BeginOp) fields() ([]field, error) {
	if err := checkCount("operation", int(m.Op)); err != nil {
		return nil, err
	}
	fs := []field{{"operation", itoa(int(m.Op))}}
	if len(m.Extensions) > 0 {
		var parts []string
		for _, e := range m.Extensions {
			// The TPS splits the decoded string on '&' and '=' and throws
			// on an empty value, so none of these may get through.
			if e.Name == "" || strings.ContainsAny(e.Name, wireUnsafe) {
				return nil, &EncodeError{Field: "extensions", Reason: "bad extension name"}
			}
			if e.Value == "" || strings.ContainsAny(e.Value, wireUnsafe) {
				return nil, &EncodeError{Field: "extensions", Reason: "extension " + e.Name + " has an empty or unencodable value"}
			}
			parts = append(parts, e.Name+"="+e.Value)
		}
		fs = append(fs, field{"extensions", formEncode(strings.Join(parts, "&"))})
	}
	return fs, nil
}

func (m LoginRequest) fields() ([]field, error) {
	return []field{{"invalid_pw", boolField(m.InvalidPassword)}, {"blocked", boolField(m.Blocked)}}, nil
}

func (m LoginResponse) fields() ([]field, error) {
	return []field{{"screen_name", formEncode(m.ScreenName)}, {"password", formEncode(m.Password)}}, nil
}

func (m SecureIDRequest) fields() ([]field, error) {
	return []field{{"pin_required", boolField(m.PINRequired)}, {"next_value", boolField(m.NextValue)}}, nil
}

func (m SecureIDResponse) fields() ([]field, error) {
	for _, f := range []field{{"value", m.Value}, {"pin", m.PIN}} {
		if strings.ContainsAny(f.value, wireUnsafe) {
			return nil, &EncodeError{Field: f.name, Reason: "contains a character the protocol cannot carry"}
		}
	}
	return []field{{"value", m.Value}, {"pin", m.PIN}}, nil
}

func (m ASQRequest) fields() ([]field, error) {
	return []field{{"question", formEncode(m.Question)}}, nil
}

func (m ASQResponse) fields() ([]field, error) {
	return []field{{"answer", formEncode(m.Answer)}}, nil
}

func (m TokenPDURequest) fields() ([]field, error) {
	if len(m.APDU) < 4 {
		return nil, &EncodeError{Field: "pdu_data", Reason: "a command APDU has at least 4 bytes"}
	}
	return []field{{"pdu_size", itoa(len(m.APDU))}, {"pdu_data", hexEncodeAll(m.APDU)}}, nil
}

func (m TokenPDUResponse) fields() ([]field, error) {
	if len(m.Response) < 2 {
		return nil, &EncodeError{Field: "pdu_data", Reason: "a response APDU has at least the status word"}
	}
	return []field{{"pdu_size", itoa(len(m.Response))}, {"pdu_data", hexEncodeAll(m.Response)}}, nil
}

func (m NewPINRequest) fields() ([]field, error) {
	if err := checkCount("minimum_length", m.MinLen); err != nil {
		return nil, err
	}
	if err := checkCount("maximum_length", m.MaxLen); err != nil {
		return nil, err
	}
	return []field{{"minimum_length", itoa(m.MinLen)}, {"maximum_length", itoa(m.MaxLen)}}, nil
}

func (m NewPINResponse) fields() ([]field, error) {
	if err := ValidateRawPIN(m.PIN); err != nil {
		return nil, err
	}
	return []field{{"new_pin", m.PIN}}, nil
}

func (m EndOp) fields() ([]field, error) {
	for _, f := range []struct {
		n string
		v int
	}{{"operation", int(m.Op)}, {"result", m.Result}, {"message", int(m.Status)}} {
		if err := checkCount(f.n, f.v); err != nil {
			return nil, err
		}
	}
	return []field{{"operation", itoa(int(m.Op))}, {"result", itoa(m.Result)}, {"message", itoa(int(m.Status))}}, nil
}

func (m StatusUpdateRequest) fields() ([]field, error) {
	if err := checkCount("current_state", m.Percent); err != nil {
		return nil, err
	}
	if m.Task == "" || !isToken(m.Task) {
		return nil, &EncodeError{Field: "next_task_name", Reason: "must be letters, digits and '_'"}
	}
	return []field{{"current_state", itoa(m.Percent)}, {"next_task_name", m.Task}}, nil
}

func (m StatusUpdateResponse) fields() ([]field, error) {
	if err := checkCount("current_state", m.Percent); err != nil {
		return nil, err
	}
	return []field{{"current_state", itoa(m.Percent)}}, nil
}

func (m ExtendedLoginRequest) fields() ([]field, error) {
	fs := []field{
		{"invalid_pw", boolField(m.InvalidPassword)},
		{"blocked", boolField(m.Blocked)},
		{"title", formEncode(m.Title)},
		{"description", formEncode(m.Description)},
	}
	for i, p := range m.Params {
		for _, v := range []string{p.ID, p.Name, p.Description, p.Type, p.Option} {
			// Each parameter is itself an &-joined list, form-encoded as
			// a whole, so its parts cannot hold '&' or '='.
			if strings.ContainsAny(v, wireUnsafe) {
				return nil, &EncodeError{Field: "required_parameter" + itoa(i), Reason: "contains '&', '=' or a line break"}
			}
		}
		if p.ID == "" {
			return nil, &EncodeError{Field: "required_parameter" + itoa(i), Reason: "empty id"}
		}
		s := "id=" + p.ID + "&name=" + p.Name + "&desc=" + p.Description + "&type=" + p.Type + "&option=" + p.Option
		fs = append(fs, field{"required_parameter" + itoa(i), formEncode(s)})
	}
	return fs, nil
}

func (m ExtendedLoginResponse) fields() ([]field, error) {
	var fs []field
	seen := map[string]bool{}
	for _, p := range m.Params {
		if p.Name == "" || p.Name == "msg_type" || p.Name == "s" || seen[p.Name] {
			return nil, &EncodeError{Field: "extended login response", Reason: "empty, reserved or repeated parameter name"}
		}
		seen[p.Name] = true
		fs = append(fs, field{formEncode(p.Name), formEncode(p.Value)})
	}
	return fs, nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// --- decoders ---

var decoders = map[MsgType]func(*fieldSet) (Message, error){
	MsgBeginOp: func(fs *fieldSet) (Message, error) {
		op, err := fs.int("operation", true)
		if err != nil {
			return nil, err
		}
		m := BeginOp{Op: Op(op)}
		if v, ok := fs.take("extensions"); ok {
			s, err := formDecode(v)
			if err != nil {
				return nil, &DecodeError{Field: "extensions", Reason: err.Error()}
			}
			seen := map[string]bool{}
			for _, seg := range strings.Split(s, "&") {
				name, value, ok := strings.Cut(seg, "=")
				if !ok || name == "" || value == "" {
					continue // the ESC may leave a trailing '&'
				}
				if seen[name] {
					return nil, &DecodeError{Field: "extensions", Reason: "extension " + printableName(name) + " repeated"}
				}
				seen[name] = true
				m.Extensions = append(m.Extensions, Param{name, value})
			}
		}
		return m, nil
	},
	MsgLoginRequest: func(fs *fieldSet) (Message, error) {
		inv, err := fs.flag("invalid_pw")
		if err != nil {
			return nil, err
		}
		blk, err := fs.flag("blocked")
		if err != nil {
			return nil, err
		}
		return LoginRequest{InvalidPassword: inv, Blocked: blk}, nil
	},
	MsgLoginResponse: func(fs *fieldSet) (Message, error) {
		// Missing credentials are not a format error: the server answers
		// them with a login failure.
		sn, err := fs.form("screen_name")
		if err != nil {
			return nil, err
		}
		pw, err := fs.form("password")
		if err != nil {
			return nil, err
		}
		return LoginResponse{ScreenName: sn, Password: pw}, nil
	},
	MsgSecureIDRequest: func(fs *fieldSet) (Message, error) {
		pr, err := fs.flag("pin_required")
		if err != nil {
			return nil, err
		}
		nv, err := fs.flag("next_value")
		if err != nil {
			return nil, err
		}
		return SecureIDRequest{PINRequired: pr, NextValue: nv}, nil
	},
	MsgSecureIDResponse: func(fs *fieldSet) (Message, error) {
		return SecureIDResponse{Value: fs.raw("value"), PIN: fs.raw("pin")}, nil
	},
	MsgASQRequest: func(fs *fieldSet) (Message, error) {
		q, err := fs.form("question")
		return ASQRequest{Question: q}, err
	},
	MsgASQResponse: func(fs *fieldSet) (Message, error) {
		a, err := fs.form("answer")
		return ASQResponse{Answer: a}, err
	},
	MsgTokenPDURequest: func(fs *fieldSet) (Message, error) {
		apdu, err := fs.pdu(4)
		if err != nil {
			return nil, err
		}
		return TokenPDURequest{APDU: apdu}, nil
	},
	MsgTokenPDUResponse: func(fs *fieldSet) (Message, error) {
		resp, err := fs.pdu(2)
		if err != nil {
			return nil, err
		}
		return TokenPDUResponse{Response: resp}, nil
	},
	MsgNewPINRequest: func(fs *fieldSet) (Message, error) {
		lo, err := fs.int("minimum_length", true)
		if err != nil {
			return nil, err
		}
		hi, err := fs.int("maximum_length", true)
		if err != nil {
			return nil, err
		}
		return NewPINRequest{MinLen: lo, MaxLen: hi}, nil
	},
	MsgNewPINResponse: func(fs *fieldSet) (Message, error) {
		return NewPINResponse{PIN: fs.raw("new_pin")}, nil
	},
	MsgEndOp: func(fs *fieldSet) (Message, error) {
		op, err := fs.int("operation", true)
		if err != nil {
			return nil, err
		}
		res, err := fs.int("result", true)
		if err != nil {
			return nil, err
		}
		st, err := fs.int("message", true)
		if err != nil {
			return nil, err
		}
		return EndOp{Op: Op(op), Result: res, Status: Status(st)}, nil
	},
	MsgStatusUpdateRequest: func(fs *fieldSet) (Message, error) {
		pct, err := fs.int("current_state", true)
		if err != nil {
			return nil, err
		}
		return StatusUpdateRequest{Percent: pct, Task: fs.raw("next_task_name")}, nil
	},
	MsgStatusUpdateResponse: func(fs *fieldSet) (Message, error) {
		pct, err := fs.int("current_state", true)
		if err != nil {
			return nil, err
		}
		return StatusUpdateResponse{Percent: pct}, nil
	},
	MsgExtendedLoginRequest: func(fs *fieldSet) (Message, error) {
		var m ExtendedLoginRequest
		var err error
		if m.InvalidPassword, err = fs.flag("invalid_pw"); err != nil {
			return nil, err
		}
		if m.Blocked, err = fs.flag("blocked"); err != nil {
			return nil, err
		}
		if m.Title, err = fs.form("title"); err != nil {
			return nil, err
		}
		if m.Description, err = fs.form("description"); err != nil {
			return nil, err
		}
		type indexed struct {
			n int
			p AuthParam
		}
		var ps []indexed
		for _, name := range fs.order {
			rest, ok := strings.CutPrefix(name, "required_parameter")
			if !ok {
				continue
			}
			n, err := parseCount(rest)
			if err != nil {
				return nil, &DecodeError{Field: printableName(name), Reason: "bad parameter index"}
			}
			s, err := fs.form(name)
			if err != nil {
				return nil, err
			}
			p, err := parseAuthParam(s)
			if err != nil {
				return nil, &DecodeError{Field: name, Reason: err.Error()}
			}
			ps = append(ps, indexed{n, p})
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].n < ps[j].n })
		for _, p := range ps {
			m.Params = append(m.Params, p.p)
		}
		return m, nil
	},
	MsgExtendedLoginResponse: func(fs *fieldSet) (Message, error) {
		var m ExtendedLoginResponse
		seen := map[string]bool{}
		for _, raw := range fs.order {
			if _, still := fs.vals[raw]; !still {
				continue // msg_type, already taken
			}
			name, err := formDecode(raw)
			if err != nil {
				return nil, &DecodeError{Field: printableName(raw), Reason: "bad parameter name"}
			}
			value, err := fs.form(raw)
			if err != nil {
				return nil, err
			}
			if seen[name] {
				return nil, &DecodeError{Field: printableName(name), Reason: "repeated"}
			}
			seen[name] = true
			m.Params = append(m.Params, Param{name, value})
		}
		return m, nil
	},
}

func parseAuthParam(s string) (AuthParam, error) {
	var p AuthParam
	for _, seg := range strings.Split(s, "&") {
		k, v, _ := strings.Cut(seg, "=")
		switch k {
		case "id":
			p.ID = v
		case "name":
			p.Name = v
		case "desc":
			p.Description = v
		case "type":
			p.Type = v
		case "option":
			p.Option = v
		}
	}
	if p.ID == "" {
		return p, errors.New("parameter without an id")
	}
	return p, nil
}

// --- String methods: safe to log ---

const redacted = "<redacted>"

func (m BeginOp) String() string {
	return fmt.Sprintf("BEGIN_OP operation=%d (%v) extensions=%q", int(m.Op), m.Op, m.Extensions.String())
}

func (e Extensions) String() string {
	var parts []string
	for _, p := range e {
		parts = append(parts, p.Name+"="+p.Value)
	}
	return strings.Join(parts, "&")
}

func (m LoginRequest) String() string {
	return fmt.Sprintf("LOGIN_REQUEST invalid_pw=%t blocked=%t", m.InvalidPassword, m.Blocked)
}
func (m LoginResponse) String() string {
	return fmt.Sprintf("LOGIN_RESPONSE screen_name=%q password=%s", m.ScreenName, redacted)
}
func (m LoginResponse) GoString() string { return m.String() }
func (m SecureIDRequest) String() string {
	return fmt.Sprintf("SECUREID_REQUEST pin_required=%t next_value=%t", m.PINRequired, m.NextValue)
}
func (m SecureIDResponse) String() string {
	return "SECUREID_RESPONSE value=" + redacted + " pin=" + redacted
}
func (m SecureIDResponse) GoString() string { return m.String() }
func (m ASQRequest) String() string         { return fmt.Sprintf("ASQ_REQUEST question=%q", m.Question) }
func (m ASQResponse) String() string        { return "ASQ_RESPONSE answer=" + redacted }
func (m ASQResponse) GoString() string      { return m.String() }
func (m TokenPDURequest) String() string {
	return fmt.Sprintf("TOKEN_PDU_REQUEST %d bytes %s", len(m.APDU), apduHeader(m.APDU))
}
func (m TokenPDUResponse) String() string {
	sw := ""
	if n := len(m.Response); n >= 2 {
		sw = fmt.Sprintf(" sw=%02X%02X", m.Response[n-2], m.Response[n-1])
	}
	return fmt.Sprintf("TOKEN_PDU_RESPONSE %d bytes%s", len(m.Response), sw)
}
func (m NewPINRequest) String() string {
	return fmt.Sprintf("NEW_PIN_REQUEST min=%d max=%d", m.MinLen, m.MaxLen)
}
func (m NewPINResponse) String() string   { return "NEW_PIN_RESPONSE new_pin=" + redacted }
func (m NewPINResponse) GoString() string { return m.String() }
func (m EndOp) String() string {
	return fmt.Sprintf("END_OP operation=%d result=%d message=%v", int(m.Op), m.Result, m.Status)
}
func (m StatusUpdateRequest) String() string {
	return fmt.Sprintf("STATUS_UPDATE_REQUEST %d%% %q", m.Percent, m.Task)
}
func (m StatusUpdateResponse) String() string {
	return fmt.Sprintf("STATUS_UPDATE_RESPONSE %d%%", m.Percent)
}
func (m ExtendedLoginRequest) String() string {
	var ids []string
	for _, p := range m.Params {
		ids = append(ids, p.ID)
	}
	return fmt.Sprintf("EXTENDED_LOGIN_REQUEST title=%q params=%v", m.Title, ids)
}

// String shows which credentials were answered, and no value but the
// user ID.
func (m ExtendedLoginResponse) String() string {
	var parts []string
	for _, p := range m.Params {
		if p.Name == "UID" {
			parts = append(parts, fmt.Sprintf("UID=%q", p.Value))
		} else {
			parts = append(parts, p.Name+"="+redacted)
		}
	}
	return "EXTENDED_LOGIN_RESPONSE " + strings.Join(parts, " ")
}
func (m ExtendedLoginResponse) GoString() string { return m.String() }

// apduHeader shows CLA INS P1 P2 only: the data may be a PIN (SET PIN,
// CREATE PIN travel under encryption, but a plain card edge call may not).
func apduHeader(apdu []byte) string {
	if len(apdu) < 4 {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X", apdu[0], apdu[1], apdu[2], apdu[3])
}
