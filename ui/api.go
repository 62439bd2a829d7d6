package ui

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/internal/dn"
	"github.com/coolkey-go/coolkey-go/tps"
)

// cardView is a card as the page shows it.
type cardView struct {
	Reader          string     `json:"reader"`
	Status          string     `json:"status"`
	StatusText      string     `json:"statusText"`
	CUID            string     `json:"cuid,omitempty"`
	ATR             string     `json:"atr,omitempty"`
	AppletVersion   string     `json:"appletVersion,omitempty"`
	ProtocolVersion string     `json:"protocolVersion,omitempty"`
	LifeCycle       string     `json:"lifeCycle,omitempty"`
	TokenName       string     `json:"tokenName,omitempty"`
	Issuer          string     `json:"issuer,omitempty"`
	PhoneHomeURL    string     `json:"phoneHomeURL,omitempty"`
	TPSURL          string     `json:"tpsURL,omitempty"`
	Error           string     `json:"error,omitempty"`
	Certificates    []certView `json:"certificates"`
}

// certView is a certificate as the page shows it.
type certView struct {
	ID        string    `json:"id"`
	Label     string    `json:"label,omitempty"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	SHA256    string    `json:"sha256"` // colon-separated upper-case hex, as certificate viewers show it
	SHA1      string    `json:"sha1"`
}

// statusText is ESC's wording of a status.
func statusText(status string) string {
	switch status {
	case "NO_APPLET":
		return "Unformatted"
	case "UNINITIALIZED":
		return "Formatted (not enrolled)"
	case "ENROLLED":
		return "Enrolled"
	case esc.StatusBusy:
		return "Busy"
	case esc.StatusNoCard:
		return "No card"
	}
	return "Unknown"
}

func fingerprint(sum []byte) string {
	h := strings.ToUpper(hex.EncodeToString(sum))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

func viewCard(ci esc.CardInfo) cardView {
	v := cardView{
		Reader: ci.Reader, Status: ci.Status, StatusText: statusText(ci.Status),
		CUID: ci.CUID, ATR: ci.ATR, AppletVersion: ci.AppletVersion, ProtocolVersion: ci.ProtocolVersion,
		LifeCycle: ci.LifeCycle, TokenName: ci.TokenName, Issuer: ci.Issuer, PhoneHomeURL: ci.PhoneHomeURL,
		TPSURL: ci.TPSURL, Error: ci.Error, Certificates: []certView{},
	}
	for _, c := range ci.Certificates {
		s256 := sha256.Sum256(c.DER)
		s1 := sha1.Sum(c.DER)
		v.Certificates = append(v.Certificates, certView{
			ID: c.ID, Label: c.Label, Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial,
			NotBefore: c.NotBefore, NotAfter: c.NotAfter, SHA256: fingerprint(s256[:]), SHA1: fingerprint(s1[:]),
		})
	}
	return v
}

// readCards lists every reader; a failure is one pseudo-entry, so that the
// page says why it shows nothing.
func (s *Server) readCards() []cardView {
	cards, err := s.m.ListCards()
	if err != nil {
		s.logf("listing cards: %v", err)
		return []cardView{}
	}
	s.mu.Lock()
	running := map[string]bool{}
	for _, op := range s.ops {
		if op.state != stateDone {
			running[op.reader] = true
		}
	}
	s.mu.Unlock()
	out := make([]cardView, 0, len(cards))
	for _, ci := range cards {
		v := viewCard(ci)
		if running[ci.Reader] && v.Status != esc.StatusNoCard {
			// Ours even before the operation has marked the reader.
			v.Status, v.StatusText = esc.StatusBusy, statusText(esc.StatusBusy)
		}
		out = append(out, v)
	}
	return out
}

// Responses and requests.

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// apiError is what a failed API call answers: a message for the user,
// and the exit code / TPS status where there is one.
type apiError struct {
	Error  string `json:"error"`
	Code   int    `json:"code,omitempty"`
	Status int    `json:"status,omitempty"`
}

func writeError(w http.ResponseWriter, code int, err error) {
	ae := apiError{Error: err.Error()}
	var e *esc.Error
	if errors.As(err, &e) {
		ae.Code = e.Kind.ExitCode()
		ae.Status = int(e.Status)
	}
	writeJSON(w, code, ae)
}

// errorStatus picks the HTTP status for an esc failure.
func errorStatus(err error) int {
	switch esc.KindOf(err) {
	case esc.KindUser:
		return http.StatusBadRequest
	case esc.KindCard:
		return http.StatusConflict
	case esc.KindConnection, esc.KindTrust, esc.KindRefused:
		return http.StatusBadGateway
	case esc.KindCancelled:
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// readJSON decodes a bounded JSON body with no unknown fields.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad request body: " + err.Error()})
		return false
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad request body: trailing data"})
		return false
	}
	return true
}

const smallBody = 16 << 10

// Handlers.

func (s *Server) getCards(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.readCards())
}

// getCertificate exports one certificate of a card as PEM
// (?reader=NAME&id=c1).
func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request) {
	reader, id := r.URL.Query().Get("reader"), r.URL.Query().Get("id")
	info, err := s.m.CardStatus(reader)
	if err != nil {
		writeError(w, errorStatus(err), err)
		return
	}
	for _, c := range info.Certificates {
		if c.ID != id {
			continue
		}
		name := info.CUID
		if name == "" {
			name = "card"
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		// Both parts are hex digits and a letter: nothing to escape.
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeFileName(name+"-"+c.ID)+".pem"))
		pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
		return
	}
	writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no certificate %q on the card in %q", id, reader)})
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// diagnosticsView is ESC's diagnostics window: versions, files, settings,
// every card, and the log.
type diagnosticsView struct {
	Version            string         `json:"version"`
	OS                 string         `json:"os"`
	GoVersion          string         `json:"goVersion"`
	ConfigFile         string         `json:"configFile"`
	TrustFile          string         `json:"trustFile"`
	LogFile            string         `json:"logFile"`
	TPSURL             string         `json:"tpsURL,omitempty"`
	GlobalPhoneHomeURL string         `json:"globalPhoneHomeURL,omitempty"`
	TokenType          string         `json:"tokenType"`
	MessageTimeout     string         `json:"messageTimeout"`
	HideFormat         bool           `json:"hideFormat"`
	Readers            int            `json:"readers"`
	CardCount          int            `json:"cardCount"`
	Cards              []diagCardView `json:"cards"`
	Log                []string       `json:"log"`
	LogError           string         `json:"logError,omitempty"`
}

type diagCardView struct {
	cardView
	EnrollmentUIURL string          `json:"enrollmentUIURL,omitempty"`
	PhoneHome       *phoneHomeCache `json:"phoneHome,omitempty"`
}

const diagLogLines = 200

func (s *Server) getDiagnostics(w http.ResponseWriter, r *http.Request) {
	cfg := s.c.Config
	d := diagnosticsView{
		Version:            s.version,
		OS:                 runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion:          runtime.Version(),
		ConfigFile:         s.c.Paths.ConfigFile(),
		TrustFile:          s.c.Paths.BundleFile(),
		LogFile:            s.c.Log.Path(),
		TPSURL:             cfg.TPSURL,
		GlobalPhoneHomeURL: cfg.GlobalPhoneHomeURL,
		TokenType:          cfg.TokenType,
		MessageTimeout:     cfg.MessageTimeout().String(),
		HideFormat:         s.hideFormat,
		Cards:              []diagCardView{},
	}
	if d.TokenType == "" {
		d.TokenType = esc.DefaultTokenType
	}
	for _, cv := range s.readCards() {
		d.Readers++
		if cv.Status == esc.StatusNoCard {
			continue
		}
		d.CardCount++
		dc := diagCardView{cardView: cv}
		if cv.CUID != "" {
			if cc := cfg.Card(cv.CUID); cc != nil {
				dc.PhoneHome = viewCache(cc)
				dc.EnrollmentUIURL = cc.Service(tps.ServiceUI)
			}
		}
		d.Cards = append(d.Cards, dc)
	}
	lines, err := s.c.Log.Tail(diagLogLines)
	if err != nil {
		d.LogError = err.Error()
	}
	d.Log = append([]string{}, lines...)
	writeJSON(w, http.StatusOK, d)
}

// phoneHomeCache is a card's cached phone-home answer.
type phoneHomeCache struct {
	URL         string         `json:"url"`
	URLFromUser bool           `json:"urlFromUser"`
	Issuer      string         `json:"issuer"`
	Services    []serviceEntry `json:"services"`
	Fetched     time.Time      `json:"fetched"`
}

type serviceEntry struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func viewCache(cc *esc.CardCache) *phoneHomeCache {
	if cc == nil {
		return nil
	}
	v := &phoneHomeCache{URL: cc.PhoneHomeURL, URLFromUser: cc.URLFromUser, Issuer: cc.IssuerName, Fetched: cc.Fetched, Services: []serviceEntry{}}
	for _, p := range cc.Services {
		v.Services = append(v.Services, serviceEntry{Name: p.Name, Value: p.Value})
	}
	return v
}

// phoneHomeView is the phone-home settings of one card.
type phoneHomeView struct {
	Reader             string          `json:"reader"`
	CUID               string          `json:"cuid"`
	CardURL            string          `json:"cardURL"` // issuer info on the card
	GlobalPhoneHomeURL string          `json:"globalPhoneHomeURL,omitempty"`
	TPSURL             string          `json:"tpsURL,omitempty"` // configured, wins over phone home
	Cached             *phoneHomeCache `json:"cached,omitempty"`
}

func (s *Server) phoneHomeView(reader string) (phoneHomeView, error) {
	info, err := s.m.CardStatus(reader)
	if err != nil {
		return phoneHomeView{}, err
	}
	if info.Status == esc.StatusNoCard {
		return phoneHomeView{}, fmt.Errorf("no card in %q", reader)
	}
	v := phoneHomeView{Reader: reader, CUID: info.CUID, CardURL: info.PhoneHomeURL,
		GlobalPhoneHomeURL: s.c.Config.GlobalPhoneHomeURL, TPSURL: s.c.Config.TPSURL}
	if info.CUID != "" {
		v.Cached = viewCache(s.c.Config.Card(info.CUID))
	}
	return v, nil
}

func (s *Server) getPhoneHome(w http.ResponseWriter, r *http.Request) {
	v, err := s.phoneHomeView(r.URL.Query().Get("reader"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// postPhoneHome phones home for a card: with a URL, that URL is used and
// remembered for the card (for cards that carry none, or to override
// theirs); without, the card's own, the remembered or the global one
// ("test").
func (s *Server) postPhoneHome(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reader string `json:"reader"`
		URL    string `json:"url"`
	}
	if !readJSON(w, r, smallBody, &req) {
		return
	}
	req.URL = strings.TrimSpace(req.URL)
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	if _, err := phoneHome(ctx, s.m, s.c, req.Reader, req.URL); err != nil {
		writeError(w, errorStatus(err), err)
		return
	}
	v, err := s.phoneHomeView(req.Reader)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	s.requestRefresh() // the issuer column changes
	writeJSON(w, http.StatusOK, v)
}

// phoneHome phones home for the card in reader. With no URL it uses the
// card's, else one the user gave before for this card, else the global
// fallback (esc.Manager.PhoneHome knows only the first and last).
func phoneHome(ctx context.Context, m *esc.Manager, c *esc.Client, reader, url string) (*esc.CardCache, error) {
	if url == "" {
		info, err := m.CardStatus(reader)
		if err != nil {
			return nil, err
		}
		if cc := c.Config.Card(info.CUID); info.PhoneHomeURL == "" && info.CUID != "" && cc != nil && cc.URLFromUser {
			url = cc.PhoneHomeURL
		}
	}
	return m.PhoneHome(ctx, reader, url)
}

// trustView is one CA the user added.
type trustView struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"notAfter"`
	IsCA     bool      `json:"isCA"`
	SHA256   string    `json:"sha256"`
}

