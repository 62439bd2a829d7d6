package pkcs11mod

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Config configures the module that exposes a Backend.
type Config struct {
	// LogFileEnv names the environment variable that, set to a file path,
	// makes the module append a log to that file. The variable is read by
	// each C_Initialize. When it is unset nothing is logged anywhere: a
	// PKCS#11 module must never write to its host's stdout or stderr.
	LogFileEnv string
	// LogLevelEnv names the environment variable holding the log level:
	// error, warn, info (the default), debug (every PKCS#11 call) or trace
	// (also the backend's protocol traces, [LevelTrace]).
	LogLevelEnv string
}

// LevelTrace is the slog level for protocol traces (APDUs and the like),
// below debug. Backends must mask PINs, nonces and keys in them.
const LevelTrace = slog.LevelDebug - 4

// Register installs the constructor of the Backend the C ABI exposes. It is
// meant to be called from the init function of the c-shared main package and
// does no work: newBackend is called by each C_Initialize.
func Register(newBackend func() Backend, cfg Config) {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	lib.newBackend = newBackend
	lib.cfg = cfg
}

// lib is the module's only global state: the C ABI has no context argument.
var lib library

// library is the global Cryptoki state machine.
type library struct {
	// mu is held shared by every call for its whole duration and
	// exclusively by C_Initialize and C_Finalize, so that the backend is
	// never finalized under a running call.
	mu         sync.RWMutex
	inst       atomic.Pointer[instance] // nil when not initialized
	newBackend func() Backend
	cfg        Config
	// lastSession numbers sessions. It is never reset, so a handle from
	// before a C_Finalize is never valid again.
	lastSession atomic.Uint64
}

// instance is the state between one C_Initialize and its C_Finalize.
type instance struct {
	backend Backend
	// The process that initialized, and the fork count then: a forked
	// child is not it. Calls compare the fork count, which costs no system
	// call; C_Initialize and C_Finalize also compare the pid.
	pid     int
	forks   uint32
	log     *slog.Logger
	logFile io.Closer

	// ctx is cancelled by C_Finalize (before it waits for running calls)
	// to wake blocked C_WaitForSlotEvent calls.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // guards sessions
	sessions map[SessionHandle]*session
}

// thisProcess reports whether this process initialized in, by pid and
// fork count (the pid also catches children made without the atfork
// handlers).
func (in *instance) thisProcess() bool { return in.pid == os.Getpid() && in.forks == forks() }

// enter starts a call that needs an initialized library. The returned
// function ends it.
func (l *library) enter() (*instance, func(), error) {
	l.mu.RLock()
	in := l.inst.Load()
	if in == nil || in.forks != forks() {
		l.mu.RUnlock()
		return nil, nil, CKR_CRYPTOKI_NOT_INITIALIZED
	}
	return in, l.mu.RUnlock, nil
}

// logger returns the current logger; it discards when not initialized or
// when logging is off.
func (l *library) logger() *slog.Logger {
	if in := l.inst.Load(); in != nil {
		return in.log
	}
	return discard
}

var discard = slog.New(slog.DiscardHandler)

// initArgs are C_Initialize's arguments after decoding.
type initArgs struct {
	// Which of CreateMutex, DestroyMutex, LockMutex, UnlockMutex are set.
	mutexes [4]bool
	flags   uint
	// libraryParameters is NSS's module parameter string, passed where
	// the standard structure has pReserved.
	libraryParameters string
}

// validate checks the arguments as PKCS#11 v3.0 §5.4 requires. Every locking
// combination is accepted: pkcs11mod locks with Go mutexes, which work on any
// thread, so callbacks are never needed. CKF_LIBRARY_CANT_CREATE_OS_THREADS is
// accepted although the Go runtime has threads of its own: NSS always sets it
// and fails the load on CKR_NEED_TO_CREATE_THREADS, and the module never
// calls back into the application from its threads.
func (a initArgs) validate() error {
	set := 0
	for _, m := range a.mutexes {
		if m {
			set++
		}
	}
	if set != 0 && set != len(a.mutexes) {
		return CKR_ARGUMENTS_BAD
	}
	return nil
}

