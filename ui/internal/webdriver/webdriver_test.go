package webdriver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeDriver answers the few commands the tests need, the way chromedriver
// does, and records the requests.
func fakeDriver(t *testing.T) (*Client, *[]string) {
	t.Helper()
	var seen []string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.Path+" "+string(b))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/session" && r.Method == http.MethodPost:
			io.WriteString(w, `{"value":{"sessionId":"S1","capabilities":{}}}`)
		case r.URL.Path == "/session/S1/element":
			var q map[string]string
			json.Unmarshal(b, &q)
			if q["value"] == "#missing" {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"value":{"error":"no such element","message":"no such element: Unable to locate element\n  (Session info: chrome=156)","stacktrace":"..."}}`)
				return
			}
			io.WriteString(w, `{"value":{"element-6066-11e4-a52e-4f735466cecf":"E1"}}`)
		case r.URL.Path == "/session/S1/elements":
			io.WriteString(w, `{"value":[{"element-6066-11e4-a52e-4f735466cecf":"E1"},{"element-6066-11e4-a52e-4f735466cecf":"E2"}]}`)
		case r.URL.Path == "/session/S1/element/E1/text":
			io.WriteString(w, `{"value":"Hello"}`)
		case r.URL.Path == "/session/S1/element/E1/attribute/missing":
			io.WriteString(w, `{"value":null}`)
		case r.URL.Path == "/session/S1/screenshot":
			io.WriteString(w, `{"value":"iVBORw0KGgo="}`)
		case r.URL.Path == "/status":
			io.WriteString(w, `{"value":{"ready":true,"message":"ok"}}`)
		default:
			io.WriteString(w, `{"value":null}`)
		}
	}))
	t.Cleanup(s.Close)
	return &Client{Base: s.URL}, &seen
}

func TestClientCommands(t *testing.T) {
	c, seen := fakeDriver(t)
	if !c.Ready() {
		t.Fatal("not ready")
	}
	s, err := c.NewSession(map[string]any{"browserName": "chrome"})
	if err != nil || s.ID != "S1" {
		t.Fatalf("session %v %v", s, err)
	}
	e, err := s.Find("#x")
	if err != nil || e.ID != "E1" {
		t.Fatalf("find %v %v", e, err)
	}
	if txt, err := e.Text(); txt != "Hello" || err != nil {
		t.Errorf("text %q %v", txt, err)
	}
	if v, err := e.Attribute("missing"); v != "" || err != nil {
		t.Errorf("missing attribute %q %v", v, err)
	}
	all, err := s.FindAll("li")
	if err != nil || len(all) != 2 || all[1].ID != "E2" {
		t.Errorf("find all %v %v", all, err)
	}
	png, err := s.Screenshot()
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("screenshot %q %v", png, err)
	}
	if err := e.SendKeys("abc"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Find("#missing")
	if !IsNoSuchElement(err) || strings.Contains(err.Error(), "Session info") {
		t.Errorf("missing element: %v", err)
	}
	want := []string{
		`POST /session {"capabilities":{"alwaysMatch":{"browserName":"chrome"}}}`,
		`POST /session/S1/element {"using":"css selector","value":"#x"}`,
		`POST /session/S1/element/E1/value {"text":"abc"}`,
	}
	joined := strings.Join(*seen, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("no request %s in\n%s", w, joined)
		}
	}
}
