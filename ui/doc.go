// Package ui is the Smart Card Manager: the Enterprise Security Client's
// "Manage Smart Cards" window as a local web application, and the
// card-insertion watcher that offers enrollment (what ESC's escd and tray
// did).
//
// Server serves one page (plain HTML, CSS and JavaScript embedded in the
// binary) and a small JSON API over esc.Manager: the Active Smart Cards
// table, live-updated with Server-Sent Events as cards come and go;
// enroll, PIN reset and format, with the TPS's progress and its
// credential and new-PIN requests turned into forms; certificates with
// PEM export; the diagnostics view and log; phone-home settings and the
// trusted TPS CAs.
//
// The server is reachable only by the user who started it:
//   - it listens on loopback only (ListenLoopback refuses anything else);
//   - every request must carry the random per-run token: the printed URL
//     holds it in its path, the server moves it into an HttpOnly,
//     SameSite=Strict cookie and redirects to a URL without it;
//   - the Host header must name the listening address (DNS rebinding);
//   - state-changing requests are POSTs with a JSON body, a per-run CSRF
//     token in a request header, and no cross-origin Origin or
//     Sec-Fetch-Site; no CORS header is ever sent;
//   - a strict Content Security Policy allows only the embedded script and
//     style; card and server strings are only ever inserted as text.
//
// Credentials and PINs travel only from the page to the server, are handed
// to the operation and forgotten; no response or event carries them back.
package ui
