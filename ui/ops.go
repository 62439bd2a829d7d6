package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tps"
)

// promptTimeout is how long an operation waits for the user to fill in a
// form before giving up (the TPS has usually given up by then too).
const promptTimeout = 10 * time.Minute

// Operation states as the page sees them.
const (
	stateRunning = "running"
	stateLogin   = "login" // waiting for credentials
	statePIN     = "pin"   // waiting for the new PIN
	stateDone    = "done"
)

// operation is one enroll, format or PIN reset started from the page. Its
// fields are guarded by Server.mu.
type operation struct {
	id      int
	mgrID   int // esc.Manager's ID, 0 until Start returns
	op      tps.Op
	name    string // "enroll", "format", "reset-pin"
	reader  string
	cuid    string
	started time.Time

	state    string
	percent  int
	task     string
	tasks    []taskView
	prompt   *promptView
	seq      int
	answer   chan promptAnswer // for the open prompt; nil when none or already answered
	result   *resultView
	quit     chan struct{} // closed on cancel
	quitOnce sync.Once
}

// promptAnswer carries the user's answer to the waiting callback. It is
// never stored anywhere else.
type promptAnswer struct {
	values map[string]string
	pin    string
}

type taskView struct {
	Percent int    `json:"percent"`
	Task    string `json:"task"`
	Text    string `json:"text"`
}

type paramView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Secret      bool   `json:"secret"`
}

// promptView is a form to show: credentials (generated from the TPS's
// EXTENDED_LOGIN_REQUEST parameters) or the new PIN.
type promptView struct {
	Kind            string      `json:"kind"` // "login" or "pin"
	Seq             int         `json:"seq"`
	Title           string      `json:"title,omitempty"`
	Description     string      `json:"description,omitempty"`
	Params          []paramView `json:"params,omitempty"`
	InvalidPassword bool        `json:"invalidPassword,omitempty"`
	Blocked         bool        `json:"blocked,omitempty"`
	Min             int         `json:"min,omitempty"`
	Max             int         `json:"max,omitempty"`
}

// resultView is an operation's outcome in plain words.
type resultView struct {
	OK         bool   `json:"ok"`
	Code       int    `json:"code"`             // the CLI's exit code
	Status     int    `json:"status,omitempty"` // END_OP status (or the ESC's local equivalent)
	StatusName string `json:"statusName,omitempty"`
	Headline   string `json:"headline"`
	Message    string `json:"message"`
	// Hint names the page that can fix the failure: "phonehome" (no TPS
	// known for the card) or "trust" (the TPS certificate is not
	// trusted).
	Hint string `json:"hint,omitempty"`
}

type opView struct {
	ID       int         `json:"id"`
	Op       string      `json:"op"`
	Reader   string      `json:"reader"`
	CUID     string      `json:"cuid,omitempty"`
	Started  time.Time   `json:"started"`
	State    string      `json:"state"`
	Percent  int         `json:"percent"`
	Task     string      `json:"task,omitempty"`
	TaskText string      `json:"taskText,omitempty"`
	Tasks    []taskView  `json:"tasks"`
	Prompt   *promptView `json:"prompt,omitempty"`
	Result   *resultView `json:"result,omitempty"`
	// Removed is set in the event that tells the page an operation was
	// dismissed.
	Removed bool `json:"removed,omitempty"`
}

func (op *operation) viewLocked() opView {
	v := opView{ID: op.id, Op: op.name, Reader: op.reader, CUID: op.cuid, Started: op.started, State: op.state,
		Percent: op.percent, Task: op.task, Tasks: append([]taskView{}, op.tasks...), Result: op.result}
	if op.task != "" {
		v.TaskText = esc.TaskText(op.task)
	}
	if op.prompt != nil {
		p := *op.prompt
		v.Prompt = &p
	}
	return v
}

// cancelLocked asks the operation to stop: a waiting form is abandoned
// and the TPS connection closed.
func (op *operation) cancelLocked(m *esc.Manager) {
	op.quitOnce.Do(func() { close(op.quit) })
	if op.mgrID != 0 {
		m.Cancel(op.mgrID)
	}
}

