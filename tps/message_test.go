package tps

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Wire forms taken from the Dogtag and ESC encoders' self-tests (tps.md
// §1.5), and the ESC's own way of encoding pdu_data (letters and digits raw).
func TestDecodeKnownWireForms(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Message
	}{
		{
			name: "ESC BEGIN_OP with trailing &",
			body: "msg_type=2&operation=5&extensions=tokenType%3DuserKey%26clientVersion%3DESC+1%2E0%2E1%26tokenATR%3D3BFF1400FF8131FE458025A00000005657534336353003003B%26statusUpdate%3Dtrue%26extendedLoginRequest%3Dtrue%26",
			want: BeginOp{Op: OpFormat, Extensions: Extensions{
				{"tokenType", "userKey"},
				{"clientVersion", "ESC 1.0.1"},
				{"tokenATR", "3BFF1400FF8131FE458025A00000005657534336353003003B"},
				{"statusUpdate", "true"},
				{"extendedLoginRequest", "true"},
			}},
		},
		{
			name: "status-only PDU response",
			body: "msg_type=10&pdu_size=2&pdu_data=%90%00",
			want: TokenPDUResponse{Response: []byte{0x90, 0x00}},
		},
		{
			name: "ESC-style PDU response, alphanumerics raw, tpsclient field order",
			body: "msg_type=10&pdu_data=AB%20%90%00&pdu_size=5",
			want: TokenPDUResponse{Response: []byte{'A', 'B', ' ', 0x90, 0x00}},
		},
		{
			name: "END_OP",
			body: "msg_type=13&operation=5&result=0&message=0",
			want: EndOp{Op: OpFormat, Result: ResultOK, Status: StatusOK},
		},
		{
			name: "LOGIN_RESPONSE form-encoded",
			body: "msg_type=4&screen_name=jdoe&password=p%40ss+w%26rd",
			want: LoginResponse{ScreenName: "jdoe", Password: "p@ss w&rd"},
		},
		{
			name: "EXTENDED_LOGIN_RESPONSE as the ESC sends it",
			body: "msg_type=17&UID=jdoe&PASSWORD=a%3Db",
			want: ExtendedLoginResponse{Params: []Param{{"UID", "jdoe"}, {"PASSWORD", "a=b"}}},
		},
		{
			name: "NEW_PIN_RESPONSE is raw: + and % stay literal",
			body: "msg_type=12&new_pin=a+b%41",
			want: NewPINResponse{PIN: "a+b%41"},
		},
		{
			name: "EXTENDED_LOGIN_REQUEST as the Java TPS encodes it",
			body: "msg_type=16&invalid_pw=0&blocked=0&title=LDAP+Authentication&description=This+authenticates+user+against+the+LDAP+directory." +
				"&required_parameter1=id%3DPASSWORD%26name%3DLDAP+Password%26desc%3DLDAP+Password%26type%3Dpassword%26option%3D" +
				"&required_parameter0=id%3DUID%26name%3DLDAP+User+ID%26desc%3DLDAP+User+ID%26type%3Dstring%26option%3D",
			want: ExtendedLoginRequest{
				Title:       "LDAP Authentication",
				Description: "This authenticates user against the LDAP directory.",
				Params: []AuthParam{
					{ID: "UID", Name: "LDAP User ID", Description: "LDAP User ID", Type: "string"},
					{ID: "PASSWORD", Name: "LDAP Password", Description: "LDAP Password", Type: "password"},
				},
			},
		},
		{
			name: "STATUS_UPDATE_REQUEST",
			body: "msg_type=14&current_state=92&next_task_name=PROGRESS_WRITE_OBJECTS",
			want: StatusUpdateRequest{Percent: 92, Task: TaskWriteObjects},
		},
		{
			name: "empty values are absent, as in the Java decoder",
			body: "msg_type=4&screen_name=&password=x",
			want: LoginResponse{Password: "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBody([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeBody: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			whole := []byte("s=" + itoa(len(tt.body)) + "&" + tt.body)
			if _, err := Decode(whole); err != nil {
				t.Errorf("Decode with length prefix: %v", err)
			}
		})
	}
}

