package esc

import (
	"context"
	"errors"

	"github.com/coolkey-go/coolkey-go/cardedge"
)

// CardEvent is a reader or card change, as the ESC logged them.
type CardEvent struct {
	Kind   string // "card-inserted", "card-removed", "reader-added", "reader-removed"
	Reader string
	CUID   string // for an insertion, when the card could be read
	Status string // for an insertion
}

// Watch reports card and reader events to fn, and logs them, until ctx
// ends.
func Watch(ctx context.Context, c *Client, fn func(CardEvent)) error {
	mon, err := c.Source.NewMonitor()
	if err != nil {
		return newErr(KindCard, 0, err, "watching the readers")
	}
	defer mon.Close()
	for {
		ev, err := mon.Wait(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, cardedge.ErrMonitorClosed) {
				return nil
			}
			return newErr(KindCard, 0, err, "watching the readers")
		}
		for _, k := range []struct {
			bit  cardedge.EventKind
			name string
		}{
			{cardedge.ReaderAdded, "reader-added"},
			{cardedge.CardRemoved, "card-removed"},
			{cardedge.CardInserted, "card-inserted"},
			{cardedge.ReaderRemoved, "reader-removed"},
		} {
			if ev.Kinds&k.bit == 0 {
				continue
			}
			ce := CardEvent{Kind: k.name, Reader: ev.Reader}
			if k.bit == cardedge.CardInserted {
				if info, err := c.Card(ev.Reader); err == nil {
					ce.CUID, ce.Status = info.CUID, info.Status
				}
			}
			c.Log.Event(ce.Kind, "reader", ce.Reader, "cuid", ce.CUID, "status", ce.Status)
			fn(ce)
		}
	}
}
