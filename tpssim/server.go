package tpssim

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/coolkey-go/coolkey-go/tps"
)

// Config configures a test TPS.
type Config struct {
	// StateDir holds the token database, the activity log and the CA.
	StateDir string
	Users    *Users
	// Policy is the default token policy, laid over DefaultPolicy.
	Policy Policy
	// PlainHTTP serves HTTP instead of HTTPS.
	PlainHTTP bool
	// PublicURL is the scheme://host:port clients reach this server at; the
	// phone-home URL written to cards and the Operation URL served by phone
	// home derive from it. Empty: taken from each request's Host.
	PublicURL string
	// IssuerName is the phone-home IssuerName.
	IssuerName string
	// MessageTimeout bounds the wait for each client message (a user may be
	// typing a password); default 5 minutes.
	MessageTimeout time.Duration
	// KeySize is the RSA modulus size of keys generated on cards; default
	// 2048 (the applet's maximum).
	KeySize int
	// MaxSessions bounds concurrent operations; default 32.
	MaxSessions int
	// AllowMultiActiveTokens lets a user have more than one enrolled card.
	AllowMultiActiveTokens bool
	Logger                 *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Fault, when set, breaks every operation on purpose (for tests of
	// clients); see Fault.
	Fault *Fault
}

// Server is a test TPS.
type Server struct {
	cfg    Config
	users  *Users
	policy Policy
	store  *Store
	ca     *authority
	tks    *tks
	log    *slog.Logger
	slots  chan struct{}

	// running counts operations in progress: their connections are
	// hijacked, so http.Server does not wait for them.
	running sync.WaitGroup

	mu   sync.Mutex
	http *http.Server
}

// Paths served.
const (
	PathOperation = "/tps/tps"
	PathPhoneHome = "/tps/phoneHome"
	pathOldTPS    = "/nk_service" // the C++ TPS's path, still in old ESC configurations
)

// NewServer opens the state directory (creating the CA on first use).
func NewServer(cfg Config) (*Server, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("tpssim: no state directory")
	}
	if cfg.Users == nil || cfg.Users.Len() == 0 {
		return nil, errors.New("tpssim: no users configured")
	}
	if cfg.MessageTimeout <= 0 {
		cfg.MessageTimeout = 5 * time.Minute
	}
	if cfg.KeySize == 0 {
		cfg.KeySize = 2048
	}
	if cfg.KeySize < 1024 || cfg.KeySize > 2048 || cfg.KeySize%8 != 0 {
		return nil, fmt.Errorf("tpssim: key size %d not in 1024..2048", cfg.KeySize)
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 32
	}
	if cfg.IssuerName == "" {
		cfg.IssuerName = "coolkey-go test TPS"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PublicURL != "" {
		if _, err := parseBaseURL(cfg.PublicURL); err != nil {
			return nil, err
		}
	}
	def, err := ParsePolicy(DefaultPolicy)
	if err != nil {
		return nil, err
	}
	store, err := OpenStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	ca, err := loadOrCreateAuthority(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:    cfg,
		users:  cfg.Users,
		policy: def.With(cfg.Policy),
		store:  store,
		ca:     ca,
		tks:    newTKS(),
		log:    cfg.Logger,
		slots:  make(chan struct{}, cfg.MaxSessions),
	}, nil
}

// Store returns the token database.
func (s *Server) Store() *Store { return s.store }

// CACertPEM returns the CA certificate clients should trust.
func (s *Server) CACertPEM() []byte { return s.ca.CertPEM() }

// Handler serves the TPS endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PathOperation, s.handleOperation)
	mux.HandleFunc(pathOldTPS, s.handleOperation)
	mux.HandleFunc(PathPhoneHome, s.handlePhoneHome)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An error answer to a chunked request: net/http would first
		// wait for the end of the body, which a full-duplex client
		// never sends. Closing after the reply skips that wait.
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		mux.ServeHTTP(w, r)
	})
}