func (s *Server) opViewsLocked() []opView {
	out := make([]opView, 0, len(s.opOrder))
	for _, id := range s.opOrder {
		out = append(out, s.ops[id].viewLocked())
	}
	return out
}

func (s *Server) publishOp(op *operation) {
	s.mu.Lock()
	v := op.viewLocked()
	s.mu.Unlock()
	s.hub.publish("op", v)
}

func opByName(name string) (tps.Op, bool) {
	switch name {
	case "enroll":
		return tps.OpEnroll, true
	case "format":
		return tps.OpFormat, true
	case "reset-pin":
		return tps.OpResetPIN, true
	}
	return 0, false
}

func validTokenType(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// postOp starts an operation: {"op": "enroll"|"format"|"reset-pin",
// "reader": NAME, "tokenType": optional}.
func (s *Server) postOp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Op        string `json:"op"`
		Reader    string `json:"reader"`
		TokenType string `json:"tokenType"`
	}
	if !readJSON(w, r, smallBody, &req) {
		return
	}
	kind, ok := opByName(req.Op)
	if !ok {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("unknown operation %q", req.Op)})
		return
	}
	if kind == tps.OpFormat && s.hideFormat {
		writeJSON(w, http.StatusForbidden, apiError{Error: "formatting is disabled by configuration"})
		return
	}
	req.TokenType = strings.TrimSpace(req.TokenType)
	if !validTokenType(req.TokenType) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "a token type is letters, digits, '-', '_' and '.'"})
		return
	}
	if req.Reader == "" {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "no reader given"})
		return
	}
	// Reserve the reader while checking the card, so that two requests
	// cannot both start.
	s.mu.Lock()
	busy := s.starting[req.Reader]
	for _, op := range s.ops {
		busy = busy || (op.reader == req.Reader && op.state != stateDone)
	}
	if busy {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, apiError{Error: "an operation is already running on this card"})
		return
	}
	s.starting[req.Reader] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.starting, req.Reader)
		s.mu.Unlock()
	}()
	info, err := s.m.CardStatus(req.Reader)
	if err != nil {
		writeError(w, errorStatus(err), err)
		return
	}
	switch {
	case info.Status == esc.StatusNoCard:
		writeJSON(w, http.StatusConflict, apiError{Error: "there is no card in this reader"})
		return
	case info.Status == esc.StatusBusy:
		writeJSON(w, http.StatusConflict, apiError{Error: "an operation is already running on this card"})
		return
	case kind == tps.OpResetPIN && info.Status != "ENROLLED":
		writeJSON(w, http.StatusConflict, apiError{Error: "only an enrolled card's PIN can be reset"})
		return
	}
	tokenType := req.TokenType
	if tokenType == "" {
		tokenType = s.c.Config.TokenType
	}
	if tokenType == "" && kind == tps.OpFormat {
		// The ESC formats with the phone-home TokenType when it has one.
		if cc := s.c.Config.Card(info.CUID); cc != nil {
			tokenType = cc.Service(tps.ServiceTokenType)
		}
	}

	op := &operation{op: kind, name: req.Op, reader: req.Reader, cuid: info.CUID, started: time.Now().UTC(),
		state: stateRunning, tasks: []taskView{}, quit: make(chan struct{})}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "shutting down"})
		return
	}
	s.nextID++
	op.id = s.nextID
	s.ops[op.id] = op
	s.opOrder = append(s.opOrder, op.id)
	s.mu.Unlock()

	mgrID, err := s.m.Start(kind, req.Reader, "", tokenType, esc.Callbacks{
		Login:    func(p esc.LoginPrompt) (map[string]string, bool) { return s.askLogin(op, p) },
		NewPIN:   func(lo, hi int) (string, bool) { return s.askPIN(op, lo, hi) },
		Progress: func(pct int, task string) { s.progress(op, pct, task) },
		Done:     func(res esc.Result) { s.finish(op, res) },
	})
	if err != nil {
		s.mu.Lock()
		s.removeLocked(op.id)
		s.mu.Unlock()
		writeError(w, errorStatus(err), err)
		return
	}
	s.mu.Lock()
	op.mgrID = mgrID
	select {
	case <-op.quit: // cancelled before Start returned
		s.m.Cancel(mgrID)
	default:
	}
	s.mu.Unlock()
	// The manager keeps a result until it is waited for.
	go s.m.Wait(mgrID)
	s.publishOp(op)
	s.requestRefresh() // BUSY
	writeJSON(w, http.StatusAccepted, struct {
		ID int `json:"id"`
	}{op.id})
}