func (l *library) initialize(a initArgs) error {
	if err := a.validate(); err != nil {
		return err
	}
	// Answer "already initialized" without the exclusive lock: a blocked
	// C_WaitForSlotEvent holds mu shared, and a pending Lock would stall
	// the C_Finalize that is meant to wake it.
	l.mu.RLock()
	in := l.inst.Load()
	l.mu.RUnlock()
	if in != nil && in.thisProcess() {
		return CKR_CRYPTOKI_ALREADY_INITIALIZED
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if in := l.inst.Load(); in != nil {
		if in.thisProcess() {
			return CKR_CRYPTOKI_ALREADY_INITIALIZED
		}
		// A forked child calling C_Initialize as PKCS#11 asks it to. The
		// parent's backend, goroutines and card handles are not ours to
		// finalize; abandon them.
		l.inst.Store(nil)
	}
	if l.newBackend == nil {
		return CKR_GENERAL_ERROR
	}
	log, logFile := openLog(l.cfg)
	b := l.newBackend()
	err := b.Initialize(InitOptions{
		LibraryParameters: a.libraryParameters,
		OSLockingOK:       a.flags&CKF_OS_LOCKING_OK != 0,
		CantCreateThreads: a.flags&CKF_LIBRARY_CANT_CREATE_OS_THREADS != 0,
		Logger:            log,
	})
	if err != nil {
		log.Error("backend initialization failed", "err", err)
		if logFile != nil {
			logFile.Close()
		}
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.inst.Store(&instance{
		backend:  b,
		pid:      os.Getpid(),
		forks:    forks(),
		log:      log,
		logFile:  logFile,
		ctx:      ctx,
		cancel:   cancel,
		sessions: map[SessionHandle]*session{},
	})
	log.Info("initialized", "flags", a.flags, "libraryParameters", a.libraryParameters != "")
	return nil
}

func (l *library) finalize() error {
	// Wake blocked C_WaitForSlotEvent calls first: they hold mu shared, so
	// the exclusive lock below would otherwise wait for them forever.
	in, done, err := l.enter()
	if err != nil {
		return err
	}
	if !in.thisProcess() {
		done()
		return CKR_CRYPTOKI_NOT_INITIALIZED
	}
	in.cancel()
	done()

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inst.Load() != in {
		return CKR_CRYPTOKI_NOT_INITIALIZED // a concurrent C_Finalize won
	}
	l.inst.Store(nil)
	for _, s := range in.sessions {
		if err := s.be.Close(); err != nil {
			in.log.Warn("closing session at finalize", "session", s.handle, "err", err)
		}
	}
	in.sessions = nil
	if err := in.backend.Finalize(); err != nil {
		in.log.Warn("backend finalize", "err", err)
	}
	in.log.Info("finalized")
	if in.logFile != nil {
		in.logFile.Close()
	}
	return nil
}

// openLog opens the log named by the configured environment variables, or
// returns a logger that discards.
func openLog(cfg Config) (*slog.Logger, io.Closer) {
	if cfg.LogFileEnv == "" {
		return discard, nil
	}
	path := Getenv(cfg.LogFileEnv)
	if path == "" {
		return discard, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return discard, nil // nowhere to report it
	}
	level := slog.LevelInfo
	if cfg.LogLevelEnv != "" {
		level = parseLevel(Getenv(cfg.LogLevelEnv))
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("pid", os.Getpid()), f
}

func parseLevel(s string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return slog.LevelError
	case "warn", "warning":
		return slog.LevelWarn
	case "debug":
		return slog.LevelDebug
	case "trace":
		return LevelTrace
	}
	return slog.LevelInfo
}

// info answers C_GetInfo.
func (l *library) info() (LibraryInfo, error) {
	in, done, err := l.enter()
	if err != nil {
		return LibraryInfo{}, err
	}
	defer done()
	return in.backend.Info(), nil
}

// cryptokiVersion is the version C_GetInfo reports. C_GetFunctionList hands
// out a 2.40 table; the 3.0 one is reached through C_GetInterface.
var cryptokiVersion = Version{2, 40}

func (l *library) slotList(tokenPresent bool) ([]SlotID, error) {
	in, done, err := l.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	slots, err := in.backend.Slots()
	if err != nil || !tokenPresent {
		return slots, err
	}
	var present []SlotID
	for _, id := range slots {
		si, err := in.backend.SlotInfo(id)
		if err != nil {
			return nil, err
		}
		if si.Flags&CKF_TOKEN_PRESENT != 0 {
			present = append(present, id)
		}
	}
	return present, nil
}

func (l *library) slotInfo(slot SlotID) (SlotInfo, error) {
	in, done, err := l.enter()
	if err != nil {
		return SlotInfo{}, err
	}
	defer done()
	return in.backend.SlotInfo(slot)
}

func (l *library) tokenInfo(slot SlotID) (TokenInfo, error) {
	in, done, err := l.enter()
	if err != nil {
		return TokenInfo{}, err
	}
	defer done()
	ti, err := in.backend.TokenInfo(slot)
	if err != nil {
		return ti, err
	}
	ti.SessionCount, ti.RwSessionCount = in.countSessions(slot)
	return ti, nil
}

func (l *library) mechanismList(slot SlotID) ([]MechanismType, error) {
	in, done, err := l.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	return in.backend.Mechanisms(slot)
}

func (l *library) mechanismInfo(slot SlotID, mech MechanismType) (MechanismInfo, error) {
	in, done, err := l.enter()
	if err != nil {
		return MechanismInfo{}, err
	}
	defer done()
	return in.backend.MechanismInfo(slot, mech)
}

func (l *library) initToken(slot SlotID, soPIN []byte, label string) error {
	in, done, err := l.enter()
	if err != nil {
		return err
	}
	defer done()
	ti, ok := in.backend.(TokenInitializer)
	if !ok {
		return CKR_FUNCTION_NOT_SUPPORTED
	}
	if n, _ := in.countSessions(slot); n > 0 {
		return CKR_SESSION_EXISTS
	}
	return ti.InitToken(slot, soPIN, label)
}

// waitForSlotEvent answers C_WaitForSlotEvent.
func (l *library) waitForSlotEvent(dontBlock bool) (SlotID, error) {
	in, done, err := l.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	src, ok := in.backend.(SlotEventSource)
	if !ok {
		return 0, CKR_FUNCTION_NOT_SUPPORTED
	}
	if dontBlock {
		slot, ok, err := src.PollSlotEvent()
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, CKR_NO_EVENT
		}
		return slot, nil
	}
	slot, err := src.WaitForSlotEvent(in.ctx)
	if in.ctx.Err() != nil {
		// C_Finalize ran meanwhile; NSS takes this as "no event".
		return 0, CKR_CRYPTOKI_NOT_INITIALIZED
	}
	return slot, err
}

// initialized reports cheaply whether the library is initialized in this
// process, so that argument checks come after CKR_CRYPTOKI_NOT_INITIALIZED
// as callers expect.
func (l *library) initialized() bool {
	in := l.inst.Load()
	return in != nil && in.forks == forks()
}