// TLSConfig returns the HTTPS configuration with a server certificate for
// hosts (issued into the state directory when needed). HTTP/2 is not
// offered: the protocol is HTTP/1.1 chunked.
func (s *Server) TLSConfig(hosts []string) (*tls.Config, error) {
	if len(hosts) == 0 {
		return nil, errors.New("tpssim: no host names for the server certificate")
	}
	cert, err := s.ca.serverCertificate(s.cfg.StateDir, hosts, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// Serve accepts connections on ln until Shutdown. Unless PlainHTTP, it
// serves HTTPS with a certificate for ln's address and, when set, the
// PublicURL's host.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// No HTTP/2: an empty map disables it.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	if !s.cfg.PlainHTTP {
		hosts := listenerHosts(ln)
		if s.cfg.PublicURL != "" {
			u, _ := url.Parse(s.cfg.PublicURL)
			hosts = append([]string{u.Hostname()}, hosts...)
		}
		tc, err := s.TLSConfig(dedupe(hosts))
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	s.mu.Lock()
	s.http = hs
	s.mu.Unlock()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for operations in progress (until ctx
// ends).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	hs := s.http
	s.mu.Unlock()
	if hs == nil {
		return nil
	}
	err := hs.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

// Wait blocks until no operation is in progress.
func (s *Server) Wait() { s.running.Wait() }

func listenerHosts(ln net.Listener) []string {
	host, _, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return []string{"localhost"}
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return []string{"localhost", "127.0.0.1", "::1"}
	}
	if ip.IsLoopback() {
		return []string{host, "localhost"}
	}
	return []string{host}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, h := range in {
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// baseURL is where the client reached us: the configured public URL, or
// the request's scheme and Host.
func (s *Server) baseURL(r *http.Request) (*url.URL, error) {
	if s.cfg.PublicURL != "" {
		return parseBaseURL(s.cfg.PublicURL)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return parseBaseURL(scheme + "://" + r.Host)
}

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("tpssim: %q is not a base URL like https://host:port", s)
	}
	for _, c := range u.Host {
		if c <= ' ' || c > '~' {
			return nil, fmt.Errorf("tpssim: bad host in %q", s)
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// phoneHomeURL is the issuer info written to cards.
func (s *Server) phoneHomeURL(r *http.Request) (string, error) {
	u, err := s.baseURL(r)
	if err != nil {
		return "", err
	}
	return u.String() + PathPhoneHome, nil
}

// handlePhoneHome serves the ServiceInfo document. Like the Java TPS it
// answers every card the same; cuid is accepted and ignored.
func (s *Server) handlePhoneHome(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	base, err := s.baseURL(r)
	if err != nil {
		http.Error(w, "bad Host", http.StatusBadRequest)
		return
	}
	si := tps.ServiceInfo{
		IssuerName: s.cfg.IssuerName,
		Services: []tps.Param{
			{Name: tps.ServiceOperation, Value: base.String() + PathOperation},
			{Name: tps.ServiceTokenType, Value: defaultTokenType},
		},
	}
	b, err := si.Marshal()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write(b)
}

// handleOperation runs one token operation over a full-duplex chunked
// exchange. It answers 405 and 400 as the Java TPS does; otherwise it takes
// the connection over, so that it alone decides chunk boundaries and
// deadlines.
func (s *Server) handleOperation(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
		http.Error(w, "the request body must be chunked", http.StatusBadRequest)
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		http.Error(w, "too many operations in progress", http.StatusServiceUnavailable)
		return
	}
	s.running.Add(1)
	defer func() {
		<-s.slots
		s.running.Done()
	}()

	phoneHome, err := s.phoneHomeURL(r)
	if err != nil {
		http.Error(w, "bad Host", http.StatusBadRequest)
		return
	}
	conn, bufrw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot take over the connection", http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(s.cfg.MessageTimeout))
	bufrw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	if err := bufrw.Flush(); err != nil {
		return
	}
	sess := &session{
		srv:     s,
		conn:    conn,
		r:       tps.NewMessageReader(bufio.NewReader(httputil.NewChunkedReader(bufrw.Reader)), tps.DefaultMaxMessageSize),
		w:       tps.NewChunkWriter(bufrw.Writer),
		timeout: s.cfg.MessageTimeout,
		log:     s.log.With("remote", r.RemoteAddr),
	}
	sess.run(r.RemoteAddr, phoneHome)
	// The exchange is over; end the body. The client's own last chunk
	// is not waited for.
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	sess.w.Close()
}

// run reads BEGIN_OP, performs the operation and sends END_OP.
func (sess *session) run(remote, phoneHome string) {
	s := sess.srv
	start := s.cfg.Now()
	first, err := sess.recv(tps.StatusErrSNAC)
	if err == nil && first.Type() != tps.MsgBeginOp {
		err = fail(tps.StatusErrSNAC, "first message is %v, not BEGIN_OP", first.Type())
	}
	if err != nil {
		sess.finish(err, remote, start)
		return
	}
	begin := first.(tps.BeginOp)
	sess.op = begin.Op
	sess.ext = begin.Extensions
	v, _ := begin.Extensions.Get(tps.ExtStatusUpdate)
	sess.statusUpdates = v == "true"
	_, sess.extendedLogin = begin.Extensions.Get(tps.ExtExtendedLoginRequest)
	sess.log = sess.log.With("op", sess.op.String())
	sess.log.Info("operation started", "extensions", begin.Extensions.String())

	err = sess.protect(func() error {
		switch sess.op {
		case tps.OpEnroll:
			return sess.enroll(phoneHome)
		case tps.OpResetPIN:
			return sess.resetPIN()
		case tps.OpFormat:
			return sess.format(phoneHome)
		default:
			// Unblock, renew and anything unknown: the Java TPS ends
			// them at once with result 1 and status 0.
			return &opError{status: tps.StatusOK, msg: "operation not implemented"}
		}
	})
	sess.finish(err, remote, start)
}

// protect turns a panic in a flow into an internal error for this
// operation only.
func (sess *session) protect(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			sess.log.Error("panic in operation", "panic", p, "stack", string(debug.Stack()))
			err = fail(tps.StatusErrSNAC, "internal error")
		}
	}()
	return fn()
}

// finish sends END_OP (unless the connection is gone) and logs the outcome.
func (sess *session) finish(err error, remote string, start time.Time) {
	s := sess.srv
	act := Activity{Time: start, Op: sess.op.String(), CUID: sess.cuid, UserID: sess.user, Remote: remote, Result: "success"}
	end := tps.EndOp{Op: sess.op, Result: tps.ResultOK, Status: tps.StatusOK}
	var oe *opError
	var ce *connError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		act.Result, act.Status, act.Message = "failure", int(tps.StatusErrConnLost), err.Error()
		sess.log.Warn("operation aborted", "err", err)
		s.store.Log(act)
		return
	case errors.As(err, &oe):
		end.Result, end.Status = tps.ResultError, oe.status
		act.Result, act.Status, act.Message = "failure", int(oe.status), oe.Error()
	default:
		end.Result, end.Status = tps.ResultError, tps.StatusErrSNAC
		act.Result, act.Status, act.Message = "failure", int(tps.StatusErrSNAC), err.Error()
	}
	// Log first: once END_OP is out, the client may act on the result
	// (and a test may look at the log).
	if act.Result == "success" {
		sess.log.Info("operation succeeded", "user", sess.user)
	} else {
		sess.log.Warn("operation failed", "user", sess.user, "status", end.Status.String(), "err", act.Message)
	}
	if err := s.store.Log(act); err != nil {
		sess.log.Error("activity log", "err", err)
	}
	if err := sess.send(end); err != nil {
		sess.log.Warn("END_OP not delivered", "err", err)
	}
}
