// Package netcard reaches a virtual card served on a TCP socket
// (`coolkey sim card serve --listen ADDR`), with the framing of
// cardedge/framing and its socket-only extensions: exclusive transactions
// (10/11) and the card-state counter (05) that lets a host notice removals
// and resets by others, the way PC/SC reports SCARD_W_RESET_CARD.
package netcard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/framing"
)

// DefaultTimeout bounds dialing and every exchange except waiting for a
// transaction, which blocks for as long as another host holds the card.
const DefaultTimeout = 10 * time.Second

// Transport is a connection to a socket-served card. It implements
// cardedge.Transport.
type Transport struct {
	conn    net.Conn
	atr     []byte
	counter uint32 // card-state counter when we last looked
	inTx    bool
	timeout time.Duration
}

var _ cardedge.Transport = (*Transport)(nil)

// Dial connects to the card served at addr. It returns cardedge.ErrNoCard
// when the server has no card inserted and cardedge.ErrNoReader when nothing
// listens there.
func Dial(ctx context.Context, addr string) (*Transport, error) {
	d := net.Dialer{Timeout: DefaultTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("netcard: %w: %v", cardedge.ErrNoReader, err)
	}
	if err := framing.TuneConn(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("netcard: %v", err)
	}
	t := &Transport{conn: conn, timeout: DefaultTimeout}
	st, err := t.state()
	if err == nil && !st.Present {
		err = cardedge.ErrNoCard
	}
	if err == nil {
		t.counter = st.Counter
		err = t.refreshATR()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

// roundTrip writes the frames and reads one answer per frame. Writing them
// together saves round trips (begin + state cost one).
func (t *Transport) roundTrip(deadline bool, payloads ...[]byte) ([][]byte, error) {
	var buf []byte
	for _, p := range payloads {
		var err error
		if buf, err = framing.AppendFrame(buf, p); err != nil {
			return nil, err
		}
	}
	if deadline {
		t.conn.SetDeadline(time.Now().Add(t.timeout))
	} else {
		t.conn.SetDeadline(time.Time{})
	}
	if _, err := t.conn.Write(buf); err != nil {
		return nil, t.connError(err)
	}
	out := make([][]byte, len(payloads))
	for i := range payloads {
		b, err := framing.ReadFrame(t.conn)
		if err != nil {
			return nil, t.connError(err)
		}
		out[i] = b
	}
	return out, nil
}

func (t *Transport) connError(err error) error {
	// Whatever happened, the stream may now be out of step: drop it.
	t.conn.Close()
	return fmt.Errorf("netcard: %w: %v", cardedge.ErrNoReader, err)
}

func (t *Transport) state() (framing.State, error) {
	ans, err := t.roundTrip(true, []byte{framing.CardState})
	if err != nil {
		return framing.State{}, err
	}
	st, err := framing.ParseState(ans[0])
	if err != nil {
		return framing.State{}, t.connError(err)
	}
	return st, nil
}

func (t *Transport) refreshATR() error {
	ans, err := t.roundTrip(true, []byte{framing.GetATR})
	if err != nil {
		return err
	}
	if len(ans[0]) == 0 {
		return cardedge.ErrNoCard
	}
	t.atr = ans[0]
	return nil
}

// Transmit sends one command APDU. An empty answer means the card is gone.
func (t *Transport) Transmit(cmd []byte) ([]byte, error) {
	if len(cmd) < 4 {
		// 1-byte payloads are control bytes; never let an APDU look like one.
		return nil, fmt.Errorf("netcard: %d-byte command APDU", len(cmd))
	}
	ans, err := t.roundTrip(true, cmd)
	if err != nil {
		return nil, err
	}
	if len(ans[0]) == 0 {
		return nil, cardedge.ErrNoCard
	}
	return ans[0], nil
}

// BeginTransaction waits for exclusive access, then checks the card state:
// if the card was removed, or reset or replaced since this transport last
// looked, the transaction is released again and ErrNoCard or ErrCardReset
// returned (the transport stays usable after ErrCardReset).
func (t *Transport) BeginTransaction() error {
	ans, err := t.roundTrip(false, []byte{framing.BeginTransaction}, []byte{framing.CardState})
	if err != nil {
		return err
	}
	if len(ans[0]) != 1 || ans[0][0] != 0 {
		return t.connError(fmt.Errorf("%w: begin-transaction answer %X", framing.ErrFrame, ans[0]))
	}
	st, err := framing.ParseState(ans[1])
	if err != nil {
		return t.connError(err)
	}
	t.inTx = true
	if err := t.judge(st); err != nil {
		if endErr := t.EndTransaction(); endErr != nil {
			return endErr
		}
		return err
	}
	return nil
}

// CheckCard asks the server, without an APDU, whether the card is still the
// one this transport last saw, as BeginTransaction does: ErrNoCard when it
// is out, ErrCardReset (ATR refreshed; the transport stays usable) when it
// was reset, re-powered or replaced since. A host that keeps a transaction
// open across operations calls it before reusing the transaction: the
// server ends every transaction when the card is removed, without telling
// the holder, and a card put back is a fresh card. It does not end the
// transaction.
func (t *Transport) CheckCard() error {
	st, err := t.state()
	if err != nil {
		return err
	}
	return t.judge(st)
}

// judge compares the card state with what the transport last saw.
func (t *Transport) judge(st framing.State) error {
	switch {
	case !st.Present:
		return cardedge.ErrNoCard
	case st.Counter != t.counter:
		t.counter = st.Counter
		if err := t.refreshATR(); err != nil {
			return err
		}
		return cardedge.ErrCardReset
	}
	return nil
}

// EndTransaction releases exclusive access.
func (t *Transport) EndTransaction() error {
	if !t.inTx {
		return nil
	}
	t.inTx = false
	ans, err := t.roundTrip(true, []byte{framing.EndTransaction})
	if err != nil {
		return err
	}
	if len(ans[0]) != 1 || ans[0][0] != 0 {
		return t.connError(fmt.Errorf("%w: end-transaction answer %X", framing.ErrFrame, ans[0]))
	}
	return nil
}

// ATR returns the card's ATR.
func (t *Transport) ATR() []byte { return t.atr }

// Reset warm-resets the card. The counter moves because of us, so it is
// re-read without reporting a reset.
func (t *Transport) Reset() error {
	if _, err := t.conn.Write(mustFrame([]byte{framing.Reset})); err != nil {
		return t.connError(err)
	}
	st, err := t.state()
	if err != nil {
		return err
	}
	if !st.Present {
		return cardedge.ErrNoCard
	}
	t.counter = st.Counter
	return t.refreshATR()
}

// Close ends a transaction still held and disconnects.
func (t *Transport) Close() error {
	if t.inTx {
		t.EndTransaction()
	}
	return t.conn.Close()
}

func mustFrame(p []byte) []byte {
	b, _ := framing.AppendFrame(nil, p)
	return b
}

// Endpoint is a socket-served card under a reader name.
type Endpoint struct {
	// Name is the reader name the host shows (e.g. "CoolKey socket 0").
	Name string
	// Addr is host:port.
	Addr string
}

// Source is a cardedge.ReaderSource over a fixed list of endpoints; an
// endpoint is an attached reader while something listens at its address.
type Source struct {
	endpoints []Endpoint
	// PollInterval is how often monitors ask each endpoint for its state.
	PollInterval time.Duration
}

var _ cardedge.ReaderSource = (*Source)(nil)

// NewSource returns a source for endpoints.
func NewSource(endpoints ...Endpoint) *Source {
	return &Source{endpoints: endpoints, PollInterval: 250 * time.Millisecond}
}

// Readers lists the endpoints that answer, with card presence and ATR.
func (s *Source) Readers() ([]cardedge.ReaderStatus, error) {
	var out []cardedge.ReaderStatus
	for _, ep := range s.endpoints {
		st, atr, err := probe(ep.Addr)
		if err != nil {
			continue // nothing listens: the reader is not attached
		}
		out = append(out, cardedge.ReaderStatus{Name: ep.Name, CardPresent: st.Present, ATR: atr})
	}
	return out, nil
}

// probe asks an endpoint for its state and ATR over a short-lived
// connection.
func probe(addr string) (framing.State, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return framing.State{}, nil, err
	}
	defer conn.Close()
	framing.TuneConn(conn)
	t := &Transport{conn: conn, timeout: 2 * time.Second}
	st, err := t.state()
	if err != nil || !st.Present {
		return st, nil, err
	}
	if err := t.refreshATR(); err != nil && !errors.Is(err, cardedge.ErrNoCard) {
		return st, nil, err
	}
	return st, t.atr, nil
}

// Connect dials the endpoint named reader.
func (s *Source) Connect(reader string) (cardedge.Transport, error) {
	for _, ep := range s.endpoints {
		if ep.Name == reader {
			return Dial(context.Background(), ep.Addr)
		}
	}
	return nil, fmt.Errorf("netcard: %w: %q", cardedge.ErrNoReader, reader)
}

// NewMonitor starts one goroutine per endpoint that polls its card state
// over a connection of its own. The first look at every endpoint is taken
// before NewMonitor returns and is the baseline: any change after that is
// reported, so a caller that lists the readers after NewMonitor misses
// nothing (a card swapped between a listing and a later first look would
// go unreported).
func (s *Source) NewMonitor() (cardedge.Monitor, error) {
	ctx, cancel := context.WithCancel(context.Background())
	m := &monitor{latch: cardedge.NewEventLatch(), cancel: cancel}
	interval := s.PollInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	watchers := make([]*watcher, len(s.endpoints))
	var first sync.WaitGroup
	for i, ep := range s.endpoints {
		w := &watcher{ep: ep, interval: interval}
		watchers[i] = w
		first.Add(1)
		go func() {
			defer first.Done()
			w.last = w.look(ctx)
		}()
	}
	first.Wait()
	for _, w := range watchers {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.watch(ctx, w)
		}()
	}
	return m, nil
}

