// Package webdriver is a minimal W3C WebDriver client: enough to drive
// headless Chromium through chromedriver in browser tests (sessions,
// navigation, finding elements by CSS selector, clicking, typing, reading
// text, running scripts and taking screenshots).
package webdriver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// elementKey is the W3C web element identifier's JSON key.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// Error is an error the remote end answered, e.g. Code "no such element".
type Error struct {
	HTTPStatus int
	Code       string
	Message    string
}

func (e *Error) Error() string {
	msg := e.Message
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // chromedriver appends a long build and stack dump
	}
	return fmt.Sprintf("webdriver: %s: %s", e.Code, msg)
}

// IsNoSuchElement reports whether err says that nothing matched.
func IsNoSuchElement(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "no such element"
}

// Client talks to a WebDriver server at a base URL.
type Client struct {
	Base string
	HTTP *http.Client
}

// call sends a command and decodes its "value" into out (if not nil).
func (c *Client) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("webdriver: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("webdriver: %s %s: %w", method, path, err)
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("webdriver: %s %s: HTTP %d, not JSON: %.200s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		json.Unmarshal(env.Value, &e)
		return &Error{HTTPStatus: resp.StatusCode, Code: e.Error, Message: e.Message}
	}
	if out != nil {
		if err := json.Unmarshal(env.Value, out); err != nil {
			return fmt.Errorf("webdriver: %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Ready reports whether the server accepts new sessions.
func (c *Client) Ready() bool {
	var st struct {
		Ready bool `json:"ready"`
	}
	return c.call(http.MethodGet, "/status", nil, &st) == nil && st.Ready
}

// NewSession starts a browser with these capabilities (the
// "alwaysMatch" object).
func (c *Client) NewSession(alwaysMatch map[string]any) (*Session, error) {
	var v struct {
		SessionID string `json:"sessionId"`
	}
	body := map[string]any{"capabilities": map[string]any{"alwaysMatch": alwaysMatch}}
	if err := c.call(http.MethodPost, "/session", body, &v); err != nil {
		return nil, err
	}
	if v.SessionID == "" {
		return nil, errors.New("webdriver: new session without an ID")
	}
	return &Session{c: c, ID: v.SessionID}, nil
}

// Session is one browser.
type Session struct {
	c  *Client
	ID string
}

func (s *Session) call(method, path string, body, out any) error {
	return s.c.call(method, "/session/"+s.ID+path, body, out)
}

// Delete ends the session and closes the browser.
func (s *Session) Delete() error { return s.c.call(http.MethodDelete, "/session/"+s.ID, nil, nil) }

// Navigate loads url and waits for the page load.
func (s *Session) Navigate(url string) error {
	return s.call(http.MethodPost, "/url", map[string]string{"url": url}, nil)
}

// URL returns the current page's URL.
func (s *Session) URL() (string, error) {
	var u string
	err := s.call(http.MethodGet, "/url", nil, &u)
	return u, err
}

// SetWindowRect sizes the window (headless screenshots have its size).
func (s *Session) SetWindowRect(width, height int) error {
	return s.call(http.MethodPost, "/window/rect", map[string]int{"width": width, "height": height}, nil)
}

// Element is a found element.
type Element struct {
	s  *Session
	ID string
}

func decodeElement(s *Session, raw map[string]string) (Element, error) {
	id := raw[elementKey]
	if id == "" {
		return Element{}, errors.New("webdriver: answer is not an element")
	}
	return Element{s: s, ID: id}, nil
}

// Find returns the first element matching a CSS selector.
func (s *Session) Find(css string) (Element, error) {
	var v map[string]string
	if err := s.call(http.MethodPost, "/element", map[string]string{"using": "css selector", "value": css}, &v); err != nil {
		return Element{}, err
	}
	return decodeElement(s, v)
}

// FindAll returns every element matching a CSS selector.
func (s *Session) FindAll(css string) ([]Element, error) {
	var v []map[string]string
	if err := s.call(http.MethodPost, "/elements", map[string]string{"using": "css selector", "value": css}, &v); err != nil {
		return nil, err
	}
	out := make([]Element, 0, len(v))
	for _, raw := range v {
		e, err := decodeElement(s, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Execute runs a synchronous script (its body; arguments in `arguments`)
// and decodes its return value into out (if not nil).
func (s *Session) Execute(script string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	return s.call(http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": args}, out)
}

// ExecuteAsync runs an asynchronous script: it calls the last argument
// with its result.
func (s *Session) ExecuteAsync(script string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	return s.call(http.MethodPost, "/execute/async", map[string]any{"script": script, "args": args}, out)
}

// Screenshot returns a PNG of the viewport.
func (s *Session) Screenshot() ([]byte, error) {
	var b64 string
	if err := s.call(http.MethodGet, "/screenshot", nil, &b64); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(b64)
}

// CDP runs a Chrome DevTools Protocol command through chromedriver (a
// Chromium-only extension) and decodes its result into out (if not nil).
func (s *Session) CDP(cmd string, params map[string]any, out any) error {
	if params == nil {
		params = map[string]any{}
	}
	return s.call(http.MethodPost, "/goog/cdp/execute", map[string]any{"cmd": cmd, "params": params}, out)
}

// FullPageScreenshot returns a PNG of the whole page, beyond the viewport
// (Chromium only).
func (s *Session) FullPageScreenshot() ([]byte, error) {
	var m struct {
		Content struct {
			Width  float64 `json:"width"`
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := s.CDP("Page.getLayoutMetrics", nil, &m); err != nil {
		return nil, err
	}
	return s.ClipScreenshot(0, 0, m.Content.Width, m.Content.Height)
}

// ClipScreenshot returns a PNG of a rectangle of the page, in CSS pixels
// from the document's top left (Chromium only).
func (s *Session) ClipScreenshot(x, y, width, height float64) ([]byte, error) {
	var shot struct {
		Data string `json:"data"`
	}
	clip := map[string]any{"x": x, "y": y, "width": width, "height": height, "scale": 1}
	if err := s.CDP("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true, "clip": clip}, &shot); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(shot.Data)
}

// Click clicks the element (scrolled into view first by the driver).
func (e Element) Click() error {
	return e.s.call(http.MethodPost, "/element/"+e.ID+"/click", map[string]any{}, nil)
}

// Clear empties an input.
func (e Element) Clear() error {
	return e.s.call(http.MethodPost, "/element/"+e.ID+"/clear", map[string]any{}, nil)
}

// SendKeys types text into the element (for a file input: a file path).
func (e Element) SendKeys(text string) error {
	return e.s.call(http.MethodPost, "/element/"+e.ID+"/value", map[string]string{"text": text}, nil)
}

// Text returns the element's rendered text.
func (e Element) Text() (string, error) {
	var t string
	err := e.s.call(http.MethodGet, "/element/"+e.ID+"/text", nil, &t)
	return t, err
}

// Attribute returns an attribute's value ("" when absent).
func (e Element) Attribute(name string) (string, error) {
	var v *string
	if err := e.s.call(http.MethodGet, "/element/"+e.ID+"/attribute/"+name, nil, &v); err != nil {
		return "", err
	}
	if v == nil {
		return "", nil
	}
	return *v, nil
}

// Property returns a DOM property (e.g. "value", "disabled").
func (e Element) Property(name string, out any) error {
	return e.s.call(http.MethodGet, "/element/"+e.ID+"/property/"+name, nil, out)
}

// Displayed reports whether the element is rendered visibly.
func (e Element) Displayed() (bool, error) {
	var b bool
	err := e.s.call(http.MethodGet, "/element/"+e.ID+"/displayed", nil, &b)
	return b, err
}

// Enabled reports whether a control is enabled.
func (e Element) Enabled() (bool, error) {
	var b bool
	err := e.s.call(http.MethodGet, "/element/"+e.ID+"/enabled", nil, &b)
	return b, err
}

// Driver is a chromedriver process.
type Driver struct {
	Client
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

// StartDriver runs chromedriver (at path) on a free loopback port and waits
// until it is ready.
func StartDriver(ctx context.Context, path string, extraArgs ...string) (*Driver, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--port=" + strconv.Itoa(port), "--allowed-ips=127.0.0.1"}, extraArgs...)
	cmd := exec.Command(path, args...)
	d := &Driver{Client: Client{Base: "http://127.0.0.1:" + strconv.Itoa(port)}, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &lockedWriter{mu: &d.mu, w: &d.log}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(d.done) }()
	for !d.Ready() {
		select {
		case <-d.done:
			return nil, fmt.Errorf("webdriver: %s exited: %s", path, d.Log())
		case <-ctx.Done():
			d.Stop()
			return nil, fmt.Errorf("webdriver: %s not ready: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return d, nil
}

// Log returns what chromedriver printed.
func (d *Driver) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Stop ends chromedriver (and with it any browser it still runs).
func (d *Driver) Stop() {
	d.cmd.Process.Kill()
	<-d.done
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
