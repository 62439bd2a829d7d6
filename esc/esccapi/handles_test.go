package esccapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tps"
)

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errHandle("x"), CodeHandle},
		{errArguments("x"), CodeArguments},
		{errInCallback("x"), CodeInCallback},
		{&esc.Error{Kind: esc.KindRefused}, esc.ExitRefused},
		{&esc.Error{Kind: esc.KindTrust}, esc.ExitTrust},
		{errors.New("plain"), esc.ExitInternal},
	} {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestLastError(t *testing.T) {
	w := newWorld(t)
	h := w.handle(t)
	if _, ok := LastError(h.ID()); ok {
		t.Error("a new handle has a last error")
	}
	SetError(h.ID(), errArguments("first"))
	SetError(h.ID(), nil) // success leaves it
	if msg, ok := LastError(h.ID()); !ok || msg != "first" {
		t.Errorf("last error %q %v", msg, ok)
	}
	SetError(-7, errHandle("no handle -7"))
	if msg, _ := LastError(0); msg != "no handle -7" {
		t.Errorf("handle 0's last error %q", msg)
	}
	if msg, _ := LastError(h.ID()); msg != "first" {
		t.Errorf("a failure without a handle replaced the handle's error: %q", msg)
	}
	if _, err := Lookup(-7); Code(err) != CodeHandle {
		t.Errorf("Lookup(-7): %v", err)
	}
}

func TestPromptJSON(t *testing.T) {
	got := promptJSON(esc.LoginPrompt{
		Title: "LDAP", InvalidPassword: true,
		Params: []tps.AuthParam{{ID: "UID", Name: "User\x1b[31m ID", Type: "string"}, {ID: "PASSWORD", Type: "password"}},
	})
	var v promptView
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Fatal(err)
	}
	want := promptView{Title: "LDAP", InvalidPassword: true, Fields: []fieldView{
		{ID: "UID", Name: "User[31m ID", Type: "string"},
		{ID: "PASSWORD", Name: "PASSWORD", Type: "password", Secret: true},
	}}
	if g, _ := json.Marshal(v); string(g) != mustJSON(t, want) {
		t.Errorf("prompt %s, want %s", g, mustJSON(t, want))
	}
	if !strings.Contains(promptJSON(esc.LoginPrompt{}), `"fields":[]`) {
		t.Error("no fields is not an empty array")
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPhoneHomeJSON(t *testing.T) {
	b, err := phoneHomeJSON(&esc.CardCache{PhoneHomeURL: "https://a/ph", IssuerName: "Example",
		Services: []tps.Param{{Name: tps.ServiceOperation, Value: "https://a/tps/tps"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"phoneHomeURL":"https://a/ph","issuerName":"Example","services":{"Operation":"https://a/tps/tps"}}`
	if string(b) != want {
		t.Errorf("got %s", b)
	}
}

func TestSourcesFromEnv(t *testing.T) {
	w := newWorld(t)
	// PC/SC off; an endpoint with nothing listening is no reader.
	env := map[string]string{"COOLKEY_PCSC": " Off ", "COOLKEY_SIM": "127.0.0.1:1, ," + w.cardAddr}
	src := SourcesFromEnv(func(k string) string { return env[k] })
	rs, err := src.Readers()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Name != w.reader || !rs[0].CardPresent {
		t.Errorf("readers %+v", rs)
	}
}

// TestAnswers: answers are accepted for requested fields only, while the
// callback runs, and a replaced answer is wiped.
func TestAnswers(t *testing.T) {
	a := newAnswers(7, []tps.AuthParam{{ID: "UID"}, {ID: "PASSWORD"}})
	if got, err := LookupAnswers(a.ID()); err != nil || got != a || a.Handle() != 7 {
		t.Fatalf("lookup: %v", err)
	}
	if err := a.Set("OTP", []byte("1")); Code(err) != CodeArguments {
		t.Errorf("unrequested field: %v", err)
	}
	a.Set("PASSWORD", []byte("first"))
	first := a.values["PASSWORD"]
	a.Set("PASSWORD", []byte("second"))
	if string(first) != "\x00\x00\x00\x00\x00" {
		t.Errorf("the replaced answer is %q", first)
	}
	v := a.close()
	if string(v["PASSWORD"]) != "second" {
		t.Errorf("values %q", v)
	}
	if err := a.Set("UID", []byte("x")); Code(err) != CodeHandle {
		t.Errorf("Set after the callback: %v", err)
	}
	if _, err := LookupAnswers(a.ID()); Code(err) != CodeHandle {
		t.Errorf("lookup after the callback: %v", err)
	}
}

// TestSecretsWipedAfterOperation: the strings esc received from the login
// and new-PIN callbacks are zeros once the operation has ended, since they
// alias the library's only copies.
func TestSecretsWipedAfterOperation(t *testing.T) {
	o := &operation{h: &Handle{}, ready: make(chan struct{})}
	close(o.ready)
	pin := []byte("13579")
	var doneMsg string
	ec := o.escCallbacks(Callbacks{
		Login: func(_ string, a *Answers) bool {
			return a.Set("UID", []byte("jdoe")) == nil && a.Set("PASSWORD", []byte("s3cret")) == nil
		},
		NewPIN: func(int, int) ([]byte, bool) { return pin, true },
		Done:   func(_, _ int, msg string) { doneMsg = msg },
	})
	vals, ok := ec.Login(esc.LoginPrompt{Params: []tps.AuthParam{{ID: "UID"}, {ID: "PASSWORD", Type: "password"}}})
	if !ok || vals["UID"] != "jdoe" || vals["PASSWORD"] != "s3cret" {
		t.Fatalf("login %q %v", vals, ok)
	}
	got, ok := ec.NewPIN(4, 10)
	if !ok || got != "13579" {
		t.Fatalf("PIN %q %v", got, ok)
	}
	ec.Done(esc.Result{Message: "fine"})
	if doneMsg != "fine" {
		t.Errorf("done message %q", doneMsg)
	}
	for _, s := range []string{vals["UID"], vals["PASSWORD"], got, string(pin)} {
		if strings.Trim(s, "\x00") != "" {
			t.Errorf("%q survived the end of the operation", s)
		}
	}
}

// TestOperationOnHandle runs a format through a Handle with Go callbacks:
// the ID is published before the first callback, calls that would wait
// for the running callback are refused, and the handle forgets the
// operation once waited for.
func TestOperationOnHandle(t *testing.T) {
	w := newWorld(t)
	h := w.handle(t)
	if err := h.Start(tps.Op(2), "", w.tpsURL, "", Callbacks{}, nil); Code(err) != CodeArguments {
		t.Errorf("unblock operation: %v", err)
	}
	var (
		published  int
		seenID     int
		waitErr    error
		closeErr   error
		progresses []string
		done       []int
	)
	err := h.Start(tps.OpFormat, "", w.tpsURL, "", Callbacks{
		Login: func(prompt string, a *Answers) bool {
			seenID = published
			_, waitErr = h.Wait(published)
			closeErr = h.Close()
			a.Set("UID", []byte(testUser))
			a.Set("PASSWORD", []byte(testPassword))
			return true
		},
		Progress: func(pct int, task, text string) { progresses = append(progresses, text) },
		Done:     func(result, status int, msg string) { done = append(done, result) },
	}, func(id int) { published = id })
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddCAFile(w.caFile); Code(err) != esc.ExitUsage {
		t.Errorf("AddCAFile after Start: %v", err)
	}
	r, err := h.Wait(published)
	if err != nil || r.Code != esc.ExitOK {
		t.Fatalf("wait: %+v %v", r, err)
	}
	if seenID == 0 {
		t.Error("the ID was not published before the login callback")
	}
	if Code(waitErr) != CodeInCallback || Code(closeErr) != CodeInCallback {
		t.Errorf("re-entrant wait %v, close %v", waitErr, closeErr)
	}
	if len(done) != 1 || done[0] != esc.ExitOK || len(progresses) == 0 {
		t.Errorf("done %v, progress %q", done, progresses)
	}
	if _, err := h.Wait(published); Code(err) != CodeHandle {
		t.Errorf("second wait: %v", err)
	}
	if err := h.Cancel(published); Code(err) != CodeHandle {
		t.Errorf("cancel of a collected operation: %v", err)
	}
	b, err := h.CardStatusJSON("")
	if err != nil || !strings.Contains(string(b), `"status":"UNINITIALIZED"`) {
		t.Errorf("status after format: %s %v", b, err)
	}
}

// TestWatchOnHandle: events arrive for a removal and an insertion; a
// watch cannot stop itself from its callback; Close stops it.
func TestWatchOnHandle(t *testing.T) {
	w := newWorld(t)
	h := w.handle(t)
	events := make(chan eventView, 64)
	var stopErr error
	var id int
	err := h.WatchStart(func(ev string) {
		var v eventView
		json.Unmarshal([]byte(ev), &v)
		if stopErr == nil {
			stopErr = h.WatchStop(id)
		}
		events <- v
	}, func(wid int) { id = wid }, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(kind string, d time.Duration) (eventView, bool) {
		timeout := time.After(d)
		for {
			select {
			case ev := <-events:
				if ev.Kind == kind {
					return ev, true
				}
			case <-timeout:
				return eventView{}, false
			}
		}
	}
	// The state at start is no event, and the monitor takes its first
	// look a moment later: remove until a removal is seen.
	for attempt := 0; ; attempt++ {
		w.slot.Remove()
		if _, ok := waitFor("card-removed", time.Second); ok {
			break
		}
		if attempt == 20 {
			t.Fatal("no event for a removal")
		}
		w.slot.Insert()
		time.Sleep(300 * time.Millisecond)
	}
	w.slot.Insert()
	ev, ok := waitFor("card-inserted", 20*time.Second)
	if !ok || ev.Reader != w.reader || ev.Status != "NO_APPLET" || ev.CUID == "" {
		t.Errorf("insertion event %+v (seen: %v)", ev, ok)
	}
	if Code(stopErr) != CodeInCallback {
		t.Errorf("WatchStop from its own callback: %v", stopErr)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.WatchStop(id); Code(err) != CodeHandle {
		t.Errorf("WatchStop after Close: %v", err)
	}
	if err := h.Close(); Code(err) != CodeHandle {
		t.Errorf("second Close: %v", err)
	}
}