func (s *Server) removeLocked(id int) {
	delete(s.ops, id)
	for i, x := range s.opOrder {
		if x == id {
			s.opOrder = append(s.opOrder[:i], s.opOrder[i+1:]...)
			break
		}
	}
}

func (s *Server) progress(op *operation, pct int, task string) {
	s.mu.Lock()
	op.percent = pct
	if task != op.task || len(op.tasks) == 0 {
		op.tasks = append(op.tasks, taskView{Percent: pct, Task: task, Text: esc.TaskText(task)})
	} else {
		op.tasks[len(op.tasks)-1].Percent = pct
	}
	op.task = task
	s.mu.Unlock()
	s.publishOp(op)
}

// ask shows a form and waits for the answer, a cancel, or the timeout.
func (s *Server) ask(op *operation, p promptView) (promptAnswer, bool) {
	ch := make(chan promptAnswer, 1)
	s.mu.Lock()
	op.seq++
	p.Seq = op.seq
	op.prompt = &p
	op.answer = ch
	op.state = p.Kind
	s.mu.Unlock()
	s.publishOp(op)

	timer := time.NewTimer(promptTimeout)
	defer timer.Stop()
	var a promptAnswer
	ok := false
	select {
	case a = <-ch:
		ok = true
	case <-op.quit:
	case <-timer.C:
	case <-s.ctx.Done():
	}
	s.mu.Lock()
	op.prompt = nil
	op.answer = nil
	op.state = stateRunning
	s.mu.Unlock()
	s.publishOp(op)
	return a, ok
}

func (s *Server) askLogin(op *operation, lp esc.LoginPrompt) (map[string]string, bool) {
	p := promptView{Kind: stateLogin, Title: lp.Title, Description: lp.Description,
		InvalidPassword: lp.InvalidPassword, Blocked: lp.Blocked}
	for _, ap := range lp.Params {
		p.Params = append(p.Params, paramView{ID: ap.ID, Name: ap.Name, Description: ap.Description, Secret: ap.Secret()})
	}
	a, ok := s.ask(op, p)
	return a.values, ok
}

func (s *Server) askPIN(op *operation, lo, hi int) (string, bool) {
	a, ok := s.ask(op, promptView{Kind: statePIN, Min: lo, Max: hi})
	return a.pin, ok
}

// headline says what happened in plain words.
func headline(op tps.Op, res esc.Result) (string, string) {
	switch res.Code {
	case esc.ExitOK:
		switch op {
		case tps.OpEnroll:
			return "The card is enrolled.", ""
		case tps.OpFormat:
			return "The card is formatted.", ""
		default:
			return "The card's PIN is changed.", ""
		}
	case esc.ExitRefused:
		return "The server refused: " + res.Status.Text() + ".", ""
	case esc.ExitConnection:
		if res.Status == tps.StatusErrConnLost {
			return "The connection to the server was lost.", ""
		}
		return "The server could not be reached.", ""
	case esc.ExitTrust:
		return "The server's certificate is not trusted. If this is your organisation's server, add its CA under Trusted CAs.", "trust"
	case esc.ExitCard:
		return "The card could not be used (was it removed?).", ""
	case esc.ExitCancelled:
		return "Cancelled.", ""
	case esc.ExitUsage:
		if int(res.Status) == 44 {
			return "No server is known for this card. Set its phone-home URL.", "phonehome"
		}
		return "The operation could not start.", ""
	}
	return "Something went wrong inside coolkey.", ""
}

