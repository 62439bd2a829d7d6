package ui

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/coolkey-go/coolkey-go/internal/dn"
	"github.com/coolkey-go/coolkey-go/tps"
)

const newPIN = "97531"

type startedOp struct {
	ID int `json:"id"`
}

func (u *testUI) start(op string) int {
	u.t.Helper()
	var r startedOp
	if code := u.call(http.MethodPost, "/api/ops", map[string]string{"op": op, "reader": readerName}, &r); code != http.StatusAccepted {
		u.t.Fatalf("start %s: %d", op, code)
	}
	return r.ID
}

// TestEnrollThroughTheAPI runs what the page does: start, answer the login
// form generated from EXTENDED_LOGIN_REQUEST and the new-PIN form, follow
// the progress, and read the result; then checks that no secret ever came
// back.
func TestEnrollThroughTheAPI(t *testing.T) {
	w := newWorld(t, "PIN_RESET=YES")
	u := startUI(t, w.client, Options{})
	ev := u.events()
	ev.waitCards(t, "the formatted card", func(c []cardView) bool {
		return len(c) == 1 && c[0].Status == "UNINITIALIZED" && c[0].CUID == cuidHex
	})

	id := u.start("enroll")
	login := ev.waitOp(t, "the login form", func(v opView) bool { return v.ID == id && v.State == stateLogin })
	p := login.Prompt
	if p == nil || p.Kind != "login" || p.Title != "LDAP Authentication" || len(p.Params) != 2 ||
		p.Params[0].ID != "UID" || p.Params[0].Secret || p.Params[1].ID != "PASSWORD" || !p.Params[1].Secret {
		t.Fatalf("login prompt %+v", p)
	}
	if login.Op != "enroll" || login.Reader != readerName || login.CUID != cuidHex {
		t.Errorf("operation %+v", login)
	}
	path := fmt.Sprintf("/api/ops/%d/login", id)
	for name, body := range map[string]any{
		"missing password": map[string]any{"seq": p.Seq, "values": map[string]string{"UID": tpsUser}},
		"empty password":   map[string]any{"seq": p.Seq, "values": map[string]string{"UID": tpsUser, "PASSWORD": ""}},
		"extra field":      map[string]any{"seq": p.Seq, "values": map[string]string{"UID": tpsUser, "PASSWORD": tpsPass, "OTP": "1"}},
		"unknown key":      map[string]any{"seq": p.Seq, "values": map[string]string{"UID": tpsUser, "PASSWORD": tpsPass}, "x": 1},
	} {
		if code := u.call(http.MethodPost, path, body, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d", name, code)
		}
	}
	if code := u.call(http.MethodPost, path, map[string]any{"seq": p.Seq + 1, "values": map[string]string{"UID": tpsUser, "PASSWORD": tpsPass}}, nil); code != http.StatusConflict {
		t.Errorf("stale form: %d", code)
	}
	if code := u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/pin", id), map[string]any{"seq": p.Seq, "pin": newPIN}, nil); code != http.StatusConflict {
		t.Errorf("PIN while login is asked: %d", code)
	}
	if code := u.call(http.MethodPost, path, map[string]any{"seq": p.Seq, "values": map[string]string{"UID": tpsUser, "PASSWORD": tpsPass}}, nil); code != http.StatusNoContent {
		t.Fatalf("login: %d", code)
	}
	if code := u.call(http.MethodPost, path, map[string]any{"seq": p.Seq, "values": map[string]string{"UID": tpsUser, "PASSWORD": tpsPass}}, nil); code != http.StatusConflict {
		t.Errorf("second answer to one form: %d", code)
	}

	pinOp := ev.waitOp(t, "the PIN form", func(v opView) bool { return v.ID == id && v.State == statePIN })
	pp := pinOp.Prompt
	if pp.Min < 4 || pp.Max < pp.Min {
		t.Fatalf("PIN prompt %+v", pp)
	}
	pinPath := fmt.Sprintf("/api/ops/%d/pin", id)
	if code := u.call(http.MethodPost, pinPath, map[string]any{"seq": pp.Seq, "pin": strings.Repeat("7", pp.Min-1)}, nil); code != http.StatusBadRequest {
		t.Errorf("short PIN: %d", code)
	}
	if code := u.call(http.MethodPost, pinPath, map[string]any{"seq": pp.Seq, "pin": "12&34"}, nil); code != http.StatusBadRequest {
		t.Errorf("PIN the protocol cannot carry: %d", code)
	}
	if code := u.call(http.MethodPost, pinPath, map[string]any{"seq": pp.Seq, "pin": newPIN}, nil); code != http.StatusNoContent {
		t.Fatalf("PIN: %d", code)
	}
	busy := ev.waitCards(t, "BUSY", func(c []cardView) bool { return len(c) == 1 && c[0].Status == "BUSY" })
	if busy[0].CUID != cuidHex {
		t.Errorf("busy card %+v", busy[0])
	}

	done := ev.waitOp(t, "the end", func(v opView) bool { return v.ID == id && v.State == stateDone })
	if done.Result == nil || !done.Result.OK || done.Result.Headline != "The card is enrolled." || done.Percent != 100 {
		t.Fatalf("result %+v %+v", done, done.Result)
	}
	var tasks []string
	for _, tk := range done.Tasks {
		tasks = append(tasks, tk.Task)
		if tk.Text == "" {
			t.Errorf("task %s without text", tk.Task)
		}
	}
	for _, want := range []string{tps.TaskProcessProfile, tps.TaskKeyGeneration, tps.TaskEnrollCert, tps.TaskWriteObjects, tps.TaskDoneEnrollment} {
		if !strings.Contains(strings.Join(tasks, " "), want) {
			t.Errorf("progress %v lacks %s", tasks, want)
		}
	}
	cards := ev.waitCards(t, "ENROLLED", func(c []cardView) bool { return len(c) == 1 && c[0].Status == "ENROLLED" })
	c := cards[0]
	if len(c.Certificates) != 2 || c.Issuer != "coolkey-go test TPS" {
		t.Fatalf("enrolled card %+v", c)
	}

	// Certificates: the PEM export is the certificate the fingerprint
	// describes.
	for _, cv := range c.Certificates {
		resp := u.request(http.MethodGet, "/api/certificate?reader="+strings.ReplaceAll(readerName, " ", "+")+"&id="+cv.ID, nil, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), cuidHex+"-"+cv.ID+".pem") {
			t.Fatalf("export %s: %d %s", cv.ID, resp.StatusCode, resp.Header.Get("Content-Disposition"))
		}
		blk, _ := pem.Decode(b)
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(cert.Raw)
		if fingerprint(sum[:]) != cv.SHA256 || dn.Subject(cert) != cv.Subject {
			t.Errorf("%s: fingerprint %s, subject %s; view %+v", cv.ID, fingerprint(sum[:]), cert.Subject, cv)
		}
	}
	if code := u.call(http.MethodGet, "/api/certificate?reader="+strings.ReplaceAll(readerName, " ", "+")+"&id=c9", nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown certificate: %d", code)
	}

	// Dismissing forgets the operation.
	if code := u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/dismiss", id), struct{}{}, nil); code != http.StatusNoContent {
		t.Errorf("dismiss: %d", code)
	}
	var ops []opView
	u.call(http.MethodGet, "/api/ops", nil, &ops)
	if len(ops) != 0 {
		t.Errorf("operations after dismiss: %+v", ops)
	}

	// Reset the PIN, with a wrong password first: END_OP in plain words.
	id = u.start("reset-pin")
	lp := ev.waitOp(t, "login", func(v opView) bool { return v.ID == id && v.State == stateLogin }).Prompt
	u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/login", id), map[string]any{"seq": lp.Seq, "values": map[string]string{"UID": tpsUser, "PASSWORD": "wrong-" + tpsPass}}, nil)
	done = ev.waitOp(t, "refusal", func(v opView) bool { return v.ID == id && v.State == stateDone })
	if r := done.Result; r.OK || r.Code != 3 || r.Status != 14 || r.StatusName != "ERROR_LOGIN" ||
		r.Headline != "The server refused: the credentials are not valid." {
		t.Errorf("wrong password: %+v", r)
	}
	id = u.start("reset-pin")
	lp = ev.waitOp(t, "login", func(v opView) bool { return v.ID == id && v.State == stateLogin }).Prompt
	u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/login", id), map[string]any{"seq": lp.Seq, "values": map[string]string{"UID": tpsUser, "PASSWORD": tpsPass}}, nil)
	pp = ev.waitOp(t, "PIN", func(v opView) bool { return v.ID == id && v.State == statePIN }).Prompt
	u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/pin", id), map[string]any{"seq": pp.Seq, "pin": newPIN + "1"}, nil)
	done = ev.waitOp(t, "reset", func(v opView) bool { return v.ID == id && v.State == stateDone })
	if !done.Result.OK || done.Result.Headline != "The card's PIN is changed." {
		t.Errorf("reset: %+v", done.Result)
	}

	// No secret came back: not in the event stream, the operations, the
	// diagnostics (which include the log).
	var diag, opsRaw strings.Builder
	for path, sb := range map[string]*strings.Builder{"/api/diagnostics": &diag, "/api/ops": &opsRaw} {
		resp := u.request(http.MethodGet, path, nil, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sb.Write(b)
	}
	logFile, _ := os.ReadFile(w.client.Log.Path())
	for name, text := range map[string]string{"events": ev.Raw(), "diagnostics": diag.String(), "operations": opsRaw.String(), "log file": string(logFile)} {
		for _, secret := range []string{tpsPass, newPIN} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s carry a secret", name)
			}
		}
	}
	if !strings.Contains(diag.String(), "op-success") {
		t.Errorf("diagnostics without the log: %.300s", diag.String())
	}
}

