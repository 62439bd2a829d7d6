package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/esc"
)

//go:embed static
var staticFiles embed.FS

// Options configure a Server.
type Options struct {
	// Client is the user's enrollment client (configuration, trust, log,
	// readers).
	Client *esc.Client
	// Version is shown in the diagnostics view.
	Version string
	// HideFormat hides and refuses Format, besides the configuration's
	// hideFormat.
	HideFormat bool
	// Logf receives the server's own messages (never a secret); nil
	// discards them.
	Logf func(format string, args ...any)
}

// Server is the Smart Card Manager's web server. Create it with New, then
// Serve on a loopback listener.
type Server struct {
	c          *esc.Client
	m          *esc.Manager
	version    string
	hideFormat bool
	logf       func(string, ...any)

	g     *guard
	ln    net.Listener
	hs    *http.Server
	hub   *hub
	index *template.Template

	// refresh asks the card lister for a new list (coalesced).
	refresh chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.Mutex
	nextID int
	ops    map[int]*operation
	// starting holds readers whose operation is being checked and started.
	starting map[string]bool
	// opOrder keeps operations in start order for the page.
	opOrder []int
	// lastCards is the most recent card list, for streams that open.
	lastCards []cardView
}

// New prepares a server listening on ln, which must be a loopback
// listener (see ListenLoopback). Serve starts it.
func New(ln net.Listener, opts Options) (*Server, error) {
	if opts.Client == nil {
		return nil, errors.New("ui: no client")
	}
	if err := checkLoopbackListener(ln); err != nil {
		return nil, err
	}
	g, err := newGuard(ln)
	if err != nil {
		return nil, err
	}
	idx, err := template.ParseFS(staticFiles, "static/index.html")
	if err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		c:          opts.Client,
		m:          esc.NewManager(opts.Client),
		version:    opts.Version,
		hideFormat: opts.HideFormat || opts.Client.Config.HideFormat,
		logf:       logf,
		g:          g,
		ln:         ln,
		hub:        newHub(),
		index:      idx,
		refresh:    make(chan struct{}, 1),
		ctx:        ctx,
		cancel:     cancel,
		ops:        map[int]*operation{},
		starting:   map[string]bool{},
	}
	s.hs = &http.Server{
		Handler:           g.wrap(s.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          nil,
	}
	return s, nil
}

// URL is the address to open: it carries the per-run token.
func (s *Server) URL() string { return s.BaseURL() + tokenPathPrefix + s.g.token + "/" }

// BaseURL is the server's origin, without the token.
func (s *Server) BaseURL() string { return "http://" + s.ln.Addr().String() }

// EnrollURL opens the page with the enrollment of the card in reader
// started (for the watcher).
func (s *Server) EnrollURL(reader string) string {
	return s.URL() + "?" + url.Values{"enroll": {reader}}.Encode()
}

// Serve serves until Shutdown; it returns http.ErrServerClosed then. It
// also watches the readers, so that the page follows insertions and
// removals.
func (s *Server) Serve() error {
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.watchCards() }()
	go func() { defer s.wg.Done(); s.listCards() }()
	s.requestRefresh()
	return s.hs.Serve(s.ln)
}

// Shutdown stops the server: event streams end, operations in progress
// are cancelled (the TPS sees a lost connection), and the card watcher
// stops.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	s.mu.Lock()
	for _, op := range s.ops {
		op.cancelLocked(s.m)
	}
	s.mu.Unlock()
	err := s.hs.Shutdown(ctx)
	s.wg.Wait()
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.FileServerFS(sub)
	mux.HandleFunc("GET /{$}", s.serveIndex)
	mux.Handle("GET /app.js", files)
	mux.Handle("GET /app.css", files)
	mux.Handle("GET /icon.svg", files)

	mux.HandleFunc("GET /api/events", s.serveEvents)
	mux.HandleFunc("GET /api/cards", s.getCards)
	mux.HandleFunc("GET /api/certificate", s.getCertificate)
	mux.HandleFunc("GET /api/diagnostics", s.getDiagnostics)
	mux.HandleFunc("GET /api/phonehome", s.getPhoneHome)
	mux.HandleFunc("POST /api/phonehome", s.postPhoneHome)
	mux.HandleFunc("GET /api/trust", s.getTrust)
	mux.HandleFunc("POST /api/trust", s.postTrust)
	mux.HandleFunc("GET /api/ops", s.getOps)
	mux.HandleFunc("POST /api/ops", s.postOp)
	mux.HandleFunc("POST /api/ops/{id}/login", s.postLogin)
	mux.HandleFunc("POST /api/ops/{id}/pin", s.postPIN)
	mux.HandleFunc("POST /api/ops/{id}/cancel", s.postCancel)
	mux.HandleFunc("POST /api/ops/{id}/dismiss", s.postDismiss)
	return mux
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	err := s.index.Execute(w, struct {
		CSRF       string
		HideFormat bool
		Version    string
	}{s.g.csrf, s.hideFormat, s.version})
	if err != nil {
		s.logf("rendering the page: %v", err)
	}
}

// serveEvents is the Server-Sent Events stream: the card list and every
// operation at once, then changes as they happen.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	ch := s.hub.subscribe()
	defer s.hub.unsubscribe(ch)

	s.mu.Lock()
	cards := s.lastCards
	ops := s.opViewsLocked()
	s.mu.Unlock()
	if cards == nil {
		cards = s.readCards()
	}
	write := func(name string, v any) error {
		b, err := jsonBytes(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write("cards", cards) != nil {
		return
	}
	for _, v := range ops {
		if write("op", v) != nil {
			return
		}
	}
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return // fell behind; the browser reconnects
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// requestRefresh asks for a new card list soon; requests made while one
// is being read are merged into one more read.
func (s *Server) requestRefresh() {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
}

// listCards reads the card list whenever asked and publishes it.
func (s *Server) listCards() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.refresh:
		}
		cards := s.readCards()
		s.mu.Lock()
		s.lastCards = cards
		s.mu.Unlock()
		s.hub.publish("cards", cards)
	}
}

// watchCards follows reader events; when the readers cannot be watched
// (no pcscd yet, say) it polls the list instead and retries.
func (s *Server) watchCards() {
	for s.ctx.Err() == nil {
		// esc.Watch writes the events to the diagnostics log.
		err := s.m.Watch(s.ctx, func(esc.CardEvent) { s.requestRefresh() })
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			s.logf("watching the readers: %v; polling instead", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(5 * time.Second):
			s.requestRefresh()
		}
	}
}
