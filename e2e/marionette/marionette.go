// Package marionette is a minimal client for Marionette, the remote-control
// protocol built into Firefox and Thunderbird (`--marionette`), enough for
// end-to-end tests to load pages, answer the browser's own modal prompts
// (the PKCS#11 PIN prompt among them) and run privileged scripts.
//
// The wire format (protocol level 3): every packet is the decimal length of
// a JSON text, a colon, then the JSON. The server speaks first with
// {"applicationType":"gecko","marionetteProtocol":3}. A command is
// [0, id, name, params]; its answer is [1, id, error, result], error being
// null or {"error": code, "message": ..., "stacktrace": ...}.
package marionette

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// MaxPacket bounds a packet we accept from the browser; page sources and
// script results of the tests are far smaller.
const MaxPacket = 64 << 20

// Error is an error answer from the browser, e.g. "no such alert".
type Error struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "marionette: " + e.Code + ": " + e.Message }

// IsCode reports whether err is a Marionette error with the given code.
func IsCode(err error, code string) bool {
	var me *Error
	return errors.As(err, &me) && me.Code == code
}

// Hello is the greeting the server sends on connect.
type Hello struct {
	ApplicationType string `json:"applicationType"`
	Protocol        int    `json:"marionetteProtocol"`
}

// ReadPacket reads one length-prefixed packet.
func ReadPacket(r *bufio.Reader) ([]byte, error) {
	var n int
	digits := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if c == ':' {
			break
		}
		if c < '0' || c > '9' || digits >= 9 {
			return nil, fmt.Errorf("marionette: bad packet length prefix (byte %q after %d digits)", c, digits)
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return nil, errors.New("marionette: empty packet length")
	}
	if n > MaxPacket {
		return nil, fmt.Errorf("marionette: packet of %d bytes exceeds %d", n, MaxPacket)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// WritePacket writes one length-prefixed packet.
func WritePacket(w io.Writer, payload []byte) error {
	b := make([]byte, 0, len(payload)+12)
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ':')
	b = append(b, payload...)
	_, err := w.Write(b)
	return err
}

// response is a decoded answer packet.
type response struct {
	ID     uint64
	Err    *Error
	Result json.RawMessage
}

// decodeResponse parses [1, id, error, result].
func decodeResponse(p []byte) (response, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(p, &parts); err != nil {
		return response{}, fmt.Errorf("marionette: answer is not a JSON array: %w", err)
	}
	if len(parts) != 4 {
		return response{}, fmt.Errorf("marionette: answer has %d elements, want 4", len(parts))
	}
	var typ int
	if err := json.Unmarshal(parts[0], &typ); err != nil || typ != 1 {
		return response{}, fmt.Errorf("marionette: packet type %s is not an answer", parts[0])
	}
	var r response
	if err := json.Unmarshal(parts[1], &r.ID); err != nil {
		return response{}, fmt.Errorf("marionette: bad message id %s", parts[1])
	}
	if string(parts[2]) != "null" {
		r.Err = new(Error)
		if err := json.Unmarshal(parts[2], r.Err); err != nil {
			return response{}, fmt.Errorf("marionette: bad error object: %w", err)
		}
		if r.Err.Code == "" {
			r.Err.Code = "unknown error"
		}
	}
	r.Result = parts[3]
	return r, nil
}

// Client is one connection to a Marionette server. Commands are serialized:
// Marionette answers them in order on one connection.
type Client struct {
	conn  net.Conn
	r     *bufio.Reader
	mu    sync.Mutex
	next  uint64
	Hello Hello
}

// Dial connects to a Marionette server and reads its greeting.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, r: bufio.NewReader(conn)}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	p, err := ReadPacket(c.r)
	conn.SetDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("marionette: reading the greeting: %w", err)
	}
	if err := json.Unmarshal(p, &c.Hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("marionette: bad greeting %q: %w", p, err)
	}
	if c.Hello.Protocol != 3 {
		conn.Close()
		return nil, fmt.Errorf("marionette: protocol level %d, want 3", c.Hello.Protocol)
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Call sends a command and decodes its result into out (which may be nil).
// The context's deadline bounds the whole exchange; when it passes, the
// connection is unusable.
func (c *Client) Call(ctx context.Context, name string, params any, out any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	c.next++
	id := c.next
	msg, err := json.Marshal([]any{0, id, name, params})
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := WritePacket(c.conn, msg); err != nil {
		return c.ctxErr(ctx, name, err)
	}
	for {
		p, err := ReadPacket(c.r)
		if err != nil {
			return c.ctxErr(ctx, name, err)
		}
		r, err := decodeResponse(p)
		if err != nil {
			return err
		}
		if r.ID != id {
			// An answer to an earlier command whose caller gave up.
			continue
		}
		if r.Err != nil {
			return r.Err
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(r.Result, out); err != nil {
			return fmt.Errorf("marionette: %s: decoding %s: %w", name, r.Result, err)
		}
		return nil
	}
}

func (c *Client) ctxErr(ctx context.Context, name string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("marionette: %s: %w", name, ctx.Err())
	}
	return fmt.Errorf("marionette: %s: %w", name, err)
}

// value is the {"value": ...} wrapper of most results.
type value[T any] struct {
	Value T `json:"value"`
}

// Capabilities are the session capabilities the tests use.
type Capabilities struct {
	// PageLoadStrategy "none" makes Navigate return at once, so a
	// navigation that raises a modal prompt does not block the client.
	PageLoadStrategy string `json:"pageLoadStrategy,omitempty"`
	// UnhandledPromptBehavior "ignore" keeps other commands from
	// dismissing a prompt the test is about to answer.
	UnhandledPromptBehavior string `json:"unhandledPromptBehavior,omitempty"`
	AcceptInsecureCerts     bool   `json:"acceptInsecureCerts"`
}

// NewSession starts a WebDriver session.
func (c *Client) NewSession(ctx context.Context, caps Capabilities) error {
	return c.Call(ctx, "WebDriver:NewSession", caps, nil)
}

// SetContext switches between "content" (web pages) and "chrome" (the
// application's own windows, with privileged scripts).
func (c *Client) SetContext(ctx context.Context, context string) error {
	return c.Call(ctx, "Marionette:SetContext", map[string]string{"value": context}, nil)
}

// Navigate loads url in the current tab.
func (c *Client) Navigate(ctx context.Context, url string) error {
	return c.Call(ctx, "WebDriver:Navigate", map[string]string{"url": url}, nil)
}

// CurrentURL returns the current tab's URL.
func (c *Client) CurrentURL(ctx context.Context) (string, error) {
	var v value[string]
	err := c.Call(ctx, "WebDriver:GetCurrentURL", nil, &v)
	return v.Value, err
}

// PageSource returns the current document's source.
func (c *Client) PageSource(ctx context.Context) (string, error) {
	var v value[string]
	err := c.Call(ctx, "WebDriver:GetPageSource", nil, &v)
	return v.Value, err
}

// AlertText returns the text of the open modal prompt, or an error with
// code "no such alert".
func (c *Client) AlertText(ctx context.Context) (string, error) {
	var v value[string]
	err := c.Call(ctx, "WebDriver:GetAlertText", nil, &v)
	return v.Value, err
}

// SendAlertText types text into the open prompt's input field.
func (c *Client) SendAlertText(ctx context.Context, text string) error {
	return c.Call(ctx, "WebDriver:SendAlertText", map[string]string{"text": text}, nil)
}

// AcceptAlert presses the open prompt's OK button.
func (c *Client) AcceptAlert(ctx context.Context) error {
	return c.Call(ctx, "WebDriver:AcceptAlert", nil, nil)
}

// ExecuteScript runs script (a function body; arguments are in
// `arguments`) in the current context and decodes its return value.
func (c *Client) ExecuteScript(ctx context.Context, script string, args []any, out any) error {
	if args == nil {
		args = []any{}
	}
	if out == nil {
		return c.Call(ctx, "WebDriver:ExecuteScript", map[string]any{"script": script, "args": args}, nil)
	}
	var v value[json.RawMessage]
	if err := c.Call(ctx, "WebDriver:ExecuteScript", map[string]any{"script": script, "args": args}, &v); err != nil {
		return err
	}
	return json.Unmarshal(v.Value, out)
}

// ExecuteAsyncScript runs script, which must call the callback given as
// its last argument (`arguments[arguments.length-1]`), and decodes the value
// passed to it. timeout bounds the script in the browser.
func (c *Client) ExecuteAsyncScript(ctx context.Context, script string, args []any, timeout time.Duration, out any) error {
	if err := c.Call(ctx, "WebDriver:SetTimeouts", map[string]int64{"script": timeout.Milliseconds()}, nil); err != nil {
		return err
	}
	if args == nil {
		args = []any{}
	}
	var v value[json.RawMessage]
	if err := c.Call(ctx, "WebDriver:ExecuteAsyncScript", map[string]any{"script": script, "args": args}, &v); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(v.Value, out)
}

// Quit asks the application to quit. The connection ends with it.
func (c *Client) Quit(ctx context.Context) error {
	err := c.Call(ctx, "Marionette:Quit", map[string][]string{"flags": {"eForceQuit"}}, nil)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// Password prompts (a PKCS#11 token's PIN prompt in Firefox and
// Thunderbird is one: toolkit's commonDialog.xhtml with promptType
// "promptPassword") cannot be answered with WebDriver commands:
// SendAlertText dismisses them as unsupported, and while one is open every
// script command fails with "unexpected alert open". So the answer is armed
// beforehand: a chrome-context script registers an observer that types the
// secret into the prompt's password field and presses OK when the prompt
// loads, at most a given number of times, and records every prompt's text.

const armPromptScript = `
const [secret, answers] = arguments;
const topic = "common-dialog-loaded";
// Observers are found again through the observer service (later scripts
// run in fresh sandboxes); wrappedJSObject exposes the JS object behind
// the XPCOM wrapper.
for (const o of Services.obs.enumerateObservers(topic)) {
  if (o.wrappedJSObject && o.wrappedJSObject.armedPasswordPrompt) {
    Services.obs.removeObserver(o, topic);
  }
}
const observer = {
  armedPasswordPrompt: true,
  texts: [],
  answered: 0,
  observe(win) {
    const dlg = win.Dialog;
    if (!dlg || dlg.args.promptType !== "promptPassword") {
      return;
    }
    this.texts.push(dlg.args.text);
    if (this.answered >= answers) {
      return; // left open: the test sees it with AlertText
    }
    this.answered++;
    win.setTimeout(() => {
      dlg.ui.password1Textbox.value = secret;
      win.document.getElementById("commonDialog").acceptDialog();
    }, 0);
  },
};
observer.wrappedJSObject = observer;
Services.obs.addObserver(observer, topic);
return true;
`

const promptStateScript = `
for (const o of Services.obs.enumerateObservers("common-dialog-loaded")) {
  if (o.wrappedJSObject && o.wrappedJSObject.armedPasswordPrompt) {
    return o.wrappedJSObject.texts;
  }
}
return null;
`

// inChrome runs f with the session in chrome context, then returns to
// content context.
func (c *Client) inChrome(ctx context.Context, f func() error) error {
	if err := c.SetContext(ctx, "chrome"); err != nil {
		return err
	}
	err := f()
	if cerr := c.SetContext(ctx, "content"); err == nil {
		err = cerr
	}
	return err
}

// ArmPasswordPrompt arranges for the next password prompts (at most answers
// of them) to be answered with secret as soon as they open. Needs a browser
// started with -remote-allow-system-access (Launch does that).
func (c *Client) ArmPasswordPrompt(ctx context.Context, secret string, answers int) error {
	return c.inChrome(ctx, func() error {
		return c.ExecuteScript(ctx, armPromptScript, []any{secret, answers}, nil)
	})
}

// PasswordPrompts returns the texts of the password prompts seen since
// ArmPasswordPrompt, answered or not.
func (c *Client) PasswordPrompts(ctx context.Context) ([]string, error) {
	var texts []string
	err := c.inChrome(ctx, func() error {
		return c.ExecuteScript(ctx, promptStateScript, nil, &texts)
	})
	return texts, err
}