func (s *Server) finish(op *operation, res esc.Result) {
	h, hint := headline(op.op, res)
	rv := &resultView{OK: res.Code == esc.ExitOK, Code: res.Code, Headline: h, Message: res.Message, Hint: hint}
	if res.Status != 0 {
		rv.Status = int(res.Status)
		rv.StatusName = res.Status.Name()
	}
	s.mu.Lock()
	op.result = rv
	op.state = stateDone
	op.prompt = nil
	op.answer = nil
	if rv.OK {
		op.percent = 100
	}
	s.mu.Unlock()
	s.publishOp(op)
	s.requestRefresh()
}

func (s *Server) opFromPath(w http.ResponseWriter, r *http.Request) *operation {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	op := s.ops[id]
	s.mu.Unlock()
	if err != nil || op == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: "no such operation"})
		return nil
	}
	return op
}

func (s *Server) getOps(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v := s.opViewsLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// maxCredential bounds one credential value.
const maxCredential = 1024

// answer hands a checked answer to the waiting operation.
func (s *Server) answer(w http.ResponseWriter, op *operation, kind string, seq int, check func(p *promptView) (promptAnswer, error)) {
	s.mu.Lock()
	if op.prompt == nil || op.prompt.Kind != kind || op.prompt.Seq != seq || op.answer == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, apiError{Error: "the operation is not waiting for this form any more"})
		return
	}
	a, err := check(op.prompt)
	if err != nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	op.answer <- a // buffered, and only one answer per prompt gets here
	op.answer = nil
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// postLogin answers a credentials form: {"seq": N, "values": {ID: value}}.
func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	op := s.opFromPath(w, r)
	if op == nil {
		return
	}
	var req struct {
		Seq    int               `json:"seq"`
		Values map[string]string `json:"values"`
	}
	if !readJSON(w, r, smallBody, &req) {
		return
	}
	s.answer(w, op, stateLogin, req.Seq, func(p *promptView) (promptAnswer, error) {
		vals := map[string]string{}
		for _, pp := range p.Params {
			v, ok := req.Values[pp.ID]
			label := pp.Name
			if label == "" {
				label = pp.ID
			}
			if !ok || v == "" {
				return promptAnswer{}, fmt.Errorf("%s is required", label)
			}
			if len(v) > maxCredential || !utf8.ValidString(v) {
				return promptAnswer{}, fmt.Errorf("%s is too long or not text", label)
			}
			vals[pp.ID] = v
		}
		if len(req.Values) != len(vals) {
			return promptAnswer{}, errors.New("the form has fields the server did not ask for")
		}
		return promptAnswer{values: vals}, nil
	})
}

// postPIN answers the new-PIN form: {"seq": N, "pin": "..."}. A PIN
// outside the TPS's limits or not carried by the protocol is refused here,
// so the user can correct it.
func (s *Server) postPIN(w http.ResponseWriter, r *http.Request) {
	op := s.opFromPath(w, r)
	if op == nil {
		return
	}
	var req struct {
		Seq int    `json:"seq"`
		PIN string `json:"pin"`
	}
	if !readJSON(w, r, smallBody, &req) {
		return
	}
	s.answer(w, op, statePIN, req.Seq, func(p *promptView) (promptAnswer, error) {
		if err := esc.CheckNewPIN(req.PIN, p.Min, p.Max); err != nil {
			return promptAnswer{}, err
		}
		return promptAnswer{pin: req.PIN}, nil
	})
}

func (s *Server) postCancel(w http.ResponseWriter, r *http.Request) {
	op := s.opFromPath(w, r)
	if op == nil {
		return
	}
	var req struct{}
	if !readJSON(w, r, smallBody, &req) {
		return
	}
	s.mu.Lock()
	if op.state != stateDone {
		op.cancelLocked(s.m)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// postDismiss forgets a finished operation.
func (s *Server) postDismiss(w http.ResponseWriter, r *http.Request) {
	op := s.opFromPath(w, r)
	if op == nil {
		return
	}
	var req struct{}
	if !readJSON(w, r, smallBody, &req) {
		return
	}
	s.mu.Lock()
	if op.state != stateDone {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, apiError{Error: "the operation is still running"})
		return
	}
	s.removeLocked(op.id)
	s.mu.Unlock()
	s.hub.publish("op", opView{ID: op.id, Removed: true, Tasks: []taskView{}})
	w.WriteHeader(http.StatusNoContent)
}