type monitor struct {
	latch  *cardedge.EventLatch
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func (m *monitor) Wait(ctx context.Context) (cardedge.Event, error) { return m.latch.Wait(ctx) }
func (m *monitor) Poll() (cardedge.Event, bool)                     { return m.latch.Poll() }

func (m *monitor) Close() error {
	m.once.Do(func() {
		m.cancel()
		m.wg.Wait()
		m.latch.Close()
	})
	return nil
}

// endpointState is what a monitor last saw at an endpoint.
type endpointState struct {
	reachable bool
	framing.State
}

// Diff returns the events that turn old into new.
func diff(old, new endpointState) cardedge.EventKind {
	var k cardedge.EventKind
	switch {
	case !old.reachable && !new.reachable:
		return 0
	case !old.reachable:
		k |= cardedge.ReaderAdded
		if new.Present {
			k |= cardedge.CardInserted
		}
		return k
	case !new.reachable:
		k |= cardedge.ReaderRemoved
		if old.Present {
			k |= cardedge.CardRemoved
		}
		return k
	}
	switch {
	case old.Present && !new.Present:
		k |= cardedge.CardRemoved
	case !old.Present && new.Present:
		k |= cardedge.CardInserted
	case new.Present && new.Counter != old.Counter:
		// The counter also moves on insertion, so a change while
		// present both times is a reset, a power cycle, or a swap we
		// were too slow to see; report both to be safe.
		k |= cardedge.CardReset | cardedge.CardRemoved | cardedge.CardInserted
	}
	return k
}

// watcher polls one endpoint.
type watcher struct {
	ep       Endpoint
	interval time.Duration
	conn     net.Conn
	t        *Transport
	last     endpointState
}

// look dials the endpoint if needed and returns its state (unreachable
// when it does not answer).
func (w *watcher) look(ctx context.Context) endpointState {
	if w.conn == nil {
		d := net.Dialer{Timeout: w.interval * 4}
		c, err := d.DialContext(ctx, "tcp", w.ep.Addr)
		if err != nil {
			return endpointState{}
		}
		framing.TuneConn(c)
		w.conn, w.t = c, &Transport{conn: c, timeout: 2 * time.Second}
	}
	st, err := w.t.state()
	if err != nil {
		w.conn = nil // connError closed it
		return endpointState{}
	}
	return endpointState{reachable: true, State: st}
}

func (m *monitor) watch(ctx context.Context, w *watcher) {
	defer func() {
		if w.conn != nil {
			w.conn.Close()
		}
	}()
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := w.look(ctx)
		m.latch.Post(w.ep.Name, diff(w.last, now))
		w.last = now
	}
}