func viewTrust(c *x509.Certificate) trustView {
	sum := sha256.Sum256(c.Raw)
	return trustView{Subject: dn.Subject(c), Issuer: dn.Issuer(c), NotAfter: c.NotAfter.UTC(), IsCA: c.IsCA, SHA256: fingerprint(sum[:])}
}

func (s *Server) getTrust(w http.ResponseWriter, r *http.Request) {
	certs, err := esc.ListTrust(s.c.Paths.BundleFile())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	out := struct {
		File  string      `json:"file"`
		Certs []trustView `json:"certs"`
	}{s.c.Paths.BundleFile(), []trustView{}}
	for _, c := range certs {
		out.Certs = append(out.Certs, viewTrust(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// maxTrustPEM bounds an uploaded CA chain.
const maxTrustPEM = 256 << 10

// postTrust adds the CA certificates in {"pem": "..."} (ESC's "import CA
// certificate chain").
func (s *Server) postTrust(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PEM string `json:"pem"`
	}
	if !readJSON(w, r, maxTrustPEM+smallBody, &req) {
		return
	}
	if len(req.PEM) > maxTrustPEM {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "the PEM data is too large"})
		return
	}
	added, err := esc.AddTrust(s.c.Paths.BundleFile(), bytes.TrimSpace([]byte(req.PEM)))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "not added: " + err.Error()})
		return
	}
	out := struct {
		Added []trustView `json:"added"`
	}{[]trustView{}}
	for _, c := range added {
		out.Added = append(out.Added, viewTrust(c))
	}
	if len(added) > 0 {
		s.c.Log.Event("trust-add", "count", len(added))
	}
	writeJSON(w, http.StatusOK, out)
}
