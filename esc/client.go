package esc

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/internal/dn"
	"github.com/coolkey-go/coolkey-go/tps"
)

// Client is the enrollment helper for one user.
type Client struct {
	Source cardedge.ReaderSource
	Paths  Paths
	Config *Config
	Trust  Trust
	Log    *DiagLog
	// Version is sent as BEGIN_OP clientVersion.
	Version string
	// HTTPClient, when set, is used for phone home (tests); by default one
	// is built from Trust.
	HTTPClient *http.Client
}

// NewClient loads the user's configuration from paths.
func NewClient(src cardedge.ReaderSource, paths Paths, version string) (*Client, error) {
	cfg, err := LoadConfig(paths.ConfigFile())
	if err != nil {
		return nil, newErr(KindUser, 0, err, "configuration")
	}
	if err := cfg.Validate(); err != nil {
		return nil, newErr(KindUser, 0, err, "configuration")
	}
	return &Client{
		Source:  src,
		Paths:   paths,
		Config:  cfg,
		Trust:   Trust{BundlePath: paths.BundleFile()},
		Log:     OpenDiagLog(paths.LogFile()),
		Version: version,
	}, nil
}

// CardInfo is one reader and what its card says about itself: the ESC's
// card list and diagnostics view.
type CardInfo struct {
	Reader string `json:"reader"`
	// Status is NO_CARD, NO_APPLET, UNINITIALIZED, ENROLLED, BUSY (an
	// operation is running on it) or UNKNOWN (it could not be read).
	Status string `json:"status"`
	// CUID is 20 lowercase hex digits, the ESC's key ID.
	CUID            string     `json:"cuid,omitempty"`
	ATR             string     `json:"atr,omitempty"`
	AppletVersion   string     `json:"appletVersion,omitempty"`   // e.g. "1.4.5875566e"
	ProtocolVersion string     `json:"protocolVersion,omitempty"` // card edge, e.g. "1.1"
	LifeCycle       string     `json:"lifeCycle,omitempty"`       // hex, e.g. "0f"
	TokenName       string     `json:"tokenName,omitempty"`
	PhoneHomeURL    string     `json:"phoneHomeURL,omitempty"` // issuer info on the card
	Issuer          string     `json:"issuer,omitempty"`       // from the phone-home cache
	TPSURL          string     `json:"tpsURL,omitempty"`       // what an operation would use, without phoning home
	Certificates    []CertInfo `json:"certificates"`
	Error           string     `json:"error,omitempty"`
}

// CertInfo describes a certificate on the card.
type CertInfo struct {
	ID        string    `json:"id"` // z0 object, e.g. "c1"
	Label     string    `json:"label,omitempty"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"` // hex
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// DER is the certificate itself, for viewers and PEM export; it stays
	// out of the JSON status, which describes rather than carries.
	DER []byte `json:"-"`
}

// Status values beyond cardedge.CardState's.
const (
	StatusNoCard  = "NO_CARD"
	StatusBusy    = "BUSY"
	StatusUnknown = "UNKNOWN"
)

