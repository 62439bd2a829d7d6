package esccapi

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/coolkey-go/coolkey-go/esc"
)

// Result codes of coolkey-esc.h beyond esc's exit codes (0 to 7): they
// say the call was wrong, and no operation ever ends with them.
const (
	CodeOK         = esc.ExitOK
	CodeHandle     = 64 // unknown handle, operation, watch or answers
	CodeArguments  = 65 // a required pointer is NULL or a value is invalid
	CodeInCallback = 66 // would wait for the callback it is called from
)

// callError is a failure of the call itself (as opposed to the work it
// asked for), with its result code.
type callError struct {
	code int
	msg  string
}

func (e *callError) Error() string { return e.msg }

func errHandle(format string, a ...any) error {
	return &callError{CodeHandle, fmt.Sprintf(format, a...)}
}

func errArguments(format string, a ...any) error {
	return &callError{CodeArguments, fmt.Sprintf(format, a...)}
}

func errInCallback(what string) error {
	return &callError{CodeInCallback, what + " called from a callback it would wait for"}
}

// Code returns the result code of coolkey-esc.h for err: 0 for nil, the
// call error's code, else esc's exit code for the failure's kind.
func Code(err error) int {
	if err == nil {
		return CodeOK
	}
	var ce *callError
	if errors.As(err, &ce) {
		return ce.code
	}
	return esc.ExitCode(err)
}

// Handle is an open manager: a client for the user, its Manager, and what
// the C API adds (last error, operations not yet collected, watches).
type Handle struct {
	id     int
	client *esc.Client
	mgr    *esc.Manager

	mu      sync.Mutex
	closed  bool
	netUsed bool // phoned home or started: Trust is read by other goroutines from now on
	ops     map[int]*operation
	watches map[int]*watcher
	nextW   int

	errMu   sync.Mutex
	lastErr string
	hasErr  bool
}

// handles maps the integers given to C to open managers. C never holds a
// Go pointer: a stale or forged integer finds nothing.
var handles struct {
	mu      sync.Mutex
	next    int
	byID    map[int]*Handle
	lastErr string // failures without a valid handle (kept under handle 0)
	hasErr  bool
}

// Version is the library version coolkey_esc_version reports and the
// client sends to the TPS; the c-shared main package sets it.
var Version = "dev"

// Open creates a manager for the current user, with the readers the
// environment chooses (as the coolkey command does), and registers it.
func Open() (*Handle, error) {
	paths, err := esc.DefaultPaths(os.Getenv)
	if err != nil {
		return nil, &esc.Error{Kind: esc.KindUser, Msg: "locating the configuration", Err: err}
	}
	c, err := esc.NewClient(SourcesFromEnv(os.Getenv), paths, Version)
	if err != nil {
		return nil, err
	}
	return Register(c), nil
}

// Register wraps an existing client in a new handle.
func Register(c *esc.Client) *Handle {
	h := &Handle{client: c, mgr: esc.NewManager(c), ops: map[int]*operation{}, watches: map[int]*watcher{}}
	handles.mu.Lock()
	defer handles.mu.Unlock()
	if handles.byID == nil {
		handles.byID = map[int]*Handle{}
	}
	// Never reused, and never 0; an int32 suffices for any process
	// lifetime a GUI will have.
	handles.next++
	h.id = handles.next
	handles.byID[h.id] = h
	return h
}

// ID is the integer C knows the handle by.
func (h *Handle) ID() int { return h.id }

// Lookup finds an open handle.
func Lookup(id int) (*Handle, error) {
	handles.mu.Lock()
	h := handles.byID[id]
	handles.mu.Unlock()
	if h == nil {
		return nil, errHandle("no open handle %d", id)
	}
	return h, nil
}

// SetError records err as the last error of the handle with this id, or
// under handle 0 when there is none.
func SetError(id int, err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	if msg == "" {
		msg = fmt.Sprintf("error %d", Code(err))
	}
	if h, lerr := Lookup(id); lerr == nil {
		h.errMu.Lock()
		h.lastErr, h.hasErr = msg, true
		h.errMu.Unlock()
		return
	}
	handles.mu.Lock()
	handles.lastErr, handles.hasErr = msg, true
	handles.mu.Unlock()
}

// LastError returns the last error of the handle with this id (or, for an
// unknown one, the last failure without a handle).
func LastError(id int) (string, bool) {
	if h, err := Lookup(id); err == nil {
		h.errMu.Lock()
		defer h.errMu.Unlock()
		return h.lastErr, h.hasErr
	}
	handles.mu.Lock()
	defer handles.mu.Unlock()
	return handles.lastErr, handles.hasErr
}

// Close forgets the handle, cancels its operations and watches, and waits
// for them to end.
func (h *Handle) Close() error {
	if inCallbackOf(h, 0, 0) {
		return errInCallback("coolkey_esc_close")
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errHandle("handle %d is closed", h.id)
	}
	h.closed = true
	ops, watches := h.ops, h.watches
	h.ops, h.watches = map[int]*operation{}, map[int]*watcher{}
	h.mu.Unlock()

	handles.mu.Lock()
	delete(handles.byID, h.id)
	handles.mu.Unlock()

	for id := range ops {
		h.mgr.Cancel(id)
	}
	for _, w := range watches {
		w.stop()
	}
	for id := range ops {
		h.mgr.Wait(id)
	}
	return nil
}

// AddCAFile trusts the CA certificates in path for this handle's
// connections. Only before the handle has used the network: from then on
// other goroutines read the trust settings without a lock.
func (h *Handle) AddCAFile(path string) error {
	if path == "" {
		return errArguments("empty CA file name")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return &esc.Error{Kind: esc.KindUser, Msg: "CA file", Err: err}
	}
	if _, err := esc.ParseCertificates(b); err != nil {
		return &esc.Error{Kind: esc.KindUser, Msg: "CA file " + path, Err: err}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errHandle("handle %d is closed", h.id)
	}
	if h.netUsed {
		return &esc.Error{Kind: esc.KindUser, Msg: "CA files must be added before the handle phones home or starts an operation"}
	}
	h.client.Trust.ExtraCAFiles = append(h.client.Trust.ExtraCAFiles, path)
	return nil
}

// useNetwork marks the trust settings as shared from now on.
func (h *Handle) useNetwork() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errHandle("handle %d is closed", h.id)
	}
	h.netUsed = true
	return nil
}