// TestCancelWhileAsking: the user closes the credentials form.
func TestCancelWhileAsking(t *testing.T) {
	w := newWorld(t, "")
	u := startUI(t, w.client, Options{})
	ev := u.events()
	id := u.start("enroll")
	ev.waitOp(t, "login", func(v opView) bool { return v.ID == id && v.State == stateLogin })
	if code := u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/dismiss", id), struct{}{}, nil); code != http.StatusConflict {
		t.Errorf("dismiss while running: %d", code)
	}
	if code := u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/cancel", id), struct{}{}, nil); code != http.StatusNoContent {
		t.Fatalf("cancel: %d", code)
	}
	done := ev.waitOp(t, "cancelled", func(v opView) bool { return v.ID == id && v.State == stateDone })
	if done.Result.OK || done.Result.Code != 7 || done.Result.Headline != "Cancelled." {
		t.Errorf("result %+v", done.Result)
	}
	ev.waitCards(t, "not busy", func(c []cardView) bool { return len(c) == 1 && c[0].Status == "UNINITIALIZED" })
	// The card is free again: another operation can start.
	id2 := u.start("enroll")
	ev.waitOp(t, "login again", func(v opView) bool { return v.ID == id2 && v.State == stateLogin })
	if code := u.call(http.MethodPost, "/api/ops", map[string]string{"op": "enroll", "reader": readerName}, nil); code != http.StatusConflict {
		t.Errorf("second operation on a busy card: %d", code)
	}
}