// Cards lists every reader with the state of its card.
func (c *Client) Cards() ([]CardInfo, error) {
	readers, err := c.Source.Readers()
	if err != nil {
		return nil, newErr(KindCard, 0, err, "listing readers")
	}
	sort.Slice(readers, func(i, j int) bool { return readers[i].Name < readers[j].Name })
	out := make([]CardInfo, 0, len(readers))
	for _, r := range readers {
		if !r.CardPresent {
			out = append(out, CardInfo{Reader: r.Name, Status: StatusNoCard, Certificates: []CertInfo{}})
			continue
		}
		info, err := c.Card(r.Name)
		if err != nil {
			info = CardInfo{Reader: r.Name, Status: StatusUnknown, Certificates: []CertInfo{}, Error: err.Error()}
			if len(r.ATR) > 0 {
				info.ATR = hex.EncodeToString(r.ATR)
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// Card reads the card in reader. A card with an operation in progress is
// reported BUSY without being touched (the operation holds it).
func (c *Client) Card(reader string) (CardInfo, error) {
	info := CardInfo{Reader: reader, Certificates: []CertInfo{}}
	if b, busy := readerBusy(c.Paths.RuntimeDir, reader); busy {
		info.Status = StatusBusy
		info.CUID = b.CUID
		c.fillFromCache(&info)
		return info, nil
	}
	t, err := c.Source.Connect(reader)
	if err != nil {
		if errors.Is(err, cardedge.ErrNoCard) {
			info.Status = StatusNoCard
			return info, nil
		}
		return info, newErr(KindCard, 0, err, "connecting to the card in %q", reader)
	}
	defer t.Close()
	card := cardedge.NewCard(t)
	err = card.Transact(func() error { return readCard(card, &info) })
	if err != nil {
		return info, newErr(KindCard, 0, err, "reading the card in %q", reader)
	}
	c.fillFromCache(&info)
	return info, nil
}

// readCard fills info from the card: identification, and certificates
// from z0.
func readCard(card *cardedge.Card, info *CardInfo) error {
	id, err := card.Identify(cardedge.IdentifyOptions{Status: true, BuildID: true, IssuerInfo: true})
	if err != nil {
		return err
	}
	info.ATR = hex.EncodeToString(id.ATR)
	info.Status = id.State.String()
	if !id.CUID.IsZero() {
		info.CUID = hex.EncodeToString(id.CUID[:])
	}
	if !id.AppletPresent {
		return nil
	}
	info.LifeCycle = fmt.Sprintf("%02x", id.LifeCycle.State)
	info.ProtocolVersion = fmt.Sprintf("%d.%d", id.LifeCycle.ProtocolMajor, id.LifeCycle.ProtocolMinor)
	if id.Status != nil {
		info.AppletVersion = fmt.Sprintf("%x.%x", id.Status.AppletMajor, id.Status.AppletMinor)
		if id.BuildID != nil {
			info.AppletVersion += fmt.Sprintf(".%08x", *id.BuildID)
		}
	}
	info.PhoneHomeURL = printable(cardedge.TrimIssuerInfo(id.IssuerInfo))
	if id.CombinedHeader == nil {
		return nil
	}
	z0, err := card.ReadCombined(id.CombinedPrefix)
	if err != nil {
		info.Error = "cannot read the certificates: " + err.Error()
		return nil
	}
	comb, err := cardedge.DecodeCombined(z0)
	if err != nil {
		info.Error = "cannot decode the certificates: " + err.Error()
		return nil
	}
	info.TokenName = printable(comb.TokenName)
	for _, r := range comb.Records {
		if r.ID.Letter() != 'c' {
			continue
		}
		o := r.Object()
		v, ok := o.Attr(cardedge.CKA_VALUE)
		if !ok {
			continue
		}
		cert, err := x509.ParseCertificate(v.Bytes)
		if err != nil {
			continue
		}
		ci := CertInfo{
			ID:        r.ID.String(),
			Subject:   dn.Subject(cert),
			Issuer:    dn.Issuer(cert),
			Serial:    hex.EncodeToString(cert.SerialNumber.Bytes()),
			NotBefore: cert.NotBefore.UTC(),
			NotAfter:  cert.NotAfter.UTC(),
			DER:       cert.Raw,
		}
		if l, ok := o.Attr(cardedge.CKA_LABEL); ok {
			ci.Label = printable(string(l.Bytes))
		}
		info.Certificates = append(info.Certificates, ci)
	}
	return nil
}

func (c *Client) fillFromCache(info *CardInfo) {
	if info.CUID == "" {
		return
	}
	cc := c.Config.Card(info.CUID)
	if cc != nil {
		info.Issuer = cc.IssuerName
	}
	switch {
	case c.Config.TPSURL != "":
		info.TPSURL = c.Config.TPSURL
	case cc != nil:
		info.TPSURL = cc.Service(tps.ServiceOperation)
	}
}

// printable drops control characters from strings that came from a card
// or a server before they reach a terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// ChooseReader returns reader if set, else the only reader holding a card.
func (c *Client) ChooseReader(reader string) (string, error) {
	readers, err := c.Source.Readers()
	if err != nil {
		return "", newErr(KindCard, 0, err, "listing readers")
	}
	if reader != "" {
		for _, r := range readers {
			if r.Name == reader {
				if !r.CardPresent {
					return "", newErr(KindCard, 0, nil, "no card in reader %q", reader)
				}
				return reader, nil
			}
		}
		return "", newErr(KindUser, 0, nil, "no reader named %q", reader)
	}
	var with []string
	for _, r := range readers {
		if r.CardPresent {
			with = append(with, r.Name)
		}
	}
	switch len(with) {
	case 0:
		if len(readers) == 0 {
			return "", newErr(KindCard, 0, nil, "no card reader found (is pcscd running?)")
		}
		return "", newErr(KindCard, 0, nil, "no card present")
	case 1:
		return with[0], nil
	}
	sort.Strings(with)
	return "", newErr(KindUser, 0, nil, "several cards present; choose one with --reader: %q", with)
}

// maxPhoneHomeTime bounds a phone-home request.
const maxPhoneHomeTime = 30 * time.Second

func (c *Client) httpClient() (*http.Client, error) {
	if c.HTTPClient != nil {
		return c.HTTPClient, nil
	}
	tc, err := c.Trust.TLSConfig()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 15 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   maxPhoneHomeTime,
		// A redirect to plain HTTP would let an attacker on the network
		// choose the TPS; follow only to HTTPS, or within HTTP.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("refusing a redirect from HTTPS to HTTP")
			}
			return nil
		},
	}, nil
}

// PhoneHome GETs <phoneHomeURL>?cuid=<cuid> and returns the ServiceInfo,
// caching it for the card. fromUser records that the URL was given by the
// user rather than read from the card.
func (c *Client) PhoneHome(ctx context.Context, phoneHomeURL, cuid string, fromUser bool) (*tps.ServiceInfo, error) {
	cuid = strings.ToLower(cuid)
	u, err := parseHTTPURL(phoneHomeURL)
	if err != nil {
		return nil, newErr(KindUser, 0, err, "phone-home URL")
	}
	q := u.Query()
	q.Set("cuid", cuid)
	u.RawQuery = q.Encode()
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	c.Log.Event("phone-home", "cuid", cuid, "url", phoneHomeURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, newErr(KindUser, 0, err, "phone-home URL")
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.Log.Event("phone-home-failed", "cuid", cuid, "error", err)
		if isTrustError(err) {
			return nil, newErr(KindTrust, 0, err, "phone home to %s: the server's certificate is not trusted (import its CA with 'coolkey trust add CA.pem')", u.Host)
		}
		if ctx.Err() != nil {
			return nil, newErr(KindCancelled, 0, ctx.Err(), "phone home")
		}
		return nil, newErr(KindConnection, 0, err, "phone home to %s", u.Host)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.Log.Event("phone-home-failed", "cuid", cuid, "http", resp.StatusCode)
		return nil, newErr(KindConnection, 0, nil, "phone home to %s: HTTP %d", u.Host, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, tps.MaxServiceInfoSize+1))
	if err != nil {
		return nil, newErr(KindConnection, 0, err, "phone home to %s", u.Host)
	}
	si, err := tps.ParseServiceInfo(body)
	if err != nil {
		c.Log.Event("phone-home-failed", "cuid", cuid, "error", err)
		return nil, newErr(KindConnection, 0, err, "phone home to %s", u.Host)
	}
	if op := si.Service(tps.ServiceOperation); op != "" {
		if _, err := parseHTTPURL(op); err != nil {
			return nil, newErr(KindConnection, 0, err, "phone home to %s: bad Operation URL", u.Host)
		}
	}
	cc := &CardCache{PhoneHomeURL: phoneHomeURL, URLFromUser: fromUser, IssuerName: printable(si.IssuerName), Services: si.Services, Fetched: time.Now().UTC()}
	if prev := c.Config.Card(cuid); prev != nil && prev.URLFromUser && !fromUser && prev.PhoneHomeURL == phoneHomeURL {
		cc.URLFromUser = true
	}
	c.Config.SetCard(cuid, cc)
	if err := c.Config.Save(); err != nil {
		c.Log.Event("config-save-failed", "error", err)
	}
	c.Log.Event("phone-home-ok", "cuid", cuid, "issuer", cc.IssuerName, "operation", si.Service(tps.ServiceOperation))
	return si, nil
}

// TPSSource says where a TPS URL came from.
type TPSSource string

const (
	FromFlag     TPSSource = "command line"
	FromConfig   TPSSource = "configuration"
	FromCard     TPSSource = "phone home (card)"
	FromUserURL  TPSSource = "phone home (URL given by the user)"
	FromCache    TPSSource = "phone-home cache"
	FromFallback TPSSource = "phone home (global fallback URL)"
)

// ResolveTPS finds the TPS URL for a card: explicit (flag, then
// configuration) wins over phone home, phone home over the global
// fallback. When phoning home fails, a cached answer is used. Only an
// explicit URL may be plain HTTP: one learned from the network could
// otherwise send the user's password in clear to whoever answered.
func (c *Client) ResolveTPS(ctx context.Context, flagURL string, card CardInfo) (string, TPSSource, error) {
	if flagURL != "" {
		if _, err := parseHTTPURL(flagURL); err != nil {
			return "", "", newErr(KindUser, 0, err, "--tps")
		}
		return flagURL, FromFlag, nil
	}
	if c.Config.TPSURL != "" {
		return c.Config.TPSURL, FromConfig, nil
	}
	cc := c.Config.Card(card.CUID)
	phURL, src := card.PhoneHomeURL, FromCard
	if phURL == "" && cc != nil && cc.URLFromUser {
		phURL, src = cc.PhoneHomeURL, FromUserURL
	}
	if phURL == "" && c.Config.GlobalPhoneHomeURL != "" {
		phURL, src = c.Config.GlobalPhoneHomeURL, FromFallback
	}
	if phURL == "" {
		return "", "", newErr(KindUser, tps.Status(44), nil,
			"no TPS known for this card: it carries no phone-home URL; give one with 'coolkey phone-home --url URL', or the TPS with --tps")
	}
	si, err := c.PhoneHome(ctx, phURL, card.CUID, src == FromUserURL)
	var op string
	if err == nil {
		op = si.Service(tps.ServiceOperation)
	} else if cc != nil && cc.Service(tps.ServiceOperation) != "" && KindOf(err) == KindConnection {
		op, src = cc.Service(tps.ServiceOperation), FromCache
		c.Log.Event("phone-home-cached", "cuid", card.CUID)
	} else {
		return "", "", err
	}
	if op == "" {
		return "", "", newErr(KindConnection, tps.Status(44), nil, "phone home did not name a TPS (no <Operation>)")
	}
	if u, _ := url.Parse(op); u == nil || u.Scheme != "https" {
		return "", "", newErr(KindUser, 0, nil, "phone home named a plain-HTTP TPS (%s); credentials would travel unencrypted. Give it explicitly with --tps if that is really wanted", op)
	}
	return op, src, nil
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("URL with user information is not accepted")
	}
	return u, nil
}
