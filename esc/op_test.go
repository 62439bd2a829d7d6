package esc

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/cardtest"
	"github.com/coolkey-go/coolkey-go/tps"
)

const (
	secretPassword = "S3cret-Passw0rd"
	secretPIN      = "7391"
)

// cardForOp is a scripted card: the CUID probe the client makes for its
// log (no applet, then CPLC), then whatever the test's TPS relays.
func cardForOp(t *testing.T, relayed ...cardtest.Step) *cardtest.Transport {
	return cardScript(t, nil, relayed...)
}

// cardScript is cardForOp with extra steps before the identification.
func cardScript(t *testing.T, before []cardtest.Step, relayed ...cardtest.Step) *cardtest.Transport {
	cuid, _ := cardedge.ParseCUID("4090614527C6240B192D")
	cplc := cardedge.CPLCForCUID(cuid)
	steps := []cardtest.Step{
		{Cmd: "*", Resp: "6A82"}, // SELECT CoolKey
		{Cmd: "*", Resp: "9000"}, // SELECT card manager
		{Cmd: "80CA9F7F2D", Resp: strings.ToUpper(hexs(cplc.Encode())) + "9000"},
	}
	tr := cardtest.New(t, append(append(before, steps...), relayed...)...)
	tr.ATRBytes = []byte{0x3B, 0x8F, 0x80}
	return tr
}

func hexs(b []byte) string {
	const d = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return string(out)
}

func opClient(t *testing.T, tr *cardtest.Transport) *Client {
	src := &fakeSource{
		readers:    []cardedge.ReaderStatus{{Name: "Reader 0", CardPresent: true}},
		transports: map[string]cardedge.Transport{"Reader 0": tr},
	}
	return testClient(t, src)
}

func TestRunRelaysEverything(t *testing.T) {
	tr := cardForOp(t,
		cardtest.Step{Cmd: "00A4040000", Resp: "6110"},
		cardtest.Step{Cmd: "00C0000010", Resp: "6F0E8408A000000003000000A5029F6501" + "6102"},
		cardtest.Step{Cmd: "00C0000002", Resp: "FF00" + "9000"},
		cardtest.Step{Cmd: "80CA9F7F00", Resp: "6C2D"},
	)
	var progress []string
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		begin, ok := mustRead(t, r).(tps.BeginOp)
		if !ok || begin.Op != tps.OpEnroll {
			t.Errorf("first message %v", begin)
			return
		}
		want := map[string]string{"tokenType": "userKey", "clientVersion": "coolkey-go test", "tokenATR": "3B8F80", "statusUpdate": "true", "extendedLoginRequest": "true"}
		for k, v := range want {
			if got, _ := begin.Extensions.Get(k); got != v {
				t.Errorf("extension %s = %q, want %q", k, got, v)
			}
		}
		mustWrite(t, w, tps.StatusUpdateRequest{Percent: 10, Task: "PROGRESS_PROCESS_PROFILE"})
		if m, ok := mustRead(t, r).(tps.StatusUpdateResponse); !ok || m.Percent != 10 {
			t.Errorf("status update echo %v", m)
		}
		mustWrite(t, w, tps.ExtendedLoginRequest{Title: "LDAP", Params: []tps.AuthParam{{ID: "UID", Type: "string"}, {ID: "PASSWORD", Type: "password"}}})
		if m, ok := mustRead(t, r).(tps.ExtendedLoginResponse); !ok || m.Params[0] != (tps.Param{Name: "UID", Value: "jdoe"}) || m.Params[1].Value != secretPassword {
			t.Errorf("login response %v", m)
		}
		mustWrite(t, w, tps.NewPINRequest{MinLen: 4, MaxLen: 10})
		if m, ok := mustRead(t, r).(tps.NewPINResponse); !ok || m.PIN != secretPIN {
			t.Errorf("new PIN response %v", m)
		}
		// 61xx is chained by the client; the TPS sees the whole answer.
		mustWrite(t, w, tps.TokenPDURequest{APDU: []byte{0x00, 0xA4, 0x04, 0x00, 0x00}})
		if m, ok := mustRead(t, r).(tps.TokenPDUResponse); !ok || hexs(m.Response) != "6F0E8408A000000003000000A5029F6501FF009000" {
			t.Errorf("chained response %v", m)
		}
		// 6Cxx goes back unchanged: the TPS re-sends itself.
		mustWrite(t, w, tps.TokenPDURequest{APDU: []byte{0x80, 0xCA, 0x9F, 0x7F, 0x00}})
		if m, ok := mustRead(t, r).(tps.TokenPDUResponse); !ok || hexs(m.Response) != "6C2D" {
			t.Errorf("6C response %v", m)
		}
		mustWrite(t, w, tps.StatusUpdateRequest{Percent: 100, Task: "PROGRESS_DONE_ENROLLMENT"})
		mustRead(t, r)
		mustWrite(t, w, tps.EndOp{Op: tps.OpEnroll, Result: 0, Status: 0})
	})
	c := opClient(t, tr)
	p := &fixedPrompter{uid: "jdoe", password: secretPassword, pin: secretPIN}
	err := c.Run(context.Background(), OpRequest{
		Op: tps.OpEnroll, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: p,
		Progress: func(pct int, task string) { progress = append(progress, task) },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	tr.Done()
	if tr.Begins != 2 || tr.Ends != 2 || tr.Resets != 1 { // identification, then the operation
		t.Errorf("transactions begun %d ended %d, resets %d; want 2, 2, 1", tr.Begins, tr.Ends, tr.Resets)
	}
	if strings.Join(progress, ",") != "PROGRESS_PROCESS_PROFILE,PROGRESS_DONE_ENROLLMENT" {
		t.Errorf("progress %v", progress)
	}
	if len(p.pinAsked) != 1 || p.pinAsked[0] != [2]int{4, 10} {
		t.Errorf("PIN prompts %v", p.pinAsked)
	}
	assertLogClean(t, c)
}

func TestRunTPSRefusal(t *testing.T) {
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.LoginRequest{})
		mustRead(t, r)
		mustWrite(t, w, tps.EndOp{Op: tps.OpFormat, Result: 1, Status: tps.StatusErrLogin})
	})
	tr := cardForOp(t)
	c := opClient(t, tr)
	err := c.Run(context.Background(), OpRequest{Op: tps.OpFormat, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps",
		Prompter: &fixedPrompter{uid: "jdoe", password: secretPassword}})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRefused || e.Status != tps.StatusErrLogin || ExitCode(err) != ExitRefused {
		t.Fatalf("err = %v (%#v)", err, e)
	}
	if !strings.Contains(err.Error(), "credentials are not valid") {
		t.Errorf("message %q does not explain", err)
	}
	if tr.Resets != 1 {
		t.Errorf("format should reset the card even when refused (resets=%d)", tr.Resets)
	}
	assertLogClean(t, c)
}