func TestOperationsRefusedUpFront(t *testing.T) {
	w := newWorld(t, "")
	u := startUI(t, w.client, Options{HideFormat: true})
	for name, c := range map[string]struct {
		body map[string]string
		code int
	}{
		"hidden format":       {map[string]string{"op": "format", "reader": readerName}, http.StatusForbidden},
		"reset an unenrolled": {map[string]string{"op": "reset-pin", "reader": readerName}, http.StatusConflict},
		"unknown operation":   {map[string]string{"op": "erase", "reader": readerName}, http.StatusBadRequest},
		"no reader":           {map[string]string{"op": "enroll"}, http.StatusBadRequest},
		"unknown reader":      {map[string]string{"op": "enroll", "reader": "Nope"}, http.StatusConflict},
		"odd token type":      {map[string]string{"op": "enroll", "reader": readerName, "tokenType": "user&Key"}, http.StatusBadRequest},
	} {
		if code := u.call(http.MethodPost, "/api/ops", c.body, nil); code != c.code {
			t.Errorf("%s: %d, want %d", name, code, c.code)
		}
	}
	w.slot.Remove()
	if code := u.call(http.MethodPost, "/api/ops", map[string]string{"op": "enroll", "reader": readerName}, nil); code != http.StatusConflict {
		t.Errorf("no card: %d", code)
	}
	if code := u.call(http.MethodPost, "/api/ops/99/cancel", struct{}{}, nil); code != http.StatusNotFound {
		t.Errorf("unknown operation: %d", code)
	}
}

// TestCardsFollowInsertionAndRemoval: the stream follows the reader
// monitor.
func TestCardsFollowInsertionAndRemoval(t *testing.T) {
	w := newWorld(t, "")
	u := startUI(t, w.client, Options{})
	ev := u.events()
	ev.waitCards(t, "present", func(c []cardView) bool { return len(c) == 1 && c[0].Status == "UNINITIALIZED" })
	w.slot.Remove()
	ev.waitCards(t, "removed", func(c []cardView) bool { return len(c) == 1 && c[0].Status == "NO_CARD" })
	w.slot.Insert()
	ev.waitCards(t, "back", func(c []cardView) bool { return len(c) == 1 && c[0].Status == "UNINITIALIZED" })
}

