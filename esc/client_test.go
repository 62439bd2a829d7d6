package esc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coolkey-go/coolkey-go/tps"
)

func TestDefaultPaths(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	get := func(k string) string { return env[k] }
	p, err := DefaultPaths(get)
	if err != nil {
		t.Fatal(err)
	}
	if p.ConfigFile() != "/home/u/.config/coolkey/esc.json" || p.LogFile() != "/home/u/.local/state/coolkey/esc.log" {
		t.Errorf("defaults %+v", p)
	}
	env["XDG_CONFIG_HOME"] = "/x/cfg"
	env["XDG_STATE_HOME"] = "relative/ignored"
	env["XDG_RUNTIME_DIR"] = "/run/user/1"
	p, _ = DefaultPaths(get)
	if p.ConfigDir != "/x/cfg/coolkey" || p.StateDir != "/home/u/.local/state/coolkey" || p.RuntimeDir != "/run/user/1/coolkey" {
		t.Errorf("XDG %+v", p)
	}
	if _, err := DefaultPaths(func(string) string { return "" }); err == nil {
		t.Error("no HOME accepted")
	}
}

func TestConfigRoundTrip(t *testing.T) {
	c := testClient(t, &fakeSource{})
	c.Config.TPSURL = "https://tps.example/tps/tps"
	c.Config.SetCard("4090614527C6240B192D", &CardCache{IssuerName: "Example", Services: []tps.Param{{Name: "Operation", Value: "https://a/tps/tps"}}})
	if err := c.Config.Save(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(c.Paths.ConfigFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v, %v", st.Mode(), err)
	}
	back, err := LoadConfig(c.Paths.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	if back.TPSURL != c.Config.TPSURL || back.Card("4090614527c6240b192d").Service("Operation") != "https://a/tps/tps" {
		t.Errorf("reloaded %+v", back)
	}
	back.TPSURL = "ftp://nope"
	if err := back.Validate(); err == nil {
		t.Error("bad URL validated")
	}
}

func selfSignedPEM(t *testing.T, isCA bool) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: randomBig(), IsCA: isCA, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTrustAddAndList(t *testing.T) {
	c := testClient(t, &fakeSource{})
	a, b := selfSignedPEM(t, true), selfSignedPEM(t, true)
	added, err := AddTrust(c.Paths.BundleFile(), append(a, b...))
	if err != nil || len(added) != 2 {
		t.Fatalf("AddTrust = %d, %v", len(added), err)
	}
	added, err = AddTrust(c.Paths.BundleFile(), a)
	if err != nil || len(added) != 0 {
		t.Fatalf("re-adding: %d, %v", len(added), err)
	}
	list, err := ListTrust(c.Paths.BundleFile())
	if err != nil || len(list) != 2 {
		t.Fatalf("ListTrust = %d, %v", len(list), err)
	}
	for _, bad := range []string{"", "hello", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := AddTrust(c.Paths.BundleFile(), []byte(bad)); err == nil {
			t.Errorf("AddTrust(%q) accepted", bad)
		}
	}
	pool, err := c.Trust.Pool()
	if err != nil || pool == nil {
		t.Fatal(err)
	}
}

// phoneHomeServer serves a ServiceInfo naming operation.
func phoneHomeServer(t *testing.T, operation string, hits *atomic.Int32) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Query().Get("cuid") != "4090614527c6240b192d" {
			http.Error(w, "no cuid", http.StatusBadRequest)
			return
		}
		si := tps.ServiceInfo{IssuerName: "Example Corp", Services: []tps.Param{{Name: "Operation", Value: operation}, {Name: "TokenType", Value: "userKey"}}}
		b, _ := si.Marshal()
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestResolveTPSOrder(t *testing.T) {
	var hits atomic.Int32
	ph := phoneHomeServer(t, "https://tps.example:8443/tps/tps", &hits)
	card := CardInfo{CUID: "4090614527c6240b192d", PhoneHomeURL: ph.URL + "/tps/phoneHome"}
	ctx := context.Background()

	c := testClient(t, &fakeSource{})
	if u, src, err := c.ResolveTPS(ctx, "https://flag/tps/tps", card); err != nil || src != FromFlag || u != "https://flag/tps/tps" {
		t.Errorf("flag: %q %v %v", u, src, err)
	}
	c.Config.TPSURL = "https://config/tps/tps"
	if u, src, err := c.ResolveTPS(ctx, "", card); err != nil || src != FromConfig || u != "https://config/tps/tps" {
		t.Errorf("config: %q %v %v", u, src, err)
	}
	c.Config.TPSURL = ""
	u, src, err := c.ResolveTPS(ctx, "", card)
	if err != nil || src != FromCard || u != "https://tps.example:8443/tps/tps" {
		t.Fatalf("phone home: %q %v %v", u, src, err)
	}
	// The answer is cached per CUID, in the file.
	back, _ := LoadConfig(c.Paths.ConfigFile())
	if cc := back.Card(card.CUID); cc == nil || cc.IssuerName != "Example Corp" || cc.Service("Operation") != u {
		t.Errorf("cache %+v", cc)
	}
	// Phone home unreachable: the cache answers.
	ph.Close()
	if u2, src, err := c.ResolveTPS(ctx, "", card); err != nil || src != FromCache || u2 != u {
		t.Errorf("cached: %q %v %v", u2, src, err)
	}

	// A card without a URL: the global fallback.
	var hits2 atomic.Int32
	ph2 := phoneHomeServer(t, "https://fallback/tps/tps", &hits2)
	c2 := testClient(t, &fakeSource{})
	bare := CardInfo{CUID: card.CUID}
	if _, _, err := c2.ResolveTPS(ctx, "", bare); KindOf(err) != KindUser || !strings.Contains(err.Error(), "phone-home --url") {
		t.Errorf("no URL at all: %v", err)
	}
	c2.Config.GlobalPhoneHomeURL = ph2.URL + "/ph"
	if u, src, err := c2.ResolveTPS(ctx, "", bare); err != nil || src != FromFallback || u != "https://fallback/tps/tps" {
		t.Errorf("fallback: %q %v %v", u, src, err)
	}
}

func TestResolveRefusesPlainHTTPFromNetwork(t *testing.T) {
	var hits atomic.Int32
	ph := phoneHomeServer(t, "http://evil.example/tps/tps", &hits)
	c := testClient(t, &fakeSource{})
	_, _, err := c.ResolveTPS(context.Background(), "", CardInfo{CUID: "4090614527c6240b192d", PhoneHomeURL: ph.URL})
	if KindOf(err) != KindUser || !strings.Contains(err.Error(), "plain-HTTP") {
		t.Errorf("err = %v", err)
	}
	// Given explicitly, it is the user's choice.
	if _, _, err := c.ResolveTPS(context.Background(), "http://lab:8080/tps/tps", CardInfo{}); err != nil {
		t.Errorf("explicit http: %v", err)
	}
}

func TestPhoneHomeURLFromUserIsRemembered(t *testing.T) {
	var hits atomic.Int32
	ph := phoneHomeServer(t, "https://tps.example/tps/tps", &hits)
	c := testClient(t, &fakeSource{})
	if _, err := c.PhoneHome(context.Background(), ph.URL+"/tps/phoneHome", "4090614527C6240B192D", true); err != nil {
		t.Fatal(err)
	}
	u, src, err := c.ResolveTPS(context.Background(), "", CardInfo{CUID: "4090614527c6240b192d"})
	if err != nil || src != FromUserURL || u != "https://tps.example/tps/tps" {
		t.Errorf("%q %v %v", u, src, err)
	}
	if hits.Load() != 2 {
		t.Errorf("phone-home hits %d, want 2", hits.Load())
	}
}

func TestDiagLogQuotesAndTails(t *testing.T) {
	c := testClient(t, &fakeSource{})
	c.Log.Event("card-inserted", "reader", "Evil\nReader 0", "cuid", "x")
	c.Log.Event("op-start", "op", "enroll")
	lines, err := c.Log.Tail(10)
	if err != nil || len(lines) != 2 {
		t.Fatalf("Tail = %q, %v", lines, err)
	}
	if !strings.Contains(lines[0], `reader="Evil\nReader 0"`) {
		t.Errorf("line %q", lines[0])
	}
	lines, _ = c.Log.Tail(1)
	if len(lines) != 1 || !strings.Contains(lines[0], "op-start") {
		t.Errorf("Tail(1) = %q", lines)
	}
}