func TestRunConnectionLostMidOperation(t *testing.T) {
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.StatusUpdateRequest{Percent: 15, Task: "PROGRESS_KEY_GENERATION"})
		mustRead(t, r)
		// and hang up without END_OP
	})
	c := opClient(t, cardForOp(t))
	err := c.Run(context.Background(), OpRequest{Op: tps.OpEnroll, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{}})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConnection || e.Status != tps.StatusErrConnLost || ExitCode(err) != ExitConnection {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "closed the connection") {
		t.Errorf("message %q", err)
	}
}

func TestRunSilentTPSTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		<-release
	})
	defer close(release)
	c := opClient(t, cardForOp(t))
	err := c.Run(context.Background(), OpRequest{Op: tps.OpEnroll, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{}, MessageTimeout: 200 * time.Millisecond})
	if KindOf(err) != KindConnection || !strings.Contains(err.Error(), "sent nothing") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunUntrustedCertificate(t *testing.T) {
	srv := scriptedTPS(t, true, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.EndOp{Op: tps.OpFormat})
	})
	c := opClient(t, cardForOp(t))
	err := c.Run(context.Background(), OpRequest{Op: tps.OpFormat, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{}})
	if KindOf(err) != KindTrust || ExitCode(err) != ExitTrust || !strings.Contains(err.Error(), "coolkey trust add") {
		t.Fatalf("err = %v", err)
	}

	// Once its CA is trusted the same server is fine.
	b, _ := os.ReadFile(serverCAFile(t, srv))
	if _, err := AddTrust(c.Paths.BundleFile(), b); err != nil {
		t.Fatal(err)
	}
	c2 := opClient(t, cardForOp(t))
	c2.Trust = c.Trust
	if err := c2.Run(context.Background(), OpRequest{Op: tps.OpFormat, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{}}); err != nil {
		t.Fatalf("with the CA trusted: %v", err)
	}
}

func TestRunHTTPErrorAndNoServer(t *testing.T) {
	srv := scriptedTPS(t, false, nil)
	c := opClient(t, cardForOp(t))
	err := c.Run(context.Background(), OpRequest{Op: tps.OpFormat, Reader: "Reader 0", TPSURL: srv.URL + "/wrong", Prompter: &fixedPrompter{}})
	if KindOf(err) != KindConnection || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("err = %v", err)
	}
	srv.Close()
	c = opClient(t, cardForOp(t))
	err = c.Run(context.Background(), OpRequest{Op: tps.OpFormat, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{}})
	if KindOf(err) != KindConnection {
		t.Fatalf("err = %v", err)
	}
}

func TestRunRejectsBadNewPIN(t *testing.T) {
	for _, pin := range []string{"12", "12345678901", "12&4", "1=34"} {
		srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
			mustRead(t, r)
			mustWrite(t, w, tps.NewPINRequest{MinLen: 4, MaxLen: 10})
			r.Read() // the client hangs up instead
		})
		c := opClient(t, cardForOp(t))
		err := c.Run(context.Background(), OpRequest{Op: tps.OpEnroll, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{pin: pin}})
		if KindOf(err) != KindUser || ExitCode(err) != ExitUsage {
			t.Errorf("PIN %q: err = %v", pin, err)
		}
		if err != nil && strings.Contains(err.Error(), pin) {
			t.Errorf("error %q shows the PIN", err)
		}
	}
}

