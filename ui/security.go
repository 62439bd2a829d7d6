package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// ErrNotLoopback is returned for a listen address that other machines
// could reach.
var ErrNotLoopback = errors.New("ui: the Smart Card Manager listens on loopback only (127.0.0.1, ::1 or localhost)")

// ListenLoopback listens on addr, which must name a loopback address
// ("127.0.0.1:PORT", "[::1]:PORT" or "localhost:PORT"; port 0 picks one).
// An empty host (all interfaces) or any other address is refused.
func ListenLoopback(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ui: listen address %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("ui: listen address %q: bad port", addr)
	}
	if strings.EqualFold(host, "localhost") {
		// Resolving "localhost" goes through /etc/hosts, which may say
		// anything; the loopback address itself cannot.
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), port))
	if err != nil {
		return nil, err
	}
	if err := checkLoopbackListener(ln); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// checkLoopbackListener refuses a listener bound elsewhere than loopback
// (Serve is also given listeners made by others).
func checkLoopbackListener(ln net.Listener) error {
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok || ta.IP == nil || !ta.IP.IsLoopback() {
		return fmt.Errorf("%w: listening on %v", ErrNotLoopback, ln.Addr())
	}
	return nil
}

// newSecret returns 32 random bytes, base64url without padding (43
// characters, usable in a path and a cookie).
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func equalSecret(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// guard holds the per-run secrets and checks every request.
type guard struct {
	token string // in the printed URL, then in the cookie
	csrf  string // in the page, sent back in csrfHeader on POSTs
	// hosts are the Host header values accepted: the listening address,
	// and localhost with its port.
	hosts  map[string]bool
	cookie string // per-port name: cookies ignore ports, two servers must not clobber each other
	cop    *http.CrossOriginProtection
}

const (
	tokenPathPrefix = "/t/"
	csrfHeader      = "X-CoolKey-CSRF"
)

func newGuard(ln net.Listener) (*guard, error) {
	ta := ln.Addr().(*net.TCPAddr)
	token, err := newSecret()
	if err != nil {
		return nil, err
	}
	csrf, err := newSecret()
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ta.Port)
	g := &guard{
		token:  token,
		csrf:   csrf,
		hosts:  map[string]bool{ln.Addr().String(): true, "localhost:" + port: true},
		cookie: "coolkey-ui-" + port,
		cop:    http.NewCrossOriginProtection(),
	}
	return g, nil
}

// securityHeaders go on every response, errors included.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=(), serial=(), hid=()")
}

// wrap applies the checks, in order: Host, token, then for unsafe methods
// the CSRF defences.
func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if !g.hosts[strings.ToLower(r.Host)] {
			// A DNS-rebinding page reaches us under its own host name.
			http.Error(w, "unexpected Host header", http.StatusMisdirectedRequest)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, tokenPathPrefix); ok {
			g.enter(w, r, rest)
			return
		}
		c, err := r.Cookie(g.cookie)
		if err != nil || !equalSecret(c.Value, g.token) {
			http.Error(w, "forbidden: open the URL that 'coolkey ui' printed", http.StatusForbidden)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			if err := g.checkPost(r); err != nil {
				http.Error(w, "forbidden: "+err.Error(), http.StatusForbidden)
				return
			}
		default:
			// OPTIONS included: no CORS preflight ever succeeds.
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// enter handles /t/TOKEN/: a right token becomes the cookie and the
// browser is sent to the page (keeping the query, e.g. ?enroll=READER), so
// the token leaves the address bar (and history) at once. Whatever follows
// the token in the path is dropped: the page is the only target, which
// leaves nothing to make an open redirect of.
func (g *guard) enter(w http.ResponseWriter, r *http.Request, rest string) {
	tok, _, _ := strings.Cut(rest, "/")
	if r.Method != http.MethodGet || !equalSecret(tok, g.token) {
		http.Error(w, "forbidden: wrong or expired token (each 'coolkey ui' run prints a new URL)", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     g.cookie,
		Value:    g.token,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	target := "/"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// checkPost: the CSRF token in a header (which a cross-site form cannot
// set, and which makes a cross-origin fetch need a preflight we never
// grant), a JSON body, and no cross-origin browser metadata.
func (g *guard) checkPost(r *http.Request) error {
	if err := g.cop.Check(r); err != nil {
		return err
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return fmt.Errorf("cross-origin request from %q", o)
	}
	if !equalSecret(r.Header.Get(csrfHeader), g.csrf) {
		return errors.New("missing or wrong CSRF token")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errors.New("the body must be application/json")
	}
	return nil
}
