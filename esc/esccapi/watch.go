package esccapi

import (
	"context"
	"fmt"

	"github.com/coolkey-go/coolkey-go/esc"
)

// watcher is a running coolkey_esc_watch_start.
type watcher struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

// WatchStart reports card and reader events to fn on a goroutine of its
// own until WatchStop or Close. publish receives the watch's ID before fn
// can be called; ended (if not nil) is called once fn will not be called
// any more.
func (h *Handle) WatchStart(fn func(eventJSON string), publish func(id int), ended func()) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errHandle("handle %d is closed", h.id)
	}
	h.nextW++
	id := h.nextW
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{cancel: cancel, done: make(chan struct{})}
	h.watches[id] = w
	if publish != nil {
		publish(id)
	}
	call := func(ev eventView) { runCallback(h, 0, id, func() { fn(eventJSON(ev)) }) }
	go func() {
		defer close(w.done)
		if ended != nil {
			defer ended()
		}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("internal error: %v", p)
				}
			}()
			return h.mgr.Watch(ctx, func(ev esc.CardEvent) {
				call(eventView{Kind: ev.Kind, Reader: ev.Reader, CUID: ev.CUID, Status: ev.Status})
			})
		}()
		if err != nil && ctx.Err() == nil {
			func() {
				defer func() { recover() }()
				call(eventView{Kind: "watch-failed", Message: err.Error()})
			}()
		}
	}()
	return nil
}

// WatchStop ends watch id and waits until its callback no longer runs.
func (h *Handle) WatchStop(id int) error {
	if inCallbackOf(h, 0, id) {
		return errInCallback("coolkey_esc_watch_stop")
	}
	h.mu.Lock()
	w := h.watches[id]
	delete(h.watches, id)
	h.mu.Unlock()
	if w == nil {
		return errHandle("no watch %d on handle %d", id, h.id)
	}
	w.stop()
	return nil
}