func TestEncodeExact(t *testing.T) {
	tests := []struct {
		m    Message
		want string
	}{
		{EndOp{Op: OpFormat, Result: 0, Status: 0}, "msg_type=13&operation=5&result=0&message=0"},
		{TokenPDURequest{APDU: []byte{0x00, 0xA4, 0x04, 0x00, 0x00}}, "msg_type=9&pdu_size=5&pdu_data=%00%A4%04%00%00"},
		{TokenPDUResponse{Response: []byte{0x90, 0x00}}, "msg_type=10&pdu_size=2&pdu_data=%90%00"},
		{StatusUpdateResponse{Percent: 10}, "msg_type=15&current_state=10"},
		{NewPINRequest{MinLen: 4, MaxLen: 10}, "msg_type=11&minimum_length=4&maximum_length=10"},
		{
			BeginOp{Op: OpEnroll, Extensions: Extensions{{"tokenType", "userKey"}, {"clientVersion", "coolkey-go 1.0~rc*"}, {"statusUpdate", "true"}}},
			"msg_type=2&operation=1&extensions=tokenType%3DuserKey%26clientVersion%3Dcoolkey-go+1.0%7Erc*%26statusUpdate%3Dtrue",
		},
		{LoginResponse{ScreenName: "j doe", Password: "ü&="}, "msg_type=4&screen_name=j+doe&password=%C3%BC%26%3D"},
		{NewPINResponse{PIN: "12+4%"}, "msg_type=12&new_pin=12+4%"},
		{
			ExtendedLoginResponse{Params: []Param{{"UID", "jdoe"}, {"PASSWORD", "s3cr3t!"}}},
			"msg_type=17&UID=jdoe&PASSWORD=s3cr3t%21",
		},
	}
	for _, tt := range tests {
		t.Run(tt.m.Type().String(), func(t *testing.T) {
			got, err := Encode(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			want := "s=" + itoa(len(tt.want)) + "&" + tt.want
			if string(got) != want {
				t.Errorf("Encode =\n %s\nwant\n %s", got, want)
			}
		})
	}
}

func TestRoundTripEveryType(t *testing.T) {
	msgs := []Message{
		BeginOp{Op: OpResetPIN, Extensions: Extensions{{"tokenType", "userKey"}, {"tokenATR", "3B00"}}},
		BeginOp{Op: OpFormat},
		LoginRequest{InvalidPassword: true},
		LoginResponse{ScreenName: "user name", Password: "pa ss&w=rd%+"},
		SecureIDRequest{PINRequired: true, NextValue: false},
		SecureIDResponse{Value: "123456", PIN: "9999"},
		ASQRequest{Question: "first pet?"},
		ASQResponse{Answer: "a & b"},
		TokenPDURequest{APDU: []byte{0x84, 0x04, 0x00, 0x00, 0x02, 0x26, 0x3D}},
		TokenPDUResponse{Response: []byte{0x26, 0x3D, 0x25, 0x2B, 0x90, 0x00}},
		NewPINRequest{MinLen: 4, MaxLen: 10},
		NewPINResponse{PIN: "p+n%"},
		EndOp{Op: OpEnroll, Result: ResultError, Status: StatusErrLogin},
		StatusUpdateRequest{Percent: 100, Task: TaskDoneEnrollment},
		StatusUpdateResponse{Percent: 100},
		ExtendedLoginRequest{Title: "T & t", Description: "d=d", Params: []AuthParam{{ID: "UID", Name: "User", Type: "string"}}},
		ExtendedLoginResponse{Params: []Param{{"UID", "u"}, {"PASSWORD", "p w"}, {"OTP", "1"}}},
	}
	seen := map[MsgType]bool{}
	for _, m := range msgs {
		seen[m.Type()] = true
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("%v: Encode: %v", m.Type(), err)
		}
		if strings.ContainsAny(string(b), "\r\n") {
			t.Errorf("%v: encoded form contains a line break", m.Type())
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%v: Decode(%s): %v", m.Type(), b, err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("%v round trip (-want +got):\n%s", m.Type(), diff)
		}
	}
	for ty := MsgBeginOp; ty <= MsgExtendedLoginResponse; ty++ {
		if !seen[ty] {
			t.Errorf("no round-trip case for %v", ty)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, msg, field string
	}{
		{"no prefix", "msg_type=13", ""},
		{"length mismatch", "s=5&msg_type=13&operation=1&result=0&message=0", "s"},
		{"length not a number", "s=x1&msg_type=13", "s"},
		{"unknown type", "s=10&msg_type=1", "msg_type"},
		{"type 18", "msg_type=18", "msg_type"},
		{"type not numeric", "msg_type=ab", "msg_type"},
		{"no type", "operation=1", "msg_type"},
		{"missing result", "msg_type=13&operation=1&message=0", "result"},
		{"negative number", "msg_type=15&current_state=-1", "current_state"},
		{"huge number", "msg_type=15&current_state=1000000000", "current_state"},
		{"pdu size mismatch", "msg_type=10&pdu_size=3&pdu_data=%90%00", "pdu_size"},
		{"pdu data too short", "msg_type=10&pdu_size=1&pdu_data=%90", "pdu_data"},
		{"command APDU too short", "msg_type=9&pdu_size=3&pdu_data=%00%A4%04", "pdu_data"},
		{"bad escape", "msg_type=10&pdu_size=2&pdu_data=%9G%00", "pdu_data"},
		{"truncated escape", "msg_type=10&pdu_size=2&pdu_data=%9", "pdu_data"},
		{"missing pdu_data", "msg_type=10&pdu_size=2", "pdu_data"},
		{"repeated field", "msg_type=15&current_state=1&current_state=2", `"current_state"`},
		{"bad form encoding", "msg_type=4&screen_name=%zz", "screen_name"},
		{"repeated extension", "msg_type=2&operation=1&extensions=a%3D1%26a%3D2", "extensions"},
		{"parameter without id", "msg_type=16&required_parameter0=name%3Dx", "required_parameter0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.msg
			if !strings.HasPrefix(msg, "s=") && tt.name != "no prefix" {
				msg = "s=" + itoa(len(msg)) + "&" + msg
			}
			_, err := Decode([]byte(msg))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%q) error = %v, want a *DecodeError", tt.msg, err)
			}
			if de.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", de.Field, tt.field, err)
			}
		})
	}
	_, err := Decode([]byte("s=10&msg_type=1"))
	if !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type error %v does not match ErrUnknownType", err)
	}
}

