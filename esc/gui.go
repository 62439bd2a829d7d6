package esc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/coolkey-go/coolkey-go/tps"
)

// Manager is the API for GUIs, shaped for a C binding: plain values in
// and out, operations identified by an integer, and callbacks for what
// the TPS asks of the user. The C exports wrap it one to one (list cards,
// card status, phone home, start an operation, cancel, wait).
//
// Callbacks run on the operation's own goroutine and may block (a dialog
// waiting for the user); the TPS waits meanwhile.
type Manager struct {
	c *Client

	mu   sync.Mutex
	next int
	ops  map[int]*managedOp
}

type managedOp struct {
	cancel context.CancelFunc
	done   chan struct{}
	result Result
}

// Callbacks connect an operation to a GUI. Any may be nil: a nil Login or
// NewPIN cancels the operation when the TPS asks.
type Callbacks struct {
	// Login asks for credentials; ok=false cancels.
	Login func(p LoginPrompt) (values map[string]string, ok bool)
	// NewPIN asks for the card's new PIN (min..max bytes); ok=false
	// cancels. The PIN is checked (length, characters the protocol cannot
	// carry) after it returns.
	NewPIN func(min, max int) (pin string, ok bool)
	// Progress reports the TPS's progress: percent and task name (see
	// TaskText for display text).
	Progress func(percent int, task string)
	// Done is called once, last, with the outcome.
	Done func(Result)
}

// Result is an operation's outcome.
type Result struct {
	// Code is the command line's exit code for it: 0 success, ExitUsage,
	// ExitRefused, ExitConnection, ExitTrust, ExitCard, ExitCancelled,
	// ExitInternal.
	Code int
	// Status is the TPS's (or the ESC-equivalent local) status code, 0 on
	// success.
	Status tps.Status
	// Message is for the user; it never contains a secret.
	Message string
}

func resultOf(err error) Result {
	if err == nil {
		return Result{Code: ExitOK, Message: "operation completed successfully"}
	}
	r := Result{Code: ExitCode(err), Message: err.Error()}
	var e *Error
	if errors.As(err, &e) {
		r.Status = e.Status
	}
	return r
}

// NewManager wraps a client.
func NewManager(c *Client) *Manager { return &Manager{c: c, ops: map[int]*managedOp{}} }

// ListCards lists readers and cards.
func (m *Manager) ListCards() ([]CardInfo, error) { return m.c.Cards() }

// CardStatus reads one reader's card.
func (m *Manager) CardStatus(reader string) (CardInfo, error) { return m.c.Card(reader) }

// PhoneHome phones home for the card in reader, with url when the card
// carries none (or to override it; remembered for the card).
func (m *Manager) PhoneHome(ctx context.Context, reader, url string) (*CardCache, error) {
	r, err := m.c.ChooseReader(reader)
	if err != nil {
		return nil, err
	}
	info, err := m.c.Card(r)
	if err != nil {
		return nil, err
	}
	fromUser := url != ""
	if url == "" {
		url = info.PhoneHomeURL
	}
	if url == "" {
		url = m.c.Config.GlobalPhoneHomeURL
	}
	if url == "" {
		return nil, newErr(KindUser, tps.Status(44), nil, "the card carries no phone-home URL; give one")
	}
	if _, err := m.c.PhoneHome(ctx, url, info.CUID, fromUser); err != nil {
		return nil, err
	}
	return m.c.Config.Card(info.CUID), nil
}

