package marionette

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPacketRoundTrip(t *testing.T) {
	for _, p := range []string{`{}`, `[0,1,"WebDriver:NewSession",{}]`, strings.Repeat("x", 100000)} {
		var b bytes.Buffer
		if err := WritePacket(&b, []byte(p)); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPacket(bufio.NewReader(&b))
		if err != nil || string(got) != p {
			t.Errorf("round trip of %d bytes: %v", len(p), err)
		}
	}
}

func TestReadPacketErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "EOF"},
		{"12", "unexpected EOF"},
		{":{}", "empty packet length"},
		{"x:{}", "bad packet length prefix"},
		{"1234567890:", "bad packet length prefix"},
		{"99999999:", "exceeds"},
		{"5:{}", "unexpected EOF"},
	} {
		_, err := ReadPacket(bufio.NewReader(strings.NewReader(tc.in)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadPacket(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	r, err := decodeResponse([]byte(`[1,7,null,{"value":"x"}]`))
	if err != nil || r.ID != 7 || r.Err != nil || string(r.Result) != `{"value":"x"}` {
		t.Errorf("%+v, %v", r, err)
	}
	r, err = decodeResponse([]byte(`[1,8,{"error":"no such alert","message":"m"},null]`))
	if err != nil || r.Err == nil || r.Err.Code != "no such alert" {
		t.Errorf("%+v, %v", r, err)
	}
	for _, bad := range []string{`{}`, `[1,2,null]`, `[0,2,null,null]`, `[1,"a",null,null]`, `[1,2,5,null]`} {
		if _, err := decodeResponse([]byte(bad)); err == nil {
			t.Errorf("decodeResponse(%s) accepted", bad)
		}
	}
}

// fakeServer greets, then answers each command with answer(name, params).
func fakeServer(t *testing.T, answer func(id uint64, name string, params json.RawMessage) []any) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		WritePacket(c, []byte(`{"applicationType":"gecko","marionetteProtocol":3}`))
		r := bufio.NewReader(c)
		for {
			p, err := ReadPacket(r)
			if err != nil {
				return
			}
			var cmd []json.RawMessage
			json.Unmarshal(p, &cmd)
			var id uint64
			var name string
			json.Unmarshal(cmd[1], &id)
			json.Unmarshal(cmd[2], &name)
			for _, a := range answer(id, name, cmd[3]) {
				b, _ := json.Marshal(a)
				WritePacket(c, b)
			}
		}
	}()
	return ln.Addr().String()
}

func TestClient(t *testing.T) {
	var navigated string
	addr := fakeServer(t, func(id uint64, name string, params json.RawMessage) []any {
		switch name {
		case "WebDriver:Navigate":
			var p struct{ URL string }
			json.Unmarshal(params, &p)
			navigated = p.URL
			// A stale answer to an abandoned command comes first.
			return []any{[]any{1, id - 1, nil, nil}, []any{1, id, nil, map[string]any{}}}
		case "WebDriver:GetAlertText":
			return []any{[]any{1, id, map[string]string{"error": "no such alert", "message": ""}, nil}}
		case "WebDriver:ExecuteScript":
			return []any{[]any{1, id, nil, map[string]any{"value": []string{"a", "b"}}}}
		}
		return []any{[]any{1, id, nil, map[string]any{"value": name}}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Hello.ApplicationType != "gecko" {
		t.Errorf("hello %+v", c.Hello)
	}
	if err := c.Navigate(ctx, "https://127.0.0.1/"); err != nil || navigated != "https://127.0.0.1/" {
		t.Errorf("navigate: %v, %q", err, navigated)
	}
	if _, err := c.AlertText(ctx); !IsCode(err, "no such alert") {
		t.Errorf("AlertText: %v", err)
	}
	if u, err := c.CurrentURL(ctx); err != nil || u != "WebDriver:GetCurrentURL" {
		t.Errorf("CurrentURL %q, %v", u, err)
	}
	var texts []string
	if err := c.ExecuteScript(ctx, "return 1", nil, &texts); err != nil || strings.Join(texts, ",") != "a,b" {
		t.Errorf("ExecuteScript %v, %v", texts, err)
	}
}

func TestCallHonoursContext(t *testing.T) {
	addr := fakeServer(t, func(uint64, string, json.RawMessage) []any { return nil }) // never answers
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Navigate(ctx, "about:blank"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
}

func TestProfilePrefs(t *testing.T) {
	s, err := ProfilePrefs(map[string]any{"a.b": "x\"y", "c": 3, "marionette.port": 2828})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`user_pref("a.b", "x\"y");`, `user_pref("c", 3);`, `user_pref("marionette.port", 2828);`} {
		if !strings.Contains(s, want) {
			t.Errorf("prefs lack %s", want)
		}
	}
	if _, err := ProfilePrefs(map[string]any{"f": 1.5}); err == nil {
		t.Error("a float pref was accepted")
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add([]byte(`2:{}`))
	f.Add([]byte(`27:[1,1,null,{"value":"ok"}]`))
	f.Add([]byte(`0:`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for {
			p, err := ReadPacket(r)
			if err != nil {
				return // io.EOF or a malformed packet; either ends the stream
			}
			if len(p) > MaxPacket {
				t.Fatalf("packet of %d bytes", len(p))
			}
			var b bytes.Buffer
			WritePacket(&b, p)
			if !bytes.Contains(in, b.Bytes()[bytes.IndexByte(b.Bytes(), ':'):]) {
				t.Fatalf("packet %q is not in the input", p)
			}
			decodeResponse(p) // must not panic
		}
	})
}
