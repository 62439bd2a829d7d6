package ui

import (
	"encoding/json"
	"sync"
)

// event is one Server-Sent Event: a name and a JSON payload.
type event struct {
	name string
	data []byte
}

// hub fans events out to the open event streams. A subscriber that falls
// behind is dropped (its stream ends); the browser reconnects and gets the
// whole state again, so nothing is lost but a little time.
type hub struct {
	mu   sync.Mutex
	subs map[chan event]struct{}
}

const subscriberBuffer = 64

func newHub() *hub { return &hub{subs: map[chan event]struct{}{}} }

func (h *hub) subscribe() chan event {
	ch := make(chan event, subscriberBuffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) unsubscribe(ch chan event) {
	h.mu.Lock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
	h.mu.Unlock()
}

func (h *hub) publish(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- event{name, b}:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}