func TestEncodeRefusesWhatThePeerWouldCorrupt(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"PIN with &", NewPINResponse{PIN: "12&34"}},
		{"PIN with =", NewPINResponse{PIN: "12=34"}},
		{"PIN with newline", NewPINResponse{PIN: "1234\n"}},
		{"empty PIN", NewPINResponse{}},
		{"empty extension value", BeginOp{Op: 1, Extensions: Extensions{{"tokenType", ""}}}},
		{"extension value with &", BeginOp{Op: 1, Extensions: Extensions{{"tokenType", "a&b"}}}},
		{"extension name with =", BeginOp{Op: 1, Extensions: Extensions{{"a=b", "c"}}}},
		{"short APDU", TokenPDURequest{APDU: []byte{0, 0xA4}}},
		{"response without SW", TokenPDUResponse{Response: []byte{0x90}}},
		{"task with space", StatusUpdateRequest{Percent: 1, Task: "A B"}},
		{"negative percent", StatusUpdateResponse{Percent: -1}},
		{"auth param with &", ExtendedLoginRequest{Params: []AuthParam{{ID: "U&ID"}}}},
		{"reserved response name", ExtendedLoginResponse{Params: []Param{{"msg_type", "1"}}}},
		{"repeated response name", ExtendedLoginResponse{Params: []Param{{"UID", "a"}, {"UID", "b"}}}},
		{"SecurID value with &", SecureIDResponse{Value: "1&2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.m)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("Encode error = %v, want *EncodeError", err)
			}
		})
	}
}

func TestSecretsNeverInStrings(t *testing.T) {
	const secret = "Sup3rS3cret"
	msgs := []Message{
		LoginResponse{ScreenName: "jdoe", Password: secret},
		NewPINResponse{PIN: secret},
		SecureIDResponse{Value: secret, PIN: secret},
		ASQResponse{Answer: secret},
		ExtendedLoginResponse{Params: []Param{{"UID", "jdoe"}, {"PASSWORD", secret}, {"OTP", secret}}},
	}
	for _, m := range msgs {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, m); strings.Contains(s, secret) {
				t.Errorf("%v formatted with %s shows the secret: %s", m.Type(), verb, s)
			}
		}
	}
	// Nor in decode errors.
	_, err := Decode([]byte("s=47&msg_type=4&screen_name=a&password=" + secret + "%z"))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("decode error %v shows the secret", err)
	}
	if err := ValidateRawPIN(secret + "&"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("ValidateRawPIN error %v shows the PIN", err)
	}
}

func TestStatusTableComplete(t *testing.T) {
	for s := StatusOK; s <= StatusErrSymKey256Upgrade; s++ {
		if _, ok := statusTable[s]; !ok {
			t.Errorf("status %d has no name", int(s))
		}
	}
	if got := StatusErrLogin.Name(); got != "ERROR_LOGIN" {
		t.Errorf("StatusErrLogin.Name() = %q", got)
	}
	if got := Status(99).Text(); !strings.Contains(got, "99") {
		t.Errorf("unknown status text %q", got)
	}
}

func TestFormEncodeMatchesJavaURLEncoder(t *testing.T) {
	// java.net.URLEncoder.encode(s, "UTF-8") for these inputs.
	tests := map[string]string{
		"abcXYZ019":     "abcXYZ019",
		".-*_":          ".-*_",
		"a b":           "a+b",
		"~!'()":         "%7E%21%27%28%29",
		"id=UID&name=x": "id%3DUID%26name%3Dx",
		"é":             "%C3%A9",
	}
	for in, want := range tests {
		if got := formEncode(in); got != want {
			t.Errorf("formEncode(%q) = %q, want %q", in, got, want)
		}
		back, err := formDecode(want)
		if err != nil || back != in {
			t.Errorf("formDecode(%q) = %q, %v", want, back, err)
		}
	}
}