// Start begins an operation in the background and returns its ID. An
// empty reader means the only card present; an empty tpsURL means phone
// home (ResolveTPS); an empty tokenType means the configured one (for a
// format, the one phone home gave), else userKey. A PIN reset needs an
// enrolled card.
func (m *Manager) Start(op tps.Op, reader, tpsURL, tokenType string, cb Callbacks) (int, error) {
	switch op {
	case tps.OpEnroll, tps.OpFormat, tps.OpResetPIN:
	default:
		return 0, newErr(KindUser, 0, nil, "operation %v is not supported", op)
	}
	r, err := m.c.ChooseReader(reader)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	mo := &managedOp{cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	m.next++
	id := m.next
	m.ops[id] = mo
	m.mu.Unlock()

	go func() {
		defer close(mo.done)
		defer cancel()
		err := func() (err error) {
			// The manager runs inside a GUI: a bug here must end the
			// operation, not the application.
			defer func() {
				if p := recover(); p != nil {
					m.c.Log.Event("op-panic", "op", op)
					err = newErr(KindInternal, 0, nil, "internal error: %v", p)
				}
			}()
			info, err := m.c.Card(r)
			if err != nil {
				return err
			}
			switch {
			case info.Status == StatusBusy:
				return newErr(KindUser, 0, nil, "an operation is already running on this card")
			case op == tps.OpResetPIN && info.Status != "ENROLLED":
				return newErr(KindUser, 0, nil, "the card in %q is %s; only an enrolled card's PIN can be reset", r, info.Status)
			}
			u := tpsURL
			if u == "" {
				if u, _, err = m.c.ResolveTPS(ctx, "", info); err != nil {
					return err
				}
			}
			return m.c.Run(ctx, OpRequest{Op: op, Reader: r, CUID: info.CUID, TPSURL: u, TokenType: m.tokenType(op, tokenType, info), Prompter: callbackPrompter{cb}, Progress: cb.Progress})
		}()
		mo.result = resultOf(err)
		if cb.Done != nil {
			cb.Done(mo.result)
		}
	}()
	return id, nil
}

// tokenType chooses BEGIN_OP's tokenType as the command line does: the
// caller's, else the configured one, else (for a format) the one phone
// home gave for the card; empty means DefaultTokenType.
func (m *Manager) tokenType(op tps.Op, given string, info CardInfo) string {
	if given != "" {
		return given
	}
	if t := m.c.Config.TokenType; t != "" {
		return t
	}
	if op == tps.OpFormat {
		if cc := m.c.Config.Card(info.CUID); cc != nil {
			return cc.Service(tps.ServiceTokenType)
		}
	}
	return ""
}

// Cancel stops an operation: the connection to the TPS is closed and the
// card released. The TPS sees a lost connection.
func (m *Manager) Cancel(id int) error {
	m.mu.Lock()
	mo, ok := m.ops[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("esc: no operation %d", id)
	}
	mo.cancel()
	return nil
}

// Wait blocks until the operation ends and returns its result; the ID is
// forgotten afterwards.
func (m *Manager) Wait(id int) (Result, error) {
	m.mu.Lock()
	mo, ok := m.ops[id]
	m.mu.Unlock()
	if !ok {
		return Result{}, fmt.Errorf("esc: no operation %d", id)
	}
	<-mo.done
	m.mu.Lock()
	delete(m.ops, id)
	m.mu.Unlock()
	return mo.result, nil
}

type callbackPrompter struct{ cb Callbacks }

func (p callbackPrompter) Login(ctx context.Context, lp LoginPrompt) (map[string]string, error) {
	if p.cb.Login == nil {
		return nil, ErrCancelled
	}
	v, ok := p.cb.Login(lp)
	if !ok {
		return nil, ErrCancelled
	}
	return v, nil
}

func (p callbackPrompter) NewPIN(ctx context.Context, lo, hi int) (string, error) {
	if p.cb.NewPIN == nil {
		return "", ErrCancelled
	}
	pin, ok := p.cb.NewPIN(lo, hi)
	if !ok {
		return "", ErrCancelled
	}
	return pin, nil
}

// Watch reports card insertions and removals (logging them, as the ESC
// did) until ctx ends; a GUI refreshes its card list from it.
func (m *Manager) Watch(ctx context.Context, fn func(CardEvent)) error { return Watch(ctx, m.c, fn) }
