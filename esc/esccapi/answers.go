package esccapi

import (
	"sync"

	"github.com/coolkey-go/coolkey-go/tps"
)

// Answers collects the values a login callback gives. C knows it by an
// integer inside the coolkey_esc_answers it is handed; the integer is
// valid only while the callback runs.
type Answers struct {
	id     int
	handle int // for the last error of coolkey_esc_answer
	fields map[string]bool

	mu     sync.Mutex
	open   bool
	values map[string][]byte
}

var answersByID struct {
	mu   sync.Mutex
	next int
	m    map[int]*Answers
}

func newAnswers(handle int, params []tps.AuthParam) *Answers {
	a := &Answers{handle: handle, fields: map[string]bool{}, values: map[string][]byte{}, open: true}
	for _, p := range params {
		a.fields[p.ID] = true
	}
	answersByID.mu.Lock()
	defer answersByID.mu.Unlock()
	if answersByID.m == nil {
		answersByID.m = map[int]*Answers{}
	}
	answersByID.next++
	a.id = answersByID.next
	answersByID.m[a.id] = a
	return a
}

// ID is the integer the C struct carries.
func (a *Answers) ID() int { return a.id }

// Handle is the ID of the handle whose operation asked.
func (a *Answers) Handle() int { return a.handle }

// LookupAnswers finds the answers of a login callback that is running.
func LookupAnswers(id int) (*Answers, error) {
	answersByID.mu.Lock()
	a := answersByID.m[id]
	answersByID.mu.Unlock()
	if a == nil {
		return nil, errHandle("these answers belong to a login callback that has returned")
	}
	return a, nil
}

// Set answers field with a copy of value; a previous answer is wiped.
func (a *Answers) Set(field string, value []byte) error {
	if !a.fields[field] {
		return errArguments("the TPS did not ask for %q", field)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.open {
		return errHandle("these answers belong to a login callback that has returned")
	}
	if old := a.values[field]; old != nil {
		clear(old)
	}
	a.values[field] = append(make([]byte, 0, len(value)), value...)
	return nil
}

// close ends the callback's window and hands over the values (the first
// call only; later calls return nil).
func (a *Answers) close() map[string][]byte {
	answersByID.mu.Lock()
	delete(answersByID.m, a.id)
	answersByID.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.open = false
	v := a.values
	a.values = nil
	return v
}
