package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const (
	fuzzToken = "tokentokentokentokentokentokentokentokento"
	fuzzCSRF  = "csrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsr"
	fuzzHost  = "127.0.0.1:4711"
)

func fuzzGuard() *guard {
	return &guard{
		token:  fuzzToken,
		csrf:   fuzzCSRF,
		hosts:  map[string]bool{fuzzHost: true, "localhost:4711": true},
		cookie: "coolkey-ui-4711",
		cop:    http.NewCrossOriginProtection(),
	}
}

// FuzzGuard: whatever a request looks like, it reaches the application
// only with the right Host and cookie (and, for a POST, the CSRF header and
// a JSON body), the token cookie is handed out only for the exact token,
// redirects stay on this origin, and every answer has the security
// headers.
func FuzzGuard(f *testing.F) {
	f.Add("GET", "/", "", fuzzHost, fuzzToken, "", "", "", "")
	f.Add("GET", "/t/"+fuzzToken+"/", "enroll=Reader+0", fuzzHost, "", "", "", "", "")
	f.Add("GET", "/t/"+fuzzToken+"//evil.example/", "", "localhost:4711", "", "", "", "", "")
	f.Add("POST", "/api/ops", "", fuzzHost, fuzzToken, fuzzCSRF, "http://"+fuzzHost, "same-origin", "application/json")
	f.Add("POST", "/api/ops", "", fuzzHost, fuzzToken, fuzzCSRF, "https://evil.example", "cross-site", "application/json")
	f.Add("OPTIONS", "/api/ops", "", fuzzHost, fuzzToken, "", "https://evil.example", "", "")
	f.Add("GET", "/t/"+fuzzToken[:20], "", "evil.example:4711", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, method, path, query, host, cookie, csrf, origin, fetchSite, ctype string) {
		g := fuzzGuard()
		reached := false
		h := g.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Host: host, Header: http.Header{}}
		if cookie != "" {
			r.Header.Set("Cookie", g.cookie+"="+cookie)
		}
		for k, v := range map[string]string{csrfHeader: csrf, "Origin": origin, "Sec-Fetch-Site": fetchSite, "Content-Type": ctype} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		if !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatal("no CSP")
		}
		hostOK := g.hosts[strings.ToLower(host)]
		if reached {
			if !hostOK || r.Header.Get("Cookie") == "" || cookieValue(r, g.cookie) != fuzzToken {
				t.Fatalf("reached with host %q cookie %q", host, cookie)
			}
			switch method {
			case "GET", "HEAD":
			case "POST":
				if csrf != fuzzCSRF || (origin != "" && origin != "http://"+host) {
					t.Fatalf("POST reached with csrf %q origin %q", csrf, origin)
				}
			default:
				t.Fatalf("method %q reached", method)
			}
		}
		if sc := w.Header().Get("Set-Cookie"); sc != "" {
			if !hostOK || method != "GET" || !strings.HasPrefix(path, "/t/"+fuzzToken) {
				t.Fatalf("cookie set for %s %q host %q", method, path, host)
			}
			if rest := strings.TrimPrefix(path, "/t/"+fuzzToken); rest != "" && rest[0] != '/' {
				t.Fatalf("cookie set for a longer token: %q", path)
			}
		}
		if loc := w.Header().Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\")) {
			t.Fatalf("redirect off the origin: %q", loc)
		}
	})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// FuzzCheckBrowserURL: what the watcher hands to xdg-open (a phone-home
// server chose it) is an absolute http(s) URL and nothing else.
func FuzzCheckBrowserURL(f *testing.F) {
	for _, s := range []string{"https://tokens.example.com/", "http://a/b?c=d", "file:///etc/passwd", "javascript:alert(1)",
		"https://u:p@h/", "HTTPS://H/", "//evil/", "https://h/ x", "mailto:a@b", "-https://h/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkBrowserURL(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted %q", s)
		}
		if strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \n\r\t\x00") {
			t.Fatalf("accepted %q", s)
		}
	})
}