// TestPhoneHomeAndTrustAPI: show, test and set the phone-home URL; add a
// CA.
func TestPhoneHomeAndTrustAPI(t *testing.T) {
	w := newWorld(t, "")
	u := startUI(t, w.client, Options{})
	var v phoneHomeView
	if code := u.call(http.MethodGet, "/api/phonehome?reader="+strings.ReplaceAll(readerName, " ", "+"), nil, &v); code != http.StatusOK {
		t.Fatalf("show: %d", code)
	}
	if v.CUID != cuidHex || v.CardURL != w.hs.URL+"/tps/phoneHome" || v.Cached != nil {
		t.Fatalf("before: %+v", v)
	}
	if code := u.call(http.MethodPost, "/api/phonehome", map[string]string{"reader": readerName}, &v); code != http.StatusOK {
		t.Fatalf("test: %d", code)
	}
	if v.Cached == nil || v.Cached.Issuer != "coolkey-go test TPS" || v.Cached.URLFromUser {
		t.Fatalf("after test: %+v", v.Cached)
	}
	other := strings.Replace(w.hs.URL, "127.0.0.1", "localhost", 1) + "/tps/phoneHome"
	if code := u.call(http.MethodPost, "/api/phonehome", map[string]string{"reader": readerName, "url": other}, &v); code != http.StatusBadGateway {
		t.Errorf("a URL whose certificate does not name the host: %d", code)
	}
	if code := u.call(http.MethodPost, "/api/phonehome", map[string]string{"reader": readerName, "url": "file:///etc/passwd"}, nil); code != http.StatusBadRequest {
		t.Errorf("file URL: %d", code)
	}
	if code := u.call(http.MethodPost, "/api/phonehome", map[string]string{"reader": readerName, "url": w.hs.URL + "/tps/phoneHome"}, &v); code != http.StatusOK || !v.Cached.URLFromUser {
		t.Errorf("set: %d %+v", code, v.Cached)
	}
	var ops []serviceEntry = v.Cached.Services
	found := false
	for _, s := range ops {
		found = found || (s.Name == "Operation" && s.Value == w.hs.URL+"/tps/tps")
	}
	if !found {
		t.Errorf("services %+v", ops)
	}

	var trust struct {
		Certs []trustView `json:"certs"`
	}
	u.call(http.MethodGet, "/api/trust", nil, &trust)
	if len(trust.Certs) != 1 {
		t.Fatalf("trusted: %+v", trust)
	}
	var added struct {
		Added []trustView `json:"added"`
	}
	if code := u.call(http.MethodPost, "/api/trust", map[string]string{"pem": string(w.tps.CACertPEM())}, &added); code != http.StatusOK || len(added.Added) != 0 {
		t.Errorf("the same CA again: %d %+v", code, added)
	}
	key := "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	if code := u.call(http.MethodPost, "/api/trust", map[string]string{"pem": key}, nil); code != http.StatusBadRequest {
		t.Errorf("a key as a CA: %d", code)
	}
	big := map[string]string{"pem": strings.Repeat("A", maxTrustPEM+1)}
	if code := u.call(http.MethodPost, "/api/trust", big, nil); code != http.StatusBadRequest {
		t.Errorf("oversized: %d", code)
	}
	b, _ := json.Marshal(trust)
	if !strings.Contains(string(b), "coolkey-go Test CA") {
		t.Errorf("trust view %s", b)
	}
}

// TestConcurrentStartsOneWins: two pages asking at once start one
// operation.
func TestConcurrentStartsOneWins(t *testing.T) {
	w := newWorld(t, "")
	u := startUI(t, w.client, Options{})
	ev := u.events()
	type answer struct {
		code int
		id   int
	}
	answers := make(chan answer, 4)
	for range 4 {
		go func() {
			var r startedOp
			code := u.call(http.MethodPost, "/api/ops", map[string]string{"op": "enroll", "reader": readerName}, &r)
			answers <- answer{code, r.ID}
		}()
	}
	accepted := 0
	winner := 0
	for range 4 {
		switch a := <-answers; a.code {
		case http.StatusAccepted:
			accepted++
			winner = a.id
		case http.StatusConflict:
		default:
			t.Errorf("status %d", a.code)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d operations started", accepted)
	}
	// End the winner before the test's directories go: a running enroll
	// would still be writing into them.
	if code := u.call(http.MethodPost, fmt.Sprintf("/api/ops/%d/cancel", winner), struct{}{}, nil); code != http.StatusNoContent {
		t.Fatalf("cancel: %d", code)
	}
	ev.waitOp(t, "cancelled", func(v opView) bool { return v.ID == winner && v.State == stateDone })
}
