package ui

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/esc"
)

func TestListenLoopbackRefusesOtherAddresses(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "10.0.0.1:8080", "example.com:0", "127.0.0.1.nip.io:0", "localhost.example:0"} {
		ln, err := ListenLoopback(addr)
		if err == nil {
			ln.Close()
			t.Errorf("%s: listened", addr)
			continue
		}
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: %v, want ErrNotLoopback", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "LOCALHOST:0", "127.0.0.2:0", "[::1]:0"} {
		ln, err := ListenLoopback(addr)
		if err != nil {
			if addr == "[::1]:0" && !errors.Is(err, ErrNotLoopback) {
				t.Logf("%s: %v (no IPv6 loopback here)", addr, err)
				continue
			}
			t.Errorf("%s: %v", addr, err)
			continue
		}
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("%s: bound to %v", addr, ip)
		}
		ln.Close()
	}
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:http", "127.0.0.1:99999"} {
		if ln, err := ListenLoopback(addr); err == nil {
			ln.Close()
			t.Errorf("%s: listened", addr)
		}
	}
}

// wildcardListener claims to listen on every interface.
type wildcardListener struct{ net.Listener }

func (wildcardListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero, Port: 8080} }

func TestNewRefusesNonLoopbackListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := newWorldlessClient(t)
	if _, err := New(wildcardListener{ln}, Options{Client: c}); !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("New on 0.0.0.0: %v", err)
	}
}

func newWorldlessClient(t *testing.T) *esc.Client {
	t.Helper()
	dir := t.TempDir()
	c, err := esc.NewClient(emptySource{}, esc.Paths{ConfigDir: dir + "/cfg", StateDir: dir + "/state", RuntimeDir: dir + "/run"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows inline code: %q", what, csp)
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s %q, want %q", what, k, got, want)
		}
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: CORS header %s", what, k)
		}
	}
}

func TestTokenIsRequired(t *testing.T) {
	u := startUI(t, newWorldlessClient(t), Options{})
	token := u.s.g.token
	cases := []struct {
		name string
		path string
		mod  func(*http.Request)
		code int
	}{
		{"no cookie", "/", func(r *http.Request) { r.Header.Del("Cookie") }, http.StatusForbidden},
		{"no cookie, API", "/api/cards", func(r *http.Request) { r.Header.Del("Cookie") }, http.StatusForbidden},
		{"no cookie, events", "/api/events", func(r *http.Request) { r.Header.Del("Cookie") }, http.StatusForbidden},
		{"no cookie, script", "/app.js", func(r *http.Request) { r.Header.Del("Cookie") }, http.StatusForbidden},
		{"wrong cookie", "/api/cards", func(r *http.Request) {
			r.Header.Del("Cookie")
			r.AddCookie(&http.Cookie{Name: u.s.g.cookie, Value: strings.Repeat("A", len(token))})
		}, http.StatusForbidden},
		{"token under another port's cookie name", "/api/cards", func(r *http.Request) {
			r.Header.Del("Cookie")
			r.AddCookie(&http.Cookie{Name: "coolkey-ui-1", Value: token})
		}, http.StatusForbidden},
		{"wrong token in the path", "/t/" + strings.Repeat("B", len(token)) + "/", func(r *http.Request) { r.Header.Del("Cookie") }, http.StatusForbidden},
		{"short token in the path", "/t/" + token[:10] + "/", func(r *http.Request) { r.Header.Del("Cookie") }, http.StatusForbidden},
		{"right cookie", "/api/cards", nil, http.StatusOK},
		{"right cookie, page", "/", nil, http.StatusOK},
		{"unknown path", "/nothing", nil, http.StatusNotFound},
	}
	for _, c := range cases {
		resp := u.request(http.MethodGet, c.path, nil, c.mod)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d, want %d (%s)", c.name, resp.StatusCode, c.code, body)
		}
		if c.code == http.StatusForbidden && (resp.Header.Get("Set-Cookie") != "" || strings.Contains(string(body), token)) {
			t.Errorf("%s: a refused request got the token", c.name)
		}
		checkSecurityHeaders(t, c.name, resp.Header)
	}
}

// TestTokenURLBecomesCookie: the printed URL sets the cookie and sends the
// browser to an address without the token.
func TestTokenURLBecomesCookie(t *testing.T) {
	u := startUI(t, newWorldlessClient(t), Options{})
	if !strings.HasPrefix(u.s.URL(), u.base+"/t/") || !strings.Contains(u.s.URL(), u.s.g.token) {
		t.Fatalf("URL %s", u.s.URL())
	}
	for path, want := range map[string]string{
		"/":                        "/",
		"/?enroll=Reader+0":        "/?enroll=Reader+0",
		"//evil.example/":          "/",
		"/\\evil.example/":         "/",
		"/api/cards":               "/",
		"/%2F%2Fevil.example/path": "/",
	} {
		resp := u.request(http.MethodGet, "/t/"+u.s.g.token+path, nil, func(r *http.Request) { r.Header.Del("Cookie") })
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %d", path, resp.StatusCode)
			continue
		}
		if loc := resp.Header.Get("Location"); loc != want {
			t.Errorf("%s: Location %q, want %q", path, loc, want)
		}
		if strings.Contains(resp.Header.Get("Location"), u.s.g.token) {
			t.Errorf("%s: the redirect keeps the token", path)
		}
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == u.s.g.cookie {
				ck = c
			}
		}
		if ck == nil || ck.Value != u.s.g.token || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
			t.Errorf("%s: cookie %+v", path, ck)
		}
	}
	resp := u.request(http.MethodPost, "/t/"+u.s.g.token+"/", struct{}{}, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST to the token URL: %d", resp.StatusCode)
	}
}

