package esc

import (
	"sync"
	"testing"

	"github.com/coolkey-go/coolkey-go/tps"
)

func TestManagerRunsWithCallbacks(t *testing.T) {
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.ExtendedLoginRequest{Title: "LDAP", Params: []tps.AuthParam{{ID: "UID"}, {ID: "PASSWORD", Type: "password"}}})
		if m, ok := mustRead(t, r).(tps.ExtendedLoginResponse); !ok || len(m.Params) != 2 {
			t.Errorf("login %v", m)
		}
		mustWrite(t, w, tps.NewPINRequest{MinLen: 4, MaxLen: 10})
		mustRead(t, r)
		mustWrite(t, w, tps.StatusUpdateRequest{Percent: 100, Task: tps.TaskDoneEnrollment})
		mustRead(t, r)
		mustWrite(t, w, tps.EndOp{Op: tps.OpEnroll})
	})
	m := NewManager(opClient(t, cardScript(t, cardForStatus())))
	var mu sync.Mutex
	var got []string
	var done Result
	id, err := m.Start(tps.OpEnroll, "", srv.URL+"/tps/tps", "", Callbacks{
		Login: func(p LoginPrompt) (map[string]string, bool) {
			return map[string]string{"UID": "jdoe", "PASSWORD": secretPassword}, true
		},
		NewPIN:   func(lo, hi int) (string, bool) { return secretPIN, true },
		Progress: func(pct int, task string) { mu.Lock(); got = append(got, task); mu.Unlock() },
		Done:     func(r Result) { done = r },
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Wait(id)
	if err != nil || res.Code != ExitOK || done != res {
		t.Fatalf("result %+v (done %+v), %v", res, done, err)
	}
	if len(got) != 1 || got[0] != tps.TaskDoneEnrollment {
		t.Errorf("progress %v", got)
	}
	if _, err := m.Wait(id); err == nil {
		t.Error("a finished operation's ID is still known")
	}
}

func TestManagerCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.LoginRequest{})
		<-release
	})
	m := NewManager(opClient(t, cardScript(t, cardForStatus())))
	asked := make(chan struct{})
	var id int
	id, err := m.Start(tps.OpFormat, "Reader 0", srv.URL+"/tps/tps", "", Callbacks{
		Login: func(p LoginPrompt) (map[string]string, bool) {
			close(asked)
			return nil, false // the user pressed Cancel
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	<-asked
	res, _ := m.Wait(id)
	if res.Code != ExitCancelled {
		t.Fatalf("result %+v", res)
	}
	if err := m.Cancel(12345); err == nil {
		t.Error("cancel of an unknown operation")
	}
}

// TestManagerCancelDuringCallback: a cancel that comes while a callback
// runs (the user still in the login dialog) ends the operation as
// cancelled once the callback returns, even if it answered.
func TestManagerCancelDuringCallback(t *testing.T) {
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.LoginRequest{})
		if m, err := r.Read(); err == nil {
			t.Errorf("the TPS got %v after the cancel", m.Type())
		}
	})
	m := NewManager(opClient(t, cardScript(t, cardForStatus())))
	asked, release := make(chan struct{}), make(chan struct{})
	id, err := m.Start(tps.OpFormat, "Reader 0", srv.URL+"/tps/tps", "", Callbacks{
		Login: func(p LoginPrompt) (map[string]string, bool) {
			close(asked)
			<-release
			return map[string]string{"UID": "jdoe", "PASSWORD": secretPassword}, true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	<-asked
	if err := m.Cancel(id); err != nil {
		t.Fatal(err)
	}
	close(release)
	res, _ := m.Wait(id)
	if res.Code != ExitCancelled {
		t.Fatalf("result %+v", res)
	}
}