func TestRunCancelledPromptAndContext(t *testing.T) {
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.LoginRequest{})
		r.Read()
	})
	c := opClient(t, cardForOp(t))
	err := c.Run(context.Background(), OpRequest{Op: tps.OpEnroll, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{err: ErrCancelled}})
	if KindOf(err) != KindCancelled {
		t.Fatalf("err = %v", err)
	}

	release := make(chan struct{})
	defer close(release)
	srv2 := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	c = opClient(t, cardForOp(t))
	err = c.Run(ctx, OpRequest{Op: tps.OpEnroll, Reader: "Reader 0", TPSURL: srv2.URL + "/tps/tps", Prompter: &fixedPrompter{}})
	if KindOf(err) != KindCancelled {
		t.Fatalf("err = %v", err)
	}
}

func TestRunCardRemoved(t *testing.T) {
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r)
		mustWrite(t, w, tps.TokenPDURequest{APDU: []byte{0x00, 0xA4, 0x04, 0x00, 0x00}})
		r.Read()
	})
	tr := cardForOp(t, cardtest.Step{Cmd: "*", Err: cardedge.ErrNoCard})
	c := opClient(t, tr)
	err := c.Run(context.Background(), OpRequest{Op: tps.OpEnroll, Reader: "Reader 0", TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{}})
	if KindOf(err) != KindCard || ExitCode(err) != ExitCard || !errors.Is(err, cardedge.ErrNoCard) {
		t.Fatalf("err = %v", err)
	}
}

func TestBusyWhileRunning(t *testing.T) {
	c := opClient(t, cardForOp(t))
	unlock, err := lockReader(c.Paths.RuntimeDir, "Reader 0", busyInfo{CUID: "4090614527c6240b192d", Op: "enroll"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Card("Reader 0")
	if err != nil || info.Status != StatusBusy || info.CUID != "4090614527c6240b192d" {
		t.Fatalf("Card = %+v, %v", info, err)
	}
	if _, err := lockReader(c.Paths.RuntimeDir, "Reader 0", busyInfo{}); !errors.Is(err, errBusy) {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	if _, busy := readerBusy(c.Paths.RuntimeDir, "Reader 0"); busy {
		t.Error("still busy after unlock")
	}
}

func assertLogClean(t *testing.T, c *Client) {
	t.Helper()
	b, err := os.ReadFile(c.Log.Path())
	if err != nil {
		t.Fatalf("diagnostics log: %v", err)
	}
	s := string(b)
	if strings.Contains(s, secretPassword) || strings.Contains(s, secretPIN) {
		t.Errorf("diagnostics log contains a secret:\n%s", s)
	}
	if !strings.Contains(s, "op-start") {
		t.Errorf("diagnostics log lacks the operation start:\n%s", s)
	}
}

// cardForStatus is what Card() (run by Manager.Start before the
// operation) reads from a card without an applet: the same
// identification once more, ahead of the operation's.
func cardForStatus() []cardtest.Step {
	cuid, _ := cardedge.ParseCUID("4090614527C6240B192D")
	cplc := cardedge.CPLCForCUID(cuid)
	return []cardtest.Step{
		{Cmd: "*", Resp: "6A82"},
		{Cmd: "*", Resp: "9000"},
		{Cmd: "80CA9F7F2D", Resp: strings.ToUpper(hexs(cplc.Encode())) + "9000"},
	}
}

// A caller that has just read the card passes its CUID: the operation's
// first APDU is then the TPS's, in the operation's only transaction.
func TestRunWithKnownCUIDSkipsIdentification(t *testing.T) {
	tr := cardtest.New(t, cardtest.Step{Cmd: "80CA9F7F2D", Resp: "6A88"})
	srv := scriptedTPS(t, false, func(t *testing.T, r *tps.MessageReader, w *tps.ChunkWriter) {
		mustRead(t, r) // BEGIN_OP
		mustWrite(t, w, tps.TokenPDURequest{APDU: []byte{0x80, 0xCA, 0x9F, 0x7F, 0x2D}})
		if m, ok := mustRead(t, r).(tps.TokenPDUResponse); !ok || hexs(m.Response) != "6A88" {
			t.Errorf("relayed response %v", m)
		}
		mustWrite(t, w, tps.EndOp{Op: tps.OpFormat})
	})
	c := opClient(t, tr)
	err := c.Run(context.Background(), OpRequest{
		Op: tps.OpFormat, Reader: "Reader 0", CUID: "4090614527c6240b192d",
		TPSURL: srv.URL + "/tps/tps", Prompter: &fixedPrompter{},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	tr.Done()
	if tr.Begins != 1 || tr.Ends != 1 {
		t.Errorf("transactions begun %d ended %d; want 1, 1", tr.Begins, tr.Ends)
	}
}