// TestHostHeaderChecked: a DNS-rebinding page reaches the port under its
// own name, with the right cookie if the browser had one for it (it does
// not, but the check must not rely on that).
func TestHostHeaderChecked(t *testing.T) {
	u := startUI(t, newWorldlessClient(t), Options{})
	_, port, _ := net.SplitHostPort(u.s.ln.Addr().String())
	for host, want := range map[string]int{
		"evil.example:" + port: http.StatusMisdirectedRequest,
		"evil.example":         http.StatusMisdirectedRequest,
		"127.0.0.1":            http.StatusMisdirectedRequest,
		"127.0.0.1:1":          http.StatusMisdirectedRequest,
		"localhost:" + port:    http.StatusOK,
		"LOCALHOST:" + port:    http.StatusOK,
		"127.0.0.1:" + port:    http.StatusOK,
	} {
		for _, path := range []string{"/api/cards", "/t/" + u.s.g.token + "/"} {
			resp := u.request(http.MethodGet, path, nil, func(r *http.Request) { r.Host = host })
			resp.Body.Close()
			got := resp.StatusCode
			if got == http.StatusSeeOther {
				got = http.StatusOK
			}
			if got != want {
				t.Errorf("Host %q %s: %d, want %d", host, path, resp.StatusCode, want)
			}
			if want != http.StatusOK && resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("Host %q: cookie set", host)
			}
		}
	}
}

// TestCrossSiteWritesRefused: every state-changing request needs the CSRF
// header, a JSON body and no cross-origin browser metadata; other methods
// (and CORS preflights) are refused.
func TestCrossSiteWritesRefused(t *testing.T) {
	u := startUI(t, newWorldlessClient(t), Options{})
	_, port, _ := net.SplitHostPort(u.s.ln.Addr().String())
	cases := []struct {
		name string
		mod  func(*http.Request)
	}{
		{"no CSRF header", func(r *http.Request) { r.Header.Del(csrfHeader) }},
		{"wrong CSRF header", func(r *http.Request) { r.Header.Set(csrfHeader, u.s.g.token) }},
		{"cross-site Origin", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example"); r.Header.Del("Sec-Fetch-Site") }},
		{"other local port", func(r *http.Request) { r.Header.Set("Origin", "http://127.0.0.1:1"); r.Header.Del("Sec-Fetch-Site") }},
		{"Origin null", func(r *http.Request) { r.Header.Set("Origin", "null"); r.Header.Del("Sec-Fetch-Site") }},
		{"Sec-Fetch-Site cross-site", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }},
		{"Sec-Fetch-Site same-site", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }},
		{"form body", func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }},
		{"text body", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }},
		{"no cookie", func(r *http.Request) { r.Header.Del("Cookie") }},
	}
	for _, path := range []string{"/api/trust", "/api/ops", "/api/phonehome", "/api/ops/1/cancel"} {
		for _, c := range cases {
			resp := u.request(http.MethodPost, path, map[string]string{}, c.mod)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s, %s: %d, want 403", path, c.name, resp.StatusCode)
			}
			checkSecurityHeaders(t, c.name, resp.Header)
		}
	}
	// The same request, done right, gets through to the handler.
	if code := u.call(http.MethodPost, "/api/trust", map[string]string{"pem": "not PEM"}, nil); code != http.StatusBadRequest {
		t.Errorf("a good request with a bad body: %d", code)
	}
	resp := u.request(http.MethodPost, "/api/trust", map[string]string{"pem": "x"}, func(r *http.Request) {
		r.Header.Set("Origin", "http://localhost:"+port)
		r.Host = "localhost:" + port
	})
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("from http://localhost:%s: %d", port, resp.StatusCode)
	}
	for _, m := range []string{http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		resp := u.request(m, "/api/ops", nil, func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", csrfHeader)
		})
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
		checkSecurityHeaders(t, m, resp.Header)
	}
}

// TestPageCarriesCSRFButNoToken: the page holds the CSRF token for its
// own requests, never the access token.
func TestPageCarriesCSRFButNoToken(t *testing.T) {
	u := startUI(t, newWorldlessClient(t), Options{HideFormat: true})
	resp := u.request(http.MethodGet, "/", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if !strings.Contains(page, `<meta name="csrf" content="`+u.s.g.csrf+`">`) {
		t.Error("no CSRF token in the page")
	}
	if strings.Contains(page, u.s.g.token) {
		t.Error("the page carries the access token")
	}
	if !strings.Contains(page, `data-hide-format="true"`) {
		t.Error("hide-format not passed to the page")
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, " style=") || strings.Contains(page, " onclick=") {
		t.Error("inline script or style in the page")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	for path, ct := range map[string]string{"/app.js": "text/javascript", "/app.css": "text/css", "/icon.svg": "image/svg+xml"} {
		resp := u.request(http.MethodGet, path, nil, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}
