package esccapi

import (
	"context"
	"encoding/json"
	"sync"
	"unsafe"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tps"
)

// Callbacks are an operation's calls out to the GUI: C function pointers
// behind trampolines in the library, Go functions in tests. Any may be
// nil; a nil Login or NewPIN cancels the operation when the TPS asks.
type Callbacks struct {
	// Login gets the prompt as JSON and answers through a; false cancels.
	Login func(promptJSON string, a *Answers) bool
	// NewPIN returns the new PIN in a slice the library owns from then on
	// (it wipes it when the operation ends); false cancels.
	NewPIN func(minLen, maxLen int) (pin []byte, ok bool)
	// Progress reports percent, the TPS's task name and its display text.
	Progress func(percent int, task, text string)
	// Done reports the result code, the TPS status and the message.
	Done func(result, status int, message string)
}

// operation is a started operation that C has not collected yet.
type operation struct {
	h  *Handle
	id int
	// ready is closed once the ID is known and published to C: no
	// callback runs before, so C can rely on its op variable in them.
	ready chan struct{}

	mu      sync.Mutex
	secrets [][]byte
}

// keep records a secret to wipe when the operation ends.
func (o *operation) keep(b []byte) {
	o.mu.Lock()
	o.secrets = append(o.secrets, b)
	o.mu.Unlock()
}

// wipe zeroes every secret the callbacks gave. esc holds them as strings
// that alias these bytes (see secretString) only while the operation
// runs; wipe is called after it has ended.
func (o *operation) wipe() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, b := range o.secrets {
		clear(b)
	}
	o.secrets = nil
}

// secretString views b as a string without copying, so that wiping b
// removes the only copy the library made. It must not be used after the
// wipe, which esc guarantees: its prompter results live in the operation.
func secretString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Start begins op on the card in reader; publish receives the operation's
// ID before any callback can run.
func (h *Handle) Start(op tps.Op, reader, tpsURL, tokenType string, cb Callbacks, publish func(id int)) error {
	switch op {
	case tps.OpEnroll, tps.OpFormat, tps.OpResetPIN:
	default:
		return errArguments("operation %d is not format (5), enroll (1) or PIN reset (3)", int(op))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errHandle("handle %d is closed", h.id)
	}
	h.netUsed = true
	o := &operation{h: h, ready: make(chan struct{})}
	id, err := h.mgr.Start(op, reader, tpsURL, tokenType, o.escCallbacks(cb))
	if err != nil {
		return err
	}
	o.id = id
	h.ops[id] = o
	if publish != nil {
		publish(id)
	}
	close(o.ready)
	return nil
}

func (o *operation) escCallbacks(cb Callbacks) esc.Callbacks {
	var ec esc.Callbacks
	if cb.Login != nil {
		ec.Login = func(p esc.LoginPrompt) (map[string]string, bool) {
			<-o.ready
			a := newAnswers(o.h.id, p.Params)
			defer a.close()
			var ok bool
			runCallback(o.h, o.id, 0, func() { ok = cb.Login(promptJSON(p), a) })
			values := a.close()
			if !ok {
				for _, v := range values {
					clear(v)
				}
				return nil, false
			}
			out := make(map[string]string, len(values))
			for id, v := range values {
				o.keep(v)
				out[id] = secretString(v)
			}
			return out, true
		}
	}
	if cb.NewPIN != nil {
		ec.NewPIN = func(minLen, maxLen int) (string, bool) {
			<-o.ready
			var pin []byte
			var ok bool
			runCallback(o.h, o.id, 0, func() { pin, ok = cb.NewPIN(minLen, maxLen) })
			o.keep(pin)
			if !ok {
				return "", false
			}
			return secretString(pin), true
		}
	}
	if cb.Progress != nil {
		ec.Progress = func(percent int, task string) {
			<-o.ready
			runCallback(o.h, o.id, 0, func() { cb.Progress(percent, task, esc.TaskText(task)) })
		}
	}
	// Done always runs: it wipes the secrets, whether or not the GUI
	// wants to hear about the end.
	ec.Done = func(r esc.Result) {
		<-o.ready
		o.wipe()
		if cb.Done == nil {
			return
		}
		defer func() { recover() }() // the operation's goroutine must not take the GUI down
		runCallback(o.h, o.id, 0, func() { cb.Done(r.Code, int(r.Status), r.Message) })
	}
	return ec
}

// Cancel asks operation id to stop.
func (h *Handle) Cancel(id int) error {
	h.mu.Lock()
	_, ok := h.ops[id]
	h.mu.Unlock()
	if !ok {
		return errHandle("no operation %d on handle %d", id, h.id)
	}
	if err := h.mgr.Cancel(id); err != nil {
		return errHandle("%v", err)
	}
	return nil
}

// Wait blocks until operation id has ended and forgets it.
func (h *Handle) Wait(id int) (esc.Result, error) {
	if inCallbackOf(h, id, 0) {
		return esc.Result{}, errInCallback("coolkey_esc_wait")
	}
	h.mu.Lock()
	_, ok := h.ops[id]
	h.mu.Unlock()
	if !ok {
		return esc.Result{}, errHandle("no operation %d on handle %d", id, h.id)
	}
	r, err := h.mgr.Wait(id)
	if err != nil {
		// Another thread waited for it at the same time and won.
		return esc.Result{}, errHandle("%v", err)
	}
	h.mu.Lock()
	delete(h.ops, id)
	h.mu.Unlock()
	return r, nil
}

// ListCardsJSON lists readers and cards.
func (h *Handle) ListCardsJSON() ([]byte, error) {
	cards, err := h.mgr.ListCards()
	if err != nil {
		return nil, err
	}
	return json.Marshal(cards)
}

// CardStatusJSON reads the card in reader ("" for the only card present).
func (h *Handle) CardStatusJSON(reader string) ([]byte, error) {
	r, err := h.client.ChooseReader(reader)
	if err != nil {
		return nil, err
	}
	info, err := h.mgr.CardStatus(r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(info)
}

// PhoneHomeJSON phones home for the card in reader.
func (h *Handle) PhoneHomeJSON(reader, url string) ([]byte, error) {
	if err := h.useNetwork(); err != nil {
		return nil, err
	}
	cc, err := h.mgr.PhoneHome(context.Background(), reader, url)
	if err != nil {
		return nil, err
	}
	return phoneHomeJSON(cc)
}
